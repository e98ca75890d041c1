"""Scenario files without a broker: they load, their casts resolve, a dry run of each produces
only contract-valid messages, the same seed gives the same bytes, and mistakes in a file are
reported with the file and the key."""

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from hgj_contracts import DEVICE_STATUS, EVENT, match_topic
from hgj_sim.clock import scenario_origin
from hgj_sim.model import load_community
from hgj_sim.scenario import (
    PreparedScenario,
    ScenarioFileError,
    builtin_scenarios,
    dry_run,
    load_scenario,
)
from hgj_sim.scenario.cast import CastError
from hgj_sim.scenario.model import parse_offset
from hgj_sim.scenario.prepared import ExpectedAlert

NOW = datetime(2026, 11, 27, 7, 30, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
ISSUE_SCENARIOS = {
    "night-stranger",
    "smoke-5f",
    "burst-pipe",
    "ebike-elevator",
    "flying-wire",
    "covered-camera",
    "power-cut",
    "day-in-the-community",
}


def _prepare(name: str, speed: float = 600.0) -> PreparedScenario:
    scenario = load_scenario(name)
    return PreparedScenario.prepare(scenario, load_community(scenario.community), speed, now=NOW)


def test_the_issue_scenarios_are_built_in() -> None:
    assert set(builtin_scenarios()) == ISSUE_SCENARIOS


@pytest.mark.parametrize("name", sorted(ISSUE_SCENARIOS))
def test_a_dry_run_sends_only_contract_valid_messages(name: str) -> None:
    run = _prepare(name, speed=86400 / 8 if name.startswith("day") else 600)
    messages = dry_run(run, "hgj")
    assert messages
    for item in messages:
        match = match_topic(item.message.topic)
        assert match.params["device"] == item.device
        assert match.channel.name == item.message.channel
        payload = match.channel.decode(item.message.payload, match.params)
        assert (match.channel.qos, match.channel.retain) == (item.message.qos, item.message.retain)
        assert run.origin <= payload.ts <= run.origin + timedelta(seconds=run.scenario.duration)
    events = [m for m in messages if m.message.channel == "event"]
    assert len(events) == run.compiled.events
    assert run.expected_alerts(), "every scenario declares the alerts it should raise"


def test_each_device_numbers_each_channel_from_one() -> None:
    messages = dry_run(_prepare("day-in-the-community", 10800), "hgj")
    seqs: dict[tuple[str, str], list[int]] = {}
    for m in messages:
        if m.message.channel != "device_status":
            seq = match_topic(m.message.topic).channel.decode(m.message.payload).seq
            seqs.setdefault((m.device, m.message.channel), []).append(seq)
    for numbers in seqs.values():
        assert numbers == list(range(1, len(numbers) + 1))


def test_a_day_replays_544_events_in_a_residential_rhythm() -> None:
    run = _prepare("day-in-the-community", 1440)
    assert run.compiled.events == 544
    events = [m for m in dry_run(run, "hgj") if m.message.channel == "event"]
    hours = Counter(EVENT.decode(m.message.payload).ts.astimezone(SHANGHAI).hour for m in events)
    assert hours[8] + hours[18] > 4 * (hours[2] + hours[3] + hours[4])
    kinds = Counter(m.message.topic.rsplit("/", 1)[1] for m in events)
    assert kinds["face"] == 150 + 2  # recognised residents, two strangers
    methods = Counter(getattr(EVENT.decode(m.message.payload), "method", None) for m in events)
    assert {"face", "card", "qr", "pin"} <= set(methods)


def test_the_same_seed_gives_the_same_messages() -> None:
    first = [(m.at, m.message) for m in dry_run(_prepare("day-in-the-community", 10800), "hgj")]
    again = [(m.at, m.message) for m in dry_run(_prepare("day-in-the-community", 10800), "hgj")]
    other = dry_run(_prepare("day-in-the-community", 10800), "hgj", seed=99)
    assert first == again
    assert [m.message for m in other] != [message for _, message in first]


def test_night_stranger_happens_at_night_and_never_in_the_future() -> None:
    run = _prepare("night-stranger", speed=300)
    local = run.origin.astimezone(SHANGHAI)
    assert (local.hour, local.minute) == (2, 0)
    assert run.origin + timedelta(seconds=run.scenario.duration) <= NOW
    stranger = next(
        EVENT.decode(m.message.payload)
        for m in dry_run(run, "hgj")
        if m.message.topic.endswith("/event/face") and b"stranger" in m.message.payload
    )
    assert stranger.ts.astimezone(SHANGHAI).strftime("%H:%M") == "02:08"


@pytest.mark.parametrize("speed", [1.0, 60.0, 10_000.0])
def test_a_scenario_ends_when_the_wall_clock_does(speed: float) -> None:
    """Played from NOW at ``speed``, simulated time reaches the end exactly as the wall clock
    reaches NOW + duration / speed: never ahead of it."""
    origin = scenario_origin(1800, speed, zone=SHANGHAI, now=NOW)
    assert origin + timedelta(seconds=1800) == NOW + timedelta(seconds=1800 / speed)
    at_night = scenario_origin(600, speed, starts_at=time(23, 0), zone=SHANGHAI, now=NOW)
    assert at_night.astimezone(SHANGHAI).time() == time(23, 0)
    assert at_night + timedelta(seconds=600) <= NOW + timedelta(seconds=600 / speed)


def test_the_power_cut_drops_mains_devices_with_a_will_and_spares_batteries() -> None:
    run = _prepare("power-cut")
    messages = dry_run(run, "hgj")
    statuses: dict[str, list[tuple[str, str | None]]] = {}
    for m in messages:
        if m.message.channel == "device_status":
            status = DEVICE_STATUS.decode(m.message.payload)
            statuses.setdefault(m.device, []).append((status.state, status.reason))
    cameras = {d.id for d in run.cast["cameras"]}
    sensors = {d.id for d in run.cast["sensors"]}
    for device in cameras:
        assert statuses[device] == [
            ("online", "startup"),
            ("offline", "connection_lost"),
            ("online", "startup"),
            ("offline", "shutdown"),
        ]
    for device in sensors:
        assert statuses[device] == [("online", "startup"), ("offline", "shutdown")]
    assert ExpectedAlert("camera_offline", "gs-b07-roof-cam", "cleared") in run.expected_alerts()
    assert not any(e.device in sensors for e in run.expected_alerts())


def test_a_fast_replay_keeps_readings_apart_but_sends_every_scripted_one() -> None:
    slow = dry_run(_prepare("flying-wire", 60), "hgj")
    fast = dry_run(_prepare("flying-wire", 6000), "hgj")
    readings = [m for m in fast if m.message.channel == "telemetry"]
    assert len(readings) < len([m for m in slow if m.message.channel == "telemetry"])
    charger = [m for m in readings if b'"current":{"value":2.3' in m.message.payload]
    assert [round(m.at) for m in charger] == list(range(60, 901, 60))


@pytest.mark.parametrize(
    ("text", "seconds"), [(90, 90.0), (1.5, 1.5), ("07:42", 27720.0), ("23:20:02", 84002.0)]
)
def test_offsets(text: float | str, seconds: float) -> None:
    assert parse_offset(text) == seconds


def _write(tmp_path: Path, **changes: object) -> Path:
    data: dict[str, object] = {
        "id": "mine",
        "title_zh": "测试",
        "title_en": "Test",
        "community": "guangsha",
        "duration": 600,
        "cast": {"detector": {"type": "smoke_detector", "building": 3, "unit": 2, "floor": 5}},
        "timeline": [{"at": 60, "device": "detector", "event": {"kind": "smoke", "active": True}}],
        "expect": [{"rule": "smoke", "device": "detector", "ends": "active"}],
    }
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data | changes, allow_unicode=True), encoding="utf-8")
    return path


