"""The gate agent with fakes: every way in opens the gate and is published with its method;
refusals are published with their reason and never open it."""

from datetime import timedelta

import pytest
from pydantic import SecretStr

from hgj_contracts.commands import OpenGateCommand
from hgj_edge.agent.config import CredentialEntry, GateConfig
from hgj_edge.agent.credentials import mask
from hgj_edge.agent.drivers import DriverError, SimulatedGate
from hgj_edge.agent.gate import GateAgent
from tests.edge_agent_support import NOW, RecordingSink, sender

CREDENTIALS = [
    CredentialEntry(method="card", secret=SecretStr("0012345678"), person_id="r-0001"),
    CredentialEntry(method="qr", secret=SecretStr("qr-token-77"), person_id="v-0009"),
    CredentialEntry(method="pin", secret=SecretStr("4711"), person_id="r-0002", expires_at=NOW),
]


def gate_agent(
    methods: list[str] | None = None, fail_with: str | None = None
) -> tuple[GateAgent, SimulatedGate, RecordingSink]:
    config = GateConfig.model_validate(
        {
            "methods": methods or ["face", "card", "qr", "pin"],
            "credentials": [c for c in CREDENTIALS if methods is None or c.method in methods],
        }
    )
    driver, sink = SimulatedGate(fail_with), RecordingSink()
    return GateAgent(config, driver, sender(sink), now=lambda: NOW), driver, sink


@pytest.mark.parametrize(
    ("method", "secret", "person"),
    [("card", "0012345678", "r-0001"), ("qr", "qr-token-77", "v-0009")],
)
def test_a_known_non_face_credential_opens_and_is_published_with_its_method(
    method: str, secret: str, person: str
) -> None:
    agent, driver, sink = gate_agent()

    decision = agent.present_credential(method, secret)  # type: ignore[arg-type]

    assert (decision.granted, decision.person_id) == (True, person)
    assert driver.openings == [5.0]
    [event] = sink.passages()
    assert (event.method, event.granted, event.person_id) == (method, True, person)
    assert event.credential_ref == mask(method, secret)
    assert secret not in sink.of("event")[0].model_dump_json()


def test_a_recognised_resident_opens_by_face() -> None:
    agent, driver, sink = gate_agent()

    assert agent.face_recognised("r-0003", "resident").granted

    assert driver.openings == [5.0]
    [event] = sink.passages()
    assert (event.method, event.granted, event.person_id, event.reason) == (
        "face",
        True,
        "r-0003",
        None,
    )


@pytest.mark.parametrize(
    ("method", "secret", "reason"),
    [
        ("card", "9999999999", "unknown_card"),
        ("pin", "4711", "expired_pin"),
        ("pin", "1", "unknown_pin"),
    ],
)
def test_a_refused_credential_does_not_open_and_says_why(
    method: str, secret: str, reason: str
) -> None:
    agent, driver, sink = gate_agent()

    decision = agent.present_credential(method, secret)  # type: ignore[arg-type]

    assert (decision.granted, decision.reason) == (False, reason)
    assert driver.openings == []
    [event] = sink.passages()
    assert (event.method, event.granted, event.reason) == (method, False, reason)
    assert event.credential_ref == ("card:****9999" if method == "card" else "pin:****")


def test_a_stranger_face_and_a_method_the_gate_lacks_are_refused() -> None:
    agent, driver, sink = gate_agent(methods=["card"])
    no_face = agent.face_recognised("r-0003", "resident")
    agent_with_face, driver_with_face, sink2 = gate_agent()
    stranger = agent_with_face.face_recognised("s-0001", "stranger")

    assert (no_face.granted, no_face.reason) == (False, "method_not_accepted")
    assert (stranger.granted, stranger.reason) == (False, "face_stranger")
    assert driver.openings == driver_with_face.openings == []
    assert [e.reason for e in sink.passages() + sink2.passages()] == [
        "method_not_accepted",
        "face_stranger",
    ]


def test_a_jammed_gate_reports_the_passage_refused_with_the_drivers_code() -> None:
    agent, _, sink = gate_agent(fail_with="gate_jammed")

    decision = agent.present_credential("card", "0012345678")

    assert (decision.granted, decision.reason) == (False, "gate_jammed")
    assert [(e.granted, e.reason) for e in sink.passages()] == [(False, "gate_jammed")]


def test_a_remote_opening_is_a_passage_with_the_command_id() -> None:
    agent, driver, sink = gate_agent()
    command = OpenGateCommand(
        ts=NOW,
        command_id="c1",
        expires_at=NOW + timedelta(seconds=30),
        hold_open_s=8.0,
        issued_by="op-1",
    )

    data = agent.open_remote(command)

    assert data == {"hold_open_s": 8.0}
    assert driver.openings == [8.0]
    [event] = sink.passages()
    assert (event.method, event.command_id, event.person_id) == ("remote", "c1", "op-1")


def test_a_remote_opening_of_a_jammed_gate_raises_for_the_command_handler() -> None:
    agent, _, sink = gate_agent(fail_with="gate_jammed")
    command = OpenGateCommand(ts=NOW, command_id="c1", expires_at=NOW + timedelta(seconds=30))

    with pytest.raises(DriverError):
        agent.open_remote(command)
    assert sink.passages() == []
