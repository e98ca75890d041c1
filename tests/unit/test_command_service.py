"""Submitting commands without a broker: validation, refusals, and what waits for a dispatcher.

The dispatcher here is never connected, so nothing is published: commands stay queued for a
dispatcher to claim, and their announcements stay in the outbox (the MQTT paths are in
tests/integration/test_command_lifecycle.py).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from hgj_api.commands import (
    BrokerEndpoint,
    CommandConfig,
    CommandRequest,
    CommandRuntime,
    InterlockConfig,
    InvalidCommandError,
    ProtectedDevice,
)
from hgj_api.commands.dispatcher import expiry_interval
from hgj_api.commands.wiring import command_config, endpoint_of
from hgj_api.settings import ApiSettings
from hgj_statedb.alert_store import AlertStore
from hgj_statedb.command_store import CommandStore
from hgj_statedb.command_views import CommandChange, CommandView
from tests.statedb_fixtures import signal

OFFLINE = BrokerEndpoint("127.0.0.1")
"""Never started: these tests run without a broker."""
CONFIG = CommandConfig(
    max_ttl_s=600,
    sweep_interval_s=None,
    interlocks=InterlockConfig(
        protected=(ProtectedDevice(community="guangsha", device="gs-pump-1", role="fire_pump"),)
    ),
)


@dataclass
class Commands:
    runtime: CommandRuntime
    alerts: AlertStore
    audited: list[CommandChange] = field(default_factory=list)

    @property
    def store(self) -> CommandStore:
        return self.runtime.store

    def submit(self, request: CommandRequest) -> CommandView:
        return self.runtime.service.submit("guangsha", request, requested_by="u-guard1")


@pytest.fixture
def commands(tmp_path: Path) -> Iterator[Commands]:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = CommandStore.open(url)
    alerts = AlertStore.open(url, run_migrations=False)
    audited: list[CommandChange] = []
    try:
        yield Commands(
            CommandRuntime(CONFIG, OFFLINE, store, alerts, audit=audited.append), alerts, audited
        )
    finally:
        alerts.close()
        store.close()


def test_a_command_waits_queued_for_a_dispatcher_when_none_is_connected(
    commands: Commands,
) -> None:
    command = commands.submit(CommandRequest(device="gs-gate-n", action="open_gate"))
    assert (command.state, command.dispatch_attempts) == ("queued", 0)
    assert (command.expires_at - command.created_at).total_seconds() == CONFIG.default_ttl_s
    assert [c.event.to_state for c in commands.audited] == ["queued"]
    assert [p.payload.state for p in commands.store.undelivered_progress()] == ["queued"]
    assert commands.store.claim_for_dispatch(
        command.created_at, redispatch_after=CONFIG.redispatch_after
    ) == [commands.store.get(command.command_id)]


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({"action": "open_gate", "parameters": {"hold_open_s": 500.0}}, "hold_open_s"),
        ({"action": "set_switch", "parameters": {"of": False}}, "on"),
        ({"action": "set_switch", "parameters": {"on": False, "color": "red"}}, "no parameters"),
        ({"action": "fly"}, "fly"),
        ({"action": "ping", "ttl_s": 601.0}, "ttl_s"),
    ],
)
def test_requests_that_cannot_become_commands_are_refused(
    commands: Commands, request_fields: dict[str, object], message: str
) -> None:
    request = CommandRequest.model_validate({"device": "gs-gate-n", **request_fields})
    with pytest.raises(InvalidCommandError, match=message):
        commands.submit(request)
    assert commands.store.list_commands() == []
    assert commands.audited == []


def test_an_interlocked_command_is_stored_refused_and_audited(commands: Commands) -> None:
    commands.alerts.apply(signal("raise", 0))
    request = CommandRequest(device="gs-pump-1", action="set_switch", parameters={"on": False})
    command = commands.submit(request)
    assert (command.state, command.error_code) == ("refused", "interlock_fire_pump")
    assert [c.event.to_state for c in commands.audited] == ["refused"]
    assert (
        commands.store.claim_for_dispatch(
            command.created_at, redispatch_after=CONFIG.redispatch_after
        )
        == []
    )


def test_the_config_and_the_request_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="extra"):
        CommandConfig.model_validate({"ack_timeout": 3})
    with pytest.raises(ValidationError, match="extra"):
        CommandRequest.model_validate({"device": "d1", "action": "ping", "priority": 1})
    # One set of broker settings: the API's, with its default login.
    settings = ApiSettings(
        instance="api-2", mqtt_host="broker", mqtt_password=SecretStr("pw"), root="r1"
    )
    endpoint = endpoint_of(settings)
    assert endpoint is not None
    assert (endpoint.host, endpoint.username) == ("broker", "svc.api-2")
    assert (command_config(settings).root, command_config(settings).instance) == ("r1", "api-2")
    assert endpoint_of(ApiSettings()) is None  # no broker: no commands (503)


@pytest.mark.parametrize(
    ("remaining_s", "interval"), [(30.0, 29), (29.99, 28), (2.5, 1), (1.5, 1), (0.2, 1)]
)
def test_the_broker_is_told_to_drop_a_command_before_it_expires(
    remaining_s: float, interval: int
) -> None:
    assert expiry_interval(remaining_s) == interval
