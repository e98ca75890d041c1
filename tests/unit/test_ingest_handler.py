"""What ingest makes of each message, without a broker or a database."""

import base64
from datetime import UTC, datetime, timedelta

import pytest

from hgj_contracts import COMMAND, EVENT, TELEMETRY
from hgj_contracts import commands as cmd
from hgj_contracts import events as ev
from hgj_ingest.handler import Accepted, Ignored, MessageHandler, Rejected
from hgj_ingest.settings import IngestSettings

NOW = datetime(2026, 11, 27, 2, 15, tzinfo=UTC)
TOPIC = TELEMETRY.topic(root="hgj", community="guangsha", device="gs-b01-th")
GOOD = (
    b'{"v":1,"ts":"2026-11-27T02:14:00Z","seq":7,'
    b'"metrics":{"temperature":{"value":21.5,"unit":"Cel"},"battery":{"value":90,"unit":"%"}}}'
)


@pytest.fixture
def handler() -> MessageHandler:
    return MessageHandler(IngestSettings(_env_file=None), clock=lambda: NOW)


def test_telemetry_becomes_one_point_at_event_time(handler: MessageHandler) -> None:
    outcome = handler.handle(TOPIC, GOOD)
    assert outcome == Accepted(
        "telemetry",
        [
            "telemetry,community=guangsha,device=gs-b01-th "
            "battery=90.0,temperature=21.5,seq=7i 1795745640000000"
        ],
    )


def test_commands_are_passed_over(handler: MessageHandler) -> None:
    command = cmd.OpenGateCommand(ts=NOW, command_id="c-1", expires_at=NOW + timedelta(seconds=30))
    topic = COMMAND.topic(root="hgj", community="guangsha", device="gs-gate-n", action="open_gate")
    assert handler.handle(topic, COMMAND.encode(command)) == Ignored("command")


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (TOPIC, b"{not json", "malformed_json"),
        (TOPIC, b"\xc3\x28\xa0\xa1", "invalid_utf8"),
        (TOPIC, GOOD.replace(b"21.5", b'"hot"'), "schema"),
        (TOPIC, GOOD.replace(b"21.5", b"NaN"), "non_finite"),
        (TOPIC, GOOD.replace(b'"seq":7,', b""), "schema"),
        (TOPIC, b"x" * 20000, "oversize"),
        ("hgj/guangsha/dev/gs-b01-th/firmware", GOOD, "unknown_topic"),
        (TOPIC, GOOD.replace(b"2026-11-27T02:14", b"2027-11-27T02:14"), "ts_future"),
        (TOPIC, GOOD.replace(b"2026-11-27T02:14", b"1970-01-01T00:00"), "ts_too_old"),
    ],
)
def test_bad_input_is_rejected_with_reason_and_a_dead_letter(
    handler: MessageHandler, topic: str, payload: bytes, reason: str
) -> None:
    outcome = handler.handle(topic, payload)
    assert isinstance(outcome, Rejected)
    assert outcome.reason == reason
    assert outcome.dead_letter.topic == topic
    assert outcome.dead_letter.payload_size == len(payload)
    assert base64.b64decode(outcome.dead_letter.payload_b64) == payload[:4096]
    assert outcome.lines[0].startswith("ingest_reject,channel=")
    assert f"reason={reason}" in outcome.lines[0]


def test_a_clock_running_ahead_flags_the_device(handler: MessageHandler) -> None:
    outcome = handler.handle(TOPIC, GOOD.replace(b"2026-11-27T02:14", b"2026-11-27T03:14"))
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "ts_future"
    assert outcome.lines[1] == (
        "device_clock_skew,community=guangsha,device=gs-b01-th skew_s=3540 1795745700000000"
    )


def test_small_clock_skew_is_tolerated(handler: MessageHandler) -> None:
    ahead = (NOW + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    assert isinstance(handler.handle(TOPIC, GOOD.replace(b"2026-11-27T02:14:00Z", ahead)), Accepted)


def test_event_tags_and_fields(handler: MessageHandler) -> None:
    face = ev.FaceEvent(
        ts=NOW,
        seq=51,
        track_id="t-000193",
        category="resident",
        person_id="p-10233",
        score=0.93,
        frames=5,
    )
    topic = EVENT.topic(root="hgj", community="guangsha", device="gs-gate-n-cam", kind="face")
    outcome = handler.handle(topic, EVENT.encode(face))
    assert isinstance(outcome, Accepted)
    (line,) = outcome.lines
    tags, fields, _ts = line.split(" ")
    assert (
        tags == "device_event,category=resident,community=guangsha,device=gs-gate-n-cam,kind=face"
    )
    assert 'person_id="p-10233"' in fields
    assert "score=0.93" in fields
    assert "frames=5i" in fields
    assert "seq=51i" in fields


def test_devices_missing_from_the_registry_are_quarantined() -> None:
    known = {("guangsha", "gs-b01-th")}
    asked: list[tuple[str, str]] = []

    def known_device(community: str, device: str) -> bool:
        asked.append((community, device))
        return (community, device) in known

    handler = MessageHandler(IngestSettings(_env_file=None), lambda: NOW, known_device)
    assert isinstance(handler.handle(TOPIC, GOOD), Accepted)

    stranger = TELEMETRY.topic(root="hgj", community="guangsha", device="gs-b99-th")
    elsewhere = TELEMETRY.topic(root="hgj", community="guanbeigou", device="gs-b01-th")
    for topic, payload in ((stranger, GOOD), (elsewhere, GOOD), (stranger, b"{not json")):
        outcome = handler.handle(topic, payload)
        assert isinstance(outcome, Rejected), topic
        # Refused before decoding: an unknown device's garbage is quarantined, not "malformed".
        assert outcome.reason == "unknown_device"
        assert outcome.channel == "telemetry"
        assert outcome.dead_letter.topic == topic
        assert base64.b64decode(outcome.dead_letter.payload_b64) == payload
        assert "not in the registry" in outcome.dead_letter.detail
        (line,) = outcome.lines
        assert line.startswith("ingest_reject,channel=telemetry,reason=unknown_device")
    assert asked[:3] == [
        ("guangsha", "gs-b01-th"),
        ("guangsha", "gs-b99-th"),
        ("guanbeigou", "gs-b01-th"),
    ]

    # Channels ingest does not store are passed over without asking.
    command = cmd.OpenGateCommand(ts=NOW, command_id="c-1", expires_at=NOW + timedelta(seconds=30))
    topic = COMMAND.topic(root="hgj", community="guangsha", device="gs-gate-n", action="open_gate")
    asked.clear()
    assert handler.handle(topic, COMMAND.encode(command)) == Ignored("command")
    assert asked == []


def test_without_a_registry_every_device_is_accepted(handler: MessageHandler) -> None:
    stranger = TELEMETRY.topic(root="hgj", community="guangsha", device="gs-b99-th")
    assert isinstance(handler.handle(stranger, GOOD), Accepted)
