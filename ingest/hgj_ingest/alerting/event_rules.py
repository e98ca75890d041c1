"""Event and face rules: conditions a device reports itself, and one-off occurrences.

A hazard event carries ``active``: true raises (again: the store counts the repeat), false
clears. An occurrence (``door_forced``, a face decision) raises each time and has nothing to
clear it except an optional auto-clear ``auto_clear_s`` after the latest one; an occurrence
during maintenance is dropped rather than remembered, since there is no condition to still hold
when the window ends.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta

from hgj_ingest.alerting.latch import (
    Announcement,
    Muter,
    clear_latch,
    raise_latch,
    resume_latch,
    stamp,
)
from hgj_ingest.alerting.state import EventState, Latch, Mark


def on_condition(
    state: EventState | None,
    mark: Mark,
    active: bool,
    cause: str,
    muted: Muter,
    auto_clear_s: float | None = None,
    details: Mapping[str, object] | None = None,
) -> tuple[EventState, list[Announcement]]:
    """A hazard event's ``active`` flag. Duplicates and late arrivals change nothing."""
    if state is not None and mark <= state.last:
        return state, []
    latch = state.latch if state is not None else Latch()
    auto_clear_at = state.auto_clear_at if state is not None else None
    details = details or {}
    if active:
        latch, announce = raise_latch(latch, mark.ts, muted(mark.ts), repeat=True)
        if auto_clear_s is not None:
            auto_clear_at = mark.ts + timedelta(seconds=auto_clear_s)
        out = [Announcement("raise", mark.ts, cause, details=details)] if announce else []
    else:
        latch, announce = clear_latch(latch)
        auto_clear_at = None
        out = [Announcement("clear", mark.ts, cause, details=details)] if announce else []
    return EventState(mark, latch, auto_clear_at), out


def on_occurrence(
    state: EventState | None,
    mark: Mark,
    cause: str,
    muted: Muter,
    auto_clear_s: float | None = None,
    details: Mapping[str, object] | None = None,
) -> tuple[EventState, list[Announcement]]:
    """One instant event (door forced, watchlist hit, stranger)."""
    if state is not None and mark <= state.last:
        return state, []
    latch = state.latch if state is not None else Latch()
    auto_clear_at = state.auto_clear_at if state is not None else None
    if muted(mark.ts) is not None:
        return EventState(mark, latch, auto_clear_at), []
    if auto_clear_s is None:
        # Nothing will ever clear it, so there is nothing to remember beyond the mark.
        announcement = Announcement("raise", mark.ts, cause, details=details or {})
        return EventState(mark), [announcement]
    latch, _ = raise_latch(latch, mark.ts, None, repeat=True)
    auto_clear_at = mark.ts + timedelta(seconds=auto_clear_s)
    announcement = Announcement("raise", mark.ts, cause, details=details or {})
    return EventState(mark, latch, auto_clear_at), [announcement]


def on_tick(
    state: EventState, now: datetime, muted: Muter
) -> tuple[EventState, list[Announcement]]:
    """Auto-clears and the end of maintenance, in the order they fell due."""
    latch, auto_clear_at = state.latch, state.auto_clear_at
    out: list[Announcement] = []
    while latch.active:
        resume_at = latch.resume_at if not latch.announced else None
        if (
            auto_clear_at is not None
            and auto_clear_at <= now
            and (resume_at is None or auto_clear_at <= resume_at)
        ):
            latch, announce = clear_latch(latch)
            if announce:
                cause = f"auto_clear/{stamp(auto_clear_at)}"
                out.append(Announcement("clear", auto_clear_at, cause))
            auto_clear_at = None
        elif resume_at is not None and resume_at <= now:
            # Leaves the latch announced, or muted until a window ending after ``now``.
            latch, announcement = resume_latch(latch, now, muted)
            out.extend([announcement] if announcement is not None else [])
        else:
            break
    return EventState(state.last, latch, auto_clear_at), out
