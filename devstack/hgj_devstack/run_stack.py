"""`make run`: broker, store, ingest, the API and both community simulators, until Ctrl-C.

Real Mosquitto and InfluxDB when their binaries are installed (`make setup` installs them);
otherwise embedded stand-ins (see embedded.py) so that the slice still runs with Python alone,
and the output says so. Ingest, the API and the simulators run as child processes, as they would be
deployed; their logs go to .run/logs/.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from sqlalchemy import insert, select

from hgj_contracts import utc_now
from hgj_devstack import stack_state, status
from hgj_devstack.accounts import (
    MqttAccount,
    admin_account,
    api_account,
    device_account,
    service_account,
)
from hgj_devstack.embedded import BrokerHandle, StoreHandle, start_broker, start_store
from hgj_devstack.ports import free_port, port_is_open
from hgj_devstack.private_file import write_private
from hgj_devstack.stack_state import RUN_DIR, StackState, save
from hgj_sim.model import Community, load_community
from hgj_statedb.device_registry import DeviceRegistry
from hgj_statedb.registry_models import DEFAULT_TIMEZONE, CommunityRow

INGEST_INSTANCE = "ingest-1"
API_INSTANCE = "api-1"
API_USERNAME = "admin"
API_READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class RunOptions:
    root: str = "hgj"
    communities: tuple[str, ...] = ("guangsha", "guanbeigou")
    mqtt_port: int = 18830
    influx_port: int = 18086
    api_port: int = 18000
    interval_s: float = 10.0
    status_every_s: float = 10.0
    force_embedded: bool = False


def _pick_port(preferred: int, console: Console, what: str) -> int:
    if not port_is_open("127.0.0.1", preferred):
        return preferred
    port = free_port()
    console.print(f"[yellow]{what}: port {preferred} is taken, using {port}[/]")
    return port


def run(options: RunOptions) -> int:
    console = Console()
    if not check_previous_run(console):
        return 1
    run_dir = RUN_DIR.resolve()
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    communities = [load_community(name) for name in options.communities]
    devices = sum(len(c.devices) for c in communities)

    admin = admin_account(options.root)
    ingest_account = service_account(options.root, INGEST_INSTANCE)
    # The API publishes commands and their progress besides what every service may.
    api_login = api_account(options.root, API_INSTANCE)
    device_accounts = [
        device_account(options.root, c.id, d.id) for c in communities for d in c.devices
    ]
    credentials_file = run_dir / "device-credentials.json"
    credentials = {a.username: a.password for a in device_accounts}
    write_private(credentials_file, json.dumps(credentials, indent=1))

    mqtt_port = _pick_port(options.mqtt_port, console, "MQTT")
    influx_port = _pick_port(options.influx_port, console, "InfluxDB")
    console.print(f"starting the broker ({devices} device accounts) …")
    broker = start_broker(
        run_dir,
        [admin, ingest_account, api_login, *device_accounts],
        mqtt_port,
        options.force_embedded,
    )
    console.print("starting the store …")
    store = start_store(run_dir, influx_port, options.force_embedded)
    children: dict[str, subprocess.Popen[bytes]] = {}
    state_db_url = f"sqlite:///{run_dir / 'state.sqlite'}"
    _register_devices(state_db_url, communities)
    api_port = _pick_port(options.api_port, console, "API")
    api_password = secrets.token_urlsafe(18)
    try:
        ingest_env = os.environ | {
            "HGJ_INGEST_ROOT": options.root,
            "HGJ_INGEST_INSTANCE": INGEST_INSTANCE,
            "HGJ_INGEST_MQTT_HOST": broker.host,
            "HGJ_INGEST_MQTT_PORT": str(broker.port),
            "HGJ_INGEST_MQTT_PROTOCOL": broker.protocol,
            "HGJ_INGEST_MQTT_PASSWORD": ingest_account.password,
            "HGJ_INGEST_STORE": store.kind,
            "HGJ_INGEST_INFLUX_URL": store.url or "",
            "HGJ_INGEST_INFLUX_DB": store.db,
            "HGJ_INGEST_SQLITE_PATH": store.sqlite_path or "",
            "HGJ_INGEST_FLUSH_INTERVAL_S": "1.0",
            "HGJ_INGEST_STATE_DB_URL": state_db_url,
            # Every simulated device is registered above; anything else is quarantined.
            "HGJ_INGEST_DEVICE_REGISTRY": "enforce",
        }
        children["ingest"] = _spawn(
            [sys.executable, "-m", "hgj_ingest"], logs / "ingest.log", ingest_env
        )
        api_env = _api_env(
            options.root, broker, store, state_db_url, api_port, api_password, api_login
        )
        children["api"] = _spawn([sys.executable, "-m", "hgj_api"], logs / "api.log", api_env)
        sim_args = [
            sys.executable,
            "-m",
            "hgj_sim",
            "run",
            "--host",
            broker.host,
            "--port",
            str(broker.port),
            "--root",
            options.root,
            "--credentials",
            str(credentials_file),
            "--interval",
            str(options.interval_s),
            "--protocol",
            broker.protocol,
            "--quiet",
        ]
        for community in options.communities:
            sim_args += ["--community", community]
        if broker.embedded:
            # A subscription per device makes the pure-Python stand-in match every message
            # against hundreds of filters; it then falls behind. Commands need Mosquitto.
            sim_args.append("--no-commands")
        children["simulators"] = _spawn(sim_args, logs / "simulators.log", dict(os.environ))
        state = StackState(
            root=options.root,
            communities=list(options.communities),
            mqtt_host=broker.host,
            mqtt_port=broker.port,
            mqtt_embedded=broker.embedded,
            mqtt_protocol=broker.protocol,
            admin_username=admin.username,
            admin_password=admin.password,
            store=store.kind,
            influx_url=store.url,
            influx_db=store.db,
            sqlite_path=store.sqlite_path,
            state_db_url=state_db_url,
            pids=_pids(children, broker.pid, store.pid),
            api_url=f"http://127.0.0.1:{api_port}",
            api_username=API_USERNAME,
            api_password=api_password,
        )
        save(state)
        _wait_for_api(state, children["api"], console)
        console.print(_banner(state, devices, broker.note, store.note, logs))
        return _watch(state, children, options, console)
    finally:
        console.print("stopping …")
        for name in ("simulators", "api", "ingest"):
            child = children.get(name)
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGINT)
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        store.stop()
        broker.stop()
        stack_state.STATE_FILE.unlink(missing_ok=True)
        console.print("stopped: broker, store, ingest, API and simulators")


def _register_devices(state_db_url: str, communities: list[Community]) -> None:
    """Put both communities and every simulated device in the state database's registry
    (idempotent), so that the console shows them and ingest accepts them."""
    registry = DeviceRegistry.open(state_db_url)
    try:
        now = utc_now()
        with registry.engine.begin() as connection:
            for community in communities:
                row = {"id": community.id, "name": community.name_zh, "name_en": community.name_en}
                exists = connection.execute(
                    select(CommunityRow.id).where(CommunityRow.id == community.id)
                ).first()
                if exists is None:
                    connection.execute(
                        insert(CommunityRow).values(
                            **row, timezone=DEFAULT_TIMEZONE, created_at=now, updated_at=now
                        )
                    )
        for community in communities:
            for device in community.devices:
                registry.register(community.id, device.id, device.device_type)
    finally:
        registry.close()


def _api_env(
    root: str,
    broker: BrokerHandle,
    store: StoreHandle,
    state_db_url: str,
    port: int,
    admin_password: str,
    account: MqttAccount,
) -> dict[str, str]:
    """The API in development mode (a fresh signing key per run, a bootstrap admin whose
    password the banner shows), issuing device credentials when the broker is Mosquitto."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HGJ_API_")}
    env |= {
        "HGJ_API_MODE": "development",
        "HGJ_API_STATE_DB_URL": state_db_url,
        "HGJ_API_JWT_SECRET": secrets.token_hex(32),
        "HGJ_API_BOOTSTRAP_ADMIN_USERNAME": API_USERNAME,
        "HGJ_API_BOOTSTRAP_ADMIN_PASSWORD": admin_password,
        "HGJ_API_ROOT": root,
        "HGJ_API_INSTANCE": API_INSTANCE,
        "HGJ_API_INFLUX_URL": store.url or "http://127.0.0.1:1",
        "HGJ_API_INFLUX_DB": store.db,
        "HGJ_API_HOST": "127.0.0.1",
        "HGJ_API_PORT": str(port),
        "HGJ_API_LOG_LEVEL": "WARNING",
    }
    if not broker.embedded:  # amqtt speaks MQTT 3.1.1 without accounts: no stream, no credentials
        env |= {
            "HGJ_API_MQTT_HOST": broker.host,
            "HGJ_API_MQTT_PORT": str(broker.port),
            "HGJ_API_MQTT_USERNAME": account.username,
            "HGJ_API_MQTT_PASSWORD": account.password,
        }
    if broker.control_password is not None:
        env["HGJ_API_BROKER_CONTROL_PASSWORD"] = broker.control_password
    return env


