"""Run whole communities: one MQTT session per device, all in one event loop.

This is the coroutine API that the CLI, the ``make run`` orchestrator and tests share::

    stop, stats = asyncio.Event(), SimStats()
    await run_community(load_community("guangsha"), BrokerAddress("127.0.0.1", 1883), "hgj",
                        credentials, interval_s=None, count=None, stop=stop, stats=stats)
"""

import asyncio
import random
from collections.abc import Mapping

from hgj_contracts.ids import check_identifier
from hgj_sim.behaviour import DeviceBehaviour
from hgj_sim.credentials import check_credentials, community_usernames, device_username
from hgj_sim.model import Community
from hgj_sim.session import Backoff, BrokerAddress, DeviceSession, SessionSettings
from hgj_sim.stats import SimStats

__all__ = ["Backoff", "BrokerAddress", "SimStats", "community_usernames", "run_community"]

DEFAULT_CONNECT_CONCURRENCY = 16
"""Devices allowed to be mid-CONNECT at once; the rest queue, which staggers a cold start."""


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
) -> None:
    """Simulate every device of ``community`` until ``stop`` is set or each has sent ``count``.

    ``credentials`` maps each device's username (see ``community_usernames``) to its password;
    a missing one fails here, before anything connects. ``interval_s`` replaces every device's
    report period and ``speed`` divides it. ``stats`` may be shared by several communities.
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
        interval_s=interval_s,
        speed=speed,
        count=count,
        backoff=backoff or Backoff(),
    )
    gate = asyncio.Semaphore(connect_concurrency)
    sessions = [
        DeviceSession(
            DeviceBehaviour(device, seed),
            credentials[device_username(community.id, device.id)],
            settings,
            stats,
            gate,
            random.Random(f"{seed}/{community.id}/{device.id}/schedule"),
        )
        for device in community.devices
    ]
    async with asyncio.TaskGroup() as group:
        for session in sessions:
            group.create_task(session.run(stop), name=f"sim {session.username}")
