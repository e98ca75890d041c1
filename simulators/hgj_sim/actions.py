"""What can happen to a simulated device at a moment of simulated time.

A device's schedule is a time-ordered list of these: its periodic reports, a scenario's scripted
steps, network faults, and the steps of answering a command. ``hgj_sim.device`` turns each into
messages; the session (live) or the dry run (offline) carries them out.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from hgj_contracts.commands import DeviceCommand
from hgj_sim.readings import Actuators


@dataclass(frozen=True, slots=True)
class Report:
    """The periodic telemetry reading."""


@dataclass(frozen=True, slots=True)
class SetReadings:
    """Metrics read these values from now on (None: back to the model); ``report`` sends a
    reading at once, as event-driven sensors do when a value jumps."""

    values: Mapping[str, float | None]
    report: bool = True


@dataclass(frozen=True, slots=True)
class Emit:
    """An event of ``kind`` with these payload fields (``ts``, ``seq`` and ``v`` are added)."""

    kind: str
    fields: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LinkDown:
    """The network goes: the connection drops without a goodbye, so the broker publishes the
    device's last will. The device keeps running and keeps what it could not send."""


@dataclass(frozen=True, slots=True)
class LinkUp:
    """The network is back: the device reconnects (status reason ``reconnect``)."""


@dataclass(frozen=True, slots=True)
class PowerOff:
    """Power is cut (``graceful`` False: the last will says so) or the device shuts down to
    reboot (``graceful``: it says goodbye). A battery sensor ignores a power cut."""

    graceful: bool = False
    by_mains: bool = True
    """A mains power cut, which battery devices ride through; False for a commanded reboot."""


@dataclass(frozen=True, slots=True)
class PowerOn:
    """Power is back: the device restarts, its counters from 1 (status reason ``startup``)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """Publish a command result without acting on the command (accepted, rejected, expired,
    failed)."""

    command_id: str
    action: str
    status: str
    error_code: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Execute:
    """Carry out an accepted command, then say ``succeeded`` and republish the state."""

    command: DeviceCommand


@dataclass(frozen=True, slots=True)
class Fail:
    """An accepted command that did not work: say ``failed`` and republish the unchanged state."""

    command: DeviceCommand
    error_code: str
    error: str


@dataclass(frozen=True, slots=True)
class Actuate:
    """Outputs change by themselves (a gate closing after its hold time); state republished."""

    changes: Actuators


@dataclass(frozen=True, slots=True)
class Stop:
    """The end of the run: goodbye (offline, ``shutdown``) and disconnect."""


Action = (
    Report
    | SetReadings
    | Emit
    | LinkDown
    | LinkUp
    | PowerOff
    | PowerOn
    | Answer
    | Execute
    | Fail
    | Actuate
    | Stop
)
