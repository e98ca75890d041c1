"""``python -m hgj_sim``: run communities against a broker, or list what a community holds."""

import asyncio
import contextlib
import logging
import signal
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from hgj_contracts.ids import check_identifier
from hgj_sim.credentials import (
    check_credentials,
    community_usernames,
    device_username,
    load_credentials,
)
from hgj_sim.model import BUILTIN_COMMUNITIES, Community, CommunityFileError, load_community
from hgj_sim.runner import BrokerAddress, SimStats, run_community

app = typer.Typer(
    help="Simulated sensors of Hongguanjia pilot communities, speaking the MQTT contract.",
    no_args_is_help=True,
)
console = Console()

CommunityOption = Annotated[
    list[str],
    typer.Option(
        "--community",
        "-c",
        help=f"built-in community ({', '.join(BUILTIN_COMMUNITIES)}) or path to a community "
        ".yaml file; repeat for several",
    ),
]


@app.callback()
def main() -> None:
    """Simulated sensors of Hongguanjia pilot communities."""


def _load(names: list[str]) -> list[Community]:
    try:
        communities = [load_community(name) for name in names]
    except CommunityFileError as exc:
        raise typer.BadParameter(str(exc), param_hint="--community") from None
    ids = [c.id for c in communities]
    if len(set(ids)) != len(ids):
        raise typer.BadParameter(f"a community is given twice: {ids}", param_hint="--community")
    return communities


class Protocol(StrEnum):
    V5 = "5"
    V311 = "3.1.1"


def _status_line(stats: SimStats, *, final: bool = False) -> Text:
    line = Text("stopped " if final else "running ", style="bold")
    line.append(f"devices {stats.devices}  connected {stats.connected}  ")
    line.append(f"sent {stats.sent}  ", style="green")
    line.append(f"errors {stats.errors}", style="red" if stats.errors else "")
    line.append(f"  lost {stats.lost}")
    return line


def _summary(stats: SimStats) -> str:
    return (
        f"summary: {stats.devices} devices, {stats.sent} readings sent, "
        f"{stats.refused} refused by the broker, {stats.failed} failed publishes, "
        f"{stats.connect_failures} failed connects, {stats.lost} lost sessions"
    )


def _configure_logging(level: str) -> None:
    if console.is_terminal:  # beside the live line, which rich keeps at the bottom
        logging.basicConfig(
            level=level.upper(),
            format="%(message)s",
            handlers=[RichHandler(console=console, show_path=False)],
        )
    else:  # a log file (`make run`): one unwrapped line per record
        logging.basicConfig(
            level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


@dataclass(frozen=True)
class _RunOptions:
    broker: BrokerAddress
    root: str
    interval_s: float | None
    speed: float
    count: int | None
    seed: int


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
                    seed=options.seed,
                )
            )


async def _show_live(stats: SimStats, work: "asyncio.Task[None]") -> None:
    with Live(_status_line(stats), console=console, refresh_per_second=4) as live:
        while not work.done():
            live.update(_status_line(stats))
            await asyncio.wait({work}, timeout=0.25)
        live.update(_status_line(stats, final=True))


async def _run(
    communities: list[Community],
    credentials: dict[str, str],
    options: _RunOptions,
    quiet: bool,
) -> SimStats:
    stop, stats = asyncio.Event(), SimStats()
    work = asyncio.create_task(_simulate(communities, credentials, options, stop, stats))

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
            await _show_live(stats, work)
        with contextlib.suppress(asyncio.CancelledError):
            await work
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return stats


@app.command()
def run(
    community: CommunityOption,
    credentials: Annotated[
        Path,
        typer.Option(help="JSON object mapping each device username to its password"),
    ],
    host: Annotated[str, typer.Option(help="broker host")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="broker port")] = 1883,
    protocol: Annotated[
        Protocol, typer.Option(help="MQTT version; 3.1.1 only for the embedded stand-in broker")
    ] = Protocol.V5,
    root: Annotated[str, typer.Option(help="topic root, the first topic level")] = "hgj",
    interval: Annotated[
        float | None,
        typer.Option(help="seconds between reports for every device, instead of their own"),
    ] = None,
    speed: Annotated[float, typer.Option(help="divide every report period by this")] = 1.0,
    count: Annotated[
        int | None, typer.Option(help="stop each device after this many readings")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the simulated readings")] = 0,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "warning",
    quiet: Annotated[
        bool, typer.Option("--quiet", help="no live status line, only warnings and a summary")
    ] = False,
) -> None:
    """Connect every device of the communities (one MQTT session each) and report telemetry.

    Ctrl-C stops cleanly: each device publishes its offline status and disconnects. Exits 1
    when the broker refused publishes or no device could connect.
    """
    if speed <= 0 or (interval is not None and interval <= 0):
        raise typer.BadParameter("--interval and --speed must be positive")
    if count is not None and count < 1:
        raise typer.BadParameter("--count must be at least 1")
    communities = _load(community)
    try:
        passwords = load_credentials(credentials)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--credentials") from None
    try:
        check_identifier(root, "root")
        for item in communities:
            check_credentials(passwords, community_usernames(item))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    options = _RunOptions(
        broker=BrokerAddress(host, port, protocol.value),
        root=root,
        interval_s=interval,
        speed=speed,
        count=count,
        seed=seed,
    )
    _configure_logging(log_level)
    stats = asyncio.run(_run(communities, passwords, options, quiet))
    if not console.is_terminal and not quiet:
        console.line()  # off a terminal, Live leaves its last line unterminated
    console.print(_summary(stats), soft_wrap=True)
    # Failed connects and lost sessions come and go with the broker and are retried; refusals
    # (an ACL, a wrong root) and a run where no device ever connected point at configuration.
    if stats.refused or stats.connects == 0:
        raise typer.Exit(1)


_SHORT_TYPE_NAMES = {
    "temp_humidity": "temp/RH",
    "smoke_detector": "smoke",
    "water_leak": "leak",
    "door_contact": "door",
}
"""Column headers that keep the inventory table within 80 columns."""


@app.command("list")
def list_devices(
    community: CommunityOption,
    devices: Annotated[bool, typer.Option("--devices", help="also list every device")] = False,
) -> None:
    """Print a community's inventory: device counts by type and building."""
    for item in _load(community):
        types = sorted({d.device_type for d in item.devices})
        table = Table(title=f"{item.name_zh} {item.name_en} ({item.id})")
        table.add_column("building")
        for device_type in types:
            table.add_column(_SHORT_TYPE_NAMES.get(device_type, device_type), justify="right")
        table.add_column("total", justify="right", style="bold")
        for building in sorted(item.buildings, key=lambda b: b.number):
            counts = Counter(d.device_type for d in item.devices if d.building == building.number)
            label = f"{building.display_name_zh} {building.floors}F x{building.units}"
            row = [str(counts[t]) for t in types]
            table.add_row(label, *row, str(sum(counts.values())))
        totals = Counter(d.device_type for d in item.devices)
        table.add_row("total", *(str(totals[t]) for t in types), str(len(item.devices)))
        console.print(table)
        if devices:
            listing = Table("device", "type", "location", "every (s)", "username")
            for d in item.devices:
                listing.add_row(
                    d.id,
                    d.device_type,
                    d.location,
                    f"{d.report_interval_s:g}",
                    device_username(item.id, d.id),
                )
            console.print(listing)
