"""Threshold rules: a metric past its limit for ``for_s`` of event time, with hysteresis.

Time is the samples' own event time, never arrival: a batch of readings replayed from an edge
outbox after an outage is judged as it happened, not as one burst.
"""

from datetime import datetime, timedelta

from hgj_ingest.alerting.latch import Announcement, Muter, clear_latch, raise_latch, resume_latch
from hgj_ingest.alerting.rules import ThresholdSpec
from hgj_ingest.alerting.state import Latch, Mark, ThresholdState


def on_sample(
    spec: ThresholdSpec,
    state: ThresholdState | None,
    mark: Mark,
    value: float,
    cause: str,
    muted: Muter,
) -> tuple[ThresholdState, list[Announcement]]:
    """Apply one reading. A reading at or before the state's mark (a duplicate, or a sample
    that arrived after a newer one) is ignored: applying it would rewrite history."""
    if state is not None and mark <= state.last:
        return state, []
    latch = state.latch if state is not None else Latch()
    pending = state.pending_since if state is not None else None
    out: list[Announcement] = []
    if spec.offends(value):
        if latch.active:
            pending = None
        else:
            since = mark.ts if pending is None else pending
            if mark.ts - since >= timedelta(seconds=spec.for_s):
                latch, announce = raise_latch(latch, mark.ts, muted(mark.ts), value=value)
                pending = None
                if announce:
                    out.append(Announcement("raise", mark.ts, cause, value))
            else:
                pending = since
    else:
        # Not offending breaks a pending run: the condition must hold throughout ``for_s``.
        pending = None
        if spec.recovered(value):
            latch, announce = clear_latch(latch)
            if announce:
                out.append(Announcement("clear", mark.ts, cause, value))
        # Between clear_at and the limit: hysteresis, an active alert stays active.
    return ThresholdState(mark, pending, latch), out


def on_tick(
    state: ThresholdState, now: datetime, muted: Muter
) -> tuple[ThresholdState, list[Announcement]]:
    """Announce a raise muted by maintenance once its window has ended."""
    latch, announcement = resume_latch(state.latch, now, muted)
    out = [announcement] if announcement is not None else []
    return ThresholdState(state.last, state.pending_since, latch), out
