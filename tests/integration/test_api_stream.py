"""The live stream for real: API replicas served by uvicorn, fed by a real Mosquitto, with
WebSocket clients on real sockets.

- one slow client (it never reads) among fast ones: the slow one is dropped with 4429 and the
  fast ones receive every message;
- scoping: a Guangsha guard never receives Guanbeigou's messages, whichever replica;
- no token, no stream;
- an acknowledgement made on one replica reaches the alert topic once (PUBACK marks its outbox
  row delivered) and the clients of both replicas, each exactly once.
"""

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.sync.client import ClientConnection, connect
from websockets.uri import parse_uri

from hgj_api import accounts
from hgj_api.app import create_app
from hgj_api.live.protocol import CloseCode
from hgj_api.routers.stream import STREAM_PATH
from hgj_api.security.permissions import Role
from hgj_api.services import Services
from hgj_contracts import ALERT, COMMAND_PROGRESS, DEVICE_STATUS, Alert, CommandProgress
from hgj_contracts.status import DeviceStatus
from hgj_devstack.accounts import MqttAccount, admin_account, new_password, service_account
from hgj_devstack.mosquitto import Mosquitto
from tests.api_support import FAST_PASSWORDS, PASSWORD, FakeClock, api_settings
from tests.helpers import MosquittoFactory, MqttTestClient, wait_until
from tests.statedb_fixtures import T0, signal

pytestmark = pytest.mark.integration

GS, GBG = "guangsha", "guanbeigou"
QUEUE_SIZE = 64
SERVER_SNDBUF = 32 * 1024
"""The test server's socket send buffer. Linux otherwise grows it to megabytes on loopback,
which a client that never reads would fill before its queue overflowed; a small buffer models a
slow link and keeps the test quick. The fast clients read, so it does not slow them."""
LONG_MESSAGE = "广厦小区3号楼5层走廊烟雾报警，请立即前往现场核实并报告处理结果。" * 5


@dataclass
class Replica:
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread
    port: int

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}{STREAM_PATH}"

    def token(self, username: str) -> str:
        form = {"username": username, "password": PASSWORD}
        answer = httpx.post(f"{self.http}/api/v1/auth/token", data=form, timeout=10)
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token


@dataclass
class Stack:
    broker: Mosquitto
    root: str
    admin: MqttAccount
    replicas: list[Replica] = field(default_factory=list)


def _serve(app: FastAPI) -> Replica:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SERVER_SNDBUF)  # accepted ones inherit
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=30, message="uvicorn to start")
    replica = Replica(app, server, thread, sock.getsockname()[1])
    wait_until(
        lambda: replica.services.live.feed_state == "connected",
        timeout=30,
        message="the replica's MQTT feed",
    )
    return replica


@pytest.fixture
def stack(
    mosquitto_factory: MosquittoFactory, topic_root: str, sqlite_state_db_url: str
) -> Iterator[Stack]:
    passwords = {instance: new_password() for instance in ("api-1", "api-2")}
    admin = admin_account(topic_root)
    services = [service_account(topic_root, i, p) for i, p in passwords.items()]
    broker = mosquitto_factory([*services, admin])
    built = Stack(broker, topic_root, admin)
    try:
        for instance, password in passwords.items():
            settings = api_settings(
                sqlite_state_db_url,
                root=topic_root,
                instance=instance,
                mqtt_host=broker.host,
                mqtt_port=broker.port,
                mqtt_password=password,
                stream_queue_size=QUEUE_SIZE,
                stream_auth_timeout_s=0.5,
            )
            app = create_app(settings, clock=FakeClock(), passwords=FAST_PASSWORDS)
            built.replicas.append(_serve(app))
        _seed_users(built.replicas[0].services)
        yield built
    finally:
        for replica in built.replicas:
            replica.server.should_exit = True
        for replica in built.replicas:
            replica.thread.join(timeout=30)


def _seed_users(services: Services) -> None:
    users = {
        "gs.guard": ([Role.SECURITY], [GS]),
        "gbg.guard": ([Role.SECURITY], [GBG]),
        "hq.guard": ([Role.SECURITY], []),
    }
    with services.database.write_session() as session, session.begin():
        for username, (roles, communities) in users.items():
            accounts.create_user(
                session,
                username=username,
                password_hash=services.passwords.hash(PASSWORD),
                roles=roles,
                communities=communities,
                all_communities=not communities,
                now=T0,
            )


def _alert(root: str, n: int, community: str = GS) -> tuple[str, bytes]:
    alert = Alert(
        ts=T0,
        alert_id=f"a-{community[:3]}-{n}",
        rule="smoke",
        device=f"{community[:3]}-b03-smoke",
        severity="critical",
        state="active",
        raised_at=T0,
        message=LONG_MESSAGE,
        change="raised",
    )
    return ALERT.topic(root=root, community=community, rule="smoke"), ALERT.encode(alert)


