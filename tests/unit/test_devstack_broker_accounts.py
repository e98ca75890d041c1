"""`hgj_devstack broker-accounts`: a deployment's first broker accounts."""

import json
import stat
from pathlib import Path

import pytest

from hgj_devstack.broker_accounts import (
    DEVICE_CREDENTIALS_FILE,
    DYNSEC_FILE,
    ENV_FILE,
    write_broker_accounts,
)


def test_writes_services_and_every_simulated_device_privately(tmp_path: Path) -> None:
    written = write_broker_accounts(tmp_path, "hgj", ["guangsha"])
    config = json.loads((tmp_path / DYNSEC_FILE).read_text())
    names = {c["username"] for c in config["clients"]}
    assert {"broker-control", "svc.ingest-1", "svc.api-1"} <= names
    credentials = json.loads((tmp_path / DEVICE_CREDENTIALS_FILE).read_text())
    assert len(credentials) == written.devices == len(names) - 3
    assert set(credentials) <= names
    env = (tmp_path / ENV_FILE).read_text()
    assert env.startswith("HGJ_INGEST_MQTT_PASSWORD=")
    for name in (DYNSEC_FILE, DEVICE_CREDENTIALS_FILE, ENV_FILE):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_refuses_to_replace_accounts_the_broker_may_have_changed(tmp_path: Path) -> None:
    write_broker_accounts(tmp_path, "hgj", ["guangsha"])
    before = (tmp_path / DYNSEC_FILE).read_text()
    with pytest.raises(FileExistsError, match="--force"):
        write_broker_accounts(tmp_path, "hgj", ["guangsha"])
    assert (tmp_path / DYNSEC_FILE).read_text() == before
    write_broker_accounts(tmp_path, "hgj", ["guangsha"], force=True)
    assert (tmp_path / DYNSEC_FILE).read_text() != before
