"""One simulated device's MQTT life: connect with its own account and last will, listen for its
commands, announce itself, carry out its schedule, say goodbye on a clean stop, lose the link or
its power when a fault or scenario says so, and come back when the broker does.

What to send comes from ``hgj_sim.device`` (contract models encoded by their channels); this
module only moves bytes and decides when.
"""

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from hgj_contracts import COMMAND, utc_now
from hgj_sim.clock import SimClock
from hgj_sim.device import Control, DeviceRuntime, Outgoing, SessionStatuses
from hgj_sim.link import Backoff, BrokerAddress
from hgj_sim.puback import PubackWatch
from hgj_sim.responder import CommandPolicy, CommandResponder
from hgj_sim.schedule import DeviceSchedule
from hgj_sim.stats import SimStats

log = logging.getLogger(__name__)

__all__ = ["Backoff", "BrokerAddress", "DeviceSession", "SessionSettings"]

DISCONNECT_WITH_WILL = 0x04
"""MQTT 5 DISCONNECT reason: close, and have the broker publish the will as if the link died."""


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """What every device of one run shares."""

    broker: BrokerAddress
    root: str
    community: str
    count: int | None = None
    """Stop each device after the broker has answered this many of its readings."""
    backoff: Backoff = field(default_factory=Backoff)
    keepalive_s: int = 30
    """Also how soon the broker notices a silently dead device (1.5 x) and sends its will."""
    timeout_s: float = 10.0
    """Longest wait for a CONNACK, a PUBACK or a DISCONNECT."""
    commands: CommandPolicy | None = field(default_factory=CommandPolicy)
    """How devices answer commands; None: they do not subscribe to any."""


class _ConnectFailedError(Exception):
    """The broker could not be reached or refused the device."""


@dataclass(frozen=True, slots=True)
class _Link:
    """A live connection and the PUBACK verdicts arriving on it."""

    client: aiomqtt.Client
    puback: PubackWatch
    statuses: SessionStatuses


