"""Helpers for the simulator's tests: checking what was published against the contract and
reading the alerts a scenario produced."""

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from hgj_contracts import ALERT, Publisher, match_topic
from hgj_contracts.errors import ContractError
from hgj_sim.scenario import PreparedScenario
from tests.helpers import Received

AlertKey = tuple[str, str, str]
"""(rule, device, "active" or "cleared" at the end)."""


def contract_violations(messages: Iterable[Received]) -> list[str]:
    """Every message that breaks the contract, with the reason; empty when all are valid."""
    problems = []
    for message in messages:
        try:
            match = match_topic(message.topic)
            match.channel.decode(message.payload, match.params)
        except ContractError as exc:
            problems.append(f"{message.topic}: {exc}")
    return problems


def device_messages(messages: Iterable[Received]) -> list[Received]:
    """Messages on channels that devices publish."""
    return [m for m in messages if match_topic(m.topic).channel.publisher is Publisher.DEVICE]


def observed_alerts(messages: Iterable[Received]) -> Counter[AlertKey]:
    """One entry per alert (``alert_id``): cleared if any of its changes says so.

    Only raises and clears make an alert; repeats, escalations and reminders are changes of
    one that exists (escalation runs on the wall clock against event times in the past, so
    it is not the scenario's to predict)."""
    alerts: dict[str, tuple[str, str, bool]] = {}
    for message in messages:
        if match_topic(message.topic).channel is not ALERT:
            continue
        alert = json.loads(message.payload)
        rule, device, cleared = alerts.get(
            alert["alert_id"], (alert["rule"], alert["device"], False)
        )
        alerts[alert["alert_id"]] = (rule, device, cleared or alert["state"] == "cleared")
    return Counter(
        (rule, device, "cleared" if c else "active") for rule, device, c in alerts.values()
    )


def expected_alerts(run: PreparedScenario) -> Counter[AlertKey]:
    return Counter((e.rule, e.device, e.ends) for e in run.expected_alerts())


class InThread:
    """Run a simulator coroutine in a thread of its own, so that a test can talk to the broker
    with its synchronous client meanwhile; ``stop()`` asks it to stop cleanly and waits."""

    def __init__(self, work: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
        self._work = work
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self._work(self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by stop()
            self._error = exc

    def __enter__(self) -> "InThread":
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the simulator did not stop"
        if self._error is not None:
            raise self._error
