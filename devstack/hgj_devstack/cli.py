"""Command line of the local stack (the Makefile calls these)."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from hgj_devstack import contract_docs

REPO_ROOT = Path(__file__).resolve().parents[2]

app = typer.Typer(help="Hongguanjia local stack: run, status, docs, bench.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Hongguanjia local stack."""


@app.command()
def docs(
    check: Annotated[bool, typer.Option(help="fail when the generated files are stale")] = False,
) -> None:
    """Generate docs/mqtt-contract.md and docs/schemas/*.json from the contract."""
    docs_dir = REPO_ROOT / "docs"
    if check:
        stale = contract_docs.stale_files(docs_dir)
        if stale:
            names = ", ".join(str(p.relative_to(REPO_ROOT)) for p in stale)
            typer.echo(f"generated contract docs are stale: {names}; run `make docs`", err=True)
            raise typer.Exit(1)
        typer.echo("contract docs are current")
        return
    written = contract_docs.write_files(docs_dir)
    typer.echo(f"wrote {len(written)} file(s)" if written else "contract docs already current")


@app.command()
def run(
    interval: Annotated[float, typer.Option(help="seconds between a device's readings")] = 10.0,
    mqtt_port: Annotated[int, typer.Option(help="broker port (a free one if taken)")] = 18830,
    influx_port: Annotated[int, typer.Option(help="InfluxDB port (a free one if taken)")] = 18086,
    api_port: Annotated[int, typer.Option(help="API port (a free one if taken)")] = 18000,
    embedded: Annotated[
        bool, typer.Option(help="use the embedded broker and store even if binaries exist")
    ] = False,
) -> None:
    """Start broker, InfluxDB, ingest, the API and the simulators of both communities;
    Ctrl-C stops."""
    from hgj_devstack.run_stack import RunOptions
    from hgj_devstack.run_stack import run as run_stack

    options = RunOptions(
        interval_s=interval,
        mqtt_port=mqtt_port,
        influx_port=influx_port,
        api_port=api_port,
        force_embedded=embedded,
    )
    raise typer.Exit(run_stack(options))


@app.command("broker-accounts")
def broker_accounts(
    out: Annotated[Path, typer.Option(help="directory the broker mounts as its config dir")] = Path(
        "deploy/mosquitto/secrets"
    ),
    root: Annotated[str, typer.Option(help="topic root of the deployment")] = "hgj",
    community: Annotated[
        list[str] | None, typer.Option(help="simulated community whose devices get accounts")
    ] = None,
    force: Annotated[bool, typer.Option(help="replace an existing accounts file")] = False,
) -> None:
    """Write a new broker's first accounts (control, ingest, api, simulated devices) for
    docker compose; the API manages devices from then on."""
    from hgj_devstack.broker_accounts import ENV_FILE, write_broker_accounts

    names = community if community is not None else ["guangsha", "guanbeigou"]
    try:
        written = write_broker_accounts(out, root, names, force=force)
    except FileExistsError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"wrote accounts for {written.devices} devices and 3 services to {out}/; "
        f"copy the passwords in {out / ENV_FILE} into .env"
    )


@app.command()
def status() -> None:
    """Devices online per community, points stored, ingest counters of the running stack."""
    from rich.console import Console

    from hgj_devstack import stack_state
    from hgj_devstack import status as stack_status

    state = stack_state.load()
    if state is None:
        typer.echo("nothing is running: start the stack with `make run`", err=True)
        raise typer.Exit(1)
    try:
        report = stack_status.collect(state)
    except RuntimeError as err:
        typer.echo(f"the stack in .run/ is not answering ({err}); is `make run` running?", err=True)
        raise typer.Exit(1) from None
    Console().print(stack_status.render(state, report))


class BenchPart(StrEnum):
    ALL = "all"
    INGEST = "ingest"
    SIM = "sim"
    API = "api"
    FACE = "face"


@app.command()
def bench(
    messages: Annotated[int, typer.Option(help="backlog size per round")] = 60_000,
    rounds: Annotated[int, typer.Option(help="rounds; the median is reported")] = 2,
    output: Annotated[Path, typer.Option(help="JSON file the figures are merged into")] = Path(
        ".bench/results.json"
    ),
    alert_seconds: Annotated[
        float, typer.Option(help="how long smoke alarms are timed under telemetry load")
    ] = 30.0,
    sim_messages: Annotated[
        int, typer.Option(help="messages per round of the simulator's load-mode bench")
    ] = 60_000,
    sim_rounds: Annotated[int, typer.Option(help="rounds of the load-mode bench")] = 5,
    api_alerts: Annotated[
        int, typer.Option(help="alerts stored for the API's alert-list bench")
    ] = 10_000,
    api_requests: Annotated[
        int, typer.Option(help="timed requests per alert-list case (and as many baselines)")
    ] = 300,
    api_clients: Annotated[
        int, typer.Option(help="WebSocket clients on the API's live stream")
    ] = 100,
    api_stream_alerts: Annotated[
        int, typer.Option(help="alert changes timed to every WebSocket client")
    ] = 50,
    only: Annotated[BenchPart, typer.Option(help="run one part only")] = BenchPart.ALL,
) -> None:
    """Ingest throughput as a ratio to a raw paho → InfluxDB pipe, alert latency under load
    beside a raw MQTT round trip, the simulator's load mode as a ratio to a bare paho
    publisher, and the API's alert list (beside /healthz and the SQL) and live stream (beside
    a plain MQTT subscriber), and the camera's face core at 640x480 on one core (identify
    beside raw numpy); each measured against its baseline in the same run."""
    if only in (BenchPart.ALL, BenchPart.INGEST):
        from hgj_devstack import bench as ingest_bench
        from hgj_devstack.bench_alerts import AlertBenchParams

        alerts = AlertBenchParams(duration_s=alert_seconds)
        ingest_bench.run(total=messages, rounds=rounds, results_file=output, alerts=alerts)
    if only in (BenchPart.ALL, BenchPart.SIM):
        from hgj_devstack import bench_sim

        bench_sim.run(total=sim_messages, rounds=sim_rounds, results_file=output)
    if only in (BenchPart.ALL, BenchPart.API):
        from hgj_devstack import bench_api

        api = bench_api.ApiBenchParams(
            alerts=api_alerts,
            list_requests=api_requests,
            clients=api_clients,
            stream_alerts=api_stream_alerts,
        )
        bench_api.run(api, results_file=output)
    if only in (BenchPart.ALL, BenchPart.FACE):
        from hgj_devstack import bench_face

        bench_face.run(results_file=output)
