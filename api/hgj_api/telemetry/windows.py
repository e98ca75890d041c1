"""The aggregation windows and functions the API offers, and the bucket limit.

Only a fixed set reaches InfluxQL: the window becomes ``GROUP BY time(<window>)`` and the
aggregation the function name, both spelled by these enums, never by the caller.
"""

from datetime import UTC, datetime, timedelta
from enum import StrEnum

from hgj_api.telemetry.errors import TelemetryQueryError

MAX_BUCKETS = 2000
"""Most buckets one history may have: a day at 1m is 1,440; a week needs 5m or more."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Aggregation(StrEnum):
    MEAN = "mean"
    MIN = "min"
    MAX = "max"
    LAST = "last"
    COUNT = "count"


class Window(StrEnum):
    """Bucket widths, spelled as InfluxQL duration literals."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    H6 = "6h"
    D1 = "1d"

    @property
    def duration(self) -> timedelta:
        return _DURATIONS[self]


_DURATIONS = {
    Window.M1: timedelta(minutes=1),
    Window.M5: timedelta(minutes=5),
    Window.M15: timedelta(minutes=15),
    Window.H1: timedelta(hours=1),
    Window.H6: timedelta(hours=6),
    Window.D1: timedelta(days=1),
}


def check_aware(value: datetime, name: str) -> None:
    """A naive time is ambiguous (whose local time?), so every bound must carry a zone."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise TelemetryQueryError(f"{name} {value!r} is not a datetime with a time zone")


def check_range(start: datetime, end: datetime) -> None:
    """Both ends carry a time zone and start comes before end."""
    check_aware(start, "start")
    check_aware(end, "end")
    if start >= end:
        raise TelemetryQueryError(f"start {start.isoformat()} must be before end {end.isoformat()}")


def bucket_count(start: datetime, end: datetime, window: Window) -> int:
    """How many buckets InfluxDB forms for ``start <= time < end``: it aligns them to the epoch,
    so an unaligned start adds one partial bucket at each edge."""
    check_range(start, end)
    width = window.duration
    first = (start - _EPOCH) // width
    last = (end - _EPOCH - timedelta(microseconds=1)) // width
    return last - first + 1


def check_buckets(start: datetime, end: datetime, window: Window) -> int:
    """The bucket count, or TelemetryQueryError naming the smallest window that would fit."""
    count = bucket_count(start, end, window)
    if count <= MAX_BUCKETS:
        return count
    fits = [w for w in Window if bucket_count(start, end, w) <= MAX_BUCKETS]
    advice = f"use a window of at least {fits[0].value}" if fits else "shorten the range"
    raise TelemetryQueryError(
        f"a {window.value} window over {start.isoformat()} .. {end.isoformat()} makes "
        f"{count:,} buckets, more than {MAX_BUCKETS:,}: {advice}"
    )
