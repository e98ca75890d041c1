"""One simulated device as the platform sees it: the messages it sends for each action, its
sequence numbers, outputs, power and link. Pure: no clock, no I/O.

Every payload is built as a contract model and encoded by its channel, so a message that breaks
the contract fails here, in the simulator, not at ingest. Each channel counts its own ``seq``
from 1; a power cycle starts every count again (status reason ``startup``).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from hgj_contracts import (
    COMMAND_RESULT,
    DEVICE_STATE,
    DEVICE_STATUS,
    EVENT,
    TELEMETRY,
    CommandResult,
    DeviceState,
    StatusReason,
    StatusState,
)
from hgj_contracts.channel import Channel
from hgj_contracts.commands import (
    DeviceCommand,
    OpenGateCommand,
    RebootCommand,
    SetReportIntervalCommand,
    SetSwitchCommand,
)
from hgj_contracts.events import DEVICE_EVENT_ADAPTER
from hgj_sim.actions import (
    Action,
    Actuate,
    Answer,
    Emit,
    Execute,
    Fail,
    LinkDown,
    LinkUp,
    PowerOff,
    PowerOn,
    Report,
    SetReadings,
    Stop,
)
from hgj_sim.behaviour import FIRMWARE, DeviceBehaviour
from hgj_sim.inventory import SimDevice

P = TypeVar("P")


_HAZARD_KINDS = frozenset(
    {
        "smoke",
        "water_leak",
        "door_held_open",
        "ebike_in_elevator",
        "ebike_charging",
        "tamper",
        "camera_offline",
    }
)
"""Event kinds with a ``location`` field, which a device fills with where it is mounted."""


class Control(StrEnum):
    """What an action asks of the connection."""

    NONE = "none"
    CONNECT = "connect"
    """Power or network is back: connect if not connected."""
    DROP = "drop"
    """Lose the connection without a goodbye: the broker publishes the last will."""
    GOODBYE = "goodbye"
    """Say offline (``shutdown``) and disconnect, as before a reboot."""
    RECONNECT = "reconnect"
    """Disconnect cleanly and connect again, to announce a changed status."""
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message ready for the broker."""

    channel: str
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True, slots=True)
class Step:
    """What one action produced."""

    messages: tuple[Outgoing, ...] = ()
    control: Control = Control.NONE
    follow_ups: tuple[tuple[float, Action], ...] = ()
    """Further actions, each ``seconds`` of simulated time from now."""


@dataclass(frozen=True, slots=True)
class SessionStatuses:
    """The status messages of one MQTT session, numbered when it starts."""

    online: Outgoing
    will: Outgoing
    shutdown_seq: int