class DeviceSession:
    """Drives one device until ``stop`` is set, its schedule stops it, or it has sent ``count``
    readings.

    Its schedule waits for ``go`` (set when a scenario's clock starts; already set for a plain
    run); ``on_ready`` is called once the device is first online, so that a scenario can wait
    for its whole cast before time starts.
    """

    def __init__(
        self,
        runtime: DeviceRuntime,
        schedule: DeviceSchedule,
        password: str,
        settings: SessionSettings,
        stats: SimStats,
        connect_gate: asyncio.Semaphore,
        clock: SimClock,
        *,
        rng: random.Random,
        go: asyncio.Event | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.device = runtime.device
        self.username = f"{settings.community}.{runtime.device.id}"
        self.answered = 0
        """Readings the broker has answered (accepted or refused); ``count`` bounds this."""
        self._schedule = schedule
        self._password = password
        self._settings = settings
        self._stats = stats
        self._connect_gate = connect_gate
        self._clock = clock
        self._rng = rng
        self._go = go or _set_event()
        self._on_ready = on_ready
        self._responder = (
            CommandResponder(runtime.device, settings.commands, random.Random(f"{rng.random()}"))
            if settings.commands is not None
            else None
        )
        self._wake = asyncio.Event()
        self._stop: asyncio.Event | None = None
        self._finished = False
        self._lost: aiomqtt.MqttError | None = None
        self._leaving = False
        self._backlog: deque[Outgoing] = deque()
        """What could not be sent while offline (events, results, state); readings are not
        kept: a sensor that missed its slot reports at the next one."""
        self._refusal_logged = False

    @property
    def done(self) -> bool:
        count = self._settings.count
        return self._finished or (count is not None and self.answered >= count)

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        watcher = asyncio.create_task(self._wake_on(stop))
        self._stats.devices += 1
        failures = 0
        try:
            while not stop.is_set() and not self.done:
                if not self.runtime.wants_connection:
                    await self._offline(deadline=None)
                    continue
                try:
                    await self._session()
                    failures = 0
                    continue
                except _ConnectFailedError as exc:
                    failures += 1
                    self._stats.connect_failures += 1
                    self._log_connect_failure(failures, exc)
                except aiomqtt.MqttError as exc:
                    failures = 1
                    self._stats.lost += 1
                    log.info("%s: connection lost: %s", self.username, exc)
                delay = self._settings.backoff.delay_s(failures, self._rng)
                await self._offline(deadline=asyncio.get_running_loop().time() + delay)
        finally:
            watcher.cancel()
            self._stats.finished += 1

    async def _wake_on(self, event: asyncio.Event) -> None:
        await event.wait()
        self._wake.set()

    def _log_connect_failure(self, failures: int, exc: _ConnectFailedError) -> None:
        # A refusal (bad password, unknown account) is a deployment mistake worth a warning;
        # an unreachable broker shows in the run's counters and would flood the log.
        refused = isinstance(exc.__cause__, aiomqtt.MqttCodeError)  # a CONNACK code
        level = logging.WARNING if refused and failures == 1 else logging.INFO
        log.log(level, "%s: cannot connect (try %d): %s", self.username, failures, exc)

    # connected ----------------------------------------------------------------------------

    def _client(self, will: Outgoing) -> aiomqtt.Client:
        broker = self._settings.broker
        v5 = broker.protocol == "5"
        return aiomqtt.Client(
            broker.host,
            broker.port,
            username=self.username,
            password=self._password,
            identifier=self.username,
            will=aiomqtt.Will(will.topic, will.payload, qos=will.qos, retain=will.retain),
            keepalive=self._settings.keepalive_s,
            timeout=self._settings.timeout_s,
            protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
            # Commands sent while a device is away are not worth keeping (each carries an
            # expiry, and the platform resends what matters), so no broker-side session: the
            # broker holds no state for hundreds of simulated devices between runs.
            clean_start=True if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            clean_session=None if v5 else True,
        )

    async def _session(self) -> None:
        statuses = self.runtime.begin_session(self._now())
        client = self._client(statuses.will)
        link = _Link(client, PubackWatch(client), statuses)
        self._lost, self._leaving = None, False
        # aiomqtt leaves the failure of a dropped connection in a future nobody may await;
        # taking it when the session ends keeps asyncio from logging it as never retrieved.
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(_take_outcome, client)
            async with self._connect_gate:  # staggers connects: CONNECT storms are costly
                try:
                    await stack.enter_async_context(client)
                except aiomqtt.MqttError as exc:
                    raise _ConnectFailedError(str(exc)) from exc
            self._stats.connects += 1
            self._stats.connected += 1
            stack.callback(self._left)
            if self._responder is not None:
                ids = {"root": self._settings.root, "community": self._settings.community}
                await client.subscribe(COMMAND.subscription(**ids, device=self.device.id), qos=1)
            reader = asyncio.create_task(self._read_commands(client))
            stack.callback(reader.cancel)
            await self._publish(link, statuses.online)
            while self._backlog:
                await self._publish(link, self._backlog.popleft())
            if self._on_ready is not None:
                self._on_ready()
                self._on_ready = None
            await self._until_go()
            ending = await self._process(link)
            self._leaving = True
            if ending is Control.DROP:
                await self._drop(link)
            elif ending in (Control.GOODBYE, Control.STOP):
                await self._publish(link, self.runtime.goodbye(self._now(), statuses.shutdown_seq))
            # RECONNECT: a clean DISCONNECT, then a new session announces the change.

    def _left(self) -> None:
        self._stats.connected -= 1

    async def _until_go(self) -> None:
        while not self._go.is_set() and not self._stopping():
            await self._sleep(0.05)

    async def _process(self, link: _Link) -> Control:
        """Carry out due actions until one ends the session; raise if the connection drops."""
        loop = asyncio.get_running_loop()
        while True:
            if self._stopping() or self.done:
                return Control.STOP
            self._skip_missed(loop.time())
            due = self._schedule.next_time()
            delay = None if due is None else self._clock.loop_time_at(due) - loop.time()
            if delay is None or delay > 0:
                await self._sleep(delay)
                if self._lost is not None:
                    raise self._lost
                continue  # woken: stop, a command, or the time has come; look again
            control = await self._carry_out(link)
            if control in (Control.DROP, Control.GOODBYE, Control.RECONNECT, Control.STOP):
                return control

    async def _carry_out(self, link: _Link | None) -> Control:
        """Apply the next action; send its messages (or keep them while offline)."""
        at, action = self._schedule.pop()
        step = self.runtime.apply(action, self._clock.at(at))
        for after, follow_up in step.follow_ups:
            self._schedule.insert(at + after, follow_up)
        for message in step.messages:
            if link is not None:
                await self._publish(link, message)
            elif message.channel == "telemetry":
                self._stats.skipped += 1
            else:
                self._backlog.append(message)
        if step.control is Control.STOP:
            self._finished = True
        return step.control

    def _skip_missed(self, loop_time: float) -> None:
        # Tolerate lateness up to one period (a busy loop); readings further behind were
        # missed (offline, or a stalled process) and are not taken late in a burst.
        now_s = self._clock.offset(loop_time)
        self._stats.skipped += self._schedule.skip_missed_reports(now_s - self._schedule.spacing_s)

    async def _read_commands(self, client: aiomqtt.Client) -> None:
        """Plan the answer to each command; note a dropped connection and wake the loop.

        The iterator is also the public way aiomqtt offers to notice a dead connection
        between publishes, so it runs even for devices without a responder."""
        loop = asyncio.get_running_loop()
        try:
            async for message in client.messages:
                payload = message.payload
                if self._responder is None or not isinstance(payload, bytes | bytearray):
                    continue
                action = str(message.topic).rsplit("/", 1)[-1]
                plan = self._responder.plan(action, bytes(payload), utc_now())
                self._stats.commands += 1
                now_s = self._clock.offset(loop.time())
                for after, planned in plan:
                    self._schedule.insert(now_s + after * self._clock.speed, planned)
                self._wake.set()
            raise aiomqtt.MqttError("message iterator ended")  # pragma: no cover
        except aiomqtt.MqttError as exc:
            if not self._leaving:
                self._lost = exc
                self._wake.set()

    async def _drop(self, link: _Link) -> None:
        """Lose the connection as a power cut or a dead network would: the broker publishes
        the last will. MQTT 5 asks for that explicitly; on 3.1.1 (the embedded stand-in) the
        device publishes its will itself, then leaves."""
        if self._settings.broker.protocol != "5":
            await self._publish(link, link.statuses.will)
            return
        paho: mqtt.Client = link.client._client  # aiomqtt has no DISCONNECT reason codes
        paho.disconnect(
            reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=DISCONNECT_WITH_WILL)
        )
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(self._settings.timeout_s):
                await link.client._disconnected

    # offline ------------------------------------------------------------------------------

    async def _offline(self, deadline: float | None) -> None:
        """Carry out due actions without a connection until ``deadline`` (loop time: the next
        connection attempt), or, with none, until the device wants a connection again."""
        loop = asyncio.get_running_loop()
        while not self._stopping() and not self.done:
            if deadline is None and self.runtime.wants_connection:
                return
            now = loop.time()
            if deadline is not None and now >= deadline:
                return
            due = self._schedule.next_time() if self._go.is_set() else None
            if due is not None and self._clock.loop_time_at(due) <= now:
                await self._carry_out(None)
                continue
            waits = [t - now for t in (deadline,) if t is not None]
            if due is not None:
                waits.append(self._clock.loop_time_at(due) - now)
            await self._sleep(min(waits) if waits else (None if self._go.is_set() else 0.05))

    # plumbing -----------------------------------------------------------------------------

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def _now(self) -> datetime:
        return self._clock.at(self._clock.offset(asyncio.get_running_loop().time()))

    async def _sleep(self, delay: float | None) -> None:
        if not self._wake.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
        self._wake.clear()

    async def _publish(self, link: _Link, message: Outgoing) -> None:
        try:
            await link.client.publish(
                message.topic, message.payload, qos=message.qos, retain=message.retain
            )
        except aiomqtt.MqttError:
            if message.channel == "telemetry":
                self._stats.failed += 1
            if message.channel != "device_status":
                self._backlog.appendleft(message)  # sent first once the device is back
            raise
        refusal = link.puback.refused()
        if message.channel == "telemetry":
            # Answered either way: a refused reading is not sent again, it would be refused
            # again.
            self.answered += 1
        if refusal is not None:
            self._stats.refused += 1
            self._log_refusal(message.topic, str(refusal))
        else:
            self._stats.count(message.channel)

    def _log_refusal(self, topic: str, reason: str) -> None:
        if not self._refusal_logged:  # once per device: the cause (an ACL) will not change
            self._refusal_logged = True
            log.warning("%s: broker refused a publish to %s: %s", self.username, topic, reason)


def _take_outcome(client: aiomqtt.Client) -> None:
    ended = client._disconnected
    if ended.done() and not ended.cancelled():
        ended.exception()
    else:
        ended.add_done_callback(lambda f: None if f.cancelled() else f.exception())


def _set_event() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event
