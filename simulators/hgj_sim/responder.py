"""How a simulated device answers a remote command: a plan of actions, decided on arrival.

Like real firmware it refuses what it cannot trust or do (a payload that breaks the contract, an
action it does not have, a command already past ``expires_at``: a gate must not open minutes
late), executes each ``command_id`` once (QoS 1 may deliver a command twice), answers
``accepted`` at once and ``succeeded`` or ``failed`` after its latency. A configurable share of
commands fails, and another share is never answered at all (lost on the radio), which is how the
platform's timeout path gets exercised. Decisions come from a seeded generator, so a run is
repeatable.
"""

import json
import random
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from hgj_contracts import COMMAND
from hgj_contracts.commands import DeviceCommand, SetSwitchCommand
from hgj_contracts.errors import ContractError
from hgj_contracts.ids import is_identifier
from hgj_sim.actions import Action, Answer, Execute, Fail
from hgj_sim.inventory import SimDevice

EVERY_DEVICE = frozenset({"ping", "reboot", "set_report_interval"})
ACTIONS_BY_TYPE: dict[str, frozenset[str]] = {
    "gate": EVERY_DEVICE | {"open_gate"},
    "access_controller": EVERY_DEVICE | {"open_gate"},
    "street_light": EVERY_DEVICE | {"set_switch"},
    "water_pump": EVERY_DEVICE | {"set_switch"},
    "charging_monitor": EVERY_DEVICE | {"set_switch"},
}
"""What each device type can do; other types do only what every device does."""

FAILURES = {
    "open_gate": ("gate_jammed", "the barrier did not move"),
    "set_switch": ("relay_fault", "the relay did not switch"),
    "set_report_interval": ("config_write_failed", "the setting could not be stored"),
    "reboot": ("busy", "a firmware update is running"),
}
"""How each action fails on the device (ping always gets an answer if it arrives)."""


@dataclass(frozen=True, slots=True)
class CommandPolicy:
    """How a run's devices answer commands."""

    latency_s: float = 0.2
    """Mean seconds (wall clock) from ``accepted`` to the outcome; each is drawn between half
    and one and a half times this."""
    failure_rate: float = 0.0
    """Share of accepted commands that fail."""
    drop_rate: float = 0.0
    """Share of commands never answered at all."""
    memory: int = 1000
    """Command ids remembered to execute each once."""
    reboot_s: float = 5.0
    """Simulated seconds a device is away after a commanded reboot."""

    def __post_init__(self) -> None:
        if self.latency_s < 0:
            raise ValueError("latency_s must not be negative")
        for name in ("failure_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.memory < 1:
            raise ValueError("memory must be at least 1")


Plan = list[tuple[float, Action]]
"""Actions, each ``seconds`` of wall-clock time after the command arrived."""


@dataclass(slots=True)
class ResponderStats:
    received: int = 0
    duplicates: int = 0
    expired: int = 0
    rejected: int = 0
    dropped: int = 0
    accepted: int = 0


class CommandResponder:
    """Turns one device's incoming commands into plans."""

    def __init__(self, device: SimDevice, policy: CommandPolicy, rng: random.Random) -> None:
        self.device = device
        self.policy = policy
        self.stats = ResponderStats()
        self._rng = rng
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._can = ACTIONS_BY_TYPE.get(device.device_type, EVERY_DEVICE)

    def plan(self, action: str, payload: bytes, now: datetime) -> Plan:
        """The answer to a message on ``.../cmd/{action}`` received at ``now`` (wall clock)."""
        self.stats.received += 1
        try:
            command = COMMAND.decode(payload, {"action": action})
        except ContractError as exc:
            return self._refuse_undecodable(action, payload, exc)
        if command.command_id in self._seen:
            self.stats.duplicates += 1
            return []
        self._remember(command.command_id)
        if command.expires_at <= now:
            self.stats.expired += 1
            late = (now - command.expires_at).total_seconds()
            error = f"command expired {late:.1f} s before it arrived"
            return [(0.0, Answer(command.command_id, action, "expired", "expired", error))]
        refusal = self._refusal(command)
        if refusal is not None:
            self.stats.rejected += 1
            code, error = refusal
            return [(0.0, Answer(command.command_id, action, "rejected", code, error))]
        if self._rng.random() < self.policy.drop_rate:
            self.stats.dropped += 1
            return []
        self.stats.accepted += 1
        latency = self.policy.latency_s * self._rng.uniform(0.5, 1.5)
        outcome: Action = Execute(command)
        failure = FAILURES.get(command.action)
        if failure is not None and self._rng.random() < self.policy.failure_rate:
            outcome = Fail(command, *failure)
        return [(0.0, Answer(command.command_id, action, "accepted")), (latency, outcome)]

    def _refusal(self, command: DeviceCommand) -> tuple[str, str] | None:
        if command.action not in self._can:
            return "unsupported_action", f"a {self.device.device_type} cannot {command.action}"
        if isinstance(command, SetSwitchCommand) and command.channel != 0:
            return "no_such_channel", f"channel {command.channel}: this device switches one load"
        return None

    def _refuse_undecodable(self, action: str, payload: bytes, exc: ContractError) -> Plan:
        """Answer ``rejected`` when the command id can be read, so the sender learns why;
        otherwise there is nobody to answer."""
        self.stats.rejected += 1
        try:
            command_id = json.loads(payload).get("command_id")
        except (ValueError, AttributeError):
            return []
        if not isinstance(command_id, str) or not is_identifier(command_id):
            return []
        if not is_identifier(action):
            return []
        error = str(exc)[:500]
        return [(0.0, Answer(command_id, action, "rejected", "invalid_command", error))]

    def _remember(self, command_id: str) -> None:
        self._seen[command_id] = None
        while len(self._seen) > self.policy.memory:
            self._seen.popitem(last=False)
