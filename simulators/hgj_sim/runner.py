"""Run whole communities: one MQTT session per device, all in one event loop.

This is the coroutine API that the CLI, the ``make run`` orchestrator and tests share::

    stop, stats = asyncio.Event(), SimStats()
    await run_community(load_community("guangsha"), BrokerAddress("127.0.0.1", 1883), "hgj",
                        credentials, interval_s=None, count=None, stop=stop, stats=stats)
"""

import asyncio
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from hgj_contracts import utc_now
from hgj_contracts.ids import check_identifier
from hgj_sim.actions import Action
from hgj_sim.clock import SimClock
from hgj_sim.credentials import check_credentials, community_usernames, device_username
from hgj_sim.device import DeviceRuntime
from hgj_sim.faults import fault_actions
from hgj_sim.inventory import SimDevice
from hgj_sim.link import Backoff, BrokerAddress
from hgj_sim.model import Community
from hgj_sim.responder import CommandPolicy
from hgj_sim.schedule import DeviceSchedule
from hgj_sim.session import DeviceSession, SessionSettings
from hgj_sim.stats import SimStats

__all__ = [
    "Backoff",
    "BrokerAddress",
    "CommandPolicy",
    "SimStats",
    "community_usernames",
    "run_community",
]

DEFAULT_CONNECT_CONCURRENCY = 16
"""Devices allowed to be mid-CONNECT at once; the rest queue, which staggers a cold start."""


@dataclass(frozen=True)
class CastMember:
    """A device of a run with what it will do: its report period (simulated seconds) and
    scripted actions in time order."""

    device: SimDevice
    period_s: float
    scripted: Iterable[tuple[float, Action]] = ()
    min_spacing_s: float = 0.0


@dataclass
class SessionFactory:
    """Builds the sessions of one community run, sharing its settings, clock and counters."""

    community: Community
    settings: SessionSettings
    credentials: Mapping[str, str]
    stats: SimStats
    clock: SimClock
    seed: int | str = 0
    connect_concurrency: int = DEFAULT_CONNECT_CONCURRENCY
    go: asyncio.Event | None = None
    on_ready: Callable[[], None] | None = None
    _gate: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._gate = asyncio.Semaphore(self.connect_concurrency)

    def session(self, member: CastMember) -> DeviceSession:
        device = member.device
        commands = self.settings.commands
        runtime = DeviceRuntime(
            device,
            self.community.id,
            self.settings.root,
            self.seed,
            report_period_s=member.period_s,
            reboot_s=commands.reboot_s if commands is not None else 5.0,
        )
        rng = random.Random(f"{self.seed}/{self.community.id}/{device.id}/schedule")
        schedule = DeviceSchedule(
            period_s=member.period_s,
            # Jittered first report, so that devices started together do not report together.
            first_report_s=rng.uniform(0, member.period_s),
            scripted=member.scripted,
            min_spacing_s=member.min_spacing_s,
        )
        return DeviceSession(
            runtime,
            schedule,
            self.credentials[device_username(self.community.id, device.id)],
            self.settings,
            self.stats,
            self._gate,
            self.clock,
            rng=rng,
            go=self.go,
            on_ready=self.on_ready,
        )


async def run_sessions(sessions: Iterable[DeviceSession], stop: asyncio.Event) -> None:
    async with asyncio.TaskGroup() as group:
        for session in sessions:
            group.create_task(session.run(stop), name=f"sim {session.username}")


async def run_community(
    community: Community,
    broker: BrokerAddress,
    root: str,
    credentials: Mapping[str, str],
    *,
    interval_s: float | None = None,
    speed: float = 1.0,
    count: int | None = None,
    stop: asyncio.Event,
    stats: SimStats,
    seed: int | str = 0,
    backoff: Backoff | None = None,
    connect_concurrency: int = DEFAULT_CONNECT_CONCURRENCY,
    faults: bool = False,
    commands: CommandPolicy | None = CommandPolicy(),  # noqa: B008 - frozen, shared safely
) -> None:
    """Simulate every device of ``community`` until ``stop`` is set or each has sent ``count``.

    ``credentials`` maps each device's username (see ``community_usernames``) to its password;
    a missing one fails here, before anything connects. ``interval_s`` replaces every device's
    report period and ``speed`` divides it. ``faults`` adds the community's seeded network
    flaps and offline periods (also sped up by ``speed``); ``commands`` sets how devices
    answer commands (default: at once, never failing; None: they subscribe to none). ``stats``
    may be shared by several communities.
    """
    check_identifier(root, "root")
    if speed <= 0 or (interval_s is not None and interval_s <= 0):
        raise ValueError("speed and interval_s must be positive")
    if count is not None and count < 1:
        raise ValueError("count must be at least 1")
    check_credentials(credentials, community_usernames(community))
    settings = SessionSettings(
        broker=broker,
        root=root,
        community=community.id,
        count=count,
        backoff=backoff or Backoff(),
        commands=commands,
    )
    loop = asyncio.get_running_loop()
    clock = SimClock(origin=utc_now())
    clock.start(loop.time())
    factory = SessionFactory(
        community, settings, credentials, stats, clock, seed, connect_concurrency
    )

    def member(device: SimDevice) -> CastMember:
        period = (interval_s or device.report_interval_s) / speed
        scripted: Iterable[tuple[float, Action]] = ()
        if faults:
            # Faults are in the community's days; --speed compresses them like the periods.
            rng = random.Random(f"{seed}/{community.id}/{device.id}/faults")
            scripted = ((at / speed, a) for at, a in fault_actions(community.faults, rng))
        return CastMember(device, period, scripted)

    await run_sessions((factory.session(member(d)) for d in community.devices), stop)
