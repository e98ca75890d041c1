"""The batch being assembled: messages waiting to be written, then acknowledged.

The MQTT thread adds entries; the writer thread takes a batch when it is full or when the
oldest entry has waited ``flush_interval_s``. Entries keep what is needed to acknowledge the
MQTT message after the write (mid, QoS, connection generation) and to dead-letter it if the
store refuses it (topic, payload).
"""

import threading
import time
from dataclasses import dataclass


@dataclass(slots=True)
class Entry:
    lines: list[str]
    mid: int
    qos: int
    generation: int
    """Which MQTT connection delivered it: a mid is only valid on the connection that sent it."""
    topic: str
    payload: bytes
    received_at: float = 0.0
    """time.monotonic() on arrival, for the store-lag histogram."""
    lane_number: int = 0
    """Its number in the alert lane (0: not sent there); acked once the lane got this far."""


class Buffer:
    def __init__(self, batch_size: int, flush_interval_s: float) -> None:
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._entries: list[Entry] = []
        self._lines = 0
        self._first_at = 0.0
        self._cond = threading.Condition()

    def add(self, entry: Entry) -> None:
        with self._cond:
            if not self._entries:
                self._first_at = time.monotonic()
            self._entries.append(entry)
            self._lines += len(entry.lines)
            if self._lines >= self._batch_size:
                self._cond.notify()

    def take(self, stop: threading.Event) -> list[Entry]:
        """Block until a batch is due (full, old enough, or stopping) and return it."""
        with self._cond:
            while not stop.is_set():
                if self._lines >= self._batch_size:
                    break
                if self._entries:
                    remaining = self._first_at + self._interval - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                else:
                    self._cond.wait(self._interval)
            batch, self._entries, self._lines = self._entries, [], 0
            return batch

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._entries)
