"""One device's actions in simulated-time order: readings on a fixed grid, plus scripted and
inserted actions (a scenario's steps, faults, the steps of answering a command).

Times are offsets in simulated seconds. Reports keep their phase: a device that was offline or
fell behind skips the readings it missed instead of taking them late in a burst.
"""

import heapq
import itertools
from collections.abc import Iterable, Iterator

from hgj_sim.actions import Action, Report


class DeviceSchedule:
    def __init__(
        self,
        *,
        period_s: float,
        first_report_s: float,
        scripted: Iterable[tuple[float, Action]] = (),
        min_spacing_s: float = 0.0,
    ) -> None:
        """``scripted`` must be in time order; it is read lazily, so it may be endless.
        ``min_spacing_s`` keeps readings at least that far apart in simulated time (a
        scenario replayed at high speed would otherwise flood the broker)."""
        if period_s <= 0:
            raise ValueError("period_s must be positive")
        self._period = period_s
        self._min_spacing = min_spacing_s
        self._next_report: float | None = first_report_s
        self._heap: list[tuple[float, int, Action]] = []
        self._order = itertools.count()
        self._scripted: Iterator[tuple[float, Action]] = iter(scripted)
        self._peeked: tuple[float, Action] | None = None
        self._pull()

    @property
    def spacing_s(self) -> float:
        return max(self._period, self._min_spacing)

    def set_period(self, period_s: float, now_s: float) -> None:
        """Readings every ``period_s`` from now on, the next one a period from now."""
        self._period = period_s
        self._next_report = now_s + self.spacing_s

    def stop_reports(self) -> None:
        self._next_report = None

    def insert(self, at_s: float, action: Action) -> None:
        heapq.heappush(self._heap, (at_s, next(self._order), action))

    def next_time(self) -> float | None:
        times = [t for t in (self._head_time(), self._next_report) if t is not None]
        return min(times) if times else None

    def pop(self) -> tuple[float, Action]:
        """The earliest action; at equal times scripted and inserted ones come first."""
        head = self._head_time()
        report = self._next_report
        if head is not None and (report is None or head <= report):
            at, _, action = heapq.heappop(self._heap)
            self._pull()
            return at, action
        if report is None:
            raise IndexError("nothing scheduled")
        self._next_report = report + self.spacing_s
        return report, Report()

    def skip_missed_reports(self, now_s: float) -> int:
        """Move the next reading past ``now_s`` on its grid; how many were skipped."""
        if self._next_report is None or self._next_report >= now_s:
            return 0
        spacing = self.spacing_s
        missed = int((now_s - self._next_report) // spacing) + 1
        self._next_report += missed * spacing
        return missed

    def _head_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def _pull(self) -> None:
        """Move the next scripted action into the heap (one at a time: it may be endless)."""
        if self._peeked is None:
            self._peeked = next(self._scripted, None)
        if self._peeked is not None:
            at, action = self._peeked
            self._peeked = None
            self.insert(at, action)
