"""Store one batch durably: retry while the store is down, isolate lines it refuses.

InfluxDB stores the good lines of a batch and refuses the rest with one 400 ("partial write")
that does not say which lines were bad. Since a point written twice is the same point, writing
the halves again is harmless, so a refused batch is bisected until each refused entry is
found and handed to ``on_refused`` for dead-lettering. Everything else is stored.
"""

import threading
from collections.abc import Callable

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_when_event_set,
    wait_exponential_jitter,
)

from hgj_ingest.buffer import Entry
from hgj_ingest.counters import Counters
from hgj_ingest.influx_writer import PointWriter, RetryableWriteError, WriteRejected

_backoff = wait_exponential_jitter(multiplier=0.2, max=15.0, jitter=0.2)


def _wait(state: RetryCallState) -> float:
    """Our own exponential backoff, or longer when the store asked for it (Retry-After)."""
    delay = _backoff(state)
    outcome = state.outcome
    error = outcome.exception() if outcome is not None else None
    if isinstance(error, RetryableWriteError) and error.retry_after_s is not None:
        delay = max(delay, error.retry_after_s)
    return delay


class BatchStore:
    def __init__(
        self,
        writer: PointWriter,
        counters: Counters,
        stop: threading.Event,
        on_refused: Callable[[Entry, WriteRejected], None],
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self._writer = writer
        self._counters = counters
        self._stop = stop
        self._on_refused = on_refused
        self._on_retry = on_retry

    def store(self, entries: list[Entry]) -> bool:
        """True once every entry is stored or refused; False if stopped while the store was down."""
        try:
            self._store(entries)
        except RetryableWriteError:
            return False
        return True

    def _store(self, entries: list[Entry]) -> None:
        lines = [line for entry in entries for line in entry.lines]
        if not lines:
            return
        refused = self._write_with_retry(lines)
        if refused is None:
            self._counters.add("points_written", len(lines))
            return
        if len(entries) == 1:
            self._on_refused(entries[0], refused)
            return
        middle = len(entries) // 2
        self._store(entries[:middle])
        self._store(entries[middle:])

    def _write_with_retry(self, lines: list[str]) -> WriteRejected | None:
        retrying = Retrying(
            retry=retry_if_exception_type(RetryableWriteError),
            wait=_wait,
            stop=stop_when_event_set(self._stop),
            sleep=self._sleep,
            before_sleep=self._note_retry,
            reraise=True,
        )
        result: WriteRejected | None = retrying(self._writer.write, lines)
        return result

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _note_retry(self, state: RetryCallState) -> None:
        self._counters.add("write_retries")
        if self._on_retry is not None and state.outcome is not None:
            self._on_retry(str(state.outcome.exception()))
