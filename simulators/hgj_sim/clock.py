"""Simulated time: the event time devices stamp on their messages, mapped to the event loop's.

A plain run keeps real time (speed 1, starting now). A scenario replays its timeline ``speed``
times faster than real time, from a start in the past chosen so that simulated time never runs
ahead of the wall clock (ingest refuses event times from the future) and, when the scenario
asks for a time of day (a stranger at 02:00), the timeline starts at that local time.

Schedules work in offsets: simulated seconds since ``origin``, as floats.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from hgj_contracts import utc_now


@dataclass(slots=True)
class SimClock:
    """Simulated time ``origin + speed x (loop time - anchor)`` once started; ``origin`` before."""

    origin: datetime
    speed: float = 1.0
    anchor: float | None = None
    """Event-loop time (``loop.time()``) at which simulated time was ``origin``."""

    def __post_init__(self) -> None:
        if self.origin.tzinfo is None:
            raise ValueError("origin must be timezone-aware")
        if self.speed <= 0:
            raise ValueError("speed must be positive")

    def start(self, loop_time: float) -> None:
        self.anchor = loop_time

    def offset(self, loop_time: float) -> float:
        """Simulated seconds since ``origin`` at this loop time (0 until started)."""
        if self.anchor is None:
            return 0.0
        return max(0.0, (loop_time - self.anchor) * self.speed)

    def loop_time_at(self, offset_s: float) -> float:
        """The loop time at which simulated time reaches ``offset_s``; None-safe before start
        (then every offset is due now, which callers avoid by starting the clock first)."""
        assert self.anchor is not None, "clock not started"
        return self.anchor + offset_s / self.speed

    def at(self, offset_s: float) -> datetime:
        """The simulated datetime of an offset."""
        return self.origin + timedelta(seconds=offset_s)


def scenario_origin(
    duration_s: float,
    speed: float,
    *,
    starts_at: time | None = None,
    zone: tzinfo,
    now: datetime | None = None,
) -> datetime:
    """Where a scenario's simulated time starts.

    Played from a loop time ``t0`` at ``speed``, simulated time reaches its end at wall time
    ``t0 + duration/speed``; starting ``duration x (1 - 1/speed)`` before now makes the end
    coincide with the wall clock, so no event time is ever in the future. With ``starts_at``
    the start moves back further, to the latest such local time of day.
    """
    now = now or utc_now()
    latest = now - timedelta(seconds=duration_s * (1 - 1 / speed))
    if starts_at is None:
        return latest
    local = latest.astimezone(zone)
    candidate = datetime.combine(local.date(), starts_at, tzinfo=zone)
    while candidate > local:
        candidate -= timedelta(days=1)
    return candidate
