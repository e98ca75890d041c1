"""The live stream without a broker: the hub's fan-out and drops, the feed's checks, and the
WebSocket's sign-in, scope and close codes through Starlette's test client (events are handed
to the feed as the MQTT thread would). The broker and slow sockets: tests/integration."""

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from hgj_api.live.feed import AlertDeduplicator, FeedBridge, event_from_message
from hgj_api.live.hub import StreamEvent, StreamHub, StreamScope
from hgj_api.live.protocol import CloseCode
from hgj_api.routers.stream import STREAM_PATH
from hgj_api.security.permissions import Role
from hgj_contracts import ALERT, DEVICE_STATUS, Alert, ContractError, DeviceStatus
from hgj_statedb.models import UserRow
from tests.api_support import Api, api_settings, start_api
from tests.statedb_fixtures import T0, signal

ROOT = "hgj"
GS, GBG = "guangsha", "guanbeigou"


def _alert(community: str = GS, alert_id: str = "a-1", event_id: int | None = 1) -> Alert:
    return Alert(
        ts=T0,
        alert_id=alert_id,
        rule="smoke",
        device=f"{community[:3]}-smoke",
        severity="critical",
        state="active",
        raised_at=T0,
        message="烟雾报警",
        change="raised",
        event_id=event_id,
    )


def _alert_message(alert: Alert, community: str = GS) -> tuple[str, bytes]:
    return ALERT.topic(root=ROOT, community=community, rule=alert.rule), ALERT.encode(alert)


def _status(community: str, device: str) -> tuple[str, bytes]:
    payload = DeviceStatus(ts=T0, seq=1, state="offline", reason="connection_lost")
    return DEVICE_STATUS.topic(root=ROOT, community=community, device=device), (
        DEVICE_STATUS.encode(payload)
    )


# The hub and the feed, alone.


def _event(community: str, n: int = 0) -> StreamEvent:
    return StreamEvent("alert", community, json.dumps({"n": n}))


def test_the_hub_drops_a_full_queue_and_keeps_serving_the_others() -> None:
    async def scenario() -> tuple[list[str], bool, bool, int]:
        drops: list[int] = []
        hub = StreamHub(queue_size=3, on_drop=lambda: drops.append(1))
        everything = StreamScope(frozenset({"alert"}), None)
        fast, slow = hub.subscribe(everything), hub.subscribe(everything)
        received = []
        for n in range(10):
            hub.publish(_event(GS, n))
            received.append(await fast.queue.get())  # the fast one keeps up; the slow never
        return received, slow.dropped.is_set(), fast.dropped.is_set(), len(drops)

    received, slow_dropped, fast_dropped, drops = asyncio.run(scenario())
    assert received == [json.dumps({"n": n}) for n in range(10)]
    assert (slow_dropped, fast_dropped, drops) == (True, False, 1)  # dropped once, at 4


def test_a_scope_keeps_its_communities_and_kinds() -> None:
    guangsha_alerts = StreamScope(frozenset({"alert"}), frozenset({GS}))
    assert guangsha_alerts.allows(_event(GS))
    assert not guangsha_alerts.allows(_event(GBG))
    assert not guangsha_alerts.allows(StreamEvent("device_status", GS, "{}"))
    assert StreamScope(frozenset({"alert"}), None).allows(_event(GBG))


def test_the_feed_checks_payloads_against_the_contract() -> None:
    topic, payload = _alert_message(_alert())
    found = event_from_message(topic, payload)
    assert found is not None
    event, decoded = found
    assert (event.kind, event.community, decoded) == ("alert", GS, _alert())
    frame = json.loads(event.text)
    assert (frame["type"], frame["community"], frame["data"]["event_id"]) == ("alert", GS, 1)
    with pytest.raises(ContractError):
        event_from_message(topic, b'{"alert_id": "a-1"}')
    with pytest.raises(ContractError):  # the payload says another rule than the topic
        event_from_message(ALERT.topic(root=ROOT, community=GS, rule="fire"), payload)
    assert event_from_message(f"{ROOT}/{GS}/dev/gs-1/telemetry", b"{}") is None  # not streamed


def test_alert_changes_pass_once_and_in_order() -> None:
    seen = AlertDeduplicator(capacity=2)
    assert seen.is_new(_alert(event_id=5))
    assert not seen.is_new(_alert(event_id=5))  # the outbox sent it again
    assert not seen.is_new(_alert(event_id=4))  # an older picture, overtaken
    assert seen.is_new(_alert(event_id=6))
    assert seen.is_new(_alert(alert_id="a-2", event_id=1))
    assert seen.is_new(_alert(alert_id="a-3", event_id=1))  # a-1 is forgotten now
    assert seen.is_new(_alert(event_id=5))
    assert seen.is_new(_alert(event_id=None))  # before event ids existed: always


