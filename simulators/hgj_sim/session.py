"""One simulated device's MQTT life: connect with its own account and last will, announce
itself, report on schedule, say goodbye on a clean stop, and come back when the broker does.

Topics, payload bytes, QoS and retain all come from the contract's channels.
"""

import asyncio
import contextlib
import logging
import math
import random
from dataclasses import dataclass, field
from typing import Literal

import aiomqtt
import paho.mqtt.client as mqtt

from hgj_contracts import DEVICE_STATUS, TELEMETRY, StatusReason, Telemetry, utc_now
from hgj_sim.behaviour import DeviceBehaviour
from hgj_sim.credentials import device_username
from hgj_sim.puback import PubackWatch
from hgj_sim.stats import SimStats

log = logging.getLogger(__name__)

MqttProtocol = Literal["5", "3.1.1"]


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str = "127.0.0.1"
    port: int = 1883
    protocol: MqttProtocol = "5"
    """MQTT 5 everywhere except the embedded stand-in broker of `make run`, which speaks 3.1.1."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays doubling from ``initial_s`` up to ``maximum_s``.

    Each delay is drawn between half and all of its nominal value so that hundreds of devices
    dropped by one broker restart do not all reconnect in the same instant.
    """

    initial_s: float = 1.0
    maximum_s: float = 60.0

    def delay_s(self, failures: int, rng: random.Random) -> float:
        nominal = min(self.maximum_s, self.initial_s * 2 ** min(max(failures, 1) - 1, 30))
        return rng.uniform(nominal / 2, nominal)


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """What every device of one community run shares."""

    broker: BrokerAddress
    root: str
    community: str
    interval_s: float | None = None
    """Report period for every device instead of its own; None keeps each device's period."""
    speed: float = 1.0
    """Divides every report period: 60 turns a 300 s sensor into one that reports every 5 s."""
    count: int | None = None
    """Stop each device after the broker has answered this many of its readings."""
    backoff: Backoff = field(default_factory=Backoff)
    keepalive_s: int = 30
    """Also how soon the broker notices a silently dead device (1.5 x) and sends its will."""
    timeout_s: float = 10.0
    """Longest wait for a CONNACK, a PUBACK or a DISCONNECT."""


class _ConnectFailedError(Exception):
    """The broker could not be reached or refused the device."""


@dataclass(frozen=True, slots=True)
class _Link:
    """A live connection and the PUBACK verdicts arriving on it."""

    client: aiomqtt.Client
    puback: PubackWatch


async def _until_set(event: asyncio.Event) -> None:
    await event.wait()


async def _until_disconnected(client: aiomqtt.Client) -> None:
    """Raise MqttError when the session drops.

    The device subscribes to nothing, so the message iterator yields nothing and only raises on
    disconnection: the public way aiomqtt offers to notice a dead connection between publishes.
    """
    async for _message in client.messages:
        pass
    raise aiomqtt.MqttError("message iterator ended")  # pragma: no cover - it never ends


def _consume_outcome(task: "asyncio.Task[None]") -> None:
    # Fetch the exception so asyncio does not log it as never retrieved.
    if not task.cancelled():
        task.exception()


