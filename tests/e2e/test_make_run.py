"""`make run` as a newcomer uses it: start the stack, see both communities' devices online and
their readings stored, ask `make status`, sign in to the API, register a device, make an
operator who opens a simulated gate through the API, press Ctrl-C, and find everything
stopped."""

import os
import secrets
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import httpx
import pytest

from hgj_devstack import stack_state, status
from hgj_devstack.mqtt_probe import CONNACK_ACCEPTED, try_connect
from hgj_devstack.ports import free_port
from hgj_sim.model import load_community
from hgj_statedb.device_registry import DeviceRegistry
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DEVICES = {c: len(load_community(c).devices) for c in ("guangsha", "guanbeigou")}


def _gone(pid: int) -> bool:
    return not pid_alive(pid)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def start_stack(workdir: Path, *extra: str) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "hgj_devstack",
        "run",
        "--interval",
        "1",
        "--mqtt-port",
        str(free_port()),
        "--influx-port",
        str(free_port()),
        "--api-port",
        str(free_port()),
        *extra,
    ]
    log = (workdir / "run.log").open("wb")
    process = subprocess.Popen(args, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return process


def wait_for_slice(workdir: Path, process: subprocess.Popen[bytes]) -> stack_state.StackState:
    state_file = workdir / ".run" / "stack.json"

    def ready() -> bool:
        assert process.poll() is None, (workdir / "run.log").read_text()
        return state_file.exists()

    wait_until(ready, timeout=60, message="stack.json")
    state = stack_state.load(state_file)
    assert state is not None

    seen: list[str] = []

    def all_online_and_stored() -> bool:
        report = status.collect(state)
        online = {c: p.online for c, p in report.presence.items()}
        stored = report.points.total if report.points else {}
        seen[:] = [f"online {online}, stored {stored}, store error {report.store_error}"]
        return online == DEVICES and all(stored.get(c, 0) > 0 for c in DEVICES)

    try:
        wait_until(all_online_and_stored, timeout=90, interval=1, message="devices online, points")
    except AssertionError as err:
        raise AssertionError(f"{err}; last seen: {seen}") from None
    return state


def stop_stack(
    workdir: Path, process: subprocess.Popen[bytes], state: stack_state.StackState
) -> str:
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=90) == 0, (workdir / "run.log").read_text()
    output = (workdir / "run.log").read_text()
    assert "stopped" in output
    for name, pid in state.pids.items():
        wait_until(partial(_gone, pid), timeout=10, message=f"{name} gone")
    return output


def shut_down(process: subprocess.Popen[bytes]) -> None:
    """After a failure: Ctrl-C first, so the stack stops its children; kill as a last resort."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_make_run_brings_up_the_slice_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    process = start_stack(tmp_path)
    try:
        state = wait_for_slice(tmp_path, process)
        assert not state.mqtt_embedded
        assert state.store == "influxdb"
        api_devices, issued = use_the_api(state)
        shown = subprocess.run(
            [sys.executable, "-m", "hgj_devstack", "status"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        second = subprocess.run(
            [sys.executable, "-m", "hgj_devstack", "run"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        output = stop_stack(tmp_path, process, state)
    finally:
        shut_down(process)
    assert second.returncode == 1
    assert "already running" in second.stdout
    assert "guangsha" in shown
    assert "guanbeigou" in shown
    assert "ingest-1 (online)" in shown
    assert "alerts" in shown
    assert "alerts:" not in shown  # the state database answered
    # Every simulated device is registered, so ingest (enforcing the registry) refused none.
    assert "rejected_unknown_device" not in shown
    registry = DeviceRegistry.open(state.state_db_url, run_migrations=False)
    try:
        registered = registry.enabled_devices()
    finally:
        registry.close()
    # ... and one more, registered through the API
    expected = DEVICES | {"guangsha": DEVICES["guangsha"] + 1}
    assert {c: sum(1 for rc, _ in registered if rc == c) for c in DEVICES} == expected
    assert "Mosquitto" in output
    assert "InfluxDB" in output
    assert "/docs" in output
    assert api_devices == sum(DEVICES.values())
    assert issued.startswith("guangsha.")


def use_the_api(state: stack_state.StackState) -> tuple[int, str]:
    """Sign in as the banner says, count the registered devices, register one more (its
    broker credentials are issued for real) and check that they log in; then create an
    operator, who opens a simulated gate and sees the command succeed."""
    assert state.api_url is not None
    assert state.api_username is not None
    assert state.api_password is not None
    with httpx.Client(base_url=state.api_url, timeout=10) as api:
        wait_until(lambda: _ready(api), timeout=60, message="API ready")
        token = api.post(
            "/api/v1/auth/token",
            data={"username": state.api_username, "password": state.api_password},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        devices = api.get("/api/v1/devices", params={"limit": 1000}, headers=headers).json()
        created = api.post(
            "/api/v1/devices",
            json={"community": "guangsha", "id": "gs-new-gate", "device_type": "gate"},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        open_a_gate(api, headers)
    credentials = created.json()["credentials"]
    code = try_connect(
        state.mqtt_host,
        state.mqtt_port,
        credentials["username"],
        credentials["password"],
        client_id="make-run-new-gate",
    )
    assert code == CONNACK_ACCEPTED
    return len(devices), str(credentials["username"])


def open_a_gate(api: httpx.Client, admin: dict[str, str]) -> None:
    """The admin may not command devices; an operator of Guangsha they create may."""
    gate = next(d.id for d in load_community("guangsha").devices if d.device_type == "gate")
    password = secrets.token_urlsafe(18)
    operator = {"username": "gs.operator", "password": password, "roles": ["operator"]}
    made = api.post("/api/v1/users", json=operator | {"communities": ["guangsha"]}, headers=admin)
    assert made.status_code == 201, made.text
    token = api.post(
        "/api/v1/auth/token", data={"username": "gs.operator", "password": password}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "make-run-gate-1"}
    body = {
        "community": "guangsha",
        "device": gate,
        "action": "open_gate",
        "parameters": {"hold_open_s": 5.0},
        "reason": "make run: a delivery at the gate",
    }
    sent = api.post("/api/v1/commands", json=body, headers=headers)
    assert sent.status_code == 201, sent.text
    command_id = sent.json()["id"]

    def state() -> str:
        return str(api.get(f"/api/v1/commands/{command_id}", headers=headers).json()["state"])

    wait_until(lambda: state() == "succeeded", timeout=30, message="the gate opened")
    timeline = api.get(f"/api/v1/commands/{command_id}", headers=headers).json()["timeline"]
    states = [e["to_state"] for e in timeline if e["kind"] == "transition"]
    # "sent" (the PUBACK) can come after the device's "accepted" on a loaded machine, and
    # then changes nothing: the rest is fixed.
    assert states in (
        ["queued", "sent", "delivered", "succeeded"],
        ["queued", "delivered", "succeeded"],
    )


def _ready(api: httpx.Client) -> bool:
    try:
        return api.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False


def test_make_run_falls_back_to_embedded_services(tmp_path: Path) -> None:
    process = start_stack(tmp_path, "--embedded")
    try:
        state = wait_for_slice(tmp_path, process)
        output = stop_stack(tmp_path, process, state)
    finally:
        shut_down(process)
    assert state.mqtt_embedded
    assert state.store == "sqlite"
    assert "EMBEDDED" in output
