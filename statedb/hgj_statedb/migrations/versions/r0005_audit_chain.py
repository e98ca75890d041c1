"""Chain the audit log: seq, prev_hash and hash on every record, the chain head, and triggers
that refuse UPDATE and DELETE on audit_log (see hgj_statedb.audit_chain).

Records written before this revision are chained here, in id order (the order they were
written in), so that the verifier covers the whole log.

SQLite's batch mode rebuilds a table to alter it, which drops its triggers: a later revision
that alters audit_log on SQLite must create them again (``create_append_only_triggers``).

Revision ID: r0005_audit_chain
Revises: r0004_commands
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from typing import Final

import sqlalchemy as sa
from alembic import op

# The hash is imported, not spelled out: its canonical form is frozen under CHAIN_VERSION
# (hgj_statedb.audit_chain), so this revision keeps computing what it computed when written.
from hgj_statedb.audit_chain import CHAINED_COLUMNS, GENESIS_HASH, HEAD_ID, record_hash

revision: str = "r0005_audit_chain"
down_revision: str | None = "r0004_commands"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSAL: Final = "audit_log is append-only"

# The table as this revision sees it (plain types: naive timestamps on SQLite are UTC).
_audit_log = sa.table(
    "audit_log",
    sa.column("id", sa.BigInteger()),
    sa.column("ts", sa.DateTime(timezone=True)),
    sa.column("actor_id", sa.String()),
    sa.column("actor_username", sa.String()),
    sa.column("action", sa.String()),
    sa.column("target_type", sa.String()),
    sa.column("target_id", sa.String()),
    sa.column("community", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("detail", sa.JSON()),
    sa.column("request_id", sa.String()),
    sa.column("client_ip", sa.String()),
    sa.column("seq", sa.BigInteger()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.String(64), nullable=True))
    head_seq, head_hash = _chain_existing_records()
    with op.batch_alter_table("audit_log") as batch:
        for name in ("seq", "prev_hash", "hash"):
            batch.alter_column(name, nullable=False)
        batch.create_unique_constraint(op.f("uq_audit_log_seq"), ["seq"])
        batch.create_check_constraint(op.f("ck_audit_log_seq"), "seq >= 1")
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_single_row")),
        sa.CheckConstraint("seq >= 0", name=op.f("ck_audit_chain_head_seq")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.execute(
        sa.table(
            "audit_chain_head",
            sa.column("id", sa.Integer()),
            sa.column("seq", sa.BigInteger()),
            sa.column("hash", sa.String()),
        )
        .insert()
        .values(id=HEAD_ID, seq=head_seq, hash=head_hash)
    )
    create_append_only_triggers()


def _chain_existing_records() -> tuple[int, str]:
    """Number and hash the records already there, oldest first; the new head."""
    connection = op.get_bind()
    columns = [_audit_log.c.id] + [_audit_log.c[name] for name in CHAINED_COLUMNS if name != "seq"]
    seq, prev = 0, GENESIS_HASH
    for row in connection.execute(sa.select(*columns).order_by(_audit_log.c.id)).all():
        seq += 1
        values = {**row._mapping, "seq": seq}
        digest = record_hash(prev, values)
        connection.execute(
            _audit_log.update()
            .where(_audit_log.c.id == row.id)
            .values(seq=seq, prev_hash=prev, hash=digest)
        )
        prev = digest
    return seq, prev


def create_append_only_triggers() -> None:
    """Refuse UPDATE and DELETE on audit_log in the database itself. An owner can still drop
    the triggers (or TRUNCATE); the chain is what shows that happened."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{_REFUSAL}: % refused', TG_OP; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{operation.lower()} BEFORE {operation} ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}: {operation} refused'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint(op.f("ck_audit_log_seq"), type_="check")
        batch.drop_constraint(op.f("uq_audit_log_seq"), type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
