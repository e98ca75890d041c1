"""``python -m hgj_sim scenarios``: the built-in scenarios, one in detail, or its messages."""

from typing import Annotated

import typer
from rich.table import Table

from hgj_sim.cli_support import CommunityOption, console, hms, load_communities
from hgj_sim.scenario import (
    PreparedScenario,
    ScenarioFileError,
    builtin_scenarios,
    dry_run,
    load_scenario,
    scenario_path,
)
from hgj_sim.scenario.model import ScenarioFile


def _prepare(scenario: ScenarioFile, community: list[str] | None, speed: float) -> PreparedScenario:
    names = community or [scenario.community]
    try:
        return PreparedScenario.prepare(scenario, load_communities(names)[0], speed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _overview() -> Table:
    table = Table("scenario", "community", "starts", "lasts", "events", "alerts it should raise")
    for name in builtin_scenarios():
        scenario = load_scenario(name)
        run = _prepare(scenario, None, 1.0)
        starts = scenario.starts_at.strftime("%H:%M") if scenario.starts_at else "now"
        rules = sorted({e.rule for e in run.expected_alerts()})
        table.add_row(
            scenario.id,
            scenario.community,
            starts,
            hms(scenario.duration),
            str(run.compiled.events),
            ", ".join(rules) or "-",
        )
    return table


def _details(run: PreparedScenario) -> None:
    scenario = run.scenario
    console.print(f"[bold]{scenario.id}[/]  {scenario.title_zh} / {scenario.title_en}")
    console.print(
        f"file: {scenario_path(scenario.id) if scenario.id in builtin_scenarios() else ''}"
    )
    if scenario.description:
        console.print(scenario.description.strip(), soft_wrap=True)
    cast = Table("cast", "devices", title=f"cast in {run.community.id}")
    for name, devices in run.cast.items():
        shown = ", ".join(d.id for d in devices[:6]) + (" ..." if len(devices) > 6 else "")
        cast.add_row(name, f"{shown} ({len(devices)})" if len(devices) > 1 else shown)
    console.print(cast)
    notes = Table("at", "what happens", title="timeline")
    for at, text in run.compiled.notes:
        notes.add_row(hms(at), text)
    console.print(notes)
    expected = Table("rule", "device", "ends", title="alerts it should raise (shipped rules)")
    for alert in sorted(run.expected_alerts(), key=lambda e: (e.rule, e.device)):
        expected.add_row(alert.rule, alert.device, alert.ends)
    console.print(expected)
    console.print(f"{run.compiled.events} events; lasts {hms(scenario.duration)} of simulated time")


def scenarios(
    name: Annotated[
        str | None, typer.Argument(help="a scenario to show in detail (name or .yaml path)")
    ] = None,
    community: CommunityOption = None,
    dry_run_: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="print every message the scenario's devices would send (offset, topic, "
            "payload), without a broker",
        ),
    ] = False,
    speed: Annotated[
        float, typer.Option(help="with --dry-run: the speed it would be played at")
    ] = 1.0,
    root: Annotated[str, typer.Option(help="with --dry-run: topic root")] = "hgj",
) -> None:
    """List the scenarios, or show one: cast, timeline, expected alerts.

    Scenarios are seeded, repeatable timelines in data files. Play one with `run --scenario NAME`.
    """
    if name is None:
        console.print(_overview())
        return
    try:
        scenario = load_scenario(name)
    except ScenarioFileError as exc:
        raise typer.BadParameter(str(exc), param_hint="NAME") from None
    if speed <= 0:
        raise typer.BadParameter("--speed must be positive")
    run = _prepare(scenario, community, speed)
    if not dry_run_:
        _details(run)
        return
    for message in dry_run(run, root):
        payload = message.message.payload.decode()
        typer.echo(f"{message.at:10.3f} {message.message.topic} {payload}")
