"""`make status`: what the local stack is doing, read from the broker and the store.

Device presence comes from the retained status topics (as any consumer would see it), ingest's
counters from its retained service status, and stored points from the store itself.
"""

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.table import Table

from hgj_contracts import DEVICE_STATUS, SERVICE_STATUS, ContractError, match_topic
from hgj_contracts.alerts import SEVERITIES
from hgj_devstack.point_counts import PointCounts, count_points
from hgj_devstack.stack_state import StackState
from hgj_statedb.alert_store import AlertStore


@dataclass
class CommunityPresence:
    """The last status seen per device: a device whose status is republished while we read
    (or whose retained copy arrives beside a live one) still counts once."""

    devices: dict[str, bool] = field(default_factory=dict)

    @property
    def online(self) -> int:
        return sum(self.devices.values())

    @property
    def offline(self) -> int:
        return len(self.devices) - self.online


@dataclass
class StackReport:
    presence: dict[str, CommunityPresence] = field(default_factory=dict)
    services: dict[str, dict[str, int]] = field(default_factory=dict)
    service_online: dict[str, bool] = field(default_factory=dict)
    points: PointCounts | None = None
    store_error: str | None = None
    alerts: dict[str, dict[str, int]] = field(default_factory=dict)
    """Active alerts per community and severity."""
    alerts_error: str | None = None


def read_retained(state: StackState, settle_s: float = 0.5, timeout_s: float = 5.0) -> StackReport:
    """Collect retained statuses: wait until none has arrived for ``settle_s``."""
    report = StackReport()
    last_message = [time.monotonic()]
    connected = threading.Event()
    v5 = state.mqtt_protocol == "5"
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    client.username_pw_set(state.admin_username, state.admin_password)

    def on_connect(c: mqtt.Client, *_: object) -> None:
        c.subscribe(DEVICE_STATUS.subscription(root=state.root), qos=1)
        c.subscribe(SERVICE_STATUS.subscription(root=state.root), qos=1)
        connected.set()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        last_message[0] = time.monotonic()
        try:
            match = match_topic(msg.topic)
            payload = match.channel.decode(bytes(msg.payload), match.params)
        except ContractError:
            return
        if match.channel is DEVICE_STATUS:
            presence = report.presence.setdefault(match.params["community"], CommunityPresence())
            presence.devices[match.params["device"]] = payload.state == "online"
        elif match.channel is SERVICE_STATUS:
            name = match.params["service"]
            report.services[name] = dict(payload.counters or {})
            report.service_online[name] = payload.state == "online"

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(state.mqtt_host, state.mqtt_port)
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            raise RuntimeError(f"cannot reach the broker at {state.mqtt_host}:{state.mqtt_port}")
        last_message[0] = time.monotonic()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() - last_message[0] < settle_s and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.disconnect()
        client.loop_stop()
    return report


def collect(state: StackState) -> StackReport:
    report = read_retained(state)
    try:
        report.points = count_points(state)
    except Exception as err:  # the report should still show presence when the store is down
        report.store_error = str(err)
    try:
        report.alerts = active_alerts(state.state_db_url)
    except Exception as err:
        report.alerts_error = str(err)
    return report


def active_alerts(url: str) -> dict[str, dict[str, int]]:
    store = AlertStore.open(url, run_migrations=False)  # a status command changes nothing
    try:
        counts: dict[str, dict[str, int]] = {}
        for (community, severity), count in store.active_counts().items():
            counts.setdefault(community, {})[severity] = count
        return counts
    finally:
        store.close()


def render(state: StackState, report: StackReport) -> Table:
    table = Table(title=f"Hongguanjia local stack — {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    columns = ("community", "devices online", "offline", "points stored", "last minute", "alerts")
    for column in columns:
        table.add_column(column, justify="right" if column != "community" else "left")
    points = report.points
    for community in state.communities:
        presence = report.presence.get(community, CommunityPresence())
        total = points.total.get(community, 0) if points else None
        recent = points.last_minute.get(community, 0) if points else None
        table.add_row(
            community,
            str(presence.online),
            str(presence.offline),
            "?" if total is None else f"{total:,}",
            "?" if recent is None else f"{recent:,}",
            _alerts_cell(report.alerts.get(community, {})) if not report.alerts_error else "?",
        )
    for name, counters in sorted(report.services.items()):
        state_word = "online" if report.service_online.get(name) else "offline"
        shown = ", ".join(f"{k}={v:,}" for k, v in sorted(counters.items()))
        table.caption = (table.caption or "") + f"{name} ({state_word}): {shown}\n"
    if report.alerts_error:
        table.caption = (table.caption or "") + f"alerts: {report.alerts_error}\n"
    if report.store_error:
        table.caption = (table.caption or "") + f"store: {report.store_error}\n"
    return table


def _alerts_cell(by_severity: dict[str, int]) -> str:
    shown = [f"{by_severity[s]} {s}" for s in SEVERITIES if by_severity.get(s)]
    return ", ".join(shown) or "none active"
