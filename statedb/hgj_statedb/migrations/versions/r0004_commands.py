"""Remote commands and their timeline (the API's command dispatcher).

Revision ID: r0004_commands
Revises: r0003_users_audit
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "r0004_commands"
down_revision: str | None = "r0003_users_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out, not imported: a migration must keep meaning what it meant when it was written.
_STATES = "('queued', 'sent', 'delivered', 'succeeded', 'failed', 'timeout', 'expired', 'refused')"
_KINDS = "kind IN ('transition', 'late_result')"


def _utc(name: str, *, nullable: bool) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "commands",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("community", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _utc("state_since", nullable=False),
        _utc("created_at", nullable=False),
        _utc("expires_at", nullable=False),
        _utc("sent_at", nullable=True),
        _utc("delivered_at", nullable=True),
        _utc("timed_out_at", nullable=True),
        _utc("finished_at", nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result_data", sa.JSON(), nullable=True),
        _utc("next_dispatch_at", nullable=True),
        sa.Column("dispatch_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _utc("updated_at", nullable=False),
        sa.CheckConstraint(f"state IN {_STATES}", name=op.f("ck_commands_state")),
        sa.CheckConstraint("dispatch_attempts >= 0", name=op.f("ck_commands_dispatch_attempts")),
        sa.CheckConstraint("expires_at > created_at", name=op.f("ck_commands_expiry")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commands")),
        sa.UniqueConstraint(
            "requested_by",
            "idempotency_key",
            name=op.f("uq_commands_requested_by_idempotency_key"),
        ),
    )
    op.create_index(
        op.f("ix_commands_community_created_at"), "commands", ["community", "created_at"]
    )
    op.create_index(
        op.f("ix_commands_community_device_created_at"),
        "commands",
        ["community", "device", "created_at"],
    )
    op.create_index(op.f("ix_commands_state_expires_at"), "commands", ["state", "expires_at"])
    op.create_table(
        "command_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("command_id", sa.String(64), nullable=False),
        _utc("at", nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("cause", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=True),
        _utc("device_ts", nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        _utc("published_at", nullable=True),
        sa.CheckConstraint(f"from_state IN {_STATES}", name=op.f("ck_command_events_from_state")),
        sa.CheckConstraint(_KINDS, name=op.f("ck_command_events_kind")),
        sa.CheckConstraint(f"to_state IN {_STATES}", name=op.f("ck_command_events_to_state")),
        sa.ForeignKeyConstraint(
            ["command_id"],
            ["commands.id"],
            name=op.f("fk_command_events_command_id_commands"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command_events")),
    )
    op.create_index(op.f("ix_command_events_command_id_id"), "command_events", ["command_id", "id"])
    op.create_index(op.f("ix_command_events_published_at"), "command_events", ["published_at"])


def downgrade() -> None:
    op.drop_table("command_events")
    op.drop_table("commands")
