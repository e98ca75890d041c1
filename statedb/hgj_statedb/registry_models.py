"""The place registry: communities, their buildings and units, and grids (网格) with their
grid workers. Devices (models.DeviceRow) point into it by ids.

Ids follow the contract's grammar, so a community's id is the one in its MQTT topics. Places are
never deleted while anything refers to them (foreign keys refuse it); a community's name may
change, its id never does.
"""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from hgj_statedb.models import Base
from hgj_statedb.utc import UtcDateTime

_ID = String(64)
_NAME = String(128)
DEFAULT_TIMEZONE = "Asia/Shanghai"


class CommunityRow(Base):
    __tablename__ = "communities"

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    name: Mapped[str] = mapped_column(_NAME)
    """The name people use, in Chinese first (广厦小区)."""
    name_en: Mapped[str | None] = mapped_column(_NAME)
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    """For the community's local hours (quiet hours, daily figures)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class GridRow(Base):
    """A grid (网格): the patch of a community that one grid worker is responsible for."""

    __tablename__ = "grids"

    community: Mapped[str] = mapped_column(
        _ID, ForeignKey("communities.id", ondelete="RESTRICT"), primary_key=True
    )
    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    name: Mapped[str] = mapped_column(_NAME)


class GridWorkerRow(Base):
    """A grid worker (网格员). Not necessarily a user of the console: many report from a phone
    through the patrol page, so the link to a user account is optional."""

    __tablename__ = "grid_workers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["community", "grid"], ["grids.community", "grids.id"], ondelete="RESTRICT"
        ),
        Index("ix_grid_workers_community_grid", "community", "grid"),
    )

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    community: Mapped[str] = mapped_column(_ID)
    grid: Mapped[str] = mapped_column(_ID)
    name: Mapped[str] = mapped_column(_NAME)
    phone: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(_ID, ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class BuildingRow(Base):
    __tablename__ = "buildings"
    __table_args__ = (
        ForeignKeyConstraint(
            ["community", "grid"], ["grids.community", "grids.id"], ondelete="RESTRICT"
        ),
        CheckConstraint("floors IS NULL OR floors BETWEEN 1 AND 200", name="floors"),
    )

    community: Mapped[str] = mapped_column(
        _ID, ForeignKey("communities.id", ondelete="RESTRICT"), primary_key=True
    )
    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    name: Mapped[str] = mapped_column(_NAME)
    grid: Mapped[str | None] = mapped_column(_ID)
    floors: Mapped[int | None] = mapped_column(Integer)


class UnitRow(Base):
    """A unit (单元): one stairwell of a building, with its own door."""

    __tablename__ = "units"
    __table_args__ = (
        ForeignKeyConstraint(
            ["community", "building"],
            ["buildings.community", "buildings.id"],
            ondelete="RESTRICT",
        ),
    )

    community: Mapped[str] = mapped_column(_ID, primary_key=True)
    building: Mapped[str] = mapped_column(_ID, primary_key=True)
    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    name: Mapped[str] = mapped_column(_NAME)
