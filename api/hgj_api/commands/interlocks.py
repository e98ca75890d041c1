"""Interlocks: commands that must not be carried out while the community is in danger.

The rule of the issue: no closing a fire-lane gate and no switching off a fire pump while a fire
alarm is active in its community; a reboot takes either out of service for a while, so it is
refused too. Opening a gate, pinging or changing a report interval are always allowed.

The rules are pure (``evaluate`` takes the active alerts as data and does no I/O) so that every
case is a one-line unit test; ``Interlocks`` reads the alerts from the state database. They live
in the API, not in ``hgj_statedb``: the API is the only issuer of commands, which devices count
as fire equipment is its configuration, and the state database stays storage shared with
ingest. A refusal is not an error: the command is stored ``refused`` with the reason, so the
guard, the audit log and the console all see what was asked and why it was not done.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hgj_contracts.ids import Identifier
from hgj_statedb.alert_store import MAX_PAGE
from hgj_statedb.command_views import Refusal
from hgj_statedb.models import AlertState
from hgj_statedb.views import AlertView

SafetyRole = Literal["fire_lane_gate", "fire_pump"]

_WHAT_IT_MUST_DO: Final[dict[SafetyRole, str]] = {
    "fire_lane_gate": "fire-lane gate {device} must stay open",
    "fire_pump": "fire pump {device} must keep running",
}


class ProtectedDevice(BaseModel):
    """A device that fire fighting depends on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    community: Identifier
    device: Identifier
    role: SafetyRole


class InterlockConfig(BaseModel):
    """Which devices are fire equipment, and which alert rules mean "fire"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fire_rules: frozenset[Identifier] = Field(
        default=frozenset({"smoke"}),
        description="alert rules whose active alerts mean a fire in the community",
    )
    protected: tuple[ProtectedDevice, ...] = ()

    @model_validator(mode="after")
    def _one_role_per_device(self) -> Self:
        keys = [(p.community, p.device) for p in self.protected]
        if len(keys) != len(set(keys)):
            raise ValueError("a device is listed twice in protected")
        return self

    def role_of(self, community: str, device: str) -> SafetyRole | None:
        for entry in self.protected:
            if (entry.community, entry.device) == (community, device):
                return entry.role
        return None


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    """What the rules need of an alert."""

    alert_id: str
    rule: str


def unsafe_effect(action: str, parameters: Mapping[str, Any]) -> str | None:
    """What the command would do to fire equipment, or None when it cannot hurt: switching
    off (a fire-lane gate driven by a switch closes) or rebooting (out of service)."""
    if action == "set_switch" and parameters.get("on") is False:
        return "switching it off"
    if action == "reboot":
        return "rebooting it"
    return None


def evaluate(
    *,
    device: str,
    role: SafetyRole | None,
    action: str,
    parameters: Mapping[str, Any],
    active_alerts: Iterable[ActiveAlert],
    fire_rules: frozenset[str],
) -> Refusal | None:
    """The refusal for this command, or None when it may go ahead.

    ``active_alerts`` are the community's active alerts (any device): a fire anywhere in the
    community is what matters to its fire lane and its pumps."""
    if role is None:
        return None
    effect = unsafe_effect(action, parameters)
    if effect is None:
        return None
    fires = sorted(a.alert_id for a in active_alerts if a.rule in fire_rules)
    if not fires:
        return None
    what = _WHAT_IT_MUST_DO[role].format(device=device)
    return Refusal(
        error_code=f"interlock_{role}",
        error=f"{what} while a fire alarm is active ({', '.join(fires)}); refused {effect}",
    )


class ActiveAlertSource(Protocol):
    """The part of ``AlertStore`` the interlocks read."""

    def list_alerts(
        self, *, community: str | None = ..., state: AlertState | None = ..., limit: int = ...
    ) -> Sequence[AlertView]: ...


RoleSource = Callable[[str, str], SafetyRole | None]
"""(community, device) → its safety role, from somewhere other than the configuration (the
API's device registry: ``hgj_api.commands.wiring.registry_roles``)."""

REGISTRY_ROLES: Final[Mapping[str, SafetyRole]] = {
    "gate": "fire_lane_gate",
    "water_pump": "fire_pump",
}
"""The registry's ``device_type`` → safety role. Deliberately broad: the registry does not say
which gate is on the fire lane or which pump feeds the hydrants, and treating every gate and
pump as fire equipment only refuses closing, switching off or rebooting them while a fire
alarm is active in their community, which an operator can wait out or do on site."""


def role_of_type(device_type: str | None) -> SafetyRole | None:
    return None if device_type is None else REGISTRY_ROLES.get(device_type)


class Interlocks:
    """The rules applied to the alerts in the state database. A device's role comes from the
    configuration (``protected``), else from ``roles`` (the registry) when given."""

    def __init__(
        self,
        config: InterlockConfig,
        alerts: ActiveAlertSource,
        roles: RoleSource | None = None,
    ) -> None:
        self._config = config
        self._alerts = alerts
        self._roles = roles

    def role_of(self, community: str, device: str) -> SafetyRole | None:
        role = self._config.role_of(community, device)
        if role is None and self._roles is not None:
            role = self._roles(community, device)
        return role

    def check(
        self, community: str, device: str, action: str, parameters: Mapping[str, Any]
    ) -> Refusal | None:
        if unsafe_effect(action, parameters) is None:
            return None  # nothing to look up: most commands end here
        role = self.role_of(community, device)
        if role is None:
            return None
        active = self._alerts.list_alerts(community=community, state="active", limit=MAX_PAGE)
        return evaluate(
            device=device,
            role=role,
            action=action,
            parameters=parameters,
            active_alerts=[ActiveAlert(a.alert_id, a.rule) for a in active],
            fire_rules=self._config.fire_rules,
        )
