"""How a simulated device answers commands, and what it then sends, without a broker."""

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hgj_contracts import COMMAND, COMMAND_RESULT, DEVICE_STATE, DEVICE_STATUS, EVENT
from hgj_contracts.commands import (
    OpenGateCommand,
    PingCommand,
    RebootCommand,
    SetReportIntervalCommand,
    SetSwitchCommand,
)
from hgj_sim.actions import Answer, Execute, Fail, PowerOff, PowerOn
from hgj_sim.device import Control, DeviceRuntime
from hgj_sim.model import load_community
from hgj_sim.responder import CommandPolicy, CommandResponder

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
COMMUNITY = load_community("guangsha")
GATE = COMMUNITY.device("gs-gate-north")
LIGHT = COMMUNITY.device("gs-main-light-01")
SMOKE = COMMUNITY.device("gs-b03-u2-smoke-f05")


def _command(kind: type[Any], n: int = 1, **fields: Any) -> Any:
    base = {"ts": T0, "command_id": f"c-{n}", "expires_at": T0 + timedelta(seconds=30)}
    return kind(**(base | fields))


def _plan(responder: CommandResponder, command: Any, now: datetime = T0) -> list[tuple[float, Any]]:
    return responder.plan(command.action, COMMAND.encode(command), now)


def _responder(policy: CommandPolicy | None = None, device: Any = GATE) -> CommandResponder:
    return CommandResponder(device, policy or CommandPolicy(latency_s=1.0), random.Random(0))


def test_accepted_at_once_then_executed_after_the_latency() -> None:
    plan = _plan(_responder(), _command(OpenGateCommand))
    (at_once, accepted), (later, outcome) = plan
    assert (at_once, accepted.status) == (0.0, "accepted")
    assert 0.5 <= later <= 1.5
    assert isinstance(outcome, Execute)


def test_failures_and_drops_follow_the_policy() -> None:
    failing = _responder(CommandPolicy(failure_rate=1.0))
    (_, outcome) = _plan(failing, _command(OpenGateCommand))[1]
    assert isinstance(outcome, Fail)
    assert outcome.error_code == "gate_jammed"
    ping = _plan(failing, _command(PingCommand, 2))[1][1]
    assert isinstance(ping, Execute)  # a ping that arrives is answered
    dropping = _responder(CommandPolicy(drop_rate=1.0))
    assert _plan(dropping, _command(OpenGateCommand)) == []
    assert dropping.stats.dropped == 1


def test_failure_share_is_near_the_rate() -> None:
    responder = _responder(CommandPolicy(failure_rate=0.25), device=LIGHT)
    outcomes = [_plan(responder, _command(SetSwitchCommand, n, on=True))[1][1] for n in range(400)]
    assert 0.18 < sum(isinstance(o, Fail) for o in outcomes) / 400 < 0.32


def test_expired_duplicate_unsupported_and_undecodable() -> None:
    responder = _responder()
    late = _plan(responder, _command(OpenGateCommand), now=T0 + timedelta(seconds=34.1))
    assert late == [
        (
            0.0,
            Answer(
                "c-1", "open_gate", "expired", "expired", "command expired 4.1 s before it arrived"
            ),
        )
    ]
    assert _plan(responder, _command(OpenGateCommand)) == []  # c-1 again: once only
    refused = _plan(responder, _command(SetSwitchCommand, 2, on=True))
    assert refused[0][1].error_code == "unsupported_action"
    two_loads = _plan(_responder(device=LIGHT), _command(SetSwitchCommand, 3, on=True, channel=1))
    assert two_loads[0][1].error_code == "no_such_channel"
    broken = responder.plan("open_gate", json.dumps({"command_id": "c-9"}).encode(), T0)
    ((at, answer),) = broken
    assert isinstance(answer, Answer)
    assert (at, answer.status, answer.error_code) == (0.0, "rejected", "invalid_command")
    assert responder.plan("open_gate", b"not json", T0) == []
    assert responder.stats.duplicates == 1


def test_the_memory_of_seen_commands_is_bounded() -> None:
    responder = _responder(CommandPolicy(memory=2))
    for n in range(3):
        _plan(responder, _command(PingCommand, n))
    assert _plan(responder, _command(PingCommand, 0)) != []  # forgotten, so answered again
    assert _plan(responder, _command(PingCommand, 2)) == []


def _runtime(device: Any = GATE) -> DeviceRuntime:
    runtime = DeviceRuntime(device, "guangsha", "hgj", reboot_s=3.0)
    runtime.begin_session(T0)
    return runtime


def test_opening_a_gate_answers_records_a_remote_passage_and_closes_later() -> None:
    runtime = _runtime()
    step = runtime.apply(Execute(_command(OpenGateCommand, hold_open_s=8.0)), T0)
    result, passage, state = step.messages
    assert COMMAND_RESULT.decode(result.payload).data == {"gate": "open", "hold_open_s": 8.0}
    event = EVENT.decode(passage.payload)
    assert (event.kind, getattr(event, "method", None)) == ("gate_passage", "remote")
    opened = DEVICE_STATE.decode(state.payload)
    assert (opened.state["gate"], opened.command_id) == ("open", "c-1")
    ((after, close),) = step.follow_ups
    assert after == 8.0
    closed = DEVICE_STATE.decode(
        runtime.apply(close, T0 + timedelta(seconds=8)).messages[0].payload
    )
    assert (closed.state["gate"], closed.command_id, closed.seq) == ("closed", None, 2)


def test_switching_a_light_off_shows_in_state_and_readings() -> None:
    runtime = _runtime(LIGHT)
    step = runtime.apply(Execute(_command(SetSwitchCommand, on=False)), T0)
    assert DEVICE_STATE.decode(step.messages[-1].payload).state["switch_on"] is False
    reading = runtime.telemetry(T0)
    assert b'"switch_on":{"value":0.0' in reading.payload


def test_a_new_interval_reconnects_and_a_reboot_restarts_the_counters() -> None:
    runtime = _runtime(SMOKE)
    step = runtime.apply(Execute(_command(SetReportIntervalCommand, interval_s=120.0)), T0)
    assert step.control is Control.RECONNECT
    assert runtime.report_period_s == 120.0
    online = DEVICE_STATUS.decode(runtime.begin_session(T0).online.payload)
    assert (online.reason, online.report_interval_s) == ("reconnect", 120.0)
    step = runtime.apply(Execute(_command(RebootCommand, 2)), T0)
    assert step.control is Control.GOODBYE
    assert [type(a) for _, a in step.follow_ups] == [PowerOn]
    assert (
        runtime.apply(step.follow_ups[0][1], T0 + timedelta(seconds=3)).control is Control.CONNECT
    )
    restarted = DEVICE_STATUS.decode(runtime.begin_session(T0).online.payload)
    assert (restarted.reason, restarted.seq) == ("startup", 1)
    assert runtime.telemetry(T0).payload.count(b'"seq":1,') == 1


def test_a_power_cut_spares_battery_devices() -> None:
    assert _runtime(SMOKE).apply(PowerOff(), T0).control is Control.NONE
    gate = _runtime()
    assert gate.apply(PowerOff(), T0).control is Control.DROP
    assert gate.apply(Execute(_command(PingCommand)), T0).messages == ()  # dead: no answer


@pytest.mark.parametrize("bad", [{"latency_s": -1.0}, {"failure_rate": 1.5}, {"memory": 0}])
def test_bad_policies_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        CommandPolicy(**bad)
