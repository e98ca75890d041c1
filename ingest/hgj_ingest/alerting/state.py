"""What the engine remembers between messages, and the small interface it is kept behind.

One value per (community, device, rule), plus one device profile per device under the reserved
rule name ``_device`` (ids cannot start with ``_``, so it never collides with a rule). Values are
small frozen dataclasses that round-trip through JSON (:func:`dump_state` / :func:`load_state`),
so that a SQL table of (community, device, rule, wake_at, value_json) can hold them and several
ingest workers can share them.

Each value says when it next needs the clock (``wake_at``): an absence deadline, an auto-clear,
or the end of a maintenance window that muted a raise. ``RuleState.due`` returns the values
whose time has come, which is all ``RuleEngine.on_tick`` looks at; a SQL implementation keeps
``wake_at`` in an indexed column so that a tick does not scan every device.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, NamedTuple, Protocol

from pydantic import Field, TypeAdapter

from hgj_contracts import DeviceType, StatusReason

PROFILE = "_device"
"""The ``rule`` part of the key under which a device's profile is kept."""


class StateKey(NamedTuple):
    # A tuple, not a dataclass: the engine hashes several keys per message, and a tuple's
    # hash and equality run in C (this halved the cost of a state lookup).
    community: str
    device: str
    rule: str


@dataclass(frozen=True, slots=True, order=True)
class Mark:
    """Where a stream stands: the (event time, seq) of the last message applied. A message
    at or before the mark is a duplicate or arrived late, and changes nothing."""

    ts: datetime
    seq: int


@dataclass(frozen=True, slots=True)
class Latch:
    """Whether an alert condition holds, and whether the store has been told."""

    active: bool = False
    announced: bool = False
    """False while a maintenance window mutes the raise; the raise is announced when the
    window ends (at ``resume_at``) if the condition still holds then."""
    since: datetime | None = None
    """When the condition started to hold (the raise's event time)."""
    value: float | None = None
    """The value that raised it (threshold rules), repeated in a delayed announcement."""
    resume_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """What a device said about itself in its latest status."""

    device_type: DeviceType | None = None
    report_interval_s: float | None = None
    location: str | None = None
    status: Mark | None = None
    status_reason: StatusReason | None = None
    online: bool | None = None
    kind: Literal["profile"] = "profile"

    @property
    def wake_at(self) -> datetime | None:
        return None


@dataclass(frozen=True, slots=True)
class ThresholdState:
    last: Mark
    pending_since: datetime | None = None
    """Event time of the first offending sample of a run not yet long enough to raise."""
    latch: Latch = Latch()
    kind: Literal["threshold"] = "threshold"

    @property
    def wake_at(self) -> datetime | None:
        return self.latch.resume_at


@dataclass(frozen=True, slots=True)
class EventState:
    """An event or face rule for one device."""

    last: Mark
    latch: Latch = Latch()
    auto_clear_at: datetime | None = None
    kind: Literal["event"] = "event"

    @property
    def wake_at(self) -> datetime | None:
        return _earliest(self.auto_clear_at if self.latch.active else None, self.latch.resume_at)


@dataclass(frozen=True, slots=True)
class AbsenceState:
    """Presence of one device as seen by one absence rule."""

    last_heard: datetime
    """Arrival time (ingest's clock) of the latest message: silence is measured on the same
    clock as the ticks, so a device whose clock is off is not taken for silent."""
    last_ts: datetime
    """Latest event time seen: only a message newer than this proves the device is back (a
    redelivered old message does not)."""
    deadline: datetime | None = None
    """When the silence becomes an alert; None when the interval is unknown, or the device
    announced maintenance."""
    latch: Latch = Latch()
    reason: Literal["silence", "connection_lost"] | None = None
    kind: Literal["absence"] = "absence"

    @property
    def wake_at(self) -> datetime | None:
        return _earliest(None if self.latch.active else self.deadline, self.latch.resume_at)


StateValue = DeviceProfile | ThresholdState | EventState | AbsenceState


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None


class RuleState(Protocol):
    """Storage of the engine's per-key state.

    The engine reads a key, decides, and writes it back. For several workers to share one
    store, each ``on_message``/``on_tick`` call must run as one transaction that serialises with
    other workers on the keys it touches (row locks, ``SELECT ... FOR UPDATE`` on PostgreSQL;
    SQLite serialises writers), and the signals it returns must be committed in that same
    transaction: state advanced without its signals stored would lose the alert for good, since
    the redelivered message is then a duplicate.
    """

    def get(self, key: StateKey) -> StateValue | None: ...

    def set(self, key: StateKey, value: StateValue | None) -> None:
        """Store ``value`` (None forgets the key)."""

    def due(self, now: datetime) -> Iterable[tuple[StateKey, StateValue]]:
        """Entries whose ``wake_at`` is at or before ``now``, earliest first."""


class InMemoryRuleState:
    """The state of one process. ``roundtrip`` stores values as JSON, as a database would,
    so tests prove that every value survives serialisation."""

    def __init__(self, *, roundtrip: bool = False) -> None:
        self._values: dict[StateKey, StateValue | str] = {}
        self._roundtrip = roundtrip

    def get(self, key: StateKey) -> StateValue | None:
        value = self._values.get(key)
        return load_state(value) if isinstance(value, str) else value

    def set(self, key: StateKey, value: StateValue | None) -> None:
        if value is None:
            self._values.pop(key, None)
        else:
            self._values[key] = dump_state(value) if self._roundtrip else value

    def due(self, now: datetime) -> list[tuple[StateKey, StateValue]]:
        found = []
        for key in self._values:
            value = self.get(key)
            assert value is not None
            wake_at = value.wake_at
            if wake_at is not None and wake_at <= now:
                found.append((wake_at, key, value))
        found.sort(key=lambda f: (f[0], f[1].community, f[1].device, f[1].rule))
        return [(key, value) for _, key, value in found]

    def __len__(self) -> int:
        return len(self._values)


_STATE_ADAPTER: TypeAdapter[StateValue] = TypeAdapter(
    Annotated[StateValue, Field(discriminator="kind")]
)


def dump_state(value: StateValue) -> str:
    """JSON text of a state value (times in ISO 8601 with their zone)."""
    return _STATE_ADAPTER.dump_json(value).decode()


def load_state(text: str) -> StateValue:
    return _STATE_ADAPTER.validate_json(text)
