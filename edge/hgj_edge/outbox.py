"""The edge agent's store-and-forward outbox: every message waits on disk until the broker
has acknowledged it, and for a while after that.

Why keep acknowledged messages: the shipped Mosquitto config snapshots its persistence about
every second (deploy/mosquitto/README.md says why it does not save on every change), so a
broker killed with SIGKILL forgets messages it PUBACKed after its last snapshot. After every
reconnect the publisher therefore sends again what was acknowledged within ``replay_window_s``
before the connection dropped. Ingest writes are idempotent (event time + tags), so the
duplicates cost bandwidth, not correctness.

Times are wall-clock seconds (``clock``, ``time.time`` by default) because they are stored and
compared across restarts of the agent, which a monotonic clock is not.
"""

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from hgj_contracts import MAX_PAYLOAD_BYTES, ContractError
from hgj_edge.message_class import MessageClass, classify
from hgj_edge.outbox_bounds import Bounds, Totals, evict_for
from hgj_edge.outbox_schema import Synchronous, bump_counter, open_database

log = logging.getLogger(__name__)

Clock = Callable[[], float]

DEFAULT_REPLAY_WINDOW_S = 10.0
"""Comfortably above the broker's snapshot interval (~1 s, a save every ~2 s measured)."""
OVER_BOUND_WARNING_INTERVAL_S = 60.0
_SELECT_MESSAGE = """
SELECT id, topic, payload, qos, retain, class, enqueued_at,
       retain = 1 AND EXISTS (
           SELECT 1 FROM messages AS newer
           WHERE newer.retain = 1 AND newer.topic = m.topic AND newer.id > m.id
       ) AS superseded
FROM messages AS m
"""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    message_class: str
    enqueued_at: float
    superseded: bool
    """Retained, with a newer retained message on the same topic behind it in the outbox."""

    @property
    def publish_retain(self) -> bool:
        """The retain flag to send with. A superseded retained message can go out after its
        successor (replays wait for never-acknowledged messages, and paho re-sends its own
        in-flight ones first), and would then put the older value back in the broker's retained
        slot; without the flag it still reaches subscribers, so its history point is kept."""
        return self.retain and not self.superseded


@dataclass(frozen=True, slots=True)
class Replay:
    """What a reconnect has to send: rows never acknowledged, and acknowledged rows put back."""

    unacked: int
    replayed_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class OutboxStats:
    messages: int
    bytes: int
    unacked: int
    acked_kept: int
    """Acknowledged, kept for the replay window."""
    over_bound: bool
    dropped: dict[str, int]
    """Per class, unacknowledged messages dropped because the outbox was full."""
    rejected: dict[str, int]
    """Per class, messages the broker refused (moved to the rejected table)."""
    replayed: int
    evicted_acked: int
    """Acknowledged messages removed before their replay window ended to make room."""


@dataclass(frozen=True, slots=True)
class RejectedMessage:
    id: int
    topic: str
    message_class: str
    rejected_at: float
    reason_code: int
    reason: str


