"""Publish a fleet's telemetry at a target rate over many MQTT connections from one thread.

The connections are plain paho clients driven by a selector in this thread (paho's "external
loop"), not a thread each: thousands of connections then cost file descriptors, not threads,
and no lock or GIL hand-over sits between building a message and writing it. Each connection
has a bounded backlog of unacknowledged messages (paho refuses more than 65,535 and slows down
long before), so the engine publishes as fast as the broker acknowledges when the target rate is
beyond reach, and says so in the achieved rate.

Connections are either one per device, each with its device's account, or gateways: a few
connections, each publishing for its share of the devices under an account whose ACL covers the
community (``hgj_brokeradmin.acl.gateway_account``, or an admin).
"""

import contextlib
import selectors
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from hgj_contracts import DEVICE_STATUS, DeviceStatus, utc_now
from hgj_sim.behaviour import FIRMWARE
from hgj_sim.load.fleet import LoadDevice, gateway_ids, load_fleet
from hgj_sim.load.payloads import TimestampText, message_bytes

SLICE = 500
"""Messages built between two turns of the network loop: large enough to amortise a select(),
small enough to keep acknowledgements flowing."""
KEEPALIVE_S = 30


@dataclass(frozen=True)
class LoadPlan:
    host: str
    port: int
    root: str
    community: str
    devices: int
    rate: float
    """Messages per second over the whole fleet; 0 for as fast as the broker acknowledges."""
    messages: int | None = None
    """Stop after this many; with ``duration_s`` whichever comes first; one of them is needed."""
    duration_s: float | None = None
    connections: int | None = None
    """Gateway connections; None: one connection per device."""
    prefix: str = "ld"
    camera_share: float = 0.1
    """Share of the devices that are cameras publishing face events instead of readings."""
    qos: int = 1
    window: int = 100
    """paho's in-flight window per connection (QoS 1 messages sent but not yet acknowledged)."""
    backlog: int = 10_000
    """Unacknowledged messages a connection may hold (in flight plus queued in paho)."""
    connect_timeout_s: float = 30.0
    drain_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.messages is None and self.duration_s is None:
            raise ValueError("give a number of messages or a duration")
        if self.rate < 0:
            raise ValueError("rate must not be negative")
        if self.connections is not None and not 1 <= self.connections <= self.devices:
            raise ValueError("connections must be between 1 and the number of devices")
        if self.qos not in (0, 1):
            raise ValueError("qos is 0 or 1")

    @property
    def per_device(self) -> bool:
        return self.connections is None


Credentials = Callable[[str], tuple[str, str]]
"""For a connection's device or gateway id, the username and password it logs in with."""


def credentials_from(
    passwords: Mapping[str, str], community: str, *, username: str | None = None
) -> Credentials:
    """Look each connection up as ``{community}.{id}``, or log every one in as ``username``."""

    def lookup(connection_id: str) -> tuple[str, str]:
        name = username or f"{community}.{connection_id}"
        if name not in passwords:
            raise KeyError(f"no password for {name}")
        return name, passwords[name]

    return lookup


@dataclass
class LoadCounters:
    """Progress of a run; read by the progress display between turns of the loop."""

    target: int | None
    sent: int = 0
    acked: int = 0
    errors: int = 0
    """PUBACKs with a failure code, publishes refused by paho, messages lost with a connection."""
    connect_failures: int = 0
    connected: int = 0
    started: float = 0.0
    finished: float = 0.0

    @property
    def seconds(self) -> float:
        end = self.finished or time.perf_counter()
        return max(1e-9, end - self.started) if self.started else 0.0

    @property
    def rate(self) -> float:
        """Acknowledged messages per second so far (published per second at QoS 0)."""
        return self.acked / self.seconds if self.started else 0.0


@dataclass
class _Connection:
    id: str
    device_type: str
    client: mqtt.Client
    status_topic: str
    fd: int | None = None
    pending: int = 0
    alive: bool = True
    connack: ReasonCode | None = None


@dataclass(frozen=True)
class LoadSummary:
    plan: LoadPlan
    counters: LoadCounters
    connections: int

    @property
    def rate(self) -> float:
        return self.counters.rate


