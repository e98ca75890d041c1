"""Start the broker and the store for `make run`: the real ones when installed, else stand-ins.

Real: Mosquitto with the shipped config (auth, ACLs, crash-safe persistence) and InfluxDB.
Stand-ins, when a binary is missing (or forced with --embedded): amqtt, a pure-Python MQTT
3.1.1 broker without authentication, and a SQLite file that keeps points with InfluxDB's
overwrite semantics. They let the slice run with Python alone; they are not for production
and the tests never use them for integration checks.
"""

import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hgj_devstack.accounts import MqttAccount
from hgj_devstack.influx import InfluxDB
from hgj_devstack.mosquitto import MOSQUITTO_BINARY, Mosquitto
from hgj_devstack.ports import wait_for_port

INFLUXD_BINARY = "influxd"
DATABASE = "hgj"


@dataclass(frozen=True)
class BrokerHandle:
    host: str
    port: int
    protocol: str
    embedded: bool
    note: str
    stop: Callable[[], None]
    pid: int | None
    control_password: str | None = None
    """The broker-control account's password: the API issues device credentials with it
    (None for the embedded broker, which has no accounts)."""


@dataclass(frozen=True)
class StoreHandle:
    kind: str
    url: str | None
    db: str
    sqlite_path: str | None
    note: str
    stop: Callable[[], None]
    pid: int | None


def start_broker(
    run_dir: Path, accounts: Sequence[MqttAccount], port: int, force_embedded: bool
) -> BrokerHandle:
    if not force_embedded and Path(MOSQUITTO_BINARY).exists():
        broker = Mosquitto(run_dir / "mosquitto", accounts, port)
        broker.start()
        return BrokerHandle(
            broker.host,
            broker.port,
            "5",
            False,
            "Mosquitto (auth, ACLs, persistence)",
            broker.stop,
            broker.pid,
            broker.control.password,
        )
    log = (run_dir / "logs" / "embedded-broker.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "hgj_devstack.embedded_broker", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    wait_for_port("127.0.0.1", port, timeout=20)

    def stop() -> None:
        process.terminate()
        process.wait(timeout=10)

    reason = "forced" if force_embedded else f"{MOSQUITTO_BINARY} not found"
    return BrokerHandle(
        "127.0.0.1",
        port,
        "3.1.1",
        True,
        f"[yellow]EMBEDDED amqtt ({reason}): MQTT 3.1.1, no auth, no persistence[/]",
        stop,
        process.pid,
    )


def start_store(run_dir: Path, port: int, force_embedded: bool) -> StoreHandle:
    if not force_embedded and shutil.which(INFLUXD_BINARY):
        influx = InfluxDB(run_dir / "influxdb", http_port=port)
        influx.start()
        influx.create_database(DATABASE)
        return StoreHandle(
            "influxdb", influx.url, DATABASE, None, "InfluxDB (v1 API)", influx.stop, influx.pid
        )
    path = run_dir / "points.sqlite"
    reason = "forced" if force_embedded else "influxd not found"
    return StoreHandle(
        "sqlite",
        None,
        DATABASE,
        str(path),
        f"[yellow]EMBEDDED SQLite point store ({reason}): storage only, no InfluxQL[/]",
        lambda: None,
        None,
    )
