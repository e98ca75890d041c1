"""`make run`: broker, store, ingest and both community simulators, until Ctrl-C.

Real Mosquitto and InfluxDB when their binaries are installed (`make setup` installs them);
otherwise embedded stand-ins (see embedded.py) so that the slice still runs with Python alone,
and the output says so. Ingest and the simulators run as child processes, as they would be
deployed; their logs go to .run/logs/.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.panel import Panel

from hgj_devstack import stack_state, status
from hgj_devstack.accounts import admin_account, device_account, service_account
from hgj_devstack.embedded import start_broker, start_store
from hgj_devstack.ports import free_port, port_is_open
from hgj_devstack.private_file import write_private
from hgj_devstack.stack_state import RUN_DIR, StackState, save
from hgj_sim.model import Community, load_community
from hgj_statedb.device_registry import DeviceRegistry

INGEST_INSTANCE = "ingest-1"


@dataclass(frozen=True)
class RunOptions:
    root: str = "hgj"
    communities: tuple[str, ...] = ("guangsha", "guanbeigou")
    mqtt_port: int = 18830
    influx_port: int = 18086
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
        run_dir, [admin, ingest_account, *device_accounts], mqtt_port, options.force_embedded
    )
    console.print("starting the store …")
    store = start_store(run_dir, influx_port, options.force_embedded)
    children: dict[str, subprocess.Popen[bytes]] = {}
    state_db_url = f"sqlite:///{run_dir / 'state.sqlite'}"
    _register_devices(state_db_url, communities)
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
        )
        save(state)
        console.print(_banner(state, devices, broker.note, store.note, logs))
        return _watch(state, children, options, console)
    finally:
        console.print("stopping …")
        for name in ("simulators", "ingest"):
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
        console.print("stopped: broker, store, ingest and simulators")


def _register_devices(state_db_url: str, communities: list[Community]) -> None:
    """Put every simulated device in the state database's registry (idempotent)."""
    registry = DeviceRegistry.open(state_db_url)
    try:
        for community in communities:
            for device in community.devices:
                registry.register(community.id, device.id, device.device_type)
    finally:
        registry.close()


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