def test_a_copied_scenario_loads_from_its_path(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path))
    run = PreparedScenario.prepare(scenario, load_community("guangsha"), now=NOW)
    assert run.expected_alerts() == {ExpectedAlert("smoke", "gs-b03-u2-smoke-f05", "active")}


def test_unquoted_clock_times_are_times_not_base_60_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path)
    text = path.read_text(encoding="utf-8").replace("at: 60", "at: 00:01")
    path.write_text(text + "starts_at: 23:30\n", encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.timeline[0].at == 60.0
    assert scenario.starts_at == time(23, 30)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"colour": "red"}, r"mine\.yaml: colour: Extra inputs are not permitted"),
        (
            {
                "timeline": [
                    {"at": 60, "device": "nobody", "event": {"kind": "smoke", "active": True}}
                ]
            },
            r"not in the cast: \['nobody'\]",
        ),
        (
            {"timeline": [{"at": 900, "device": "detector", "readings": {"smoke_density": 1}}]},
            r"steps after the end",
        ),
        (
            {"timeline": [{"at": 1, "device": "detector", "event": {"kind": "smoke"}}]},
            r"active",
        ),
        (
            {"timeline": [{"at": 1, "device": "detector", "event": {"kind": "fire"}}]},
            r"event kind 'fire' is not one of",
        ),
        (
            {"timeline": [{"at": 1, "device": "detector", "readings": {"heat": 1}}]},
            r"unknown metrics \['heat'\]",
        ),
        (
            {"timeline": [{"at": 1, "device": "detector", "power": "off", "link": "down"}]},
            r"exactly one of event, readings, power, link",
        ),
    ],
)
def test_mistakes_name_the_file_and_the_problem(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ScenarioFileError, match=message):
        load_scenario(_write(tmp_path, **changes))


@pytest.mark.parametrize(
    ("cast", "message"),
    [
        ({"detector": {"type": "smoke_detector", "building": 3}}, r"narrow it down or say all"),
        ({"detector": {"id": "gs-nowhere"}}, r"no device of guangsha matches"),
    ],
)
def test_a_cast_that_does_not_resolve_says_why(
    tmp_path: Path, cast: dict[str, object], message: str
) -> None:
    scenario = load_scenario(_write(tmp_path, cast=cast))
    with pytest.raises(CastError, match=message):
        PreparedScenario.prepare(scenario, load_community("guangsha"), now=NOW)


def test_unknown_builtin_lists_the_builtins() -> None:
    with pytest.raises(ScenarioFileError, match="night-stranger"):
        load_scenario("nowhere")
