"""The alert rule file, as pydantic models: what a deployer may write, and nothing else.

Unknown keys are errors (a misspelt ``clear_at`` silently ignored would leave a rule without
hysteresis); every check that can be made without running the engine is made here, so that a bad
file is refused at startup with the line to fix rather than misbehaving during an incident.

A rule names its kind by the one block it carries (``threshold:``, ``event:``, ``absence:`` or
``face:``), so that per-community overrides can change a kind's settings by repeating that block
(``threshold: {above: 55}``) and error locations read like the file (``rules[3].threshold.above``).
"""

import fnmatch
import re
from datetime import datetime, time
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hgj_contracts import METRICS, DeviceType, Severity
from hgj_contracts.ids import Identifier
from hgj_ingest.alerting.templates import RuleKind, template_problems

Seconds = Annotated[float, Field(ge=0, le=7 * 86400)]
PositiveSeconds = Annotated[float, Field(gt=0, le=7 * 86400)]
Score = Annotated[float, Field(ge=0.0, le=1.0)]
DeviceGlob = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_*?\[\]!-]{1,64}$"),
    Field(description="a device id or an fnmatch glob over ids, e.g. 'gs-b03-*'"),
]

EventKind = Literal[
    "smoke",
    "water_leak",
    "door_forced",
    "door_held_open",
    "tamper",
    "ebike_in_elevator",
    "ebike_charging",
    "camera_offline",
]
"""Device event kinds an ``event`` rule can watch. ``face`` has its own rule kind and
``gate_passage`` is access history, not a hazard."""

INSTANT_EVENT_KINDS: frozenset[str] = frozenset({"door_forced"})
"""Events without ``active``: each one is an occurrence with no clear of its own."""