@dataclass
class LoadEngine:
    plan: LoadPlan
    credentials: Credentials
    fleet: list[LoadDevice] = field(init=False)
    counters: LoadCounters = field(init=False)

    def __post_init__(self) -> None:
        plan = self.plan
        self.fleet = load_fleet(
            plan.root, plan.community, plan.prefix, plan.devices, plan.camera_share
        )
        self.counters = LoadCounters(target=plan.messages)
        self._selector = selectors.DefaultSelector()
        self._connections: list[_Connection] = []

    # connections --------------------------------------------------------------------------

    def _status(self, device_type: str, reason: str, seq: int) -> bytes:
        """Status numbers as a device's: online 1, will 2, goodbye 3 (one of the last two)."""
        online = reason == "startup"
        status = DeviceStatus.model_validate(
            {
                "ts": utc_now(),
                "seq": seq,
                "state": "online" if online else "offline",
                "reason": reason,
                "device_type": device_type,
                "firmware": FIRMWARE if online else None,
            }
        )
        return DEVICE_STATUS.encode(status)

    def _open(self, connection_id: str, device_type: str) -> _Connection:
        username, password = self.credentials(connection_id)
        # A device or gateway logs in under its own account with its username as client id;
        # connections sharing one account (--username admin) need client ids of their own, or
        # the broker would let each new one take the previous one's session over.
        own = username == f"{self.plan.community}.{connection_id}"
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=username if own else f"{username}.{connection_id}",
            protocol=mqtt.MQTTv5,
        )
        client.username_pw_set(username, password)
        client.max_inflight_messages_set(self.plan.window)
        status_topic = DEVICE_STATUS.topic(
            root=self.plan.root, community=self.plan.community, device=connection_id
        )
        will = self._status(device_type, "connection_lost", 2)
        client.will_set(status_topic, will, qos=1, retain=True)
        connection = _Connection(connection_id, device_type, client, status_topic)
        client.on_connect = lambda *a: self._on_connect(connection, a[3])
        client.on_publish = lambda *a: self._on_publish(connection, a[3])
        client.on_disconnect = lambda *a: self._lose(connection)
        try:
            client.connect(self.plan.host, self.plan.port, keepalive=KEEPALIVE_S)
        except OSError:
            self.counters.connect_failures += 1
            connection.alive = False
            return connection
        sock = client.socket()
        assert sock is not None
        connection.fd = sock.fileno()
        self._selector.register(connection.fd, selectors.EVENT_READ, connection)
        online = self._status(device_type, "startup", 1)
        client.publish(status_topic, online, qos=1, retain=True)
        connection.pending += 1  # acknowledged like telemetry, but not counted as such
        return connection

    def _on_connect(self, connection: _Connection, reason: ReasonCode) -> None:
        connection.connack = reason
        if reason.is_failure:
            connection.alive = False
            self.counters.connect_failures += 1
        else:
            self.counters.connected += 1

    def _on_publish(self, connection: _Connection, reason: ReasonCode) -> None:
        connection.pending -= 1
        if reason.is_failure:
            self.counters.errors += 1
        else:
            self.counters.acked += 1

    def _lose(self, connection: _Connection) -> None:
        """The connection is gone (or closed): what it held unacknowledged is lost."""
        if not connection.alive:
            return
        connection.alive = False
        if connection.connack is not None and not connection.connack.is_failure:
            self.counters.connected -= 1
        self.counters.errors += connection.pending
        connection.pending = 0
        if connection.fd is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(connection.fd)
            connection.fd = None

    def connect(self, progress: Callable[[LoadCounters], None] | None = None) -> None:
        """Open every connection and wait for their CONNACKs (and first status PUBACKs)."""
        plan = self.plan
        if plan.per_device:
            ids = [(d.id, d.device_type) for d in self.fleet]
        else:
            assert plan.connections is not None
            ids = [(g, "gateway") for g in gateway_ids(plan.prefix, plan.connections)]
        deadline = time.monotonic() + plan.connect_timeout_s
        for connection_id, device_type in ids:
            self._connections.append(self._open(connection_id, device_type))
            if len(self._connections) % 100 == 0:
                self._turn(0.0)  # answer CONNACKs of a long cold start as they come
                if progress is not None:
                    progress(self.counters)
        while time.monotonic() < deadline and any(
            c.alive and (c.connack is None or c.pending) for c in self._connections
        ):
            self._turn(0.05)
        # The status publishes were acknowledged as telemetry would be; start counting afresh.
        self.counters.acked = self.counters.errors = 0
        for connection in self._connections:
            if connection.alive and connection.connack is None:
                connection.alive = False
                self.counters.connect_failures += 1

    def close(self) -> None:
        """Say goodbye (offline, ``shutdown``) on every connection and disconnect."""
        for connection in self._connections:
            if connection.alive:
                goodbye = self._status(connection.device_type, "shutdown", 3)
                connection.client.publish(connection.status_topic, goodbye, qos=1, retain=True)
                connection.pending += 1
        self._drain()
        for connection in self._connections:
            if connection.alive:
                connection.client.disconnect()
                self._lose(connection)
            connection.client._reset_sockets()  # paho closes its socket pair only in __del__
        self._selector.close()

    # publishing ---------------------------------------------------------------------------

    def _turn(self, timeout: float) -> None:
        """One turn of the network loop: write what is queued, read what arrived."""
        for connection in self._connections:
            if connection.alive and connection.client.want_write():
                self._check(connection, connection.client.loop_write())
        for key, _ in self._selector.select(timeout):
            connection = key.data
            if connection.alive:
                self._check(connection, connection.client.loop_read())

    def _check(self, connection: _Connection, rc: MQTTErrorCode) -> None:
        if rc != mqtt.MQTT_ERR_SUCCESS:
            self._lose(connection)

    def run(
        self,
        progress: Callable[[LoadCounters], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> LoadSummary:
        """Publish until the plan's count or duration is reached (or ``should_stop``), then
        wait for the outstanding acknowledgements."""
        plan, counters = self.plan, self.counters
        fleet, seqs = self.fleet, [0] * len(self.fleet)
        by_device = [self._connections[i % len(self._connections)] for i in range(len(fleet))]
        stamp = TimestampText()
        total = plan.messages if plan.messages is not None else 2**62
        counters.started = time.perf_counter()
        end_at = counters.started + plan.duration_s if plan.duration_s is not None else None
        next_report = next_misc = counters.started
        device = 0
        qos, backlog = plan.qos, plan.backlog
        while counters.sent < total and not should_stop():
            now = time.perf_counter()
            if end_at is not None and now >= end_at:
                break
            due = total if plan.rate == 0 else min(total, int((now - counters.started) * plan.rate))
            budget = min(due - counters.sent, SLICE)
            ts = stamp.at(time.time_ns())
            while budget > 0:
                connection = by_device[device]
                if connection.pending >= backlog:
                    break  # back-pressure: let the broker catch up
                target = fleet[device]
                seqs[device] += 1
                payload = message_bytes(target.device_type, target.id, device, seqs[device], ts)
                if connection.alive:
                    info = connection.client.publish(target.topic, payload, qos=qos)
                    if info.rc != mqtt.MQTT_ERR_SUCCESS:
                        counters.errors += 1
                    elif qos:
                        connection.pending += 1
                    else:
                        counters.acked += 1
                else:
                    counters.errors += 1
                counters.sent += 1
                budget -= 1
                device = (device + 1) % len(fleet)
            if plan.rate and counters.sent >= due:
                wait = (counters.sent + 1) / plan.rate - (now - counters.started)
                self._turn(max(0.0, min(wait, 0.05)))
            else:
                self._turn(0.0)
            if progress is not None and now >= next_report:
                next_report = now + 0.1
                progress(counters)
            if now >= next_misc:
                next_misc = now + 1.0
                self.maintain()
        self._drain()
        counters.finished = time.perf_counter()
        if progress is not None:
            progress(counters)
        # A copy: closing publishes goodbyes, whose acknowledgements are not the run's.
        return LoadSummary(plan, replace(counters), len(self._connections))

    def _drain(self) -> None:
        deadline = time.monotonic() + self.plan.drain_timeout_s
        while time.monotonic() < deadline and any(c.alive and c.pending for c in self._connections):
            self._turn(0.01)
        for connection in self._connections:  # never acknowledged in time
            self.counters.errors += connection.pending
            connection.pending = 0

    def maintain(self) -> None:
        """Keepalive pings for idle connections (call about once a second when idle)."""
        for connection in self._connections:
            if connection.alive:
                self._check(connection, connection.client.loop_misc())
