"""The agent's command handler with fakes: the dispatch table, refusals (expired, replayed,
unsupported, undecodable) and what is answered, in which order, with which state."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from hgj_contracts import COMMAND, DeviceCommand
from hgj_edge.agent.command_log import CommandLog, Outcome
from hgj_edge.agent.commands import CommandHandler
from hgj_edge.agent.drivers import DriverError, SimulatedGate, SimulatedSwitch
from hgj_edge.agent.sender import ResultData
from tests.edge_agent_support import IDS, NOW, RecordingSink, command, sender


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "agent.sqlite"


@pytest.fixture
def command_log(log_path: Path) -> Iterator[CommandLog]:
    log = CommandLog(log_path)
    yield log
    log.close()


def handler_for(
    sink: RecordingSink, log: CommandLog, gate: SimulatedGate, now_offset_s: float = 0
) -> CommandHandler:
    def open_gate(cmd: DeviceCommand) -> ResultData:
        assert cmd.action == "open_gate"
        gate.open(cmd.hold_open_s)
        return {"hold_open_s": cmd.hold_open_s}

    return CommandHandler(
        sender(sink),
        log,
        {"open_gate": open_gate, "ping": lambda _cmd: None},
        gate.state,
        now=lambda: NOW + timedelta(seconds=now_offset_s),
    )


def test_a_command_is_accepted_carried_out_answered_and_the_state_republished(
    command_log: CommandLog,
) -> None:
    sink, gate = RecordingSink(), SimulatedGate()
    handler = handler_for(sink, command_log, gate)

    outcome = handler.handle("open_gate", command("open_gate", "c1", hold_open_s=3.0))

    assert outcome == Outcome("succeeded", data={"hold_open_s": 3.0})
    assert gate.openings == [3.0]
    assert [name for name, _ in sink.sent] == ["command_result", "command_result", "device_state"]
    assert sink.results() == [("c1", "accepted", None), ("c1", "succeeded", None)]
    [state] = sink.states()
    assert (state.state, state.command_id) == ({"gate": "open", "openings": 1}, "c1")
    assert [r.seq for r in sink.of("command_result")] == [1, 2]


def test_the_topic_names_the_action_dispatched(command_log: CommandLog) -> None:
    sink, gate = RecordingSink(), SimulatedGate()
    handler = handler_for(sink, command_log, gate)
    topic = COMMAND.topic(action="ping", **IDS)

    handler.on_message(topic, command("ping", "p1"))

    assert sink.results() == [("p1", "accepted", None), ("p1", "succeeded", None)]
    assert gate.openings == []


def test_an_expired_command_is_answered_expired_and_not_carried_out(
    command_log: CommandLog,
) -> None:
    sink, gate = RecordingSink(), SimulatedGate()
    handler = handler_for(sink, command_log, gate, now_offset_s=61)

    outcome = handler.handle("open_gate", command("open_gate", "late", expires_in_s=60))

    assert outcome is not None
    assert (outcome.status, outcome.error_code) == ("expired", "expired")
    assert sink.results() == [("late", "expired", "expired")]
    assert (gate.openings, sink.states()) == ([], [])


def test_a_replayed_command_id_is_answered_with_its_first_outcome_and_run_once(
    command_log: CommandLog,
) -> None:
    sink, gate = RecordingSink(), SimulatedGate()
    handler = handler_for(sink, command_log, gate)
    payload = command("open_gate", "c1")

    handler.handle("open_gate", payload)
    handler.handle("open_gate", payload)

    assert gate.openings == [5.0]
    assert sink.results() == [
        ("c1", "accepted", None),
        ("c1", "succeeded", None),
        ("c1", "succeeded", None),
    ]
    assert len(sink.states()) == 1


def test_the_seen_commands_survive_a_restart_of_the_agent(log_path: Path) -> None:
    gate = SimulatedGate()
    first = CommandLog(log_path)
    handler_for(RecordingSink(), first, gate).handle("open_gate", command("open_gate", "c1"))
    first.close()

    again = CommandLog(log_path)
    sink = RecordingSink()
    handler_for(sink, again, gate).handle("open_gate", command("open_gate", "c1"))
    again.close()

    assert gate.openings == [5.0]
    assert sink.results() == [("c1", "succeeded", None)]


def test_a_command_interrupted_by_a_crash_is_not_run_again_but_answered_failed(
    command_log: CommandLog,
) -> None:
    # What a crash between "accepted" and the outcome leaves behind.
    command_log.record("c1", "open_gate", Outcome("accepted"), at=0.0)
    sink, gate = RecordingSink(), SimulatedGate()
    handler = handler_for(sink, command_log, gate)

    handler.handle("open_gate", command("open_gate", "c1"))
    handler.handle("open_gate", command("open_gate", "c1"))

    assert gate.openings == []
    assert sink.results() == [("c1", "failed", "interrupted"), ("c1", "failed", "interrupted")]


def test_a_driver_failure_is_answered_failed_with_its_code_and_no_state(
    command_log: CommandLog,
) -> None:
    sink, gate = RecordingSink(), SimulatedGate(fail_with="gate_jammed")
    handler = handler_for(sink, command_log, gate)

    handler.handle("open_gate", command("open_gate", "c1"))

    assert sink.results() == [("c1", "accepted", None), ("c1", "failed", "gate_jammed")]
    assert sink.states() == []


def test_an_action_without_a_handler_is_rejected(command_log: CommandLog) -> None:
    sink, gate = RecordingSink(), SimulatedGate()
    handler = handler_for(sink, command_log, gate)

    handler.handle("reboot", command("reboot", "r1"))

    assert sink.results() == [("r1", "rejected", "unsupported_action")]


def test_an_undecodable_command_is_rejected_when_its_id_can_be_read(
    command_log: CommandLog,
) -> None:
    sink, gate = RecordingSink(), SimulatedGate()
    handler = handler_for(sink, command_log, gate)

    handler.handle("open_gate", command("open_gate", "bad1", hold_open_s=-1))
    handler.handle("open_gate", b"not json")

    assert sink.results() == [("bad1", "rejected", "invalid_command")]
    assert gate.openings == []


def test_the_switch_driver_refuses_a_channel_it_does_not_have() -> None:
    switch = SimulatedSwitch(channels=2)
    switch.set_switch(1, on=True)

    with pytest.raises(DriverError) as refused:
        switch.set_switch(2, on=True)

    assert refused.value.code == "no_such_channel"
    assert switch.state() == {"switch_0": False, "switch_1": True}
