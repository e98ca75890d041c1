"""Device presence. Retained, and registered as the MQTT last will of every device session.

A last will is composed when the device connects, so its ``ts`` is the connect time and its
``seq`` is reserved at connect time; consumers should treat the broker's delivery time as the
moment the device went offline when ``reason`` is ``connection_lost``.
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


class DeviceStatus(DeviceMessage):
    """Whether a device is connected, and what it is."""

    state: Literal["online", "offline"]
    reason: Literal["startup", "shutdown", "connection_lost", "maintenance"] | None = None
    device_type: DeviceType | None = None
    firmware: Annotated[str, Field(max_length=64)] | None = None
    report_interval_s: Annotated[float, Field(gt=0, le=86400)] | None = None
    gateway: Identifier | None = Field(default=None, description="gateway that relays the device")
