"""The device registry: register (idempotent), disable, and what ingest loads."""

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from hgj_statedb.device_registry import DeviceRegistry
from hgj_statedb.models import DeviceRow
from tests.statedb_fixtures import T0


class DeviceRegistryCases:
    @pytest.fixture
    def registry(self, state_db_url: str) -> Iterator[DeviceRegistry]:
        registry = DeviceRegistry.open(state_db_url)
        try:
            yield registry
        finally:
            registry.close()

    def test_registered_devices_are_known_and_enabled(self, registry: DeviceRegistry) -> None:
        assert registry.enabled_devices() == frozenset()
        registry.register("guangsha", "gs-b01-th", "temp_humidity")
        registry.register("guanbeigou", "gbg-gate-n")
        assert registry.enabled_devices() == {
            ("guangsha", "gs-b01-th"),
            ("guanbeigou", "gbg-gate-n"),
        }
        assert registry.is_known("guangsha", "gs-b01-th")
        assert not registry.is_known("guanbeigou", "gs-b01-th")  # the pair is the key
        assert not registry.is_known("guangsha", "gs-b99-th")

    def test_registering_again_is_harmless_and_keeps_created_at(
        self, registry: DeviceRegistry
    ) -> None:
        times = iter([T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=9)])
        registry._clock = lambda: next(times)
        registry.register("guangsha", "gs-b01-th", "temp_humidity")
        registry.register("guangsha", "gs-b01-th")  # no type given: the known one stays
        registry.register("guangsha", "gs-b01-th", "smoke")
        with registry.engine.connect() as connection:
            (row,) = connection.execute(select(DeviceRow)).all()
        assert (row.device_type, row.enabled) == ("smoke", True)
        assert (row.created_at, row.updated_at) == (T0, T0 + timedelta(minutes=9))
        assert isinstance(row.created_at, datetime)

    def test_disabled_devices_are_not_known_until_registered_again(
        self, registry: DeviceRegistry
    ) -> None:
        registry.register("guangsha", "gs-b01-th")
        registry.register("guangsha", "gs-b02-th")
        assert registry.disable("guangsha", "gs-b01-th")
        assert not registry.disable("guangsha", "gs-b99-th")
        assert registry.enabled_devices() == {("guangsha", "gs-b02-th")}
        assert not registry.is_known("guangsha", "gs-b01-th")
        registry.register("guangsha", "gs-b01-th")
        assert registry.is_known("guangsha", "gs-b01-th")

    def test_ids_are_checked(self, registry: DeviceRegistry) -> None:
        with pytest.raises(ValueError, match="device"):
            registry.register("guangsha", "gs b01")
        with pytest.raises(ValueError, match="community"):
            registry.register("", "gs-b01-th")
