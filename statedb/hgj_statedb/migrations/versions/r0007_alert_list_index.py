"""An index for the API's alert list: a community's alerts newest first by id.

Revision ID: r0007_alert_list_index
Revises: r0006_registry
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "r0007_alert_list_index"
down_revision: str | None = "r0006_registry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_alerts_community_id", "alerts", ["community", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alerts_community_id", table_name="alerts")
