"""Raising and clearing, shared by every rule kind: the one place maintenance is applied.

A raise that falls in a maintenance window is not announced, but the condition is remembered
(``Latch.active`` without ``announced``) and announced when the window ends if it still holds;
otherwise a smoke alarm that started during a detector swap and never stopped would never be
reported. Clears are never muted: an alert raised before a window may clear during it. A clear
of a raise that was never announced is not announced either: there is nothing to clear.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from hgj_ingest.alerting.state import Latch

Muter = Callable[[datetime], datetime | None]
"""For a moment, the end of the maintenance window muting the rule there (None: not muted)."""


@dataclass(frozen=True, slots=True)
class Announcement:
    """A transition to tell the alert store about; the engine turns it into an AlertSignal."""

    kind: Literal["raise", "clear"]
    at: datetime
    cause: str
    """What caused it, unique per rule and device: ``telemetry/20261127T021405.120000Z-42``
    for a message, ``silence/<deadline>`` for a tick. Part of the signal id."""
    value: float | None = None
    details: Mapping[str, object] = field(default_factory=dict)
    """Placeholder values for the message template."""


def stamp(moment: datetime) -> str:
    """A compact UTC time for signal ids, to the microsecond."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def message_cause(channel: str, ts: datetime, seq: int) -> str:
    # seq restarts at 1 when a device restarts, so the event time is part of the id too.
    return f"{channel}/{stamp(ts)}-{seq}"


def raise_latch(
    latch: Latch,
    at: datetime,
    muted_until: datetime | None,
    *,
    value: float | None = None,
    repeat: bool = False,
) -> tuple[Latch, bool]:
    """The condition holds at ``at``. Returns the new latch and whether to announce a raise.

    ``repeat``: announce again while already raised (each event is a repeat the store counts);
    without it, a raised latch stays quiet until cleared (a threshold raises once per episode).
    """
    if muted_until is not None:
        if latch.active:
            return latch, False
        return Latch(active=True, since=at, value=value, resume_at=muted_until), False
    if latch.active and latch.announced and not repeat:
        return latch, False
    since = latch.since if latch.active and latch.since is not None else at
    return Latch(active=True, announced=True, since=since, value=value), True


def clear_latch(latch: Latch) -> tuple[Latch, bool]:
    """The condition stopped holding. Returns the reset latch and whether to announce a clear."""
    if not latch.active:
        return latch, False
    return Latch(), latch.announced


def resume_latch(latch: Latch, now: datetime, muted: Muter) -> tuple[Latch, Announcement | None]:
    """At a tick: announce a muted raise whose window has ended by ``now`` (at the moment it
    ended), or move ``resume_at`` to the end of a window that has started since."""
    while True:
        at = latch.resume_at
        if not latch.active or latch.announced or at is None or at > now:
            return latch, None
        later = muted(at)
        if later is None:
            resumed = replace(latch, announced=True, resume_at=None)
            return resumed, Announcement("raise", at, f"resume/{stamp(at)}", latch.value)
        if later <= at:  # a muter that does not move forward would loop for ever
            raise ValueError(f"maintenance ending at {later} cannot cover {at}")
        latch = replace(latch, resume_at=later)
