"""Play a scenario without a broker: every message its devices would send, in simulated time.

It builds devices and schedules exactly as a live run does (``hgj_sim.runner``), so for the same
scenario, seed and speed it yields the same payloads in the same order per device; only a live
run's periodic readings may fall elsewhere if the process falls behind. The broker's part (the
last will on a lost connection) is played here too.
"""

import random
from collections import deque
from dataclasses import dataclass

from hgj_sim.actions import Action, Stop
from hgj_sim.clock import SimClock
from hgj_sim.device import Control, DeviceRuntime, Outgoing
from hgj_sim.inventory import SimDevice
from hgj_sim.scenario.prepared import PreparedScenario
from hgj_sim.schedule import DeviceSchedule


@dataclass(frozen=True, slots=True)
class DryMessage:
    at: float
    """Offset in simulated seconds."""
    device: str
    message: Outgoing


def _device_messages(
    run: PreparedScenario, device: SimDevice, root: str, seed: int | str
) -> list[DryMessage]:
    clock = SimClock(run.origin, run.speed)
    period = device.report_interval_s
    scripted: list[tuple[float, Action]] = run.compiled.scripted.get(
        device.id, [(run.scenario.duration, Stop())]
    )
    runtime = DeviceRuntime(device, run.community.id, root, seed, report_period_s=period)
    rng = random.Random(f"{seed}/{run.community.id}/{device.id}/schedule")
    schedule = DeviceSchedule(
        period_s=period,
        first_report_s=rng.uniform(0, period),
        scripted=scripted,
        min_spacing_s=run.min_spacing_s,
    )
    out: list[DryMessage] = []
    backlog: deque[Outgoing] = deque()

    def send(at: float, message: Outgoing) -> None:
        out.append(DryMessage(at, device.id, message))

    statuses = runtime.begin_session(clock.at(0.0))
    send(0.0, statuses.online)
    connected = True
    while schedule.next_time() is not None:
        at, action = schedule.pop()
        step = runtime.apply(action, clock.at(at))
        for after, follow_up in step.follow_ups:
            schedule.insert(at + after, follow_up)
        for message in step.messages:
            if connected:
                send(at, message)
            elif message.channel != "telemetry":
                backlog.append(message)
        control = step.control
        if connected and control is Control.DROP:
            send(at, statuses.will)  # the broker's part
            connected = False
        elif connected and control in (Control.GOODBYE, Control.STOP):
            send(at, runtime.goodbye(clock.at(at), statuses.shutdown_seq))
            connected = False
        elif control is Control.RECONNECT or (
            control is Control.CONNECT and not connected and runtime.wants_connection
        ):
            statuses = runtime.begin_session(clock.at(at))
            send(at, statuses.online)
            while backlog:
                send(at, backlog.popleft())
            connected = True
        if control is Control.STOP:
            break
    return out


def dry_run(
    run: PreparedScenario, root: str, *, cast_only: bool = True, seed: int | str | None = None
) -> list[DryMessage]:
    """Every message of the run, in simulated-time order (device order within a moment)."""
    chosen = run.scenario.seed if seed is None else seed
    messages = [
        m for d in run.participants(cast_only) for m in _device_messages(run, d, root, chosen)
    ]
    return sorted(messages, key=lambda m: m.at)