def _wait_for_api(state: StackState, process: subprocess.Popen[bytes], console: Console) -> None:
    """Until the API is ready (migrated, admin created), or say why not and go on: the rest
    of the stack is useful without it."""
    deadline = time.monotonic() + API_READY_TIMEOUT_S
    url = f"{state.api_url}/readyz"
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - our own URL
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    console.print("[yellow]the API is not ready; see .run/logs/api.log[/]")


def _pids(
    children: dict[str, subprocess.Popen[bytes]], broker: int | None, store: int | None
) -> dict[str, int]:
    pids = {"run": os.getpid()} | {name: child.pid for name, child in children.items()}
    if broker is not None:
        pids["broker"] = broker
    if store is not None:
        pids["store"] = store
    return pids


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_previous_run(console: Console) -> bool:
    """False when a stack from this folder is still running; stops what a crashed one left."""
    previous = stack_state.load()
    if previous is None:
        return True
    if _pid_alive(previous.pids.get("run", -1)):
        console.print(
            f"[red]a stack is already running from this folder (pid {previous.pids['run']});"
            " stop it with Ctrl-C in its terminal first[/]"
        )
        return False
    leftovers = {n: p for n, p in previous.pids.items() if n != "run" and _pid_alive(p)}
    if leftovers:
        console.print(f"[yellow]stopping what a previous run left behind: {leftovers}[/]")
        for pid in leftovers.values():
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while any(_pid_alive(p) for p in leftovers.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
    stack_state.STATE_FILE.unlink(missing_ok=True)
    return True


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        # A new session so that Ctrl-C reaches only us; we stop the children in order.
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def _watch(
    state: StackState,
    children: dict[str, subprocess.Popen[bytes]],
    options: RunOptions,
    console: Console,
) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(options.status_every_s):
            for name, child in children.items():
                if child.poll() is not None:
                    console.print(
                        f"[red]{name} exited with code {child.returncode}; "
                        f"see .run/logs/{name}.log[/]"
                    )
                    return 1
            try:
                console.print(status.render(state, status.collect(state)))
            except Exception as err:  # a status hiccup must not stop the stack
                console.print(f"[yellow]status unavailable: {err}[/]")
    except KeyboardInterrupt:
        pass
    return 0


def _banner(
    state: StackState, devices: int, broker_note: str, store_note: str, logs: Path
) -> Panel:
    where = state.influx_url if state.store == "influxdb" else state.sqlite_path
    lines = [
        f"MQTT broker   {state.mqtt_host}:{state.mqtt_port}  {broker_note}",
        f"store         {where} (database {state.influx_db!r})  {store_note}",
        f"ingest        pid {state.pids['ingest']}, log {logs / 'ingest.log'}",
        f"API           {state.api_url}/docs  (sign in as {state.api_username!r}, "
        f"password {state.api_password!r}), log {logs / 'api.log'}",
        f"simulators    {', '.join(state.communities)}: {devices} devices, "
        f"log {logs / 'simulators.log'}",
        "",
        "look:  make status            device counts and stored points",
        f"       mosquitto_sub -h {state.mqtt_host} -p {state.mqtt_port} -u admin "
        f"-P \"$(jq -r .admin_password .run/stack.json)\" -t '{state.root}/#' -v",
    ]
    if state.store == "influxdb" and state.influx_url:
        port = state.influx_url.rsplit(":", 1)[-1]
        sample = "SELECT * FROM telemetry ORDER BY time DESC LIMIT 5"
        lines.append(f"       influx -port {port} -database {state.influx_db} -execute '{sample}'")
    lines.append("Ctrl-C stops everything.")
    return Panel("\n".join(lines), title="Hongguanjia 红管家 — local stack running")