def test_the_bridge_drops_beyond_its_bound_while_the_loop_is_busy() -> None:
    async def scenario() -> tuple[int, int]:
        hub = StreamHub(queue_size=100)
        subscriber = hub.subscribe(StreamScope(frozenset({"alert"}), None))
        overflow: list[int] = []
        bridge = FeedBridge(hub, max_pending=3, on_overflow=lambda: overflow.append(1))
        bridge.bind(asyncio.get_running_loop())
        for n in range(5):  # the loop is not running callbacks meanwhile
            bridge.submit(_event(GS, n))
        await asyncio.sleep(0)
        return subscriber.queue.qsize(), len(overflow)

    assert asyncio.run(scenario()) == (3, 2)


# The WebSocket, through the test client.


@pytest.fixture
def stream_api(sqlite_state_db_url: str) -> Iterator[Api]:
    settings = api_settings(
        sqlite_state_db_url, root=ROOT, stream_auth_timeout_s=0.3, stream_recheck_s=0.05
    )
    yield from start_api(settings)


def _feed(api: Api, topic: str, payload: bytes) -> None:
    """What the MQTT thread does with a message."""
    api.services.live.bridge.on_mqtt_message(topic, payload)


def _ready(ws: WebSocketTestSession) -> dict[str, Any]:
    ready: dict[str, Any] = ws.receive_json()
    assert ready["type"] == "ready", ready
    return ready


def _close_code(ws: WebSocketTestSession) -> tuple[int, str]:
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    return closed.value.code, closed.value.reason


def test_no_token_no_stream(stream_api: Api) -> None:
    with stream_api.client.websocket_connect(STREAM_PATH) as ws:
        assert _close_code(ws) == (CloseCode.UNAUTHENTICATED, "no access token in time")
    with stream_api.client.websocket_connect(f"{STREAM_PATH}?token=forged") as ws:
        assert _close_code(ws) == (CloseCode.UNAUTHENTICATED, "invalid access token")
    with stream_api.client.websocket_connect(STREAM_PATH) as ws:
        ws.send_text("hello")
        code, _ = _close_code(ws)
        assert code == CloseCode.UNAUTHENTICATED


def test_a_token_by_header_query_or_first_message(stream_api: Api) -> None:
    user_id = stream_api.seed_user("gs.guard", [Role.SECURITY], [GS])
    token = stream_api.login("gs.guard")["access_token"]
    ways: list[dict[str, Any]] = [
        {"url": STREAM_PATH, "headers": {"Authorization": f"Bearer {token}"}},
        {"url": f"{STREAM_PATH}?token={token}"},
    ]
    for way in ways:
        with stream_api.client.websocket_connect(**way) as ws:
            ready = _ready(ws)
    with stream_api.client.websocket_connect(STREAM_PATH) as ws:
        ws.send_json({"type": "auth", "token": token})
        assert _ready(ws) == ready
    assert ready == {
        "type": "ready",
        "user_id": user_id,
        "username": "gs.guard",
        "communities": [GS],
        "all_communities": False,
        "kinds": ["alert", "command_progress", "device_status"],
        "queue_size": 256,
        "expires_at": "2026-11-27T08:15:00+00:00",
        "feed": "off",
    }


def test_without_a_stream_permission_the_connection_is_refused(stream_api: Api) -> None:
    stream_api.seed_user("hq.po", [Role.PRIVACY_OFFICER])
    headers = stream_api.headers_for("hq.po")
    with stream_api.client.websocket_connect(STREAM_PATH, headers=headers) as ws:
        assert _close_code(ws)[0] == CloseCode.FORBIDDEN


