"""Absence rules: a device silent for too long, or gone offline, until it is heard again.

Silence is measured on ingest's clock (message arrival against the tick's ``now``): the
question is "have we heard from it lately", and a device whose clock is off, or which replays
an old backlog after reconnecting, must be judged by when we heard it. Whether a message is
*new* (and so proves the device is back) is judged by event time, so that a redelivered
message does not clear the alert.
"""

from dataclasses import replace
from datetime import datetime, timedelta

from hgj_contracts import DeviceStatus, DeviceType
from hgj_ingest.alerting.latch import (
    Announcement,
    Muter,
    clear_latch,
    raise_latch,
    resume_latch,
    stamp,
)
from hgj_ingest.alerting.rules import AbsenceSpec
from hgj_ingest.alerting.state import AbsenceState

IMMEDIATE_REASONS = frozenset({None, "connection_lost"})
"""Offline statuses that raise at once: a last will (an offline without a reason is just as
unexplained). ``shutdown`` leaves the silence timer running; ``maintenance`` stops it."""


def interval_s(
    spec: AbsenceSpec, announced_s: float | None, device_type: DeviceType | None
) -> float | None:
    """The device's reporting interval: what it announced, else the rule's per-type default."""
    if announced_s is not None:
        return announced_s
    if device_type is not None and device_type in spec.intervals_s:
        return spec.intervals_s[device_type]
    return spec.fallback_interval_s


def on_heard(
    spec: AbsenceSpec,
    state: AbsenceState | None,
    ts: datetime,
    received_at: datetime,
    interval: float | None,
    cause: str,
) -> tuple[AbsenceState, list[Announcement]]:
    """Any message from the device: restart the silence timer; clear if it is news."""
    if state is None:
        state = AbsenceState(last_heard=received_at, last_ts=ts)
        is_news = True
    else:
        is_news = ts > state.last_ts
    last_heard = max(state.last_heard, received_at)
    deadline = last_heard + timedelta(seconds=spec.multiple * interval) if interval else None
    latch, out = state.latch, []
    if is_news and latch.active:
        since = latch.since or received_at
        latch, announce = clear_latch(latch)
        if announce:
            # Never before the raise: the store orders transitions by event time.
            out.append(Announcement("clear", max(received_at, since), cause))
    reason = state.reason if latch.active else None
    return AbsenceState(last_heard, max(ts, state.last_ts), deadline, latch, reason), out


def on_offline(
    spec: AbsenceSpec,
    state: AbsenceState | None,
    status: DeviceStatus,
    received_at: datetime,
    interval: float | None,
    cause: str,
    muted: Muter,
) -> tuple[AbsenceState, list[Announcement]]:
    """A newer offline status. A will's ``ts`` is its connect time, so the moment the device
    went offline is when the broker delivered the will: ``received_at``."""
    if status.reason == "shutdown":
        # A goodbye is still the device speaking; if it never comes back, silence will tell.
        return on_heard(spec, state, status.ts, received_at, interval, cause)
    if state is None:
        state = AbsenceState(last_heard=received_at, last_ts=status.ts)
    last_ts = max(state.last_ts, status.ts)
    if status.reason == "maintenance":
        return AbsenceState(state.last_heard, last_ts, None, state.latch, state.reason), []
    if not spec.on_last_will or status.reason not in IMMEDIATE_REASONS:
        return AbsenceState(
            state.last_heard, last_ts, state.deadline, state.latch, state.reason
        ), []
    latch, announce = raise_latch(state.latch, received_at, muted(received_at))
    out = []
    if announce:
        details = {"reason": "connection_lost", "silent_s": None}
        out.append(Announcement("raise", received_at, cause, details=details))
    reason = "connection_lost" if latch.active and state.reason is None else state.reason
    return AbsenceState(state.last_heard, last_ts, state.deadline, latch, reason), out


def on_tick(
    state: AbsenceState, now: datetime, muted: Muter
) -> tuple[AbsenceState, list[Announcement]]:
    """Raise when the deadline has passed; announce a muted raise when its window ends."""
    out: list[Announcement] = []
    latch, reason = state.latch, state.reason
    deadline = state.deadline
    if not latch.active and deadline is not None and deadline <= now:
        latch, announce = raise_latch(latch, deadline, muted(deadline))
        reason = "silence"
        if announce:
            silent_s = (deadline - state.last_heard).total_seconds()
            details = {"reason": "silence", "silent_s": silent_s}
            out.append(
                Announcement("raise", deadline, f"silence/{stamp(deadline)}", details=details)
            )
    latch, announcement = resume_latch(latch, now, muted)
    if announcement is not None:
        out.append(replace(announcement, details={"reason": reason, "silent_s": None}))
    return AbsenceState(state.last_heard, state.last_ts, deadline, latch, reason), out
