"""``python -m hgj_sim run``: simulate communities, optionally playing a scenario on one."""

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.live import Live
from rich.text import Text

from hgj_sim.cli_support import (
    CommunityOption,
    CredentialsOption,
    HostOption,
    LogLevelOption,
    PortOption,
    Protocol,
    RootOption,
    check_root,
    configure_logging,
    console,
    hms,
    load_communities,
    read_credentials,
)
from hgj_sim.clock import SimClock
from hgj_sim.credentials import check_credentials, community_usernames, device_username
from hgj_sim.model import Community
from hgj_sim.responder import CommandPolicy
from hgj_sim.runner import BrokerAddress, SimStats, run_community
from hgj_sim.scenario import PreparedScenario, ScenarioFileError, load_scenario, play_scenario


@dataclass(frozen=True)
class _RunOptions:
    broker: BrokerAddress
    root: str
    interval_s: float | None
    speed: float
    count: int | None
    seed: int | None
    faults: bool
    commands: CommandPolicy | None


def _status_line(stats: SimStats, clock: SimClock | None, run: PreparedScenario | None) -> Text:
    line = Text("running ", style="bold")
    if run is not None and clock is not None:
        loop = asyncio.get_running_loop()
        offset = min(clock.offset(loop.time()), run.scenario.duration)
        local = clock.at(offset).astimezone(ZoneInfo(run.scenario.timezone))
        share = offset / run.scenario.duration
        line.append(f"{run.scenario.id} {local:%H:%M:%S} ({share:4.0%})  ", style="cyan")
    line.append(f"devices {stats.devices}  connected {stats.connected}  ")
    line.append(f"readings {stats.sent}  events {stats.events}  ", style="green")
    if stats.commands:
        line.append(f"commands {stats.commands}  ")
    line.append(f"errors {stats.errors}", style="red" if stats.errors else "")
    line.append(f"  lost {stats.lost}")
    return line


def _summary(stats: SimStats) -> str:
    return (
        f"summary: {stats.devices} devices, {stats.sent} readings and {stats.events} events "
        f"sent, {stats.commands} commands answered with {stats.answers} results and states, "
        f"{stats.refused} refused by the broker, {stats.failed} failed publishes, "
        f"{stats.connect_failures} failed connects, {stats.lost} lost sessions"
    )


async def _show_live(
    stats: SimStats,
    work: "asyncio.Task[None]",
    clocks: list[SimClock],
    run: PreparedScenario | None,
) -> None:
    def line() -> Text:
        return _status_line(stats, clocks[0] if clocks else None, run)

    with Live(line(), console=console, refresh_per_second=4) as live:
        while not work.done():
            live.update(line())
            await asyncio.wait({work}, timeout=0.25)
        final = line()
        final.stylize("dim")
        live.update(final)


async def _supervise(
    work_of: "Coroutine[Any, Any, None]",
    stop: asyncio.Event,
    stats: SimStats,
    quiet: bool,
    clocks: list[SimClock],
    run: PreparedScenario | None,
) -> None:
    work = asyncio.create_task(work_of)

    def on_signal() -> None:
        # First Ctrl-C: stop cleanly (offline statuses, DISCONNECT). Second: stop now.
        if stop.is_set():
            work.cancel()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        if not quiet:  # a live line in a log file (`make run`) would only print at the end
            await _show_live(stats, work, clocks, run)
        with contextlib.suppress(asyncio.CancelledError):
            await work
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _simulate(
    communities: list[Community],
    credentials: dict[str, str],
    options: _RunOptions,
    stop: asyncio.Event,
    stats: SimStats,
) -> None:
    async with asyncio.TaskGroup() as group:
        for community in communities:
            group.create_task(
                run_community(
                    community,
                    options.broker,
                    options.root,
                    credentials,
                    interval_s=options.interval_s,
                    speed=options.speed,
                    count=options.count,
                    stop=stop,
                    stats=stats,
                    seed=options.seed or 0,
                    faults=options.faults,
                    commands=options.commands,
                )
            )


