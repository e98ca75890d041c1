"""``python -m hgj_sim load``: N devices publishing telemetry at a given rate."""

import json
import signal
from dataclasses import asdict
from types import FrameType
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from hgj_contracts.ids import is_identifier
from hgj_sim.cli_support import (
    CredentialsOption,
    HostOption,
    PortOption,
    RootOption,
    check_root,
    console,
    read_credentials,
)
from hgj_sim.load.engine import LoadCounters, LoadEngine, LoadPlan, LoadSummary, credentials_from


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]load[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("acked [green]{task.fields[acked]:,}[/]"),
        TextColumn("{task.fields[rate]:>9,.0f} msg/s"),
        TextColumn("errors [red]{task.fields[errors]:,}[/]"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _summary_table(summary: LoadSummary) -> Table:
    plan, c = summary.plan, summary.counters
    mode = "one per device" if plan.per_device else f"{summary.connections} gateways"
    table = Table("", "", title="load summary", show_header=False)
    rows = [
        ("devices", f"{plan.devices:,}"),
        ("connections", mode),
        ("target rate", "as fast as acknowledged" if plan.rate == 0 else f"{plan.rate:,.0f} msg/s"),
        ("seconds", f"{c.seconds:,.2f}"),
        ("sent", f"{c.sent:,}"),
        ("acknowledged", f"{c.acked:,}"),
        ("rate", f"{c.rate:,.0f} msg/s (acknowledged)"),
        ("errors", f"{c.errors:,}"),
        ("failed connects", f"{c.connect_failures:,}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def load(
    credentials: CredentialsOption,
    devices: Annotated[int, typer.Option(help="simulated devices", min=1)] = 1000,
    rate: Annotated[
        float, typer.Option(help="messages per second over all devices; 0: as fast as possible")
    ] = 1000.0,
    duration: Annotated[
        float | None, typer.Option(help="seconds to publish (default 60 unless --messages)")
    ] = None,
    messages: Annotated[int | None, typer.Option(help="messages to publish in all", min=1)] = None,
    connections: Annotated[
        int,
        typer.Option(help="gateway connections the devices share (many devices, few connections)"),
    ] = 4,
    per_device: Annotated[
        bool, typer.Option("--per-device", help="one connection per device, each its own account")
    ] = False,
    community: Annotated[
        str, typer.Option(help="community id the load devices belong to (their topics)")
    ] = "load",
    prefix: Annotated[str, typer.Option(help="device ids are PREFIX-000001 ...")] = "ld",
    cameras: Annotated[
        float,
        typer.Option(help="share of the devices that are face cameras, sending face events"),
    ] = 0.1,
    username: Annotated[
        str | None,
        typer.Option(
            help="log every connection in as this account (e.g. admin); by default gateway k "
            "logs in as COMMUNITY.PREFIX-gw-0k and a device as COMMUNITY.DEVICE"
        ),
    ] = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 1883,
    root: RootOption = "hgj",
    qos: Annotated[int, typer.Option(help="0 or 1 (the contract's telemetry QoS is 1)")] = 1,
    window: Annotated[int, typer.Option(help="in-flight QoS 1 messages per connection")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Publish telemetry from many simulated devices at a target rate.

    A progress bar runs while it publishes, and a summary follows (sent, acknowledged, rate,
    errors). Gateway style by default: --connections connections each publish for their share of the
    devices, under accounts whose ACL covers the community (hgj_brokeradmin's gateway_account,
    or --username admin). --per-device opens one connection per device with its own account.
    Example: `load --devices 20000 --rate 5000 --credentials creds.json`. Exits 1 on errors.
    """
    check_root(root)
    if not is_identifier(community):
        raise typer.BadParameter(f"{community!r} is not an id", param_hint="--community")
    if duration is None and messages is None:
        duration = 60.0
    try:
        plan = LoadPlan(
            host=host,
            port=port,
            root=root,
            community=community,
            devices=devices,
            rate=rate,
            messages=messages,
            duration_s=duration,
            connections=None if per_device else min(connections, devices),
            prefix=prefix,
            camera_share=cameras,
            qos=qos,
            window=window,
        )
        engine = LoadEngine(
            plan, credentials_from(read_credentials(credentials), community, username=username)
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    stopping = False

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = signal.signal(signal.SIGINT, on_signal)
    total = (
        messages if messages is not None else (int(rate * duration) if rate and duration else None)
    )
    try:
        with _progress() as progress:
            task = progress.add_task("load", total=total, acked=0, rate=0.0, errors=0)

            def show(counters: LoadCounters, task: TaskID = task) -> None:
                progress.update(
                    task,
                    completed=counters.sent,
                    acked=counters.acked,
                    rate=counters.rate,
                    errors=counters.errors + counters.connect_failures,
                )

            try:
                engine.connect(show)
            except KeyError as exc:
                raise typer.BadParameter(f"{exc.args[0]} (--credentials)") from None
            summary = engine.run(show, lambda: stopping)
            engine.close()
    finally:
        signal.signal(signal.SIGINT, previous)
    if as_json:
        figures = asdict(summary.counters) | {
            "rate": summary.rate,
            "seconds": summary.counters.seconds,
            "connections": summary.connections,
        }
        typer.echo(json.dumps(figures))
    else:
        console.print(_summary_table(summary))
    if summary.counters.errors or summary.counters.connect_failures:
        raise typer.Exit(1)