def test_a_guangsha_guard_never_receives_guanbeigou(stream_api: Api) -> None:
    stream_api.seed_user("gs.guard", [Role.SECURITY], [GS])
    stream_api.seed_user("hq.admin", [Role.ADMIN])  # devices, not alerts
    gs = stream_api.headers_for("gs.guard")
    admin = stream_api.headers_for("hq.admin")
    with (
        stream_api.client.websocket_connect(STREAM_PATH, headers=gs) as guard,
        stream_api.client.websocket_connect(STREAM_PATH, headers=admin) as hq,
    ):
        _ready(guard)
        assert _ready(hq)["kinds"] == ["command_progress", "device_status"]
        _feed(stream_api, *_alert_message(_alert(GBG, "a-gbg"), GBG))
        _feed(stream_api, *_status(GBG, "gbg-gate-n"))
        _feed(stream_api, *_status(GS, "gs-gate-s"))  # the sentinel: after theirs
        first = guard.receive_json()
        assert (first["type"], first["community"], first["device"]) == (
            "device_status",
            GS,
            "gs-gate-s",
        )
        assert first["data"]["state"] == "offline"
        statuses = [hq.receive_json()["device"] for _ in range(2)]
        assert statuses == ["gbg-gate-n", "gs-gate-s"]  # platform-wide, but no alerts


def test_an_acknowledgement_reaches_the_stream_once(stream_api: Api) -> None:
    stream_api.seed_user("gs.guard", [Role.SECURITY], [GS])
    headers = stream_api.headers_for("gs.guard")
    change = stream_api.services.alerts.apply(signal("raise", -60))
    assert change is not None
    alert_id = change.alert.alert_id
    with stream_api.client.websocket_connect(STREAM_PATH, headers=headers) as ws:
        _ready(ws)
        acked = stream_api.client.post(f"/api/v1/alerts/{alert_id}/ack", headers=headers)
        assert acked.status_code == 200
        message = ws.receive_json()
        assert (message["type"], message["data"]["change"]) == ("alert", "acknowledged")
        assert message["data"]["alert_id"] == alert_id
        # The MQTT echo of the same change (event_id) is not passed on a second time.
        (entry,) = [e for e in stream_api.services.alerts.undelivered("mqtt") if e.event_id > 1]
        _feed(stream_api, *_alert_message(entry.payload))
        _feed(stream_api, *_status(GS, "gs-gate-s"))
        assert ws.receive_json()["type"] == "device_status"


def test_an_expired_or_revoked_token_ends_the_stream(stream_api: Api) -> None:
    user_id = stream_api.seed_user("gs.guard", [Role.SECURITY], [GS])
    headers = stream_api.headers_for("gs.guard")
    with stream_api.client.websocket_connect(STREAM_PATH, headers=headers) as ws:
        _ready(ws)
        stream_api.clock.advance(minutes=16)
        assert _close_code(ws) == (CloseCode.UNAUTHENTICATED, "access token expired")
    stream_api.clock.advance(minutes=-16)
    with stream_api.client.websocket_connect(STREAM_PATH, headers=headers) as ws:
        _ready(ws)
        with stream_api.services.database.write_session() as session, session.begin():
            user = session.get(UserRow, user_id)
            assert user is not None
            user.enabled = False
        assert _close_code(ws) == (CloseCode.UNAUTHENTICATED, "access token revoked")


def test_a_new_token_renews_and_anything_else_ends(stream_api: Api) -> None:
    stream_api.seed_user("gs.guard", [Role.SECURITY], [GS])
    stream_api.seed_user("gs.other", [Role.SECURITY], [GS])
    headers = stream_api.headers_for("gs.guard")
    with stream_api.client.websocket_connect(STREAM_PATH, headers=headers) as ws:
        _ready(ws)
        stream_api.clock.advance(minutes=10)
        ws.send_json({"type": "auth", "token": stream_api.login("gs.guard")["access_token"]})
        assert ws.receive_json() == {"type": "renewed", "expires_at": "2026-11-27T08:25:00+00:00"}
        stream_api.clock.advance(minutes=10)  # past the first token's expiry
        _feed(stream_api, *_status(GS, "gs-gate-s"))
        assert ws.receive_json()["type"] == "device_status"  # still open
        ws.send_json({"type": "subscribe", "community": GBG})
        assert _close_code(ws)[0] == CloseCode.BAD_MESSAGE
    stream_api.clock.advance(minutes=-20)
    with stream_api.client.websocket_connect(STREAM_PATH, headers=headers) as ws:
        _ready(ws)
        ws.send_json({"type": "auth", "token": stream_api.login("gs.other")["access_token"]})
        assert _close_code(ws) == (CloseCode.UNAUTHENTICATED, "a token of another user")


def test_closes_are_counted(stream_api: Api) -> None:
    with stream_api.client.websocket_connect(STREAM_PATH) as ws:
        _close_code(ws)
    sample = stream_api.services.metrics.registry.get_sample_value(
        "hgj_api_stream_closed_total", {"code": "4401"}
    )
    assert sample == 1.0
    assert stream_api.client.get("/metrics").status_code == 200
