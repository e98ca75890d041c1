"""The place registry (communities, grids and grid workers, buildings, units) and the device
registry's descriptive and presence columns.

Revision ID: r0006_registry
Revises: r0005_audit_chain
Create Date: 2026-11-27
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "r0006_registry"
down_revision: str | None = "r0005_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "communities",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("name_en", sa.String(128), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        _utc("created_at", nullable=False),
        _utc("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communities")),
    )
    op.create_table(
        "grids",
        sa.Column("community", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["community"],
            ["communities.id"],
            name=op.f("fk_grids_community_communities"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("community", "id", name=op.f("pk_grids")),
    )
    op.create_table(
        "grid_workers",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("community", sa.String(64), nullable=False),
        sa.Column("grid", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community", "grid"],
            ["grids.community", "grids.id"],
            name=op.f("fk_grid_workers_community_grids"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_grid_workers_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_workers")),
    )
    op.create_index(
        "ix_grid_workers_community_grid", "grid_workers", ["community", "grid"], unique=False
    )
    op.create_table(
        "buildings",
        sa.Column("community", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("grid", sa.String(64), nullable=True),
        sa.Column("floors", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "floors IS NULL OR floors BETWEEN 1 AND 200", name=op.f("ck_buildings_floors")
        ),
        sa.ForeignKeyConstraint(
            ["community", "grid"],
            ["grids.community", "grids.id"],
            name=op.f("fk_buildings_community_grids"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["community"],
            ["communities.id"],
            name=op.f("fk_buildings_community_communities"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("community", "id", name=op.f("pk_buildings")),
    )
    op.create_table(
        "units",
        sa.Column("community", sa.String(64), nullable=False),
        sa.Column("building", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["community", "building"],
            ["buildings.community", "buildings.id"],
            name=op.f("fk_units_community_buildings"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("community", "building", "id", name=op.f("pk_units")),
    )
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("name", sa.String(128), nullable=True))
        batch.add_column(sa.Column("building", sa.String(64), nullable=True))
        batch.add_column(sa.Column("unit", sa.String(64), nullable=True))
        batch.add_column(sa.Column("floor", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("location", sa.String(255), nullable=True))
        batch.add_column(
            sa.Column("capabilities", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
        batch.add_column(sa.Column("report_interval_s", sa.Float(), nullable=True))
        batch.add_column(_utc("credentials_issued_at", nullable=True))
        batch.add_column(sa.Column("online", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("status_reason", sa.String(32), nullable=True))
        batch.add_column(_utc("status_at", nullable=True))
        batch.create_check_constraint(
            "interval", "report_interval_s IS NULL OR report_interval_s > 0"
        )


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_constraint(op.f("ck_devices_interval"), type_="check")
        for column in (
            "status_at",
            "status_reason",
            "online",
            "credentials_issued_at",
            "report_interval_s",
            "capabilities",
            "location",
            "floor",
            "unit",
            "building",
            "name",
        ):
            batch.drop_column(column)
    op.drop_table("units")
    op.drop_table("buildings")
    op.drop_index("ix_grid_workers_community_grid", table_name="grid_workers")
    op.drop_table("grid_workers")
    op.drop_table("grids")
    op.drop_table("communities")
