"""Project-wide fixtures: real Mosquitto and InfluxDB processes on free loopback ports.

One InfluxDB serves the whole session (it takes a moment to start, and each test gets its own
database); brokers are per test because tests change their accounts, kill and restart them.
Feature-specific fixtures belong in conftest files next to the tests that use them.
"""

import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from hgj_devstack.accounts import MqttAccount
from hgj_devstack.influx import INFLUXD_BINARY, InfluxDB
from hgj_devstack.mosquitto import MOSQUITTO_BINARY, Mosquitto
from tests.helpers import MosquittoFactory, unique_id

# State database fixtures (SQLite and PostgreSQL) and the API built on them, shared by
# tests/unit and tests/integration.
pytest_plugins = ("tests.statedb_fixtures", "tests.api_support")


def _require_binary(path: str, package: str) -> None:
    if not Path(path).exists():
        pytest.fail(
            f"{path} is missing: run `make setup` (installs the Debian package {package})",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB]:
    """A running InfluxDB 1.x shared by the session; use ``influx_db`` for a database."""
    _require_binary(INFLUXD_BINARY, "influxdb")
    server = InfluxDB(tmp_path_factory.mktemp("influxdb"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def influx_db(influxdb: InfluxDB) -> Iterator[str]:
    """The name of a fresh, empty database, dropped after the test."""
    name = f"t_{secrets.token_hex(6)}"
    influxdb.create_database(name)
    try:
        yield name
    finally:
        influxdb.drop_database(name)


@pytest.fixture
def topic_root() -> str:
    """A topic root no other test uses, so retained messages never leak between tests."""
    return unique_id("t")


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[MosquittoFactory]:
    """Start brokers on demand: ``mosquitto_factory(accounts, port=None)`` returns a running
    Mosquitto with those accounts; every broker started here is stopped after the test."""
    _require_binary(MOSQUITTO_BINARY, "mosquitto")
    brokers: list[Mosquitto] = []

    def start(accounts: Sequence[MqttAccount], port: int | None = None) -> Mosquitto:
        broker = Mosquitto(tmp_path / f"mosquitto-{len(brokers)}", accounts, port)
        brokers.append(broker)
        broker.start()
        return broker

    try:
        yield start
    finally:
        for broker in brokers:
            broker.stop()