class DeviceRuntime:
    """The state of one simulated device between actions."""

    def __init__(
        self,
        device: SimDevice,
        community: str,
        root: str,
        seed: int | str = 0,
        *,
        report_period_s: float | None = None,
        gateway: str | None = None,
        reboot_s: float = 5.0,
    ) -> None:
        self.device = device
        self.community = community
        self.behaviour = DeviceBehaviour(device, seed)
        self.report_period_s = report_period_s or device.report_interval_s
        """Seconds of simulated time between readings; announced in the online status."""
        self.gateway = gateway
        self.reboot_s = reboot_s
        """Simulated seconds the device is away after a commanded reboot."""
        self.powered = True
        self.link_up = True
        self._ids = {"root": root, "community": community, "device": device.id}
        self._status_seq = 0
        self._event_seq = 0
        self._result_seq = 0
        self._state_seq = 0

    @property
    def wants_connection(self) -> bool:
        return self.powered and self.link_up

    # statuses -----------------------------------------------------------------------------

    def begin_session(self, now: datetime) -> SessionStatuses:
        """Number the statuses of a new session: its online status, its last will, its
        goodbye. The will is composed now but reaches consumers after the online status, so it
        takes the higher number: within a run the status with the highest seq is the latest.
        Only one of will and goodbye is ever delivered; the other leaves a gap."""
        reason: StatusReason = "startup" if self._status_seq == 0 else "reconnect"
        self.behaviour.boot(now)
        online, will, shutdown = self._status_seq + 1, self._status_seq + 2, self._status_seq + 3
        self._status_seq = shutdown
        return SessionStatuses(
            online=self._status("online", reason, now, online),
            will=self._status("offline", "connection_lost", now, will),
            shutdown_seq=shutdown,
        )

    def goodbye(self, now: datetime, seq: int) -> Outgoing:
        return self._status("offline", "shutdown", now, seq)

    def _status(
        self, state: StatusState, reason: StatusReason, now: datetime, seq: int
    ) -> Outgoing:
        payload = self.behaviour.status(
            state, reason, now, seq, report_interval_s=self.report_period_s, gateway=self.gateway
        )
        return self._out(DEVICE_STATUS, payload, {})

    # actions ------------------------------------------------------------------------------

    def apply(self, action: Action, now: datetime) -> Step:
        """The messages, connection change and follow-ups of ``action`` at ``now``."""
        match action:
            case Stop():
                return Step(control=Control.STOP)
            case LinkDown():
                was_up, self.link_up = self.link_up, False
                return Step(control=Control.DROP if was_up and self.powered else Control.NONE)
            case LinkUp():
                self.link_up = True
                return Step(control=Control.CONNECT)
            case PowerOff(graceful=graceful, by_mains=by_mains):
                if (by_mains and not self.device.mains_powered) or not self.powered:
                    return Step()  # a battery sensor rides through a power cut
                self.powered = False
                return Step(control=Control.GOODBYE if graceful else Control.DROP)
            case PowerOn():
                if self.powered:
                    return Step()
                self.powered = True
                self._restart(now)
                return Step(control=Control.CONNECT)
        if not self.powered:
            return Step()  # a dead device measures nothing and answers nothing
        match action:
            case Report():
                return Step((self.telemetry(now),))
            case SetReadings(values=values, report=report):
                self.behaviour.set_readings(values)
                return Step((self.telemetry(now),) if report else ())
            case Emit(kind=kind, fields=fields):
                return Step((self.event(kind, fields, now),))
            case Answer():
                return Step((self._answer(action, now),))
            case Fail(command=command, error_code=code, error=error):
                result = Answer(command.command_id, command.action, "failed", code, error)
                return Step((self._answer(result, now), self.state(now, command.command_id)))
            case Actuate(changes=changes):
                self.behaviour.actuators.update(changes)
                return Step((self.state(now),))
            case Execute(command=command):
                return self._execute(command, now)
        raise AssertionError(f"unhandled action {action!r}")  # pragma: no cover

    def _restart(self, now: datetime) -> None:
        self.behaviour.restart(now)
        self._status_seq = self._event_seq = self._result_seq = self._state_seq = 0

    # payloads -----------------------------------------------------------------------------

    def telemetry(self, now: datetime) -> Outgoing:
        return self._out(TELEMETRY, self.behaviour.next_telemetry(now), {})

    def event(self, kind: str, fields: Mapping[str, object], now: datetime) -> Outgoing:
        self._event_seq += 1
        data: dict[str, object] = {**fields, "kind": kind, "ts": now, "seq": self._event_seq}
        if kind in _HAZARD_KINDS and "location" not in fields:
            data["location"] = self.device.location
        payload = DEVICE_EVENT_ADAPTER.validate_python(data)
        return self._out(EVENT, payload, {"kind": kind})

    def state(self, now: datetime, command_id: str | None = None) -> Outgoing:
        self._state_seq += 1
        state = {**self.behaviour.actuators, "report_interval_s": self.report_period_s}
        payload = DeviceState(ts=now, seq=self._state_seq, state=state, command_id=command_id)
        return self._out(DEVICE_STATE, payload, {})

    def _answer(
        self,
        answer: Answer,
        now: datetime,
        data: dict[str, str | int | float | bool | None] | None = None,
    ) -> Outgoing:
        self._result_seq += 1
        payload = CommandResult.model_validate(
            {
                "ts": now,
                "seq": self._result_seq,
                "command_id": answer.command_id,
                "action": answer.action,
                "status": answer.status,
                "data": data,
                "error_code": answer.error_code,
                "error": answer.error,
            }
        )
        return self._out(COMMAND_RESULT, payload, {"action": answer.action})

    def _execute(self, command: DeviceCommand, now: datetime) -> Step:
        actuators = self.behaviour.actuators
        data: dict[str, str | int | float | bool | None]
        extra: list[Outgoing] = []
        follow_ups: list[tuple[float, Action]] = []
        control = Control.NONE
        match command:
            case OpenGateCommand(hold_open_s=hold):
                actuators["gate"] = "open"
                data = {"gate": "open", "hold_open_s": hold}
                fields = {"method": "remote", "granted": True, "command_id": command.command_id}
                extra.append(self.event("gate_passage", fields, now))
                follow_ups.append((hold, Actuate({"gate": "closed"})))
            case SetSwitchCommand(on=on):
                actuators["switch_on"] = on
                data = {"switch_on": on}
            case SetReportIntervalCommand(interval_s=interval):
                self.report_period_s = interval
                data = {"report_interval_s": interval}
                control = Control.RECONNECT  # the online status announces the new period
            case RebootCommand():
                data = {"down_s": self.reboot_s}
                control = Control.GOODBYE
                self.powered = False
                follow_ups.append((self.reboot_s, PowerOn()))
            case _:  # ping
                data = {"firmware": FIRMWARE, "uptime": self.behaviour.uptime(now)}
        done = Answer(command.command_id, command.action, "succeeded")
        # The device answers before it goes away to reboot; state follows the change.
        messages = (self._answer(done, now, data), *extra, self.state(now, command.command_id))
        return Step(messages, control, tuple(follow_ups))

    def _out(self, channel: Channel[P], payload: P, params: dict[str, str]) -> Outgoing:
        return Outgoing(
            channel=channel.name,
            topic=channel.topic(**self._ids, **params),
            payload=channel.encode(payload),
            qos=channel.qos,
            retain=channel.retain,
        )
