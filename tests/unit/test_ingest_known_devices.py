"""Ingest's in-memory copy of the registry: loaded at start, refreshed in the background, and
kept as it was when a refresh fails."""

from pathlib import Path

import pytest

from hgj_ingest.counters import Counters
from hgj_ingest.known_devices import KnownDevices
from hgj_statedb.device_registry import DeviceRegistry
from tests.helpers import wait_until


def test_the_set_is_loaded_refreshed_and_kept_on_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    admin = DeviceRegistry.open(url)
    admin.register("guangsha", "gs-b01-th")
    counters = Counters()
    known = KnownDevices(DeviceRegistry.open(url), refresh_s=0.05, counters=counters)
    known.start()
    try:
        assert known("guangsha", "gs-b01-th")
        assert not known("guangsha", "gs-b02-th")
        admin.register("guangsha", "gs-b02-th")
        admin.disable("guangsha", "gs-b01-th")
        wait_until(lambda: known("guangsha", "gs-b02-th"), message="refreshed")
        assert not known("guangsha", "gs-b01-th")

        def broken() -> frozenset[tuple[str, str]]:
            raise OSError("database gone")

        monkeypatch.setattr(known._registry, "enabled_devices", broken)
        wait_until(lambda: counters.get("registry_refresh_errors") >= 2, message="errors")
        assert known("guangsha", "gs-b02-th")
        assert len(known) == 1
    finally:
        known.stop()
        admin.close()


def test_an_unreadable_registry_stops_the_start(tmp_path: Path) -> None:
    registry = DeviceRegistry.open(f"sqlite:///{tmp_path / 'state.db'}", run_migrations=False)
    known = KnownDevices(registry, refresh_s=1, counters=Counters())
    with pytest.raises(Exception, match="devices"):
        known.start()
    registry.close()