class Outbox:
    """One agent's outbox file. Thread-safe: one connection behind one lock."""

    def __init__(
        self,
        path: Path,
        *,
        max_messages: int = 100_000,
        max_bytes: int = 64 * 1024 * 1024,
        replay_window_s: float = DEFAULT_REPLAY_WINDOW_S,
        clock: Clock = time.time,
        synchronous: Synchronous = "NORMAL",
        max_rejected_kept: int = 1000,
    ) -> None:
        if max_messages < 1 or max_bytes < 1 or replay_window_s < 0 or max_rejected_kept < 0:
            raise ValueError("outbox bounds must be positive and the replay window not negative")
        self.path = path
        self.bounds = Bounds(max_messages, max_bytes)
        self.replay_window_s = replay_window_s
        self._clock = clock
        self._max_rejected_kept = max_rejected_kept
        self._lock = threading.Lock()
        self._db = open_database(path, synchronous)
        self._listeners: list[Callable[[], None]] = []
        self._warned_at: float | None = None
        self._totals = Totals.load(self._db)

    # Writing --------------------------------------------------------------------------------

    def put(
        self, topic: str, payload: bytes, *, qos: int | None = None, retain: bool | None = None
    ) -> int | None:
        """Store a message; on return it is committed. QoS and retain default to the channel's.

        Returns its id, or None when it is telemetry and the outbox is full of messages that
        may not be dropped for it (counted as a telemetry drop).
        """
        kind = classify(topic)
        if len(payload) > MAX_PAYLOAD_BYTES:
            # Checked here, not left to the broker: Mosquitto's refusal of an oversize publish
            # (0x95) makes paho drop the connection, so the message would block the outbox.
            raise ContractError("oversize", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
        qos = kind.qos if qos is None else qos
        retain = kind.retain if retain is None else retain
        size = len(payload) + len(topic.encode())
        now = self._clock()
        with self._write() as db:
            fits = self.bounds.fit(self._totals, size)
            if not fits:
                self._purge(db, now)  # free: past its window, nothing is lost
                fits = evict_for(db, self._totals, self.bounds, size, topic if retain else None)
            if not fits and kind.droppable:
                bump_counter(db, f"dropped:{kind.name}")
                self._warn_over_bound(kind, now, dropped=True)
                return None
            if not fits:
                self._warn_over_bound(kind, now, dropped=False)
            row_id = db.execute(
                "INSERT INTO messages (topic, payload, qos, retain, class, size, enqueued_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (topic, payload, qos, int(retain), kind.name, size, now),
            ).lastrowid
            self._totals.messages += 1
            self._totals.bytes += size
        assert row_id is not None
        for listener in list(self._listeners):
            listener()
        return row_id

    def mark_acked(self, ids: Iterable[int], at: float) -> int:
        """Record PUBACKs; returns how many rows were still there (a row dropped while in
        flight is simply gone). A second ack moves the time on: the window counts from the
        latest time the broker took the message."""
        rows = [(at, row_id) for row_id in ids]
        if not rows:
            return 0
        with self._write() as db:
            return db.executemany("UPDATE messages SET acked_at = ? WHERE id = ?", rows).rowcount

    def mark_rejected(self, row_id: int, reason_code: int, reason: str, at: float) -> bool:
        """Move a message the broker refused (not authorised, quota...) to the rejected table,
        so it is counted and kept for inspection instead of being retried forever."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO rejected SELECT id, topic, payload, qos, retain, class,"
                " enqueued_at, ?, ?, ? FROM messages WHERE id = ?",
                (at, reason_code, reason, row_id),
            )
            gone = db.execute(
                "DELETE FROM messages WHERE id = ? RETURNING class, size", (row_id,)
            ).fetchone()
            if gone is None:
                return False
            self._totals.messages -= 1
            self._totals.bytes -= int(gone[1])
            bump_counter(db, f"rejected:{gone[0]}")
            db.execute(
                "DELETE FROM rejected WHERE id NOT IN"
                " (SELECT id FROM rejected ORDER BY id DESC LIMIT ?)",
                (self._max_rejected_kept,),
            )
            return True

    def replay_after_reconnect(self, disconnected_at: float) -> Replay:
        """Put back every message acknowledged within the replay window before the connection
        dropped: ``next_replay`` yields them, in their original order, until acknowledged again.

        The window ends at the last PUBACK received before ``disconnected_at``, not at
        ``disconnected_at`` itself: when a broker host dies without closing the socket the
        client notices only after its keepalive (tens of seconds), and a window measured back
        from then could miss the acknowledgements of the broker's last second. No PUBACK can
        arrive after the broker died, so the last one bounds its death from below.
        """
        with self._write() as db:
            since = self._window_start(db, disconnected_at)
            unacked = int(
                db.execute("SELECT COUNT(*) FROM messages WHERE acked_at IS NULL").fetchone()[0]
            )
            ids = tuple(
                int(r[0])
                for r in db.execute(
                    "UPDATE messages SET acked_at = NULL, replay = 1 WHERE acked_at >= ?"
                    " RETURNING id",
                    (since,),
                )
            )
            bump_counter(db, "replayed", len(ids))
        return Replay(unacked=unacked, replayed_ids=tuple(sorted(ids)))

    def purge(self, now: float) -> int:
        """Remove acknowledged messages whose replay window has passed; returns how many.

        As in ``replay_after_reconnect``, the window is measured back from the last PUBACK if
        that is earlier than ``now``: a connection that looks alive may belong to a broker
        that died without a word, and its last acknowledgements must stay replayable.
        """
        with self._write() as db:
            return self._purge(db, now)

    # Reading --------------------------------------------------------------------------------

    def next_unsent(self, limit: int, after_id: int = 0) -> list[OutboxMessage]:
        """Messages the broker never acknowledged, with ids above ``after_id``, oldest first.
        They go before the replays: the broker has surely not got them."""
        return self._unacked(0, limit, after_id)

    def next_replay(self, limit: int, after_id: int = 0) -> list[OutboxMessage]:
        """Messages a reconnect put back (``replay_after_reconnect``) and not yet acknowledged
        again, with ids above ``after_id``, oldest first."""
        return self._unacked(1, limit, after_id)

    def unacked_count(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM messages WHERE acked_at IS NULL")
            return int(row.fetchone()[0])

    def acked_ids_since(self, since: float) -> list[int]:
        """Messages acknowledged at or after ``since``: what a broker that lost everything it
        took since then would have lost, were it not for the replay."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM messages WHERE acked_at >= ? ORDER BY id", (since,)
            ).fetchall()
        return [int(r[0]) for r in rows]

    def drop_counts(self) -> dict[str, int]:
        """Per message class, messages dropped because the outbox was full (for the agent's
        status report). Survives restarts: the counts live in the file."""
        return self._counters("dropped:")

    def rejected_messages(self, limit: int = 100) -> list[RejectedMessage]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, class, rejected_at, reason_code, reason FROM rejected"
                " ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            RejectedMessage(int(r[0]), str(r[1]), str(r[2]), float(r[3]), int(r[4]), str(r[5]))
            for r in rows
        ]

    def stats(self) -> OutboxStats:
        with self._lock:
            unacked = int(
                self._db.execute("SELECT COUNT(*) FROM messages WHERE acked_at IS NULL").fetchone()[
                    0
                ]
            )
            totals = Totals(self._totals.messages, self._totals.bytes)
        others = self._counters("")
        return OutboxStats(
            messages=totals.messages,
            bytes=totals.bytes,
            unacked=unacked,
            acked_kept=totals.messages - unacked,
            over_bound=self.bounds.exceeded(totals),
            dropped=self._counters("dropped:"),
            rejected=self._counters("rejected:"),
            replayed=others.get("replayed", 0),
            evicted_acked=others.get("evicted_acked", 0),
        )

    # Life cycle -----------------------------------------------------------------------------

    def add_put_listener(self, listener: Callable[[], None]) -> None:
        """Called after every committed put(), on the putting thread (the publisher's wake-up)."""
        self._listeners.append(listener)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Internals ------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                self._totals = Totals.load(self._db)  # they may count rolled-back changes
                raise
            self._db.execute("COMMIT")

    def _counters(self, prefix: str) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, value FROM counters WHERE substr(name, 1, ?) = ?",
                (len(prefix), prefix),
            ).fetchall()
        return {str(name)[len(prefix) :]: int(value) for name, value in rows}

    def _unacked(self, replay: int, limit: int, after_id: int) -> list[OutboxMessage]:
        with self._lock:
            rows = self._db.execute(
                _SELECT_MESSAGE
                + " WHERE m.acked_at IS NULL AND m.replay = ? AND m.id > ? ORDER BY m.id LIMIT ?",
                (replay, after_id, limit),
            ).fetchall()
        return [
            OutboxMessage(
                id=int(r[0]),
                topic=str(r[1]),
                payload=bytes(r[2]),
                qos=int(r[3]),
                retain=bool(r[4]),
                message_class=str(r[5]),
                enqueued_at=float(r[6]),
                superseded=bool(r[7]),
            )
            for r in rows
        ]

    def _window_start(self, db: sqlite3.Connection, until: float) -> float:
        latest = db.execute("SELECT MAX(acked_at) FROM messages").fetchone()[0]
        end = until if latest is None else min(until, float(latest))
        return end - self.replay_window_s

    def _purge(self, db: sqlite3.Connection, now: float) -> int:
        since = self._window_start(db, now)
        sizes = db.execute("DELETE FROM messages WHERE acked_at < ? RETURNING size", (since,))
        removed = [int(r[0]) for r in sizes]
        self._totals.messages -= len(removed)
        self._totals.bytes -= sum(removed)
        return len(removed)

    def _warn_over_bound(self, kind: MessageClass, now: float, *, dropped: bool) -> None:
        if self._warned_at is not None and now - self._warned_at < OVER_BOUND_WARNING_INTERVAL_S:
            return
        self._warned_at = now
        what = "dropping it" if dropped else "keeping it over the bound (never dropped)"
        log.warning(
            "outbox %s is full (%d messages, %d bytes; bounds %d, %d) with nothing droppable "
            "left for a message of class %s: %s",
            self.path,
            self._totals.messages,
            self._totals.bytes,
            self.bounds.max_messages,
            self.bounds.max_bytes,
            kind.name,
            what,
        )
