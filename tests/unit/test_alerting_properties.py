"""Properties of the engine over generated streams: duplicates are absorbed, and one device's
alerts do not depend on how its messages interleave with another device's."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hgj_contracts import DeviceMessage
from hgj_contracts import events as ev
from hgj_ingest.alerting import InMemoryRuleState, RuleEngine
from hgj_statedb.signals import AlertSignal
from tests.unit.alerting_support import CHANNEL_OF, at, face, ruleset, status, telemetry

RULES = ruleset(
    """
    rules:
      - id: temp_high
        severity: critical
        threshold: {metric: temperature, above: 60, for_s: 30, clear_at: 50}
        message: {zh: "温度 {value}", en: "temperature {value}"}
      - id: smoke
        severity: critical
        event: {kind: smoke}
        message: {zh: "烟雾", en: "smoke"}
      - id: door_forced
        severity: major
        event: {kind: door_forced, auto_clear_s: 120}
        message: {zh: "强行开门", en: "door forced"}
      - id: stranger
        severity: warning
        face: {category: stranger, hours: [{start: "23:00", end: "06:00"}]}
        message: {zh: "陌生人", en: "stranger"}
      - id: device_offline
        severity: minor
        absence: {multiple: 2, fallback_interval_s: 120}
        message: {zh: "离线", en: "offline"}
    communities:
      guangsha:
        maintenance:
          - devices: ["dev-b"]
            start: 2026-11-27T02:10:00Z
            end: 2026-11-27T02:15:00Z
    """
)
DEVICES = ("dev-a", "dev-b")


@dataclass(frozen=True)
class Delivery:
    device: str
    payload: DeviceMessage
    received: datetime


@st.composite
def device_stream(draw: st.DrawFn, device: str) -> list[Delivery]:
    """One device's messages in the order it sent them: event time and seq only move on."""
    seqs = {"telemetry": 0, "event": 0, "device_status": 1}
    clock = 0.0
    out = [Delivery(device, status(1, 0), at(0.5))]
    for _ in range(draw(st.integers(1, 25))):
        clock += draw(st.sampled_from([1, 5, 15, 30, 100, 250]))
        kind = draw(st.sampled_from(["temp", "temp", "smoke", "door", "face", "will", "online"]))
        payload: DeviceMessage
        if kind == "temp":
            seqs["telemetry"] += 1
            value = draw(st.sampled_from([20.0, 49.0, 55.0, 61.0, 70.0]))
            payload = telemetry(seqs["telemetry"], clock, temperature=value)
        elif kind in ("will", "online"):
            seqs["device_status"] += 1
            state, reason = (
                ("offline", "connection_lost") if kind == "will" else ("online", "reconnect")
            )
            payload = status(seqs["device_status"], clock, state, reason)
        else:
            seqs["event"] += 1
            if kind == "smoke":
                payload = ev.SmokeEvent(ts=at(clock), seq=seqs["event"], active=draw(st.booleans()))
            elif kind == "door":
                payload = ev.DoorForcedEvent(ts=at(clock), seq=seqs["event"])
            else:
                payload = face(seqs["event"], clock, "stranger")
        delay = draw(st.sampled_from([0.1, 1.0, 3.0]))
        out.append(Delivery(device, payload, at(clock + delay)))
    return out


@st.composite
def two_device_streams(draw: st.DrawFn) -> tuple[list[Delivery], list[Delivery]]:
    return draw(device_stream(DEVICES[0])), draw(device_stream(DEVICES[1]))


def interleave(first: list[Delivery], second: list[Delivery], picks: list[bool]) -> list[Delivery]:
    """Merge two streams keeping each one's own order; ``picks`` says who goes next."""
    a, b, out = list(first), list(second), []
    for pick in picks:
        source = a if (pick and a) or not b else b
        if source:
            out.append(source.pop(0))
    return out + a + b


def run(stream: list[Delivery], ticks: tuple[float, ...] = (100_000.0,)) -> list[AlertSignal]:
    engine = RuleEngine(RULES, InMemoryRuleState(roundtrip=True))
    signals: list[AlertSignal] = []
    for d in stream:
        channel = CHANNEL_OF.get(type(d.payload), "event")
        signals += engine.on_message("guangsha", d.device, channel, d.payload, d.received)
    for moment in ticks:
        signals += engine.on_tick(at(moment))
    return signals


def per_device(signals: list[AlertSignal], device: str) -> list[AlertSignal]:
    return [s for s in signals if s.device == device]


@settings(max_examples=150)
@given(streams=two_device_streams(), picks=st.lists(st.booleans(), max_size=60))
def test_every_message_delivered_twice_gives_the_same_signals_as_once(
    streams: tuple[list[Delivery], list[Delivery]], picks: list[bool]
) -> None:
    stream = interleave(*streams, picks)
    once = run(stream)
    doubled = run([d for d in stream for _ in (1, 2)])
    assert doubled == once
    replayed = run(stream + stream)  # the whole stream again, as after a lost session
    assert replayed == once
    assert len({s.signal_id for s in once}) == len(once)


@settings(max_examples=150)
@given(
    streams=two_device_streams(),
    picks_a=st.lists(st.booleans(), max_size=60),
    picks_b=st.lists(st.booleans(), max_size=60),
)
def test_interleaving_two_devices_does_not_change_either_devices_signals(
    streams: tuple[list[Delivery], list[Delivery]], picks_a: list[bool], picks_b: list[bool]
) -> None:
    first = run(interleave(*streams, picks_a))
    second = run(interleave(*streams, picks_b))
    for device in DEVICES:
        assert per_device(first, device) == per_device(second, device)


@settings(max_examples=100)
@given(streams=two_device_streams(), picks=st.lists(st.booleans(), max_size=60))
def test_raises_and_clears_alternate_for_stateful_rules(
    streams: tuple[list[Delivery], list[Delivery]], picks: list[bool]
) -> None:
    """No clear without a raise before it, and (thresholds, absence) no raise twice in a row."""
    signals = run(interleave(*streams, picks), ticks=(300.0, 1000.0, 100_000.0))
    for device in DEVICES:
        for rule in ("temp_high", "device_offline", "smoke", "door_forced"):
            sequence = [s.kind for s in per_device(signals, device) if s.rule == rule]
            active = False
            for kind in sequence:
                if kind == "clear":
                    assert active, (device, rule, sequence)
                    active = False
                else:
                    if rule in ("temp_high", "device_offline"):
                        assert not active, (device, rule, sequence)
                    active = True


def test_the_generated_streams_exercise_every_rule() -> None:
    """Guards the properties above against a generator that never raises anything."""
    seen: set[str] = set()
    base = 0.0
    stream: list[Delivery] = []
    for i, (payload, gap) in enumerate(
        [
            (telemetry(1, 0, temperature=70), 0),
            (telemetry(2, 40, temperature=70), 40),
            (ev.SmokeEvent(ts=at(50), seq=1, active=True), 10),
            (ev.DoorForcedEvent(ts=at(60), seq=2), 10),
            (face(3, at(0) + timedelta(hours=-3), "stranger"), 0),  # 07:00 local: no alert
            (face(4, at(0) + timedelta(hours=14), "stranger"), 0),  # 00:00 local: alert
        ]
    ):
        base += gap
        stream.append(Delivery("dev-a", payload, at(base + i)))
    for signal in run(stream):
        seen.add(signal.rule)
    assert seen == {"temp_high", "smoke", "door_forced", "stranger", "device_offline"}
