"""Device presence. Retained, and registered as the MQTT last will of every device session.

Status payloads number their own ``seq`` (separately from telemetry and events): a last will
is composed when the device connects, so it reserves the number after the online status it
follows. Within one run of a device the status with the highest ``seq`` is the latest;
``reason="startup"`` says the device (re)started and its counters began again at 1, while
``reconnect`` says only the network connection was re-established. A will's ``ts`` is the
connect time: consumers should take the broker's delivery time as the moment the device went
offline when ``reason`` is ``connection_lost``.
"""

from typing import Annotated, Literal

from pydantic import Field

from hgj_contracts.base import DeviceMessage
from hgj_contracts.ids import Identifier

DeviceType = Literal[
    "temp_humidity",
    "smoke_detector",
    "water_leak",
    "door_contact",
    "access_controller",
    "gate",
    "face_camera",
    "camera",
    "elevator_camera",
    "charging_monitor",
    "street_light",
    "water_pump",
    "gateway",
]


StatusState = Literal["online", "offline"]
StatusReason = Literal["startup", "reconnect", "shutdown", "connection_lost", "maintenance"]


class DeviceStatus(DeviceMessage):
    """Whether a device is connected, and what and where it is."""

    state: StatusState
    reason: StatusReason | None = None
    device_type: DeviceType | None = None
    firmware: Annotated[str, Field(max_length=64)] | None = None
    report_interval_s: Annotated[float, Field(gt=0, le=86400)] | None = None
    gateway: Identifier | None = Field(default=None, description="gateway that relays the device")
    location: Annotated[str, Field(max_length=120)] | None = Field(
        default=None, description="where it is mounted, e.g. 'building 3, unit 2, 5F stairwell'"
    )
