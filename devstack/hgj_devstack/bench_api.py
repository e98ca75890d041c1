"""`make bench`, API part: the alert list's latency with many alerts stored, and the time an
alert change takes to reach many WebSocket clients, each beside its floor measured in the same
run (the figures to watch are the ratios).

Everything is real: a `python -m hgj_api` process (as deployed, production mode) on a SQLite
state database seeded with ``alerts`` alerts over both pilot communities, fed by a real
Mosquitto with the accounts a deployment has.

1. **Alert list.** One keep-alive HTTP client asks ``GET /api/v1/alerts`` as a platform-wide
   guard, in four cases: the first page, deeper pages (cursors at 10 %, 50 % and 90 % of the
   list, in turn), and both again with a filter (one community, two severities). Interleaved
   with them, the same client asks ``/healthz`` (the framework's floor: routing, middleware,
   JSON, no database, no token) and the same process runs each case's SQL directly through
   ``sqlite3`` on the same file (the database's floor: the same WHERE, ORDER BY and LIMIT the
   API asks for). Every request is timed with ``time.perf_counter`` from the call to the whole
   body read.
2. **Alert to every WebSocket client.** ``clients`` asyncio WebSocket connections sign in to
   ``/api/v1/stream`` (bearer token on the upgrade); alert changes are published on the ALERT
   topic as ingest publishes them, one at a time, and each is timed from the publish call to
   its arrival at the last of the clients (the moment every console shows it). A plain paho
   subscriber on the alert topics in the same process times the same messages: the broker's
   floor. All times come from one clock in one process, so no clocks need to agree.
"""

import asyncio
import json
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session
from websockets.asyncio.client import ClientConnection, connect

from hgj_api import accounts
from hgj_api.database import Database
from hgj_api.security.passwords import Passwords
from hgj_api.security.permissions import Role
from hgj_contracts import ALERT, Alert, Severity, utc_now
from hgj_devstack.accounts import MqttAccount, admin_account, service_account
from hgj_devstack.bench import RESULTS_FILE, write_results
from hgj_devstack.mosquitto import Mosquitto
from hgj_devstack.ports import LOOPBACK, free_port
from hgj_devstack.service_process import end_process, log_tail
from hgj_statedb.db import make_engine, migrate
from hgj_statedb.ids import new_alert_id
from hgj_statedb.models import AlertEventRow, AlertRow, AlertStreamRow, EventKind
from hgj_statedb.views import AlertView, alert_payload

ROOT: Final = "benchapi"
INSTANCE: Final = "api-bench"
GUARD: Final = "bench.guard"
COMMUNITIES: Final = ("guangsha", "guanbeigou")
RULES: Final[tuple[tuple[str, Severity], ...]] = (
    ("smoke", "critical"),
    ("water_leak", "major"),
    ("door_forced", "major"),
    ("camera_offline", "minor"),
    ("battery_low", "warning"),
    ("door_held_open", "info"),
)
DEVICES_PER_COMMUNITY: Final = 250
ALERTS_PER_STREAM: Final = 4
"""Each (community, device, rule) has a history of this many alerts: all cleared but the
newest, which is still active in half of the streams."""
FILTER_COMMUNITY: Final = "guangsha"
FILTER_SEVERITIES: Final[tuple[Severity, ...]] = ("critical", "major")
PAGE_SIZE: Final = 50
"""The API's default page, which a console asks for."""
DEPTHS: Final = (0.1, 0.5, 0.9)
"""Where the deeper pages start, as a share of the matching alerts."""
WARMUP_REQUESTS: Final = 20
API_READY_TIMEOUT_S: Final = 60.0
STREAM_TIMEOUT_S: Final = 15.0
MESSAGE: Final = "广厦小区3号楼5层走廊烟雾报警，请立即前往现场核实。"
CASES: Final = ("first", "deep", "filtered_first", "filtered_deep")
FIGURE_KEYS: Final = (
    "api_alerts_stored",
    "api_list_requests_per_case",
    "api_healthz_p50_ms",
    "api_healthz_p99_ms",
    *(
        f"api_alerts_{case}_{figure}"
        for case in CASES
        for figure in (
            "p50_ms",
            "p99_ms",
            "sql_p50_ms",
            "sql_p99_ms",
            "p50_ratio_to_healthz",
            "p50_ratio_to_sql",
        )
    ),
    "api_stream_clients",
    "api_stream_samples",
    "api_stream_all_clients_p50_ms",
    "api_stream_all_clients_p99_ms",
    "api_stream_mqtt_p50_ms",
    "api_stream_mqtt_p99_ms",
    "api_stream_p50_ratio_to_mqtt",
    "api_stream_p99_ratio_to_mqtt",
)