class StreamClient:
    """A client that reads everything on its own thread, as a console does."""

    def __init__(self, url: str, token: str) -> None:
        self.connection: ClientConnection = connect(
            url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10
        )
        self.messages: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for text in self.connection:
                self.messages.append(json.loads(text))
        except ConnectionClosed:
            pass
        self.close_code = self.connection.close_code

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def close(self) -> None:
        self.connection.close()
        self._thread.join(timeout=10)


class SilentClient:
    """A client that signs in, then reads nothing until told to: its socket buffer is tiny,
    so the server soon cannot write to it."""

    def __init__(self, url: str, token: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        uri = parse_uri(url)
        self.sock.connect((uri.host, uri.port))
        self.protocol = ClientProtocol(uri)
        request = self.protocol.connect()
        request.headers["Authorization"] = f"Bearer {token}"
        self.protocol.send_request(request)
        self.sock.sendall(b"".join(self.protocol.data_to_send()))
        self.frames: list[Frame] = []
        while not self.frames:  # the handshake's answer, then "ready"
            self._receive(self.sock.recv(65536))

    def _receive(self, data: bytes) -> None:
        if not data:
            self.protocol.receive_eof()
        else:
            self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                assert event.status_code == 101
            elif isinstance(event, Frame):
                self.frames.append(event)
        self.sock.sendall(b"".join(self.protocol.data_to_send()))  # e.g. the close reply

    def read_to_the_end(self) -> tuple[int, int]:
        """Read the backlog up to the server's close: (text frames, close code)."""
        self.sock.settimeout(30)
        while not any(f.opcode is Opcode.CLOSE for f in self.frames):
            data = self.sock.recv(65536)
            self._receive(data)
            if not data:
                break
        close = next((f for f in self.frames if f.opcode is Opcode.CLOSE), None)
        texts = sum(1 for f in self.frames if f.opcode is Opcode.TEXT)
        return texts, Close.parse(bytes(close.data)).code if close is not None else 1006

    def close(self) -> None:
        self.sock.close()


def _all_ready(clients: list[StreamClient]) -> Callable[[], bool]:
    return lambda: all(c.of_type("ready") for c in clients)


def _all_received(clients: list[StreamClient], count: int) -> Callable[[], bool]:
    return lambda: all(len(c.of_type("alert")) >= count for c in clients)


def _closed_with(services: Services, code: int) -> float:
    value = services.metrics.registry.get_sample_value(
        "hgj_api_stream_closed_total", {"code": str(code)}
    )
    return value or 0.0


def _admin(stack: Stack) -> MqttTestClient:
    return MqttTestClient.connected(stack.broker, stack.admin)


def test_a_slow_client_is_dropped_and_the_fast_ones_keep_receiving(stack: Stack) -> None:
    replica = stack.replicas[0]
    token = replica.token("gs.guard")
    fast = [StreamClient(replica.ws, token) for _ in range(8)]
    slow = SilentClient(replica.ws, token)
    total, batch = 2000, 25
    slow_end: list[tuple[int, int]] = []

    def catch_up_once_dropped() -> None:
        # A slow client still reads, eventually: once dropped, it reads its backlog and then
        # finds the close frame (a client that never reads again never sees one).
        wait_until(lambda: _closed_with(replica.services, CloseCode.TOO_SLOW) == 1.0, 60)
        slow_end.append(slow.read_to_the_end())

    reader = threading.Thread(target=catch_up_once_dropped, daemon=True)
    reader.start()
    try:
        wait_until(_all_ready(fast), message="fast clients ready")
        with _admin(stack) as admin:
            for start in range(0, total, batch):
                messages = [_alert(stack.root, n) for n in range(start, start + batch)]
                admin.publish_many(messages[0][0], [payload for _, payload in messages])
                # Fast clients keep up with every batch, within a small part of their queue.
                wait_until(
                    _all_received(fast, start + batch),
                    message=f"fast clients to receive {start + batch}",
                )
        for client in fast:
            ids = [m["data"]["alert_id"] for m in client.of_type("alert")]
            assert ids == [f"a-gua-{n}" for n in range(total)]  # all of them, in order
            assert client.close_code is None  # still connected
        reader.join(timeout=60)
        assert _closed_with(replica.services, CloseCode.TOO_SLOW) == 1.0  # the slow one only
        ((texts, code),) = slow_end
        assert code == CloseCode.TOO_SLOW
        assert 1 <= texts < total  # what was buffered before the drop, then the close
    finally:
        for client in fast:
            client.close()
        slow.close()
    hub = replica.services.live.hub
    wait_until(lambda: len(hub) == 0, message="every connection to leave the hub")


def test_a_guangsha_guard_never_receives_guanbeigou(stack: Stack) -> None:
    one, two = stack.replicas
    guards = {
        "gs-1": StreamClient(one.ws, one.token("gs.guard")),
        "gs-2": StreamClient(two.ws, two.token("gs.guard")),
        "gbg": StreamClient(two.ws, two.token("gbg.guard")),
        "hq": StreamClient(one.ws, one.token("hq.guard")),
    }
    try:
        wait_until(_all_ready(list(guards.values())), message="ready")
        status = DeviceStatus(ts=T0, seq=7, state="offline", reason="connection_lost")
        progress = CommandProgress(
            ts=T0,
            event_id=3,
            command_id="c-1",
            device="gbg-gate-n",
            action="open",
            state="succeeded",
            created_at=T0,
            expires_at=T0,
        )
        with _admin(stack) as admin:
            admin.publish(*_alert(stack.root, 1, GBG))
            admin.publish(
                DEVICE_STATUS.topic(root=stack.root, community=GBG, device="gbg-gate-n"),
                DEVICE_STATUS.encode(status),
            )
            admin.publish(
                COMMAND_PROGRESS.topic(root=stack.root, community=GBG, device="gbg-gate-n"),
                COMMAND_PROGRESS.encode(progress),
            )
            admin.publish(f"{stack.root}/{GBG}/alert/smoke", b'{"not": "an alert"}')
            admin.publish(*_alert(stack.root, 2, GS))  # the sentinel, published last
        wait_until(
            lambda: all(
                any(m.get("data", {}).get("alert_id") == "a-gua-2" for m in guards[n].messages)
                for n in ("gs-1", "gs-2", "hq")
            ),
            message="the Guangsha sentinel",
        )
        wait_until(lambda: len(guards["gbg"].messages) >= 4, message="Guanbeigou's three")
        for name in ("gs-1", "gs-2"):
            assert [(m["type"], m.get("community")) for m in guards[name].messages] == [
                ("ready", None),
                ("alert", GS),
            ]
        assert [m["type"] for m in guards["gbg"].messages] == [
            "ready",
            "alert",
            "device_status",
            "command_progress",
        ]
        assert [m["type"] for m in guards["hq"].messages] == [
            "ready",
            "alert",
            "device_status",
            "command_progress",
            "alert",
        ]
        assert guards["gbg"].messages[3]["data"]["state"] == "succeeded"
    finally:
        for client in guards.values():
            client.close()


def test_no_token_no_stream(stack: Stack) -> None:
    replica = stack.replicas[0]
    attempts: list[Callable[[], ClientConnection]] = [
        lambda: connect(replica.ws, open_timeout=10),
        lambda: connect(f"{replica.ws}?token=forged", open_timeout=10),
        lambda: connect(replica.ws, additional_headers={"Authorization": "Bearer x.y.z"}),
    ]
    for attempt in attempts:
        with attempt() as connection:
            with pytest.raises(ConnectionClosed) as closed:
                connection.recv(timeout=10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == CloseCode.UNAUTHENTICATED
    assert _closed_with(replica.services, CloseCode.UNAUTHENTICATED) == 3.0


def test_an_acknowledgement_goes_out_once_to_mqtt_and_every_replica(stack: Stack) -> None:
    one, two = stack.replicas
    change = one.services.alerts.apply(signal("raise", -60))
    assert change is not None
    alert_id = change.alert.alert_id
    one.services.alerts.mark_delivered("mqtt", [change.event.event_id])  # ingest's part
    token = one.token("gs.guard")
    here, there = StreamClient(one.ws, token), StreamClient(two.ws, token)
    try:
        with _admin(stack) as admin:
            admin.subscribe(ALERT.subscription(root=stack.root))
            wait_until(_all_ready([here, there]), message="ready")
            answer = httpx.post(
                f"{one.http}/api/v1/alerts/{alert_id}/ack",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            admin.wait_for_messages(1)
            admin.publish(*_alert(stack.root, 99))  # the sentinel
            wait_until(
                lambda: len(here.of_type("alert")) >= 2 and len(there.of_type("alert")) >= 2,
                message="the ack and the sentinel on both replicas",
            )
            on_mqtt = [ALERT.decode(m.payload) for m in admin.wait_for_messages(2)]
        assert [a.alert_id for a in on_mqtt] == [alert_id, "a-gua-99"]  # the ack once
        published = on_mqtt[0]
        assert (published.alert_id, published.change, published.acknowledged) == (
            alert_id,
            "acknowledged",
            True,
        )
        assert published.event_id is not None
        for client in (here, there):
            changes = [
                (m["data"]["alert_id"], m["data"]["change"]) for m in client.of_type("alert")
            ]
            assert changes == [(alert_id, "acknowledged"), ("a-gua-99", "raised")]
        wait_until(
            lambda: one.services.alerts.undelivered("mqtt") == [],
            message="the PUBACK to mark the outbox row",
        )
    finally:
        here.close()
        there.close()
