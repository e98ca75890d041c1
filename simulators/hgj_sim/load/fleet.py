"""The devices of a load run: synthetic ids in a community of their own, and their topics."""

from dataclasses import dataclass

from hgj_contracts import EVENT, TELEMETRY
from hgj_contracts.ids import check_identifier

SENSOR_TYPES = ("temp_humidity", "smoke_detector", "water_leak", "door_contact", "charging_monitor")
"""Telemetry device types of the fleet, in turn: the battery sensors that make up most of a
community, and socket monitors, whose readings are the largest."""
CAMERA_TYPE = "face_camera"
"""Cameras of the fleet publish face events (residents, staff, visitors) instead of readings."""


@dataclass(frozen=True, slots=True)
class LoadDevice:
    id: str
    device_type: str
    topic: str
    """Where its messages go: telemetry, or ``event/face`` for a camera."""


def load_fleet(
    root: str, community: str, prefix: str, count: int, camera_share: float = 0.0
) -> list[LoadDevice]:
    """``count`` devices ``{prefix}-000001`` ..., every ``1 / camera_share``-th a camera."""
    if count < 1:
        raise ValueError("a fleet has at least one device")
    if not 0.0 <= camera_share <= 1.0:
        raise ValueError("camera_share is between 0 and 1")
    check_identifier(f"{prefix}-{count:06d}", "load device id")
    every = round(1 / camera_share) if camera_share else 0
    fleet, sensors = [], 0
    for n in range(1, count + 1):
        device = f"{prefix}-{n:06d}"
        ids = {"root": root, "community": community, "device": device}
        if every and n % every == 0:
            fleet.append(LoadDevice(device, CAMERA_TYPE, EVENT.topic(**ids, kind="face")))
        else:
            device_type = SENSOR_TYPES[sensors % len(SENSOR_TYPES)]
            sensors += 1
            fleet.append(LoadDevice(device, device_type, TELEMETRY.topic(**ids)))
    return fleet


def gateway_ids(prefix: str, count: int) -> list[str]:
    return [check_identifier(f"{prefix}-gw-{k:02d}", "gateway id") for k in range(1, count + 1)]
