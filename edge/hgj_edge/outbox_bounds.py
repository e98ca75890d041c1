"""The outbox's size bounds and what goes when they are reached.

Cheapest loss first, once acknowledged messages past their replay window are gone (the caller
purges those): the oldest telemetry (readings the next ones supersede), then retained messages
that a newer one on the same topic has superseded (only the newest status or state matters to
the broker). Alarms and other events, command results and the newest retained message per
topic are never dropped; an outbox full of them grows past its bound instead.
"""

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from hgj_edge.message_class import DROPPABLE_CHANNELS
from hgj_edge.outbox_schema import bump_counter

_DROPPABLE = json.dumps(sorted(DROPPABLE_CHANNELS))
_OLDEST_DROPPABLE = """
SELECT id, class, size, acked_at IS NOT NULL FROM messages
WHERE class IN (SELECT value FROM json_each(?))
ORDER BY id
"""
_OLDEST_SUPERSEDED = """
SELECT id, class, size, acked_at IS NOT NULL FROM messages AS m
WHERE retain = 1 AND (topic = ? OR EXISTS (
    SELECT 1 FROM messages AS newer
    WHERE newer.retain = 1 AND newer.topic = m.topic AND newer.id > m.id
))
ORDER BY id
"""


@dataclass
class Totals:
    """Messages and bytes in the outbox, kept in memory so that put() need not sum the table."""

    messages: int
    bytes: int

    @classmethod
    def load(cls, db: sqlite3.Connection) -> "Totals":
        row = db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages").fetchone()
        return cls(int(row[0]), int(row[1]))


@dataclass(frozen=True, slots=True)
class Bounds:
    max_messages: int
    max_bytes: int

    def fit(self, totals: Totals, size: int) -> bool:
        """Whether one more message of ``size`` bytes stays within the bounds."""
        return totals.messages + 1 <= self.max_messages and totals.bytes + size <= self.max_bytes

    def exceeded(self, totals: Totals) -> bool:
        return totals.messages > self.max_messages or totals.bytes > self.max_bytes


@dataclass(frozen=True, slots=True)
class _Victim:
    id: int
    message_class: str
    size: int
    acked: bool


def evict_for(
    db: sqlite3.Connection,
    totals: Totals,
    bounds: Bounds,
    size: int,
    retained_topic: str | None,
) -> bool:
    """Drop what the policy allows until a message of ``size`` bytes fits (``retained_topic``:
    the incoming message is retained on it, superseding what is queued there). False when it
    still does not fit. Unacknowledged victims count as ``dropped:<class>``; acknowledged
    ones, already delivered, as ``evicted_acked``."""
    tiers = ((_OLDEST_DROPPABLE, [_DROPPABLE]), (_OLDEST_SUPERSEDED, [retained_topic]))
    for query, params in tiers:
        if bounds.fit(totals, size):
            return True
        _evict(db, totals, bounds, size, query, params)
    return bounds.fit(totals, size)


def _evict(
    db: sqlite3.Connection,
    totals: Totals,
    bounds: Bounds,
    size: int,
    query: str,
    params: Sequence[str | None],
) -> None:
    victims: list[_Victim] = []
    cursor = db.execute(query, params)
    try:
        for r in cursor:
            if bounds.fit(totals, size):
                break
            victim = _Victim(int(r[0]), str(r[1]), int(r[2]), bool(r[3]))
            victims.append(victim)
            totals.messages -= 1
            totals.bytes -= victim.size
    finally:
        cursor.close()  # delete only once the scan is over: SQLite may skip rows otherwise
    db.executemany("DELETE FROM messages WHERE id = ?", [(v.id,) for v in victims])
    for victim in victims:
        bump_counter(db, "evicted_acked" if victim.acked else f"dropped:{victim.message_class}")
