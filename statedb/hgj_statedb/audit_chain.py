"""The audit log's hash chain: records sealed in commit order, and a verifier.

Each record's ``hash`` is SHA-256 over a version tag, the previous record's ``hash`` and the
record's canonical content (``canonical_content``: every column except the storage key ``id``,
as JSON with sorted keys and UTC timestamps). Changing a record changes its hash; removing or
inserting one breaks the next record's ``prev_hash`` or the numbering (``seq``); removing the
newest ones leaves the chain head (``audit_chain_head``) pointing past the end. ``verify_chain``
reports the first such break.

Writers never compute the chain themselves: ``stage`` keeps a record with its session, and when
that session commits, ``seal`` locks the head row (``SELECT ... FOR UPDATE``; SQLite's writers
are serialised by BEGIN IMMEDIATE already), numbers and hashes the session's records after the
head, and moves the head. Sealing at commit rather than at ``stage`` makes the head lock the last
lock a transaction takes and holds it only for the commit: audited transactions take their other
locks (user rows, alert rows) in their own order first, so waiting for the head cannot deadlock
with them, and two writers can never both extend the same record (fork the chain).

What a chain cannot do: someone who can write the database and knows this scheme can rewrite
every record after the one they changed, and the head too. ``verify_chain`` returns the head's
``seq`` and ``hash``; copying them somewhere else from time to time (a ticket, a log shipper)
makes such a rewrite detectable as well.
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Row, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from hgj_statedb.models import AuditChainHeadRow, AuditLogRow

CHAIN_VERSION: Final = "hgj-audit-v1"
"""Part of every hash. The canonical form below is frozen under this tag: a different form
needs a new tag (and the verifier must keep knowing the old one), never an edit."""
GENESIS_HASH: Final = "0" * 64
"""``prev_hash`` of the first record, and the head's hash while the log is empty."""
HEAD_ID: Final = 1

CHAINED_COLUMNS: Final = (
    "seq",
    "ts",
    "actor_id",
    "actor_username",
    "action",
    "target_type",
    "target_id",
    "community",
    "outcome",
    "detail",
    "request_id",
    "client_ip",
)
"""What the hash covers: everything but ``id`` (assigned by the database after the hash is
computed, so it cannot be covered; ``seq`` is the record's place in the chain instead)."""

_PENDING: Final = "hgj_audit_pending"
_HOOKED: Final = "hgj_audit_hooked"


def normalise_detail(detail: Mapping[str, object]) -> dict[str, Any]:
    """``detail`` as the database will hand it back (JSON types only: enums become strings,
    tuples lists), so that the hash computed before the insert matches the stored record."""
    normalised: dict[str, Any] = json.loads(json.dumps(dict(detail), ensure_ascii=False))
    return normalised


