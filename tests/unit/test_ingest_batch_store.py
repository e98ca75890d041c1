"""Batches are retried while the store is down and bisected when it refuses lines."""

import threading

from hgj_ingest.batch_store import BatchStore
from hgj_ingest.buffer import Buffer, Entry
from hgj_ingest.counters import Counters
from hgj_ingest.influx_writer import RetryableWriteError, WriteRejected


class FakeWriter:
    """Refuses any request containing a 'bad' line; fails the first ``outages`` requests."""

    def __init__(self, outages: int = 0) -> None:
        self.outages = outages
        self.stored: set[str] = set()
        self.requests = 0

    def write(self, lines: list[str]) -> WriteRejected | None:
        self.requests += 1
        if self.outages:
            self.outages -= 1
            raise RetryableWriteError("503", retry_after_s=0.0)
        self.stored.update(line for line in lines if "bad" not in line)
        if any("bad" in line for line in lines):
            return WriteRejected(400, "partial write: field type conflict")
        return None


def entries(*names: str) -> list[Entry]:
    return [Entry([name], i + 1, 1, 1, f"t/{name}", name.encode()) for i, name in enumerate(names)]


def make_store(writer: FakeWriter, refused: list[str], stop: threading.Event) -> BatchStore:
    return BatchStore(
        writer,  # type: ignore[arg-type]
        Counters(),
        stop,
        lambda entry, _why: refused.append(entry.lines[0]),
    )


def test_refused_lines_are_isolated_and_the_rest_stored() -> None:
    writer, refused = FakeWriter(), list[str]()
    batch = entries("a", "b", "bad1", "c", "d", "e", "bad2", "f")
    assert make_store(writer, refused, threading.Event()).store(batch)
    assert refused == ["bad1", "bad2"]
    assert writer.stored == {"a", "b", "c", "d", "e", "f"}


def test_outages_are_retried_until_the_store_is_back() -> None:
    writer, refused = FakeWriter(outages=3), list[str]()
    assert make_store(writer, refused, threading.Event()).store(entries("a", "b"))
    assert writer.stored == {"a", "b"}
    assert writer.requests == 4


def test_stopping_during_an_outage_reports_not_stored() -> None:
    stop = threading.Event()
    stop.set()
    writer = FakeWriter(outages=1000)
    assert not make_store(writer, [], stop).store(entries("a"))
    assert writer.stored == set()


def test_buffer_hands_over_a_full_batch_at_once() -> None:
    buffer = Buffer(batch_size=3, flush_interval_s=60)
    for entry in entries("a", "b", "c", "d"):
        buffer.add(entry)
    assert [e.lines[0] for e in buffer.take(threading.Event())] == ["a", "b", "c", "d"]
    assert len(buffer) == 0


def test_buffer_flushes_a_partial_batch_after_the_interval() -> None:
    buffer = Buffer(batch_size=100, flush_interval_s=0.05)
    buffer.add(entries("a")[0])
    assert [e.lines[0] for e in buffer.take(threading.Event())] == ["a"]
