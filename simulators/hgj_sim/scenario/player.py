"""Play a scenario live against a broker: every participant its own MQTT session, the timeline
in simulated time once the whole cast is online.

Simulated time starts only when every participant has connected (or ``ready_timeout_s`` has
passed), so that a slow cold start does not swallow the first steps.
"""

import asyncio
import logging
from collections.abc import Callable, Mapping

from hgj_contracts.ids import check_identifier
from hgj_sim.actions import Stop
from hgj_sim.clock import SimClock
from hgj_sim.credentials import check_credentials, device_username
from hgj_sim.link import Backoff, BrokerAddress
from hgj_sim.responder import CommandPolicy
from hgj_sim.runner import DEFAULT_CONNECT_CONCURRENCY, CastMember, SessionFactory, run_sessions
from hgj_sim.scenario.prepared import PreparedScenario
from hgj_sim.session import SessionSettings
from hgj_sim.stats import SimStats

log = logging.getLogger(__name__)

Narrator = Callable[[float, str], None]
"""Told each note of the timeline as it happens: (offset in simulated seconds, text)."""


async def play_scenario(
    run: PreparedScenario,
    broker: BrokerAddress,
    root: str,
    credentials: Mapping[str, str],
    *,
    stop: asyncio.Event,
    stats: SimStats,
    cast_only: bool = False,
    seed: int | None = None,
    commands: CommandPolicy | None = CommandPolicy(),  # noqa: B008 - frozen, shared safely
    backoff: Backoff | None = None,
    narrate: Narrator | None = None,
    ready_timeout_s: float = 60.0,
    connect_concurrency: int = DEFAULT_CONNECT_CONCURRENCY,
    clock_out: list[SimClock] | None = None,
) -> None:
    """Play ``run`` until its end (every device then says goodbye) or until ``stop``.

    ``cast_only`` connects only the devices the scenario uses; otherwise the whole community
    runs beside them, on the same simulated clock. ``clock_out`` receives the clock (for a
    progress display).
    """
    check_identifier(root, "root")
    participants = run.participants(cast_only)
    check_credentials(credentials, [device_username(run.community.id, d.id) for d in participants])
    settings = SessionSettings(
        broker=broker,
        root=root,
        community=run.community.id,
        backoff=backoff or Backoff(),
        commands=commands,
    )
    clock = SimClock(run.origin, run.speed)
    if clock_out is not None:
        clock_out.append(clock)
    go, everyone_ready = asyncio.Event(), asyncio.Event()
    waiting = len(participants)

    def ready() -> None:
        nonlocal waiting
        waiting -= 1
        if waiting == 0:
            everyone_ready.set()

    factory = SessionFactory(
        run.community,
        settings,
        credentials,
        stats,
        clock,
        run.scenario.seed if seed is None else seed,
        connect_concurrency,
        go=go,
        on_ready=ready,
    )
    end = [(run.scenario.duration, Stop())]
    sessions = [
        factory.session(
            CastMember(
                device,
                device.report_interval_s,
                run.compiled.scripted.get(device.id, end),
                run.min_spacing_s,
            )
        )
        for device in participants
    ]

    async def start_when_ready() -> None:
        try:
            async with asyncio.timeout(ready_timeout_s):
                await everyone_ready.wait()
        except TimeoutError:
            log.warning(
                "%d of %d devices not online after %.0f s; starting without them",
                waiting,
                len(participants),
                ready_timeout_s,
            )
        loop = asyncio.get_running_loop()
        clock.start(loop.time())
        go.set()
        for at, text in run.compiled.notes if narrate is not None else []:
            delay = clock.loop_time_at(at) - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if stop.is_set():
                return
            assert narrate is not None
            narrate(at, text)

    starter = asyncio.create_task(start_when_ready())
    try:
        await run_sessions(sessions, stop)
    finally:
        starter.cancel()