class DeviceSession:
    """Drives one device until ``stop`` is set or it has sent ``count`` readings."""

    def __init__(
        self,
        behaviour: DeviceBehaviour,
        password: str,
        settings: SessionSettings,
        stats: SimStats,
        connect_gate: asyncio.Semaphore,
        rng: random.Random,
    ) -> None:
        device = behaviour.device
        ids = {"root": settings.root, "community": settings.community, "device": device.id}
        period = device.report_interval_s if settings.interval_s is None else settings.interval_s
        self.device = device
        self.username = device_username(settings.community, device.id)
        self.interval_s = period / settings.speed
        self.answered = 0
        """Readings the broker has answered (accepted or refused); ``count`` bounds this."""
        self._behaviour = behaviour
        self._password = password
        self._settings = settings
        self._stats = stats
        self._connect_gate = connect_gate
        self._rng = rng
        self._status_topic = DEVICE_STATUS.topic(**ids)
        self._telemetry_topic = TELEMETRY.topic(**ids)
        self._status_seq = 0
        self._pending: Telemetry | None = None
        self._next_at: float | None = None
        self._refusal_logged = False

    @property
    def done(self) -> bool:
        count = self._settings.count
        return count is not None and self.answered >= count

    async def run(self, stop: asyncio.Event) -> None:
        stop_wait = asyncio.create_task(_until_set(stop))
        self._stats.devices += 1
        failures = 0
        try:
            while not stop.is_set() and not self.done:
                try:
                    await self._session(stop_wait)
                    continue  # ended on purpose: stop requested or count reached
                except _ConnectFailedError as exc:
                    failures += 1
                    self._stats.connect_failures += 1
                    self._log_connect_failure(failures, exc)
                except aiomqtt.MqttError as exc:
                    failures = 1
                    self._stats.lost += 1
                    log.info("%s: connection lost: %s", self.username, exc)
                delay = self._settings.backoff.delay_s(failures, self._rng)
                await asyncio.wait({stop_wait}, timeout=delay)
        finally:
            stop_wait.cancel()
            self._stats.finished += 1

    def _log_connect_failure(self, failures: int, exc: _ConnectFailedError) -> None:
        # A refusal (bad password, unknown account) is a deployment mistake worth a warning;
        # an unreachable broker shows in the run's counters and would flood the log.
        refused = isinstance(exc.__cause__, aiomqtt.MqttCodeError)  # a CONNACK code
        level = logging.WARNING if refused and failures == 1 else logging.INFO
        log.log(level, "%s: cannot connect (try %d): %s", self.username, failures, exc)

    def _reserve_status_seqs(self) -> tuple[int, int, int]:
        # The will is composed before the online status is sent but reaches consumers after it,
        # so it takes the higher number: within a run, the status with the highest seq is the
        # latest. Only one of will and shutdown is ever delivered; the other leaves a gap.
        # Numbers restart at 1 with the process (as on a rebooted device); "startup" marks that,
        # and "reconnect" marks a later session of the same run.
        online, will, shutdown = self._status_seq + 1, self._status_seq + 2, self._status_seq + 3
        self._status_seq = shutdown
        return online, will, shutdown

    def _client(self, will_seq: int) -> aiomqtt.Client:
        will = self._behaviour.status("offline", "connection_lost", utc_now(), will_seq)
        broker = self._settings.broker
        v5 = broker.protocol == "5"
        return aiomqtt.Client(
            broker.host,
            broker.port,
            username=self.username,
            password=self._password,
            identifier=self.username,
            will=aiomqtt.Will(
                self._status_topic,
                DEVICE_STATUS.encode(will),
                qos=DEVICE_STATUS.qos,
                retain=DEVICE_STATUS.retain,
            ),
            keepalive=self._settings.keepalive_s,
            timeout=self._settings.timeout_s,
            protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
            # A sensor subscribes to nothing and re-sends its own pending reading, so nothing
            # is gained from a broker-side session; starting clean keeps the broker from holding
            # state for hundreds of simulated devices between runs.
            clean_start=True if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            clean_session=None if v5 else True,
        )

    async def _session(self, stop_wait: "asyncio.Task[None]") -> None:
        reason: StatusReason = "startup" if self._status_seq == 0 else "reconnect"
        online_seq, will_seq, shutdown_seq = self._reserve_status_seqs()
        client = self._client(will_seq)
        link = _Link(client, PubackWatch(client))
        async with contextlib.AsyncExitStack() as stack:
            async with self._connect_gate:  # staggers connects: CONNECT storms are costly
                try:
                    await stack.enter_async_context(client)
                except aiomqtt.MqttError as exc:
                    raise _ConnectFailedError(str(exc)) from exc
            self._stats.connects += 1
            self._stats.connected += 1
            stack.callback(self._left)
            lost = asyncio.create_task(_until_disconnected(client))
            lost.add_done_callback(_consume_outcome)
            stack.callback(lost.cancel)
            await self._publish_status(link, "online", reason, online_seq)
            await self._report(link, stop_wait, lost)
            await self._publish_status(link, "offline", "shutdown", shutdown_seq)

    def _left(self) -> None:
        self._stats.connected -= 1

    async def _report(
        self, link: _Link, stop_wait: "asyncio.Task[None]", lost: "asyncio.Task[None]"
    ) -> None:
        loop = asyncio.get_running_loop()
        if self._next_at is None:
            # Jittered first report, so that devices started together do not report together.
            self._next_at = loop.time() + self._rng.uniform(0, self.interval_s)
        if self._pending is not None:
            await self._publish_pending(link)  # the reading a lost session did not deliver
        while not self.done:
            self._skip_missed_reports(loop.time())
            finished, _ = await asyncio.wait(
                {stop_wait, lost}, timeout=max(0.0, self._next_at - loop.time())
            )
            if lost in finished:
                lost.result()  # raises the MqttError that ended the session
            if stop_wait in finished:
                return
            self._next_at += self.interval_s
            self._pending = self._behaviour.next_telemetry(utc_now())
            await self._publish_pending(link)

    def _skip_missed_reports(self, now: float) -> None:
        # Readings that fell due while the device was offline (or the loop was too busy) are
        # not taken late in a burst; the device keeps its phase and waits for the next slot.
        assert self._next_at is not None
        if self._next_at < now:
            self._next_at += math.ceil((now - self._next_at) / self.interval_s) * self.interval_s

    async def _publish_pending(self, link: _Link) -> None:
        assert self._pending is not None
        try:
            await link.client.publish(
                self._telemetry_topic,
                TELEMETRY.encode(self._pending),
                qos=TELEMETRY.qos,
                retain=TELEMETRY.retain,
            )
        except aiomqtt.MqttError:
            self._stats.failed += 1
            raise
        # Answered either way: a refused reading is not sent again, it would be refused again.
        self._pending = None
        self.answered += 1
        refusal = link.puback.refused()
        if refusal is None:
            self._stats.sent += 1
        else:
            self._stats.refused += 1
            self._log_refusal(self._telemetry_topic, str(refusal))

    async def _publish_status(
        self,
        link: _Link,
        state: Literal["online", "offline"],
        reason: StatusReason,
        seq: int,
    ) -> None:
        status = self._behaviour.status(
            state, reason, utc_now(), seq, report_interval_s=self.interval_s
        )
        await link.client.publish(
            self._status_topic,
            DEVICE_STATUS.encode(status),
            qos=DEVICE_STATUS.qos,
            retain=DEVICE_STATUS.retain,
        )
        refusal = link.puback.refused()
        if refusal is not None:
            self._stats.refused += 1
            self._log_refusal(self._status_topic, str(refusal))

    def _log_refusal(self, topic: str, reason: str) -> None:
        if not self._refusal_logged:  # once per device: the cause (an ACL) will not change
            self._refusal_logged = True
            log.warning("%s: broker refused a publish to %s: %s", self.username, topic, reason)
