"""The device registry, minimal for now: which (community, device) pairs exist and are enabled.

Ingest loads ``enabled_devices()`` into memory and refreshes it on a timer (it never queries per
message); messages from any other device are quarantined. The API grows this into the full
registry (metadata, provisioning, credentials).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hgj_contracts import utc_now
from hgj_contracts.ids import check_identifier
from hgj_statedb.db import open_engine, write_engine
from hgj_statedb.models import DeviceRow


class DeviceRegistry:
    """Devices in one state database. Thread-safe: every method is one short transaction."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self._writes = write_engine(engine)
        self._clock = clock
        self._owns_engine = False

    @classmethod
    def open(cls, url: str, *, run_migrations: bool = True) -> "DeviceRegistry":
        """A registry on a new engine for ``url``, migrated to the latest schema by default;
        ``close()`` disposes of the engine."""
        registry = cls(open_engine(url, run_migrations=run_migrations))
        registry._owns_engine = True
        return registry

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def register(self, community: str, device: str, device_type: str | None = None) -> None:
        """Add the device, enabled; registering it again enables it again and updates its
        type (when given). Idempotent, and safe when two callers register at once."""
        check_identifier(community, "community")
        check_identifier(device, "device")
        if device_type is not None:
            check_identifier(device_type, "device_type")
        now = self._clock()
        changes: dict[str, Any] = {"enabled": True, "updated_at": now}
        if device_type is not None:
            changes["device_type"] = device_type
        with self._writes.begin() as connection:
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(DeviceRow).values(
                community=community,
                device=device,
                device_type=device_type,
                enabled=True,
                created_at=now,
                updated_at=now,
            )
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[DeviceRow.community, DeviceRow.device], set_=changes
                )
            )

    def disable(self, community: str, device: str) -> bool:
        """Disable the device (its messages are quarantined from then on); False when it is
        not registered."""
        with self._writes.begin() as connection:
            result = connection.execute(
                update(DeviceRow)
                .where(DeviceRow.community == community, DeviceRow.device == device)
                .values(enabled=False, updated_at=self._clock())
            )
        return bool(result.rowcount)

    def enabled_devices(self) -> frozenset[tuple[str, str]]:
        """Every enabled device as (community, device)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(DeviceRow.community, DeviceRow.device).where(DeviceRow.enabled)
            )
            return frozenset((community, device) for community, device in rows)

    def is_known(self, community: str, device: str) -> bool:
        """Registered and enabled."""
        with self.engine.connect() as connection:
            enabled = connection.execute(
                select(DeviceRow.enabled).where(
                    DeviceRow.community == community, DeviceRow.device == device
                )
            ).scalar_one_or_none()
        return bool(enabled)
