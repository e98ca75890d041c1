"""Load mode's pieces without a broker: the fleet, its fast telemetry (checked against the
contract), the plan's checks and the accounts that may publish for a fleet."""

import time
from datetime import UTC, datetime

import pytest

from hgj_brokeradmin import gateway_account
from hgj_contracts import EVENT, TELEMETRY, match_topic
from hgj_contracts.events import FaceEvent
from hgj_devstack.accounts import AclRule
from hgj_sim.load.engine import LoadPlan, credentials_from
from hgj_sim.load.fleet import CAMERA_TYPE, SENSOR_TYPES, gateway_ids, load_fleet
from hgj_sim.load.payloads import TimestampText, face_event_bytes, message_bytes


def test_fleet_ids_types_and_topics() -> None:
    fleet = load_fleet("hgj", "load", "ld", 20, camera_share=0.1)
    assert [d.id for d in fleet[:2]] == ["ld-000001", "ld-000002"]
    assert {d.device_type for d in fleet} == {*SENSOR_TYPES, CAMERA_TYPE}
    assert [d.id for d in fleet if d.device_type == CAMERA_TYPE] == ["ld-000010", "ld-000020"]
    assert match_topic(fleet[0].topic).params == {
        "root": "hgj",
        "community": "load",
        "device": "ld-000001",
    }
    assert fleet[9].topic == "hgj/load/dev/ld-000010/event/face"
    assert gateway_ids("ld", 2) == ["ld-gw-01", "ld-gw-02"]
    assert CAMERA_TYPE not in {d.device_type for d in load_fleet("hgj", "load", "ld", 20)}


@pytest.mark.parametrize("device_type", SENSOR_TYPES)
def test_fast_telemetry_is_what_the_contract_accepts(device_type: str) -> None:
    stamp = TimestampText()
    for index, seq in [(0, 1), (7, 2), (123, 99_999), (19_999, 7)]:
        payload = message_bytes(device_type, "ld-000001", index, seq, stamp.at(time.time_ns()))
        decoded = TELEMETRY.decode(payload)
        assert decoded.seq == seq
        assert abs((decoded.ts - datetime.now(UTC)).total_seconds()) < 5
        # And the channel encodes the decoded model to the same message again.
        assert TELEMETRY.decode(TELEMETRY.encode(decoded)) == decoded


def test_fast_face_events_are_what_the_contract_accepts() -> None:
    stamp = TimestampText()
    categories = set()
    for index, seq in [(0, 1), (9, 2), (123, 99_999), (19_999, 7), *((5, n) for n in range(20))]:
        payload = face_event_bytes("ld-000010", index, seq, stamp.at(time.time_ns()))
        event = EVENT.decode(payload, {"kind": "face"})
        assert isinstance(event, FaceEvent)
        assert event.seq == seq
        assert event.snapshot_ref is not None
        assert event.snapshot_ref.startswith("snap/ld-000010/")
        categories.add(event.category)
    assert categories == {"resident", "staff", "visitor"}  # never an alert


def test_timestamps_have_millisecond_resolution() -> None:
    stamp = TimestampText()
    ns = 1_795_000_000_123_456_789
    assert stamp.at(ns) == "2026-11-18T11:06:40.123000Z"
    assert stamp.at(ns + 500_000) is stamp.at(ns)  # same millisecond: formatted once


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"messages": None, "duration_s": None}, "messages or a duration"),
        ({"rate": -1}, "rate"),
        ({"connections": 0}, "connections"),
        ({"connections": 11}, "connections"),
        ({"qos": 2}, "qos"),
    ],
)
def test_bad_plans_are_refused(changes: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 1883,
        "root": "hgj",
        "community": "load",
        "devices": 10,
        "rate": 100.0,
        "messages": 100,
    }
    with pytest.raises(ValueError, match=message):
        LoadPlan(**(base | changes))  # type: ignore[arg-type]


def test_connections_log_in_as_their_device_or_gateway_or_one_account() -> None:
    passwords = {"load.ld-gw-01": "a", "admin": "b"}
    assert credentials_from(passwords, "load")("ld-gw-01") == ("load.ld-gw-01", "a")
    assert credentials_from(passwords, "load", username="admin")("ld-gw-07") == ("admin", "b")
    with pytest.raises(KeyError, match=r"load\.ld-000001"):
        credentials_from(passwords, "load")("ld-000001")


def test_a_gateway_account_covers_every_device_of_its_community_only() -> None:
    account = gateway_account("hgj", "load", "ld-gw-01", password="pw")
    assert account.username == "load.ld-gw-01"
    base = "hgj/load/dev/+"
    assert account.rules == (
        AclRule("write", f"{base}/status"),
        AclRule("write", f"{base}/telemetry"),
        AclRule("write", f"{base}/event/+"),
        AclRule("write", f"{base}/state"),
        AclRule("read", f"{base}/cmd/+"),
        AclRule("write", f"{base}/cmd_result/+"),
    )
