"""Device events, discriminated by ``kind`` (which is also the last topic segment).

Hazard events that have a duration carry ``active``: true when the condition starts, false
when it clears. Face events carry ids, a category and scores, never images or templates; a
snapshot stays on the edge device and is named by ``snapshot_ref``.
"""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, TypeAdapter

from hgj_contracts.base import DeviceMessage, ShortText
from hgj_contracts.ids import Identifier

SnapshotRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")]
Score = Annotated[float, Field(ge=0.0, le=1.0)]
Location = Annotated[str, Field(max_length=120, description="free text such as '5F corridor'")]


class _HazardEvent(DeviceMessage):
    active: bool = Field(description="true when the condition starts, false when it clears")
    location: Location | None = None


class SmokeEvent(_HazardEvent):
    kind: Literal["smoke"] = "smoke"
    smoke_density: Annotated[float, Field(ge=0)] | None = None


class WaterLeakEvent(_HazardEvent):
    kind: Literal["water_leak"] = "water_leak"
    water_level: float | None = Field(default=None, description="cm above the sump floor")


class DoorForcedEvent(DeviceMessage):
    """A door opened without a valid credential; an instant, so it has no ``active``."""

    kind: Literal["door_forced"] = "door_forced"
    door: Identifier | None = None


class DoorHeldOpenEvent(_HazardEvent):
    kind: Literal["door_held_open"] = "door_held_open"
    door: Identifier | None = None
    open_s: Annotated[float, Field(ge=0)] | None = None


class EbikeInElevatorEvent(_HazardEvent):
    kind: Literal["ebike_in_elevator"] = "ebike_in_elevator"
    confidence: Score | None = None
    snapshot_ref: SnapshotRef | None = None


class EbikeChargingEvent(_HazardEvent):
    """Flying-wire charging (飞线充电): an e-bike charged from a socket not meant for it."""

    kind: Literal["ebike_charging"] = "ebike_charging"
    current: Annotated[float, Field(ge=0)] | None = Field(default=None, description="amperes")
    confidence: Score | None = None
    snapshot_ref: SnapshotRef | None = None


class TamperEvent(_HazardEvent):
    kind: Literal["tamper"] = "tamper"
    detail: ShortText | None = None


class CameraOfflineEvent(_HazardEvent):
    kind: Literal["camera_offline"] = "camera_offline"
    cause: Literal["stream_lost", "no_frames", "lens_covered", "blurred"]


FaceCategory = Literal["resident", "staff", "visitor", "watchlist", "stranger"]


class FaceEvent(DeviceMessage):
    """A decision about one tracked face, taken over several frames."""

    kind: Literal["face"] = "face"
    track_id: Identifier
    category: FaceCategory
    person_id: Identifier | None = Field(default=None, description="None for strangers")
    score: Score = Field(description="match similarity; 0 for strangers")
    frames: Annotated[int, Field(ge=1)] = 1
    watchlist: Identifier | None = None
    snapshot_ref: SnapshotRef | None = None


PassageMethod = Literal["face", "card", "qr", "pin", "remote"]


class GatePassageEvent(DeviceMessage):
    """Somebody passed a gate or door, or was refused; non-face methods are equal citizens."""

    kind: Literal["gate_passage"] = "gate_passage"
    method: PassageMethod
    granted: bool
    direction: Literal["in", "out"] = "in"
    person_id: Identifier | None = None
    credential_ref: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="masked credential, e.g. 'card:****1234'"
    )
    reason: ShortText | None = Field(default=None, description="why access was refused")
    command_id: Identifier | None = Field(default=None, description="for remote openings")


DeviceEvent = Annotated[
    SmokeEvent
    | WaterLeakEvent
    | DoorForcedEvent
    | DoorHeldOpenEvent
    | EbikeInElevatorEvent
    | EbikeChargingEvent
    | TamperEvent
    | CameraOfflineEvent
    | FaceEvent
    | GatePassageEvent,
    Field(discriminator="kind"),
]

DEVICE_EVENT_ADAPTER: TypeAdapter[DeviceEvent] = TypeAdapter(DeviceEvent)

EVENT_KINDS: tuple[str, ...] = (
    "smoke",
    "water_leak",
    "door_forced",
    "door_held_open",
    "ebike_in_elevator",
    "ebike_charging",
    "tamper",
    "camera_offline",
    "face",
    "gate_passage",
)
