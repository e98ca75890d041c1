"""A scenario file: who takes part (the cast), what happens to them and when (the timeline and
generated traffic), and which alerts the platform should raise because of it.

The format is documented in simulators/README.md; unknown keys are errors naming the file and
the key, and every event is checked against the contract when the file is read, so a typo in a
field or a value out of range fails before anything connects.
"""

from datetime import UTC, datetime, time
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from hgj_contracts import METRICS, DeviceType
from hgj_contracts.events import DEVICE_EVENT_ADAPTER, EVENT_KINDS
from hgj_contracts.ids import Identifier
from hgj_sim.inventory import Place
from hgj_sim.layout import StrictModel

_CHECK_TS = datetime(2026, 1, 1, tzinfo=UTC)
DAY_S = 86400.0


def parse_offset(value: float | str) -> float:
    """Seconds after the start: a number of seconds, or ``"HH:MM"`` / ``"HH:MM:SS"``."""
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("offsets are not negative")
        return float(value)
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError(f"{value!r}: expected seconds or HH:MM[:SS]")
    hours, minutes, *seconds = (int(p) for p in parts)
    if minutes >= 60 or (seconds and seconds[0] >= 60):
        raise ValueError(f"{value!r}: minutes and seconds go up to 59")
    return float(hours * 3600 + minutes * 60 + (seconds[0] if seconds else 0))


Offset = Annotated[float, Field(ge=0)]


class _OffsetModel(StrictModel):
    """Accepts offsets written as HH:MM[:SS] in every field named in ``_offsets``."""

    _offsets: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _parse_offsets(cls, data: Any) -> Any:  # noqa: ANN401 - raw YAML
        if isinstance(data, dict):
            for name in cls._offsets:
                value = data.get(name)
                if isinstance(value, str | int | float) and not isinstance(value, bool):
                    data = {**data, name: parse_offset(value)}
        return data


class Selector(StrictModel):
    """Which device(s) of the community a cast name stands for. Every given key must match;
    one device must match unless ``all`` (then the name is a group, and at least one must)."""

    id: Identifier | None = None
    type: DeviceType | list[DeviceType] | None = None
    building: int | None = None
    unit: int | None = None
    floor: int | None = None
    place: Place | None = None
    compound: str | None = None
    gate: str | None = None
    all: bool = False


CastName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
DeviceRefs = CastName | list[CastName]


class Repeat(_OffsetModel):
    """Do the step again every ``every`` seconds until ``until`` (inclusive)."""

    _offsets: ClassVar[tuple[str, ...]] = ("every", "until")
    every: Annotated[float, Field(gt=0)]
    until: Offset


class Step(_OffsetModel):
    """One scripted moment. Exactly one of ``event``, ``readings``, ``power`` and ``link``."""

    _offsets: ClassVar[tuple[str, ...]] = ("at",)
    at: Offset
    device: DeviceRefs
    event: dict[str, Any] | None = None
    """An event: ``kind`` plus the contract's fields for it (``ts`` and ``seq`` are added)."""
    readings: dict[str, float | None] | None = None
    """Metrics that read these values from now on (null: back to normal)."""
    report: bool = True
    """With ``readings``: send a reading at once."""
    power: Literal["off", "on"] | None = None
    """Mains power cut or restored; battery devices ride through a cut."""
    link: Literal["down", "up"] | None = None
    """The network drops (the last will is published) or comes back."""
    repeat: Repeat | None = None
    note: Annotated[str, Field(max_length=200)] | None = None
    """What is happening, printed as the scenario plays."""

    @field_validator("power", mode="before")
    @classmethod
    def _yaml_on_off(cls, value: Any) -> Any:  # noqa: ANN401 - raw YAML
        # YAML 1.1 reads an unquoted on/off as true/false.
        if isinstance(value, bool):
            return "on" if value else "off"
        return value

    @model_validator(mode="after")
    def _one_thing(self) -> "Step":
        given = [k for k in ("event", "readings", "power", "link") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a step does exactly one of event, readings, power, link: {given}")
        if self.event is not None:
            _check_event(self.event)
        if self.readings is not None:
            unknown = sorted(set(self.readings) - set(METRICS))
            if unknown:
                raise ValueError(f"unknown metrics {unknown}; known: {sorted(METRICS)}")
        if self.repeat is not None and self.repeat.until < self.at:
            raise ValueError("repeat.until is before the step's first time")
        return self

    @property
    def devices(self) -> list[str]:
        return [self.device] if isinstance(self.device, str) else list(self.device)

    @property
    def times(self) -> list[float]:
        """Every offset at which the step happens."""
        if self.repeat is None:
            return [self.at]
        count = int((self.repeat.until - self.at) // self.repeat.every) + 1
        return [self.at + i * self.repeat.every for i in range(count)]


def _check_event(fields: dict[str, Any]) -> None:
    kind = fields.get("kind")
    if kind not in EVENT_KINDS:
        raise ValueError(f"event kind {kind!r} is not one of {', '.join(EVENT_KINDS)}")
    for reserved in ("ts", "seq", "v"):
        if reserved in fields:
            raise ValueError(f"event field {reserved!r} is set by the device")
    DEVICE_EVENT_ADAPTER.validate_python({**fields, "ts": _CHECK_TS, "seq": 1})


HourWeights = Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=24, max_length=24)]
RESIDENTIAL_DAY: list[float] = [
    1.0, 0.5, 0.3, 0.2, 0.3, 1.0, 3.0, 8.0, 9.0, 5.0, 4.0, 4.0,
    5.0, 4.0, 4.0, 4.0, 5.0, 8.0, 9.0, 7.0, 5.0, 4.0, 3.0, 2.0,
]  # fmt: skip
"""Passages per hour of a residential compound, relative: the school run and the commute."""