def _timestamp(value: datetime) -> str:
    # SQLite hands back naive UTC (see hgj_statedb.utc); PostgreSQL aware values.
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_content(values: Mapping[Any, Any]) -> bytes:
    """The chained columns of a record (a mapping from column name to value), serialised one
    way only: JSON, sorted keys, no spaces, UTF-8, timestamps in UTC with microseconds."""
    content = {name: values[name] for name in CHAINED_COLUMNS}
    content["ts"] = _timestamp(content["ts"])
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def record_hash(prev_hash: str, values: Mapping[Any, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(f"{CHAIN_VERSION}\n{prev_hash}\n".encode())
    digest.update(canonical_content(values))
    return digest.hexdigest()


def _values_of(row: AuditLogRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in CHAINED_COLUMNS}


# Writing.


def stage(session: Session, row: AuditLogRow) -> None:
    """Have ``row`` appended to the chain when ``session`` commits (dropped if it rolls back).

    The row is added to the session only then, already numbered and hashed: the table refuses
    updates, so a row cannot be inserted first and completed later."""
    row.detail = normalise_detail(row.detail)
    if not session.info.get(_HOOKED):
        event.listen(session, "before_commit", _seal_pending)
        event.listen(session, "after_transaction_end", _forget_pending)
        session.info[_HOOKED] = True
    session.info.setdefault(_PENDING, []).append(row)


def _seal_pending(session: Session) -> None:
    pending: list[AuditLogRow] = session.info.pop(_PENDING, [])
    if pending:
        seal(session, pending)


def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended (commit or rollback)
        session.info.pop(_PENDING, None)


def seal(session: Session, rows: Sequence[AuditLogRow]) -> None:
    """Number and hash ``rows`` after the chain's head, add them to ``session`` and move the
    head, holding the head's lock until the session's transaction ends."""
    head = _lock_head(session)
    seq, prev = head.seq, head.hash
    for row in rows:
        seq += 1
        row.seq, row.prev_hash = seq, prev
        row.hash = prev = record_hash(prev, _values_of(row))
        session.add(row)
    head.seq, head.hash = seq, prev


_INSERT: Final[dict[str, Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _lock_head(session: Session) -> AuditChainHeadRow:
    head = session.get(AuditChainHeadRow, HEAD_ID, with_for_update=True, populate_existing=True)
    if head is not None:
        return head
    # The migration creates the head; it is missing only after the tables were emptied (tests)
    # or tampered with. Continue from the last record, so the log stays appendable and the
    # verifier still checks every link. ON CONFLICT DO NOTHING: two writers may both get here.
    last = session.execute(
        select(AuditLogRow.seq, AuditLogRow.hash).order_by(AuditLogRow.seq.desc()).limit(1)
    ).one_or_none()
    seq, hash_ = (last.seq, last.hash) if last is not None else (0, GENESIS_HASH)
    insert = _INSERT[session.get_bind().dialect.name]
    session.execute(
        insert(AuditChainHeadRow).values(id=HEAD_ID, seq=seq, hash=hash_).on_conflict_do_nothing()
    )
    head = session.get(AuditChainHeadRow, HEAD_ID, with_for_update=True, populate_existing=True)
    assert head is not None
    return head


# Verifying.


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place where the chain does not hold."""

    seq: int
    """Where the break shows: the first record that fails, or the head's position."""
    record_id: int | None
    """The failing record's ``id``; None when the break is at the head or a missing record."""
    problem: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    records: int
    """Records checked (all of them when intact, up to the break otherwise)."""
    head_seq: int
    head_hash: str
    """The last record's ``seq`` and ``hash`` as the head records them: write them down
    elsewhere, and a later rewrite of the whole chain shows too."""
    first_break: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.first_break is None


def verify_chain(session: Session, batch_size: int = 1000) -> ChainReport:
    """Walk the whole log in ``seq`` order and report the first broken link, if any."""
    head = session.get(AuditChainHeadRow, HEAD_ID)
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    columns = [AuditLogRow.id, AuditLogRow.prev_hash, AuditLogRow.hash] + [
        getattr(AuditLogRow, name) for name in CHAINED_COLUMNS
    ]
    result = session.execute(
        select(*columns).order_by(AuditLogRow.seq).execution_options(yield_per=batch_size)
    )
    checked, prev = 0, GENESIS_HASH
    past_head: tuple[int, int] | None = None  # (seq, id) of the first record beyond the head
    with result:
        for row in result:
            found = _link_break(row, checked + 1, prev)
            if found is not None:
                return ChainReport(checked, head_seq, head_hash, found)
            if past_head is None and row.seq > head_seq:
                past_head = (row.seq, row.id)
            checked, prev = row.seq, row.hash
    return ChainReport(checked, head_seq, head_hash, _head_break(head, checked, prev, past_head))


def _link_break(row: Row[*tuple[Any, ...]], expected_seq: int, prev: str) -> ChainBreak | None:
    if row.seq != expected_seq:
        # seq is unique and walked in order, so a difference is a gap: records were deleted.
        return ChainBreak(
            expected_seq, None, f"records {expected_seq}..{row.seq - 1} are missing: deleted"
        )
    if row.prev_hash != prev:
        problem = (
            f"record {row.seq} does not link to record {row.seq - 1}: a record was inserted "
            "or replaced before it"
            if row.seq > 1
            else "record 1 does not start the chain"
        )
        return ChainBreak(row.seq, row.id, problem)
    if row.hash != record_hash(prev, row._mapping):
        return ChainBreak(
            row.seq, row.id, f"record {row.seq} does not match its hash: its content was changed"
        )
    return None


def _head_break(
    head: AuditChainHeadRow | None,
    last_seq: int,
    last_hash: str,
    past_head: tuple[int, int] | None,
) -> ChainBreak | None:
    if head is None:
        return None if last_seq == 0 else ChainBreak(1, None, "the chain head is missing")
    if head.seq > last_seq:
        return ChainBreak(
            last_seq + 1,
            None,
            f"records {last_seq + 1}..{head.seq} are missing: the newest were deleted",
        )
    if past_head is not None:
        seq, record_id = past_head
        return ChainBreak(
            seq, record_id, f"records from {seq} on were added without moving the chain head"
        )
    if head.hash != last_hash:
        return ChainBreak(
            last_seq, None, f"record {last_seq} is not the one the chain head recorded"
        )
    return None
