"""Interlocks: fire equipment is not switched off or rebooted while the community has a fire."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from hgj_api.commands.interlocks import (
    ActiveAlert,
    InterlockConfig,
    Interlocks,
    ProtectedDevice,
    SafetyRole,
    evaluate,
)
from hgj_statedb.command_views import Refusal
from hgj_statedb.models import AlertState
from hgj_statedb.views import AlertView

SMOKE = ActiveAlert("a-1", "smoke")
LEAK = ActiveAlert("a-2", "water_leak")
FIRE_RULES = frozenset({"smoke"})


def check(
    role: SafetyRole | None,
    action: str,
    parameters: dict[str, Any],
    alerts: Sequence[ActiveAlert] = (SMOKE,),
) -> Refusal | None:
    return evaluate(
        device="gs-gate-fire",
        role=role,
        action=action,
        parameters=parameters,
        active_alerts=alerts,
        fire_rules=FIRE_RULES,
    )


@pytest.mark.parametrize("role", ["fire_lane_gate", "fire_pump"])
@pytest.mark.parametrize(
    ("action", "parameters", "effect"),
    [
        ("set_switch", {"on": False}, "switching it off"),
        ("set_switch", {"on": False, "channel": 3}, "switching it off"),
        ("reboot", {}, "rebooting it"),
    ],
)
def test_fire_equipment_is_not_disabled_during_a_fire(
    role: SafetyRole, action: str, parameters: dict[str, Any], effect: str
) -> None:
    refusal = check(role, action, parameters)
    assert refusal is not None
    assert refusal.error_code == f"interlock_{role}"
    assert "a-1" in refusal.error
    assert refusal.error.endswith(f"refused {effect}")


@pytest.mark.parametrize(
    ("action", "parameters"),
    [
        ("set_switch", {"on": True}),
        ("open_gate", {"hold_open_s": 30.0}),
        ("ping", {}),
        ("set_report_interval", {"interval_s": 10.0}),
    ],
)
def test_what_keeps_fire_equipment_working_is_allowed(
    action: str, parameters: dict[str, Any]
) -> None:
    assert check("fire_lane_gate", action, parameters) is None
    assert check("fire_pump", action, parameters) is None


def test_other_devices_and_other_alerts_are_not_interlocked() -> None:
    assert check(None, "set_switch", {"on": False}) is None
    assert check("fire_pump", "set_switch", {"on": False}, alerts=[LEAK]) is None
    assert check("fire_pump", "set_switch", {"on": False}, alerts=[]) is None


def test_every_fire_alarm_is_named() -> None:
    refusal = check("fire_pump", "reboot", {}, alerts=[ActiveAlert("a-9", "smoke"), LEAK, SMOKE])
    assert refusal is not None
    assert "(a-1, a-9)" in refusal.error
    assert "fire pump gs-gate-fire must keep running" in refusal.error


class FakeAlerts:
    def __init__(self, alerts: list[AlertView]) -> None:
        self.alerts = alerts
        self.queries: list[tuple[str | None, AlertState | None]] = []

    def list_alerts(
        self, *, community: str | None = None, state: AlertState | None = None, limit: int = 100
    ) -> list[AlertView]:
        self.queries.append((community, state))
        return [a for a in self.alerts if a.community == community and a.state == state]


def _alert(community: str, rule: str, state: AlertState = "active") -> AlertView:
    t = datetime(2026, 11, 27, tzinfo=UTC)
    return AlertView(
        alert_id=f"a-{community}-{rule}",
        community=community,
        device="gs-b01-smoke",
        rule=rule,
        severity="critical",
        state=state,
        acknowledged=True,  # acknowledged is not over: the fire is still burning
        acknowledged_by="u-1",
        acknowledged_at=t,
        assignee=None,
        count=1,
        raised_at=t,
        last_raised_at=t,
        cleared_at=None,
        last_event_time=t,
        message="smoke",
        escalation_level=0,
        next_escalation_at=None,
        updated_at=t,
    )


CONFIG = InterlockConfig(
    protected=(
        ProtectedDevice(community="guangsha", device="gs-gate-fire", role="fire_lane_gate"),
        ProtectedDevice(community="guangsha", device="gs-pump-1", role="fire_pump"),
    )
)


def test_the_communitys_active_alerts_decide() -> None:
    alerts = FakeAlerts([_alert("guanbeigou", "smoke"), _alert("guangsha", "water_leak")])
    interlocks = Interlocks(CONFIG, alerts)
    assert interlocks.check("guangsha", "gs-pump-1", "set_switch", {"on": False}) is None
    alerts.alerts.append(_alert("guangsha", "smoke"))
    refusal = interlocks.check("guangsha", "gs-pump-1", "set_switch", {"on": False})
    assert refusal is not None
    assert refusal.error_code == "interlock_fire_pump"
    assert alerts.queries[-1] == ("guangsha", "active")


def test_harmless_commands_do_not_even_read_the_alerts() -> None:
    alerts = FakeAlerts([_alert("guangsha", "smoke")])
    interlocks = Interlocks(CONFIG, alerts)
    assert interlocks.check("guangsha", "gs-gate-fire", "open_gate", {}) is None
    assert interlocks.check("guangsha", "gs-gate-n", "set_switch", {"on": False}) is None
    assert alerts.queries == []


def test_the_fire_rules_are_configurable() -> None:
    config = CONFIG.model_copy(update={"fire_rules": frozenset({"smoke", "temp_high"})})
    interlocks = Interlocks(config, FakeAlerts([_alert("guangsha", "temp_high")]))
    assert interlocks.check("guangsha", "gs-gate-fire", "reboot", {}) is not None


def test_the_config_rejects_unknown_keys_and_a_device_listed_twice() -> None:
    with pytest.raises(ValidationError, match="extra"):
        InterlockConfig.model_validate({"fire_rule": ["smoke"]})
    twice = [
        {"community": "guangsha", "device": "gs-pump-1", "role": r} for r in ("fire_pump",) * 2
    ]
    with pytest.raises(ValidationError, match="twice"):
        InterlockConfig.model_validate({"protected": twice})
    with pytest.raises(ValidationError):
        ProtectedDevice.model_validate({"community": "guangsha", "device": "x", "role": "lift"})