FaceCategoryShare = dict[Literal["resident", "staff", "visitor"], float]
MethodShare = dict[Literal["card", "qr", "pin", "face"], float]


def _mostly_residents() -> FaceCategoryShare:
    return {"resident": 0.93, "staff": 0.07}


def _mostly_cards() -> MethodShare:
    return {"card": 0.7, "qr": 0.2, "pin": 0.1}


class _Traffic(StrictModel):
    count: Annotated[int, Field(ge=1, le=100_000)]
    hours: HourWeights = RESIDENTIAL_DAY
    """Relative weight of each hour of the local day (0-23) in which passages fall."""


class GatePair(StrictModel):
    gate: CastName
    camera: CastName


class FacePassages(_Traffic):
    """People recognised at a gate: the camera's face decision, then the gate's passage."""

    kind: Literal["face_passage"]
    gates: Annotated[list[GatePair], Field(min_length=1)]
    categories: FaceCategoryShare = Field(default_factory=_mostly_residents)


class CredentialPassages(_Traffic):
    """Passages by card, QR code, PIN or the controller's own face reader, some refused."""

    kind: Literal["credential_passage"]
    devices: Annotated[list[CastName], Field(min_length=1)]
    methods: MethodShare = Field(default_factory=_mostly_cards)
    refused: Annotated[float, Field(ge=0, le=1)] = 0.04


Traffic = Annotated[FacePassages | CredentialPassages, Field(discriminator="kind")]


class Expectation(StrictModel):
    """An alert the platform (ingest with the shipped rules) should raise: rule, device (a cast
    name: a group expects one alert per device), and whether it is still active at the end."""

    rule: Identifier
    device: CastName
    ends: Literal["active", "cleared"]


class ScenarioFile(_OffsetModel):
    _offsets: ClassVar[tuple[str, ...]] = ("duration",)

    id: Identifier
    title_zh: Annotated[str, Field(min_length=1, max_length=60)]
    title_en: Annotated[str, Field(min_length=1, max_length=100)]
    description: Annotated[str, Field(max_length=2000)] = ""
    community: Identifier
    """The community whose devices the cast names and whose rules the expectations assume."""
    starts_at: time | None = None
    """Local time of day at which the timeline starts (``timezone``); by default it ends now."""
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    duration: Annotated[float, Field(gt=0, le=7 * DAY_S)]
    seed: int = 0
    cast: Annotated[dict[CastName, Selector], Field(min_length=1)]
    timeline: list[Step] = Field(default_factory=list)
    traffic: list[Traffic] = Field(default_factory=list)
    expect: list[Expectation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> "ScenarioFile":
        names = set(self.cast)
        used: list[str] = [n for step in self.timeline for n in step.devices]
        for item in self.traffic:
            if isinstance(item, FacePassages):
                used += [n for pair in item.gates for n in (pair.gate, pair.camera)]
            else:
                used += item.devices
        used += [e.device for e in self.expect]
        unknown = sorted(set(used) - names)
        if unknown:
            raise ValueError(f"not in the cast: {unknown}")
        late = [s.at for s in self.timeline if max(s.times) > self.duration]
        if late:
            raise ValueError(f"steps after the end ({self.duration:g} s): at {late}")
        return self
