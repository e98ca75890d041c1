"""Timestamps in the state database are UTC, whatever the backend.

PostgreSQL stores ``timestamptz`` and hands back aware datetimes in the session's time zone;
SQLite has no date type and hands back whatever was stored, which SQLAlchemy stores as naive
text. One column type hides the difference: naive datetimes are refused on the way in (a naive
value is a bug: nobody can tell which clock it came from), everything is converted to UTC, and
values read back are always aware and in UTC.
"""

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def require_utc(value: datetime, what: str = "timestamp") -> datetime:
    """``value`` in UTC; ValueError if it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} {value.isoformat()} has no time zone; pass an aware datetime")
    return value.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (``timestamptz`` on PostgreSQL)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = require_utc(value)
        # SQLite compares the stored text: keep one format (naive UTC) so that ordering and
        # range filters compare correctly.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: object, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