@dataclass(frozen=True)
class ApiBenchParams:
    alerts: int = 10_000
    """Alerts stored before measuring, over both communities."""
    list_requests: int = 300
    """Timed requests per list case (and as many /healthz requests and SQL queries)."""
    clients: int = 100
    """WebSocket clients on the live stream."""
    stream_alerts: int = 50
    """Alert changes timed to every client."""


def _p99(samples: Sequence[float]) -> float:
    # Inclusive method: with few samples (the smoke test) it stays within the observed range.
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def _ms(samples: Sequence[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds of samples in seconds."""
    return round(statistics.median(samples) * 1000, 3), round(_p99(samples) * 1000, 3)


# Seeding.


def _unsynchronised(engine: Engine) -> None:
    """No fsync while seeding: the figures are about reading (the API keeps FULL)."""

    @event.listens_for(engine, "connect")
    def _sync_off(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.execute("PRAGMA synchronous = OFF")


def seed_alerts(db_url: str, total: int) -> None:
    """Migrate the state database and store ``total`` alerts, oldest first, with their
    timelines (raised, acknowledged for some, cleared for most) and outbox payloads: rows
    shaped as the alert store writes them, but inserted in one transaction rather than one
    per change (the store takes a few milliseconds a change). A history of ALERTS_PER_STREAM
    alerts per (community, device, rule), over both communities and every severity."""
    engine = make_engine(db_url)
    _unsynchronised(engine)
    try:
        migrate(engine)
        now = utc_now()
        streams = max(1, -(-total // ALERTS_PER_STREAM))
        start = now - timedelta(minutes=10 * total)
        with Session(engine) as session, session.begin():
            keys = [_stream_key(s) for s in range(streams)]
            session.add_all(AlertStreamRow(community=c, device=d, rule=r) for c, d, r, _ in keys)
            for n in range(total):
                community, device, rule, severity = keys[n % streams]
                raised = start + timedelta(minutes=10 * n)
                newest = n + streams >= total  # the stream's last alert
                row = AlertRow(
                    id=new_alert_id(),
                    community=community,
                    device=device,
                    rule=rule,
                    severity=severity,
                    state="active",
                    acknowledged=False,
                    count=1 + n % 3,
                    raised_at=raised,
                    last_raised_at=raised,
                    last_event_time=raised,
                    message=MESSAGE,
                    escalation_level=0,
                    updated_at=now,
                )
                events = [_event(row, "raised", raised, now)]
                if n % 3 == 0:
                    row.acknowledged = True
                    row.acknowledged_by = "u-bench"
                    row.acknowledged_at = raised + timedelta(minutes=2)
                    events.append(_event(row, "acknowledged", row.acknowledged_at, now))
                if not newest or n % 2:
                    row.state = "cleared"
                    row.cleared_at = raised + timedelta(minutes=5)
                    events.append(_event(row, "cleared", row.cleared_at, now))
                session.add(row)
                session.add_all(events)
    finally:
        engine.dispose()


def _stream_key(s: int) -> tuple[str, str, str, Severity]:
    rule, severity = RULES[s % len(RULES)]
    device_no = (s // len(RULES)) % (DEVICES_PER_COMMUNITY * len(COMMUNITIES))
    community = COMMUNITIES[device_no % len(COMMUNITIES)]
    prefix = "gs" if community == "guangsha" else "gbg"
    rounds = s // (len(RULES) * DEVICES_PER_COMMUNITY * len(COMMUNITIES))
    return community, f"{prefix}-dev-{device_no:03d}-{rounds}", rule, severity


def _event(row: AlertRow, kind: EventKind, at: datetime, now: datetime) -> AlertEventRow:
    payload = ALERT.encode(alert_payload(AlertView.of(row), kind, at))
    return AlertEventRow(
        alert=row,
        at=at,
        recorded_at=now,
        kind=kind,
        payload=payload.decode(),
        published_at=now,
        exported_at=now,
    )


def create_guard(db_url: str) -> str:
    """A platform-wide security guard; its password."""
    password = secrets.token_urlsafe(18)
    database = Database.open(db_url)
    try:
        with database.write_session() as session, session.begin():
            accounts.create_user(
                session,
                username=GUARD,
                password_hash=Passwords().hash(password),
                roles=[Role.SECURITY],
                all_communities=True,
                now=utc_now(),
            )
    finally:
        database.close()
    return password


# The API process.


@dataclass
class ApiProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def stream_url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}/api/v1/stream"

    @classmethod
    def start(cls, db_url: str, broker: Mosquitto, account: MqttAccount, log: Path) -> "ApiProcess":
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HGJ_API_")}
        env |= {
            "HGJ_API_MODE": "production",
            "HGJ_API_JWT_SECRET": secrets.token_hex(32),
            "HGJ_API_ACCESS_TOKEN_TTL_S": "3600",
            "HGJ_API_STATE_DB_URL": db_url,
            "HGJ_API_ROOT": ROOT,
            "HGJ_API_INSTANCE": INSTANCE,
            "HGJ_API_MQTT_HOST": broker.host,
            "HGJ_API_MQTT_PORT": str(broker.port),
            "HGJ_API_MQTT_USERNAME": account.username,
            "HGJ_API_MQTT_PASSWORD": account.password,
            "HGJ_API_INFLUX_URL": f"http://{LOOPBACK}:1",  # no telemetry is read here
            "HGJ_API_HOST": LOOPBACK,
            "HGJ_API_PORT": str(port),
            "HGJ_API_LOG_LEVEL": "WARNING",
        }
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "hgj_api"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        api = cls(process, port, log)
        try:
            api.wait_ready()
        except BaseException:
            api.stop()
            raise
        return api

    def wait_ready(self) -> None:
        deadline = time.monotonic() + API_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API exited ({self.process.returncode}):\n{self._tail()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"the API was not ready within {API_READY_TIMEOUT_S:g} s\n{self._tail()}"
        )

    def _tail(self) -> str:
        return log_tail([self.log], 30, "(no API output)")

    def stop(self) -> None:
        end_process(self.process)

    def token(self, username: str, password: str) -> str:
        form = {"username": username, "password": password}
        answer = httpx.post(f"{self.base_url}/api/v1/auth/token", data=form, timeout=30)
        if answer.status_code != 200:
            raise RuntimeError(f"sign-in refused: {answer.status_code} {answer.text}")
        token: str = answer.json()["access_token"]
        return token


# 1. The alert list.


@dataclass(frozen=True)
class ListCase:
    name: str
    params: list[dict[str, str | list[str]]]
    """The query of each request, taken in turn."""
    sql: list[tuple[str, tuple[str | int, ...]]]
    """The same, as SQL with its parameters."""


def _select(filtered: bool, cursor: str | None) -> tuple[str, tuple[str | int, ...]]:
    where: list[str] = []
    args: list[str | int] = []
    if filtered:
        where.append("community IN (?)")
        args.append(FILTER_COMMUNITY)
        where.append(f"severity IN ({', '.join('?' for _ in FILTER_SEVERITIES)})")
        args.extend(FILTER_SEVERITIES)
    if cursor is not None:
        where.append("id < ?")
        args.append(cursor)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    # limit + 1, as the API asks: one more row tells whether there is a next page.
    sql = f"SELECT * FROM alerts{clause} ORDER BY id DESC LIMIT ?"  # noqa: S608 - fixed text
    return sql, (*args, PAGE_SIZE + 1)


def list_cases(db: sqlite3.Connection) -> list[ListCase]:
    cases = []
    for filtered in (False, True):
        sql, args = _select(filtered, None)
        every_id = sql.replace("SELECT *", "SELECT id")
        ids = [row[0] for row in db.execute(every_id, (*args[:-1], -1))]  # LIMIT -1: all
        query: dict[str, str | list[str]] = (
            {"community": FILTER_COMMUNITY, "severity": list(FILTER_SEVERITIES)} if filtered else {}
        )
        prefix = "filtered_" if filtered else ""
        cases.append(ListCase(f"{prefix}first", [query], [_select(filtered, None)]))
        if not ids:
            raise RuntimeError("no alerts match the bench's filter")
        cursors = sorted({ids[min(len(ids) - 1, int(len(ids) * d))] for d in DEPTHS}, reverse=True)
        cases.append(
            ListCase(
                f"{prefix}deep",
                [query | {"cursor": c} for c in cursors],
                [_select(filtered, c) for c in cursors],
            )
        )
    return cases


@dataclass
class ListTimings:
    healthz: list[float] = field(default_factory=list)
    api: dict[str, list[float]] = field(default_factory=dict)
    sql: dict[str, list[float]] = field(default_factory=dict)


def _check_equivalent(client: httpx.Client, db: sqlite3.Connection, case: ListCase) -> None:
    """The API's pages hold exactly the rows the baseline's SQL returns."""
    for params, (sql, args) in zip(case.params, case.sql, strict=True):
        answer = client.get("/api/v1/alerts", params=params)
        answer.raise_for_status()
        api_ids = [item["alert_id"] for item in answer.json()["items"]]
        sql_ids = [row[0] for row in db.execute(sql, args)][:PAGE_SIZE]
        if api_ids != sql_ids:
            raise RuntimeError(f"{case.name}: the API's page differs from the baseline's SQL")


def measure_list(api: ApiProcess, token: str, db_path: Path, requests: int) -> ListTimings:
    timings = ListTimings()
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=api.base_url, headers=headers, timeout=30) as client:
            cases = list_cases(db)
            for case in cases:
                _check_equivalent(client, db, case)
            for n in range(-WARMUP_REQUESTS, requests):
                started = time.perf_counter()
                answer = client.get("/healthz")
                elapsed = time.perf_counter() - started
                answer.raise_for_status()
                if n >= 0:
                    timings.healthz.append(elapsed)
                for case in cases:
                    turn = n % len(case.params)
                    started = time.perf_counter()
                    answer = client.get("/api/v1/alerts", params=case.params[turn])
                    api_s = time.perf_counter() - started
                    answer.raise_for_status()
                    sql, args = case.sql[turn]
                    started = time.perf_counter()
                    db.execute(sql, args).fetchall()
                    sql_s = time.perf_counter() - started
                    if n >= 0:
                        timings.api.setdefault(case.name, []).append(api_s)
                        timings.sql.setdefault(case.name, []).append(sql_s)
    finally:
        db.close()
    return timings


def list_figures(timings: ListTimings) -> dict[str, float]:
    healthz_p50, healthz_p99 = _ms(timings.healthz)
    figures = {"api_healthz_p50_ms": healthz_p50, "api_healthz_p99_ms": healthz_p99}
    for case in CASES:
        p50, p99 = _ms(timings.api[case])
        sql_p50, sql_p99 = _ms(timings.sql[case])
        figures |= {
            f"api_alerts_{case}_p50_ms": p50,
            f"api_alerts_{case}_p99_ms": p99,
            f"api_alerts_{case}_sql_p50_ms": sql_p50,
            f"api_alerts_{case}_sql_p99_ms": sql_p99,
            f"api_alerts_{case}_p50_ratio_to_healthz": round(p50 / healthz_p50, 2),
            f"api_alerts_{case}_p50_ratio_to_sql": round(p50 / sql_p50, 2),
        }
    return figures


# 2. Alert changes to every WebSocket client.


class MqttArrivals:
    """Arrival times at a plain subscriber, fed by paho's network thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrived: dict[str, float] = {}

    def on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        arrived = time.perf_counter()  # first, before any parsing
        alert_id = str(json.loads(msg.payload).get("alert_id"))
        with self._lock:
            self._arrived[alert_id] = arrived

    def get(self, alert_id: str) -> float | None:
        with self._lock:
            return self._arrived.get(alert_id)


class StreamArrivals:
    """Arrival times at the WebSocket clients (all on one event loop)."""

    def __init__(self, clients: int) -> None:
        self.clients = clients
        self.times: dict[str, list[float]] = {}
        self.waiting: dict[str, asyncio.Event] = {}

    def expect(self, alert_id: str) -> asyncio.Event:
        self.times[alert_id] = []
        self.waiting[alert_id] = asyncio.Event()
        return self.waiting[alert_id]

    def arrived(self, text: str | bytes, at: float) -> None:
        message = json.loads(text)
        if message.get("type") != "alert":
            return
        alert_id = message["data"]["alert_id"]
        times = self.times.get(alert_id)
        if times is None:
            return
        times.append(at)
        if len(times) == self.clients:
            self.waiting[alert_id].set()


def _paho(broker: Mosquitto, account: MqttAccount, client_id: str) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    client.username_pw_set(account.username, account.password)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def _close_paho(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()
    # paho closes its wake-up socket pair only in __del__: a ResourceWarning then.
    client._reset_sockets()


def _alert_message(n: int) -> tuple[str, str, bytes]:
    """(alert id, topic, payload) of a raise, as ingest publishes it."""
    community = COMMUNITIES[n % len(COMMUNITIES)]
    now = utc_now()
    alert = Alert(
        ts=now,
        alert_id=new_alert_id(),
        rule="smoke",
        device=f"bench-smoke-{n:03d}",
        severity="critical",
        state="active",
        raised_at=now,
        message=MESSAGE,
        change="raised",
        event_id=1,
    )
    topic = ALERT.topic(root=ROOT, community=community, rule=alert.rule)
    return alert.alert_id, topic, ALERT.encode(alert)


async def _read(connection: ClientConnection, arrivals: StreamArrivals) -> None:
    async for text in connection:
        arrivals.arrived(text, time.perf_counter())


async def _open_client(url: str, token: str) -> ClientConnection:
    connection = await connect(
        url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=30
    )
    ready = json.loads(await asyncio.wait_for(connection.recv(), 30))
    if ready.get("type") != "ready" or "alert" not in ready.get("kinds", []):
        raise RuntimeError(f"the stream did not get ready: {ready}")
    return connection


async def measure_stream(
    api: ApiProcess,
    token: str,
    publisher: mqtt.Client,
    baseline: MqttArrivals,
    params: ApiBenchParams,
) -> tuple[list[float], list[float]]:
    """(seconds until every client had it, seconds until the plain subscriber had it) per
    alert change."""
    arrivals = StreamArrivals(params.clients)
    connections: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    try:
        for _ in range(params.clients):
            connections.append(await _open_client(api.stream_url, token))
        readers = [asyncio.create_task(_read(c, arrivals)) for c in connections]
        # Warm up, which also waits for the API's MQTT feed: it may connect after /readyz.
        deadline = time.monotonic() + 30
        warm = 0
        while warm < 3:
            alert_id, topic, payload = _alert_message(warm)
            done = arrivals.expect(alert_id)
            publisher.publish(topic, payload, qos=ALERT.qos, retain=ALERT.retain)
            try:
                await asyncio.wait_for(done.wait(), 2)
                warm += 1
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the stream carried no alert within 30 s") from None
        to_all: list[float] = []
        to_mqtt: list[float] = []
        for n in range(params.stream_alerts):
            await asyncio.sleep(0.05)  # let the previous one settle everywhere
            alert_id, topic, payload = _alert_message(n)
            done = arrivals.expect(alert_id)
            sent = time.perf_counter()
            publisher.publish(topic, payload, qos=ALERT.qos, retain=ALERT.retain)
            try:
                await asyncio.wait_for(done.wait(), STREAM_TIMEOUT_S)
            except TimeoutError:
                got = len(arrivals.times[alert_id])
                raise RuntimeError(
                    f"alert {n}: {got} of {params.clients} clients had it after "
                    f"{STREAM_TIMEOUT_S:g} s"
                ) from None
            to_all.append(max(arrivals.times[alert_id]) - sent)
            plain = baseline.get(alert_id)
            waited = time.monotonic() + STREAM_TIMEOUT_S
            while plain is None and time.monotonic() < waited:
                await asyncio.sleep(0.001)
                plain = baseline.get(alert_id)
            if plain is None:
                raise RuntimeError(f"alert {n} never reached the plain MQTT subscriber")
            to_mqtt.append(plain - sent)
        return to_all, to_mqtt
    finally:
        for connection in connections:
            await connection.close()
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


def stream_figures(
    to_all: list[float], to_mqtt: list[float], params: ApiBenchParams
) -> dict[str, float]:
    p50, p99 = _ms(to_all)
    mqtt_p50, mqtt_p99 = _ms(to_mqtt)
    return {
        "api_stream_clients": float(params.clients),
        "api_stream_samples": float(len(to_all)),
        "api_stream_all_clients_p50_ms": p50,
        "api_stream_all_clients_p99_ms": p99,
        "api_stream_mqtt_p50_ms": mqtt_p50,
        "api_stream_mqtt_p99_ms": mqtt_p99,
        "api_stream_p50_ratio_to_mqtt": round(p50 / mqtt_p50, 2),
        "api_stream_p99_ratio_to_mqtt": round(p99 / mqtt_p99, 2),
    }


def run(
    params: ApiBenchParams | None = None, results_file: Path = RESULTS_FILE
) -> dict[str, float]:
    params = params or ApiBenchParams()
    console = Console()
    figures: dict[str, float] = {
        "api_alerts_stored": float(params.alerts),
        "api_list_requests_per_case": float(params.list_requests),
    }
    with tempfile.TemporaryDirectory(prefix="hgj-bench-api-") as tmp:
        work = Path(tmp)
        db_path = work / "state.sqlite"
        db_url = f"sqlite:///{db_path}"
        api_account = service_account(ROOT, INSTANCE)
        # admin_account's username is shared by every root: this part's own name.
        watcher = replace(admin_account(ROOT), username="bench-api-watch")
        broker = Mosquitto(work / "mosquitto", [watcher, api_account])
        console.print(f"bench (API): seeding {params.alerts:,} alerts, starting Mosquitto …")
        started = time.perf_counter()
        seed_alerts(db_url, params.alerts)
        password = create_guard(db_url)
        console.print(f"  seeded in {time.perf_counter() - started:.1f} s")
        broker.start()
        api: ApiProcess | None = None
        clients: list[mqtt.Client] = []
        try:
            api = ApiProcess.start(db_url, broker, api_account, work / "api.log")
            token = api.token(GUARD, password)
            console.print(
                f"alert list: {len(CASES)} cases × {params.list_requests} requests, "
                "beside /healthz and the SQL …"
            )
            figures |= list_figures(measure_list(api, token, db_path, params.list_requests))
            baseline = MqttArrivals()
            subscriber = _paho(broker, watcher, "bench-api-plain")
            clients.append(subscriber)
            subscriber.on_message = baseline.on_message
            subscriber.subscribe(ALERT.subscription(root=ROOT), qos=ALERT.qos)
            publisher = _paho(broker, watcher, "bench-api-publisher")
            clients.append(publisher)
            console.print(
                f"live stream: {params.clients} WebSocket clients, "
                f"{params.stream_alerts} alert changes …"
            )
            to_all, to_mqtt = asyncio.run(measure_stream(api, token, publisher, baseline, params))
            figures |= stream_figures(to_all, to_mqtt, params)
        finally:
            for client in clients:
                _close_paho(client)
            if api is not None:
                api.stop()
            broker.stop()
    figures = {key: figures[key] for key in FIGURE_KEYS}
    table = Table(
        title=f"API: {params.alerts:,} alerts stored, {params.clients} WebSocket clients "
        "(figures beside their floors)"
    )
    for column in ("figure", "value"):
        table.add_column(column)
    for key, value in figures.items():
        measured = key.endswith("_ms") or "_ratio_" in key
        table.add_row(key, f"{value:,.3f}" if measured else f"{value:,.0f}")
    console.print(table)
    write_results(results_file, figures)
    console.print(f"figures written to {results_file}")
    return figures