_HH_MM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class StrictModel(BaseModel):
    """A piece of the rule file: unknown keys are errors, values are final once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _local_time(value: object) -> object:
    # Only "HH:MM" text: YAML 1.1 reads an unquoted 23:00 as the base-60 integer 1380, which
    # pydantic would quietly take as 00:23:00. The loader keeps such scalars as text, and here
    # anything that is not HH:MM is refused instead of guessed.
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not _HH_MM.match(value):
        raise ValueError("expected a local time as 'HH:MM', e.g. '23:00'")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


LocalTime = Annotated[time, BeforeValidator(_local_time)]


class MessageTemplate(StrictModel):
    """The alert text in Chinese (shown first) and English; placeholders such as ``{device}``."""

    zh: Annotated[str, Field(min_length=1, max_length=200)]
    en: Annotated[str, Field(min_length=1, max_length=200)]


class ThresholdSpec(StrictModel):
    """A telemetry metric beyond a limit for a while; cleared once back past ``clear_at``.

    The condition is ``value > above`` (or ``value < below``). It must hold on every sample
    for at least ``for_s`` seconds of event time: the rule raises on the first sample that is
    ``for_s`` or more after the first offending one. A device reporting every 300 s therefore
    raises on its second high reading unless ``for_s`` is 0.
    Clearing needs ``value < clear_at`` (``value > clear_at`` for ``below``); values between
    ``clear_at`` and the limit change nothing, which is what stops a reading hovering around
    the limit from flapping.
    """

    metric: str
    above: float | None = None
    below: float | None = None
    for_s: Seconds = 0.0
    clear_at: float | None = Field(
        default=None, description="defaults to the limit itself (no hysteresis)"
    )

    @field_validator("metric")
    @classmethod
    def _in_catalogue(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; the contract has {', '.join(METRICS)}")
        return value

    @field_validator("clear_at")
    @classmethod
    def _on_the_safe_side(cls, value: float | None, info: ValidationInfo) -> float | None:
        above, below = info.data.get("above"), info.data.get("below")
        if value is not None and above is not None and value > above:
            raise ValueError(f"clear_at {value:g} must not be above the limit ({above:g})")
        if value is not None and below is not None and value < below:
            raise ValueError(f"clear_at {value:g} must not be below the limit ({below:g})")
        return value

    @model_validator(mode="after")
    def _one_direction(self) -> "ThresholdSpec":
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of 'above' or 'below'")
        return self

    @property
    def limit(self) -> float:
        value = self.above if self.above is not None else self.below
        assert value is not None  # guaranteed by _one_direction
        return value

    @property
    def clear_level(self) -> float:
        return self.limit if self.clear_at is None else self.clear_at

    def offends(self, value: float) -> bool:
        return value > self.limit if self.above is not None else value < self.limit

    def recovered(self, value: float) -> bool:
        level = self.clear_level
        return value < level if self.above is not None else value > level


class EventSpec(StrictModel):
    """A device event: raise on ``active: true`` (or on every instant event such as
    ``door_forced``), clear on ``active: false`` or, when set, ``auto_clear_s`` after the last
    raise (the only way an instant event's alert clears by itself)."""

    kind: EventKind
    auto_clear_s: PositiveSeconds | None = None

    @property
    def instant(self) -> bool:
        return self.kind in INSTANT_EVENT_KINDS


class AbsenceSpec(StrictModel):
    """A device silent for more than ``multiple`` x its reporting interval, or gone offline.

    The interval is the one the device announced in its online status
    (``report_interval_s``), else ``intervals_s`` for its type, else ``fallback_interval_s``;
    a device with none of these is not watched for silence (its last will still counts).
    """

    multiple: Annotated[float, Field(ge=1, le=100)] = 3.0
    intervals_s: dict[DeviceType, PositiveSeconds] = Field(default_factory=dict)
    fallback_interval_s: PositiveSeconds | None = None
    on_last_will: bool = Field(
        default=True, description="raise at once on an offline status (connection_lost)"
    )


class HourWindow(StrictModel):
    """A daily span of local time; ``23:00``-``06:00`` crosses midnight, equal ends = all day."""

    start: LocalTime
    end: LocalTime

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        if self.start > self.end:
            return moment >= self.start or moment < self.end
        return True


class FaceSpec(StrictModel):
    """Face decisions: watchlist hits, or strangers where or when nobody unknown should be.

    Where is the rule's device filter (the cameras of a zone); when is ``hours`` in the
    community's local time. Every matching face event raises (the alert store counts repeats).
    """

    category: Literal["watchlist", "stranger"]
    watchlists: list[Identifier] | None = Field(
        default=None, description="only hits on these watchlists (watchlist category)"
    )
    min_score: Score | None = None
    hours: list[HourWindow] | None = Field(default=None, min_length=1)
    auto_clear_s: PositiveSeconds | None = None

    @field_validator("watchlists")
    @classmethod
    def _watchlists_need_watchlist(
        cls, value: list[str] | None, info: ValidationInfo
    ) -> list[str] | None:
        if value is not None and info.data.get("category") != "watchlist":
            raise ValueError("watchlists only apply to category 'watchlist'")
        return value


_KIND_BLOCKS: tuple[RuleKind, ...] = get_args(RuleKind)


class Rule(StrictModel):
    """One alert rule. The kind blocks come before ``message`` so that the message check
    can see which kind's placeholders apply."""

    id: Identifier
    severity: Severity
    enabled: bool = True
    threshold: ThresholdSpec | None = None
    event: EventSpec | None = None
    absence: AbsenceSpec | None = None
    face: FaceSpec | None = None
    message: MessageTemplate
    clear_message: MessageTemplate | None = Field(
        default=None, description="defaults to the message with a 'cleared' prefix"
    )
    device_types: list[DeviceType] | None = Field(
        default=None, description="only devices known to be of these types"
    )
    exclude_device_types: list[DeviceType] = Field(default_factory=list)
    devices: list[DeviceGlob] | None = Field(
        default=None, description="only devices whose id matches one of these globs"
    )
    exclude_devices: list[DeviceGlob] = Field(default_factory=list)

    @field_validator("message", "clear_message")
    @classmethod
    def _placeholders_fit_the_kind(
        cls, value: MessageTemplate | None, info: ValidationInfo
    ) -> MessageTemplate | None:
        kinds = [k for k in _KIND_BLOCKS if info.data.get(k) is not None]
        if value is None or len(kinds) != 1:
            return value  # a missing or doubled kind block is reported on its own
        problems = [
            f"{lang}: {problem}"
            for lang, text in (("zh", value.zh), ("en", value.en))
            for problem in template_problems(text, kinds[0])
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="before")
    @classmethod
    def _exactly_one_kind(cls, data: object) -> object:
        if isinstance(data, dict):
            present = [k for k in _KIND_BLOCKS if data.get(k) is not None]
            if len(present) != 1:
                found = ", ".join(present) or "none"
                raise ValueError(
                    f"a rule needs exactly one of {', '.join(_KIND_BLOCKS)} (found {found})"
                )
        return data

    @property
    def kind(self) -> RuleKind:
        for kind in _KIND_BLOCKS:
            if getattr(self, kind) is not None:
                return kind
        raise AssertionError("validated rules have a kind")  # pragma: no cover

    def applies_to(self, device: str, device_type: str | None) -> bool:
        """Whether the device filter admits this device. A ``device_types`` filter needs the
        type to be known; an exclusion only excludes devices known to be of that type."""
        if self.device_types is not None and device_type not in self.device_types:
            return False
        if device_type is not None and device_type in self.exclude_device_types:
            return False
        if self.devices is not None and not any(
            fnmatch.fnmatchcase(device, g) for g in self.devices
        ):
            return False
        return not any(fnmatch.fnmatchcase(device, g) for g in self.exclude_devices)


class MaintenanceWindow(StrictModel):
    """Suppress new alerts of some devices between two moments (clears still go through).

    A datetime without a zone is read in the community's local time.
    """

    devices: Annotated[list[DeviceGlob], Field(min_length=1)]
    rules: list[Identifier] | None = Field(default=None, description="only these rules")
    start: datetime
    end: datetime
    note: Annotated[str, Field(max_length=200)] | None = None

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and (start.tzinfo is None) != (value.tzinfo is None):
            raise ValueError("give both start and end with a zone, or both without")
        if start is not None and value <= start:
            raise ValueError("end must be after start")
        return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {value!r} (e.g. 'Asia/Shanghai')") from None
    return value


TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_zone)]


class CommunitySettings(StrictModel):
    """What one community changes: rule settings, its zone, its maintenance windows."""

    timezone: TimeZoneName | None = None
    rules: dict[Identifier, dict[str, Any]] = Field(
        default_factory=dict,
        description="per rule id, the keys to change, e.g. {severity: major, enabled: false}",
    )
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)


class RuleFile(StrictModel):
    """The whole file. Rules apply to every community unless a community changes them."""

    version: Literal[1] = 1
    timezone: TimeZoneName = "Asia/Shanghai"
    rules: Annotated[list[Rule], Field(min_length=1)]
    communities: dict[Identifier, CommunitySettings] = Field(default_factory=dict)
