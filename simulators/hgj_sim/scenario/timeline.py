"""A scenario compiled for one community: each device's scripted actions in time order."""

from collections.abc import Mapping
from dataclasses import dataclass

from hgj_sim.actions import Action, Emit, LinkDown, LinkUp, PowerOff, PowerOn, SetReadings, Stop
from hgj_sim.inventory import SimDevice
from hgj_sim.scenario.model import ScenarioFile, Step
from hgj_sim.scenario.traffic import generate


@dataclass(frozen=True)
class CompiledScenario:
    scripted: dict[str, list[tuple[float, Action]]]
    """Device id -> (offset, action) in time order, each ending with Stop at the end."""
    notes: list[tuple[float, str]]
    """What the timeline says is happening, in time order."""
    events: int
    """Event messages the scenario sends (scripted and generated)."""


def _action(step: Step) -> Action:
    if step.event is not None:
        fields = {k: v for k, v in step.event.items() if k != "kind"}
        return Emit(str(step.event["kind"]), fields)
    if step.readings is not None:
        return SetReadings(dict(step.readings), step.report)
    if step.power is not None:
        return PowerOff() if step.power == "off" else PowerOn()
    assert step.link is not None
    return LinkDown() if step.link == "down" else LinkUp()


def compile_scenario(
    scenario: ScenarioFile, cast: Mapping[str, tuple[SimDevice, ...]]
) -> CompiledScenario:
    """Scripted steps and generated traffic per device; every cast device stops at the end."""
    entries: list[tuple[float, int, str, Action]] = []
    order = 0
    notes: list[tuple[float, str]] = []
    events = 0
    for step in scenario.timeline:
        action = _action(step)
        for at in step.times:
            for name in step.devices:
                for device in cast[name]:
                    entries.append((at, order, device.id, action))
                    order += 1
                    events += isinstance(action, Emit)
            if step.note is not None:
                notes.append((at, step.note))
    start_hour = 0.0
    if scenario.starts_at is not None:
        start_hour = scenario.starts_at.hour + scenario.starts_at.minute / 60
    for device_id, at, action in generate(
        scenario.traffic, cast, scenario.seed, start_hour, scenario.duration
    ):
        entries.append((at, order, device_id, action))
        order += 1
        events += 1
    scripted: dict[str, list[tuple[float, Action]]] = {
        d.id: [] for devices in cast.values() for d in devices
    }
    for at, _, device_id, action in sorted(entries, key=lambda e: (e[0], e[1])):
        scripted[device_id].append((at, action))
    for actions in scripted.values():
        actions.append((scenario.duration, Stop()))
    return CompiledScenario(scripted, sorted(notes, key=lambda n: n[0]), events)
