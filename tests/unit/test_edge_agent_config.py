"""The agent's YAML config: what a valid file gives, and errors that name the key."""

from pathlib import Path

import pytest

from hgj_edge.agent.cli import main
from hgj_edge.agent.config import ConfigError, load_config

VALID = """
community: guangsha
device: gs-gate-north
device_type: gate
broker: {host: 127.0.0.1, port: 18830, username: u, password_file: PASSWORD}
outbox: {path: OUTBOX, max_messages: 500, replay_window_s: 5}
drivers: [{kind: simulated_gate}]
gate:
  methods: [face, card, pin]
  credentials:
    - {method: card, secret: "0012345678", person_id: r-0001}
    - {method: pin, secret: "4711", person_id: r-0002, expires_at: "2026-12-01T00:00:00Z"}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "password").write_text("s3cret\n", encoding="utf-8")
    text = text.replace("PASSWORD", str(tmp_path / "password"))
    path = tmp_path / "agent.yaml"
    path.write_text(text.replace("OUTBOX", str(tmp_path / "outbox.sqlite")), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, text))
    return str(refused.value)


def test_a_valid_file_gives_every_setting_and_reads_the_password_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID))

    assert (config.community, config.device, config.root) == ("guangsha", "gs-gate-north", "hgj")
    assert (config.broker.port, config.outbox.max_messages) == (18830, 500)
    assert config.gate is not None
    assert [c.person_id for c in config.gate.credentials] == ["r-0001", "r-0002"]
    password = config.broker.resolved_password()
    assert password is not None
    assert password.get_secret_value() == "s3cret"


def test_an_unknown_key_is_refused_with_its_path(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("port: 18830", "port: 18830, prot: 1"))
    assert "broker.prot: Extra inputs are not permitted" in message
    assert str(tmp_path / "agent.yaml") in message


def test_a_wrong_type_names_the_key(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("max_messages: 500", "max_messages: many"))
    assert "outbox.max_messages:" in message


def test_a_face_only_gate_is_refused(tmp_path: Path) -> None:
    text = VALID.replace("methods: [face, card, pin]", "methods: [face]")
    text = text.split("  credentials:")[0]
    message = error_of(tmp_path, text)
    assert "gate:" in message
    assert "at least one non-face credential" in message


def test_credentials_of_a_method_the_gate_does_not_accept_are_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("methods: [face, card, pin]", "methods: [card]"))
    assert "credentials of methods ['pin']" in message


def test_a_gate_section_without_a_gate_driver_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("[{kind: simulated_gate}]", "[]"))
    assert "a gate section needs a gate driver" in message


def test_password_and_password_file_together_are_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace("username: u,", "username: u, password: x,"))
    assert "give password or password_file, not both" in message


def test_not_yaml_and_a_missing_file_are_clear_errors(tmp_path: Path) -> None:
    assert "not valid YAML" in error_of(tmp_path, "community: [unclosed")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_the_cli_exits_2_and_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, VALID.replace("device_type: gate", "device_type: toaster"))

    code = main(["run", "--config", str(path)])

    assert code == 2
    assert "device_type:" in capsys.readouterr().err


def test_the_shipped_example_is_a_valid_gate_config() -> None:
    example = Path(__file__).parents[2] / "edge" / "examples" / "gate-agent.yaml"

    config = load_config(example)

    assert config.gate is not None
    assert set(config.gate.methods) == {"face", "card", "qr", "pin"}
    assert config.broker.tls is not None


def test_the_cli_exits_2_when_the_password_file_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, VALID)
    (tmp_path / "password").unlink()

    code = main(["run", "--config", str(path)])

    assert code == 2
    assert "broker.password_file: cannot read" in capsys.readouterr().err
    assert not (tmp_path / "outbox.sqlite").exists()  # refused before anything was created
