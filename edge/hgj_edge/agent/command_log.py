"""The commands an agent has seen, kept in the agent's SQLite file so that a restart does not
execute a redelivered command again.

QoS 1 may deliver a command twice, and the broker re-sends one whose PUBACK was lost when the
agent died; both must be answered with the first outcome, never carried out twice. A row is
written (``accepted``) before the driver acts, so a command interrupted by a crash is found on
redelivery and answered ``failed`` (``interrupted``) instead of being run a second time: for a
gate, at most once is the safe side.
"""

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from hgj_contracts.commands import ResultStatus
from hgj_edge.agent.sender import ResultData

_SCHEMA = """
CREATE TABLE IF NOT EXISTS agent_commands (
    command_id TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    error_code TEXT,
    error TEXT,
    data TEXT,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS agent_commands_age ON agent_commands (received_at);
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    status: ResultStatus
    error_code: str | None = None
    error: str | None = None
    data: ResultData | None = None


class CommandLog:
    """Thread-safe; one connection behind a lock (commands arrive on paho's thread)."""

    def __init__(self, path: Path, *, keep: int = 10_000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._keep = keep
        self._lock = threading.Lock()

    def first_outcome(self, command_id: str) -> Outcome | None:
        with self._lock:
            row = self._db.execute(
                "SELECT status, error_code, error, data FROM agent_commands WHERE command_id = ?",
                (command_id,),
            ).fetchone()
        if row is None:
            return None
        data = json.loads(row[3]) if row[3] is not None else None
        return Outcome(row[0], row[1], row[2], data)

    def record(self, command_id: str, action: str, outcome: Outcome, at: float) -> None:
        """Insert or update; committed on return (autocommit), before the answer is sent."""
        data = json.dumps(outcome.data) if outcome.data is not None else None
        with self._lock:
            self._db.execute(
                "INSERT INTO agent_commands"
                " (command_id, action, status, error_code, error, data, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (command_id) DO UPDATE SET"
                " status = excluded.status, error_code = excluded.error_code,"
                " error = excluded.error, data = excluded.data",
                (command_id, action, outcome.status, outcome.error_code, outcome.error, data, at),
            )
            # Bounded: the broker never keeps a command longer than its expiry, so the memory
            # only needs to outlast redeliveries; the newest ``keep`` rows are plenty.
            self._db.execute(
                "DELETE FROM agent_commands WHERE command_id IN (SELECT command_id FROM"
                " agent_commands ORDER BY received_at DESC LIMIT -1 OFFSET ?)",
                (self._keep,),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
