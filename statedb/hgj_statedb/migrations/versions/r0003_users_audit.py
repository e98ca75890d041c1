"""Users with their roles and communities, refresh tokens, and the audit log (the API).

Revision ID: r0003_users_audit
Revises: r0002_devices
Create Date: 2026-11-27
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "r0003_users_audit"
down_revision: str | None = "r0002_devices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES = "role IN ('security', 'operator', 'admin', 'privacy_officer')"
_REVOKE_REASONS = "revoked_reason IN ('reuse', 'logout', 'password_reset', 'disabled')"
_OUTCOMES = "outcome IN ('success', 'failure', 'denied')"


def _utc(name: str, *, nullable: bool) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("weak_password", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("all_communities", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _utc("locked_until", nullable=True),
        sa.Column("token_generation", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _utc("last_login_at", nullable=True),
        _utc("password_changed_at", nullable=False),
        _utc("created_at", nullable=False),
        _utc("updated_at", nullable=False),
        sa.CheckConstraint("failed_logins >= 0", name=op.f("ck_users_failed_logins")),
        sa.CheckConstraint("token_generation >= 0", name=op.f("ck_users_token_generation")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.CheckConstraint(_ROLES, name=op.f("ck_user_roles_role")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_roles")),
    )
    op.create_table(
        "user_communities",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("community", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_communities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "community", name=op.f("pk_user_communities")),
    )
    op.create_index(op.f("ix_user_communities_community"), "user_communities", ["community"])
    op.create_table(
        "refresh_tokens",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("family_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _utc("issued_at", nullable=False),
        _utc("expires_at", nullable=False),
        _utc("used_at", nullable=True),
        sa.Column("replaced_by", sa.String(64), nullable=True),
        _utc("revoked_at", nullable=True),
        sa.Column("revoked_reason", sa.String(32), nullable=True),
        sa.CheckConstraint(_REVOKE_REASONS, name=op.f("ck_refresh_tokens_revoked_reason")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_refresh_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_refresh_tokens")),
    )
    op.create_index(op.f("ix_refresh_tokens_family_id"), "refresh_tokens", ["family_id"])
    op.create_index(op.f("ix_refresh_tokens_user_id"), "refresh_tokens", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        _utc("ts", nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=True),
        sa.Column("actor_username", sa.String(64), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=True),
        sa.Column("target_id", sa.String(128), nullable=True),
        sa.Column("community", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("client_ip", sa.String(45), nullable=True),
        sa.CheckConstraint(_OUTCOMES, name=op.f("ck_audit_log_outcome")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_ts"), "audit_log", ["ts"])
    for columns in (["actor_id", "ts"], ["community", "ts"], ["action", "ts"]):
        op.create_index(op.f(f"ix_audit_log_{'_'.join(columns)}"), "audit_log", columns)


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("refresh_tokens")
    op.drop_table("user_communities")
    op.drop_table("user_roles")
    op.drop_table("users")
