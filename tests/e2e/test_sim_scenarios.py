"""Every scenario, played on the real broker with ingest running the shipped rules: the alerts
it declares are raised (and cleared, or not) and no other; every message its devices publish
meets the contract.

Scenarios play fast (simulated time runs a few hundred to ten thousand times faster than real
time) with only their cast connected. Nothing is timed: the test waits until ingest has handled
every device message, then for the alerts, then lets two rule ticks pass before comparing.
"""

import asyncio
import time

import pytest

from hgj_devstack.influx import InfluxDB
from hgj_sim.link import BrokerAddress
from hgj_sim.model import load_community
from hgj_sim.scenario import PreparedScenario, builtin_scenarios, load_scenario, play_scenario
from hgj_sim.stats import SimStats
from tests.helpers import MosquittoFactory, MqttTestClient, wait_until
from tests.ingest_stack import ingest_slice
from tests.sim_support import contract_violations, device_messages, expected_alerts, observed_alerts

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

WALL_S = 1.5
"""Roughly how long each scenario plays (the day: four times as long)."""
TICKS_S = 2.0
"""Ingest's rule tick runs every second: time-driven changes (auto-clears) show within two."""
TIMEOUT = 60.0


def _speed(duration_s: float) -> float:
    wall = WALL_S * (4 if duration_s >= 86400 else 1)
    return max(1.0, duration_s / wall)


@pytest.mark.parametrize("name", builtin_scenarios())
def test_scenario_raises_its_alerts_and_nothing_else(
    name: str,
    mosquitto_factory: MosquittoFactory,
    influxdb: InfluxDB,
    influx_db: str,
    topic_root: str,
) -> None:
    scenario = load_scenario(name)
    community = load_community(scenario.community)
    run = PreparedScenario.prepare(scenario, community, _speed(scenario.duration))
    with ingest_slice(
        mosquitto_factory, influxdb, influx_db, topic_root, run.cast_devices, community.id
    ) as stack:
        credentials = {a.username: a.password for _, a in stack.devices.values()}
        service = stack.ingest()
        try:
            with MqttTestClient.connected(stack.broker, stack.admin) as watcher:
                watcher.subscribe(f"{topic_root}/#")
                stats = SimStats()
                broker = BrokerAddress(stack.broker.host, stack.broker.port)
                play = play_scenario(
                    run,
                    broker,
                    topic_root,
                    credentials,
                    stop=asyncio.Event(),
                    stats=stats,
                    cast_only=True,
                )
                asyncio.run(asyncio.wait_for(play, TIMEOUT))
                published = device_messages(watcher.messages)
                wait_until(
                    lambda: service.counters.get("stored_messages") >= len(published),
                    TIMEOUT,
                    message=f"ingest handling {len(published)} device messages",
                )
                expected = expected_alerts(run)
                wait_until(
                    lambda: observed_alerts(watcher.messages) == expected,
                    TIMEOUT,
                    message=f"alerts {dict(expected)}",
                )
                time.sleep(TICKS_S)
                messages = watcher.messages
        finally:
            service.stop()

    assert observed_alerts(messages) == expected
    assert contract_violations(messages) == []
    assert stats.errors == 0, stats
    rejected = {k: v for k, v in service.counters.snapshot().items() if k.startswith("rejected")}
    assert rejected == {}
    assert stats.events == run.compiled.events