def _prepare_scenario(name: str, communities: list[Community], speed: float) -> PreparedScenario:
    try:
        scenario = load_scenario(name)
    except ScenarioFileError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scenario") from None
    if len(communities) > 1:
        raise typer.BadParameter("a scenario plays on one community", param_hint="--community")
    community = communities[0] if communities else load_communities([scenario.community])[0]
    if community.id != scenario.community:
        console.print(
            f"[yellow]{scenario.id} was written for {scenario.community}; its cast is looked up "
            f"in {community.id}, and the alerts it expects may differ there[/]"
        )
    try:
        return PreparedScenario.prepare(scenario, community, speed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scenario") from None


def run(
    credentials: CredentialsOption,
    community: CommunityOption = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            help="play this scenario (a built-in name, see `scenarios`, or a .yaml path) on "
            "the community, then stop"
        ),
    ] = None,
    cast_only: Annotated[
        bool, typer.Option("--cast-only", help="with --scenario: connect only its devices")
    ] = False,
    host: HostOption = "127.0.0.1",
    port: PortOption = 1883,
    protocol: Annotated[
        Protocol, typer.Option(help="MQTT version; 3.1.1 only for the embedded stand-in broker")
    ] = Protocol.V5,
    root: RootOption = "hgj",
    interval: Annotated[
        float | None,
        typer.Option(help="seconds between reports for every device, instead of their own"),
    ] = None,
    speed: Annotated[
        float,
        typer.Option(
            help="without --scenario: divide every report period by this; with --scenario: "
            "play simulated time this many times faster than real time"
        ),
    ] = 1.0,
    count: Annotated[
        int | None, typer.Option(help="stop each device after this many readings")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="seed of readings and faults (a scenario's own by default)")
    ] = None,
    faults: Annotated[
        bool,
        typer.Option("--faults", help="seeded network flaps and offline periods (community file)"),
    ] = False,
    command_latency: Annotated[
        float, typer.Option(help="mean seconds from accepting a command to its outcome")
    ] = 0.2,
    command_failure_rate: Annotated[
        float, typer.Option(help="share of accepted commands that fail (0-1)")
    ] = 0.0,
    command_drop_rate: Annotated[
        float, typer.Option(help="share of commands never answered, as if lost (0-1)")
    ] = 0.0,
    no_commands: Annotated[
        bool,
        typer.Option(
            "--no-commands",
            help="devices subscribe to no commands (for a broker that cannot afford a "
            "subscription per device, such as make run's embedded stand-in)",
        ),
    ] = False,
    log_level: LogLevelOption = "warning",
    quiet: Annotated[
        bool, typer.Option("--quiet", help="no live status line, only warnings and a summary")
    ] = False,
) -> None:
    """Simulate communities, one MQTT session per device; or play a scenario on one.

    Every device reports telemetry and answers commands; with --scenario a scripted timeline
    plays on one community, then the run stops. Examples:
    `run -c guangsha --credentials creds.json`;
    `run --scenario night-stranger -c guangsha --speed 60 --credentials creds.json`.
    Ctrl-C stops cleanly: each device publishes its offline status and disconnects. Exits 1
    when the broker refused publishes or no device could connect.
    """
    if speed <= 0 or (interval is not None and interval <= 0):
        raise typer.BadParameter("--interval and --speed must be positive")
    if count is not None and count < 1:
        raise typer.BadParameter("--count must be at least 1")
    if scenario is not None and (interval is not None or count is not None or faults):
        raise typer.BadParameter("--interval, --count and --faults do not go with --scenario")
    if scenario is None and not community:
        raise typer.BadParameter("give --community (or --scenario)", param_hint="--community")
    try:
        commands = CommandPolicy(command_latency, command_failure_rate, command_drop_rate)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    communities = load_communities(community or [])
    prepared = None if scenario is None else _prepare_scenario(scenario, communities, speed)
    passwords = read_credentials(credentials)
    check_root(root)
    try:
        if prepared is not None:
            devices = prepared.participants(cast_only)
            wanted = [device_username(prepared.community.id, d.id) for d in devices]
            check_credentials(passwords, wanted)
        for item in communities:
            check_credentials(passwords, community_usernames(item))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--credentials") from None
    options = _RunOptions(
        BrokerAddress(host, port, protocol.value),
        root,
        interval,
        speed,
        count,
        seed,
        faults,
        None if no_commands else commands,
    )
    configure_logging(log_level)
    stats, stop, clocks = SimStats(), asyncio.Event(), list[SimClock]()

    def narrate(at: float, text: str) -> None:
        assert prepared is not None
        console.print(f"[cyan]{hms(at)}[/] {text}")

    async def main() -> None:
        if prepared is None:
            work = _simulate(communities, passwords, options, stop, stats)
        else:
            work = play_scenario(
                prepared,
                options.broker,
                root,
                passwords,
                stop=stop,
                stats=stats,
                cast_only=cast_only,
                seed=seed,
                commands=options.commands,
                narrate=narrate,
                clock_out=clocks,
            )
        await _supervise(work, stop, stats, quiet, clocks, prepared)

    asyncio.run(main())
    if not console.is_terminal and not quiet:
        console.line()  # off a terminal, Live leaves its last line unterminated
    console.print(_summary(stats), soft_wrap=True)
    if prepared is not None and prepared.scenario.expect:
        expected = sorted(prepared.expected_alerts(), key=lambda e: (e.rule, e.device))
        listed = ", ".join(f"{e.rule} on {e.device} ({e.ends})" for e in expected)
        console.print(f"alerts this scenario should raise: {listed}", soft_wrap=True)
    # Failed connects and lost sessions come and go with the broker and are retried; refusals
    # (an ACL, a wrong root) and a run where no device ever connected point at configuration.
    if stats.refused or stats.connects == 0:
        raise typer.Exit(1)
