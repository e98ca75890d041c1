"""Send an outbox's messages over MQTT: QoS as stored, a bounded in-flight window, rows marked
acknowledged only on the broker's PUBACK, and the replay policy after every reconnect.

Two threads: paho's network thread, whose callbacks only append events to a queue, and the
pump, which alone touches the in-flight map and writes acknowledgements to the outbox. Keeping
the database off the network thread means a slow disk delays acknowledging, not receiving.

After a reconnect paho itself re-sends the messages that were in flight when the connection
dropped (same packet ids, DUP set); the pump then sends every other message the broker never
acknowledged, and only then those the outbox put back for the replay window, each kind in its
original order. Messages put meanwhile go before the remaining replays: the broker has surely
not got them, while a replayed message is only possibly lost.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hgj_edge.mqtt_client import Will, connect_properties, make_client
from hgj_edge.outbox import Clock, Outbox, OutboxMessage, Replay
from hgj_edge.settings import PublisherSettings

log = logging.getLogger(__name__)

IDLE_WAKE_S = 0.5
"""Longest the pump sleeps without a reason: put(), PUBACKs and connection changes wake it."""
_ACCEPTED = (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN)

MessageHandler = Callable[[str, bytes], None]
"""Called on paho's network thread with a received message's topic and payload; paho sends
the PUBACK when it returns, so a handler that must not lose the message stores it first."""
LinkHandler = Callable[[bool], None]
"""Called on paho's network thread after each CONNACK, with whether this is the first one."""


@dataclass(frozen=True, slots=True)
class _Acked:
    mid: int
    reason_code: int
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class _Connected:
    at: float


@dataclass(frozen=True, slots=True)
class _Disconnected:
    at: float
    reason: str


_Event = _Acked | _Connected | _Disconnected


@dataclass(frozen=True, slots=True)
class _InFlight:
    row_id: int
    topic: str


@dataclass(frozen=True, slots=True)
class PublisherStats:
    connected: bool
    connects: int
    publishes: int
    """publish() calls the pump made: first sends and replays (paho's own re-sends apart)."""
    resent_in_flight: int
    """Messages paho re-sent itself after reconnects (in flight when the connection dropped)."""
    acked: int
    rejected: int
    replayed: int
    """Acknowledged messages the outbox put back after reconnects (the replay window)."""
    publish_refused: int
    """publish() calls paho refused (its queue full, a packet id still in use)."""
    in_flight: int


class OutboxPublisher:
    """Publishes everything put into ``outbox`` until ``close``; ``start`` connects."""

    def __init__(
        self,
        outbox: Outbox,
        settings: PublisherSettings,
        *,
        will: Will | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._outbox = outbox
        self._settings = settings
        self._clock = clock
        self._client = make_client(settings, will)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._subscriptions: list[tuple[str, int]] = []
        self._message_handler: MessageHandler | None = None
        self._link_handler: LinkHandler | None = None
        self._connacks = 0
        self._events: deque[_Event] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self._thread = threading.Thread(
            target=self._run, name=f"outbox-{settings.client_id}", daemon=True
        )
        self._started = False
        # Owned by the pump thread.
        self._in_flight: dict[int, _InFlight] = {}
        self._in_flight_rows: set[int] = set()
        self._cursors = {"unsent": 0, "replay": 0}
        """The highest id handed to paho in this connection, per kind of row."""
        self._connected = False
        self._disconnected_at: float | None = None
        self._next_purge = 0.0
        self._counts = {
            "connects": 0,
            "publishes": 0,
            "resent_in_flight": 0,
            "acked": 0,
            "rejected": 0,
            "replayed": 0,
            "publish_refused": 0,
        }
        self.last_replay: Replay | None = None
        """What the latest (re)connect had to send again."""
        outbox.add_put_listener(self._wake.set)

    @property
    def outbox(self) -> Outbox:
        return self._outbox

    @property
    def connected(self) -> bool:
        return self._connected

    def subscribe(self, topic_filter: str, qos: int, handler: MessageHandler) -> None:
        """Subscribe on this same session (an agent has one MQTT session, which also receives
        its commands); renewed on every CONNACK, which costs nothing when the broker kept the
        session. Call before ``start``; one handler receives every subscription's messages."""
        if self._started:
            raise RuntimeError("subscribe before start")
        self._subscriptions.append((topic_filter, qos))
        self._message_handler = handler
        self._client.on_message = self._on_message

    def on_link_up(self, handler: LinkHandler) -> None:
        """``handler(first)`` runs after each successful CONNACK (the agent announces itself)."""
        self._link_handler = handler

    def set_will(self, will: Will) -> None:
        """Replace the last will; paho sends it with the next CONNECT (a status will carries
        the sequence number after the online status of its own connection)."""
        self._client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)

    def start(self) -> None:
        """Connect in the background (paho retries until the broker answers) and pump."""
        s = self._settings
        self._client.connect_async(
            s.host,
            s.port,
            keepalive=s.keepalive_s,
            clean_start=False,
            properties=connect_properties(s),
        )
        self._client.loop_start()
        self._thread.start()
        self._started = True

    def put(self, topic: str, payload: bytes) -> int | None:
        """``Outbox.put``; the pump wakes at once."""
        return self._outbox.put(topic, payload)

    def flush(self, timeout: float) -> bool:
        """Wait until every message in the outbox, replays included, has been acknowledged or
        rejected; False if that takes longer than ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._progress:
            while self._outbox.unacked_count():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._progress.wait(min(remaining, IDLE_WAKE_S))
        return True

    def stats(self) -> PublisherStats:
        c = dict(self._counts)
        return PublisherStats(
            connected=self._connected,
            connects=c["connects"],
            publishes=c["publishes"],
            resent_in_flight=c["resent_in_flight"],
            acked=c["acked"],
            rejected=c["rejected"],
            replayed=c["replayed"],
            publish_refused=c["publish_refused"],
            in_flight=len(self._in_flight),
        )

    def close(self) -> None:
        """Stop pumping and disconnect cleanly (no will). Unacknowledged messages stay in the
        outbox for the next start."""
        if not self._started:
            return
        self._started = False
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self._client.disconnect()
        self._client.loop_stop()
        # paho closes its wake-up socket pair only in __del__; a ResourceWarning then fails
        # pytest runs (filterwarnings = error), and the loop thread has ended, so close it now.
        self._client._reset_sockets()

    # The pump -------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(IDLE_WAKE_S)
            self._wake.clear()
            try:
                self._step()
            except Exception:
                # A full disk or a locked file must not end publishing for good.
                log.exception("outbox pump of %s failed; retrying", self._settings.client_id)
                self._stop.wait(1.0)
            with self._progress:
                self._progress.notify_all()
        self._handle_events()  # record the acknowledgements that arrived meanwhile

    def _step(self) -> None:
        self._handle_events()
        if self._connected:
            self._fill_window()
        now = self._clock()
        if now >= self._next_purge:
            self._outbox.purge(now)
            self._next_purge = now + self._settings.purge_interval_s

    def _handle_events(self) -> None:
        acked: list[int] = []
        acked_at = 0.0
        while self._events:
            event = self._events.popleft()
            if isinstance(event, _Acked):
                sent = self._in_flight.pop(event.mid, None)
                if sent is None:
                    continue
                self._in_flight_rows.discard(sent.row_id)
                if event.reason_code < 0x80:  # 0x00 success, 0x10 no matching subscribers
                    acked.append(sent.row_id)
                    acked_at = event.at
                    continue
                self._record_acks(acked, acked_at)
                self._reject(sent, event)
            else:
                # Acknowledgements first: the replay decides on what is acknowledged when.
                self._record_acks(acked, acked_at)
                if isinstance(event, _Connected):
                    self._link_up()
                elif self._connected:
                    # Only the end of a live connection counts: paho may also report each
                    # failed attempt to reconnect, which must not move the window forward.
                    self._connected = False
                    self._disconnected_at = event.at
                    log.warning("%s disconnected: %s", self._settings.client_id, event.reason)
        self._record_acks(acked, acked_at)

    def _record_acks(self, acked: list[int], at: float) -> None:
        if acked:
            self._outbox.mark_acked(acked, at)
            self._counts["acked"] += len(acked)
            acked.clear()

    def _reject(self, sent: _InFlight, event: _Acked) -> None:
        self._outbox.mark_rejected(sent.row_id, event.reason_code, event.reason, event.at)
        self._counts["rejected"] += 1
        log.warning(
            "broker refused message %d on %s: %s (0x%02x); moved to rejected, not retried",
            sent.row_id,
            sent.topic,
            event.reason,
            event.reason_code,
        )

    def _link_up(self) -> None:
        # The first connection of this process has seen no drop, but the previous run may
        # have ended with the broker's; the outbox counts back from its last PUBACK anyway.
        anchor = self._disconnected_at if self._disconnected_at is not None else self._clock()
        replay = self._outbox.replay_after_reconnect(anchor)
        self.last_replay = replay
        self._counts["connects"] += 1
        self._counts["replayed"] += len(replay.replayed_ids)
        self._counts["resent_in_flight"] += len(self._in_flight)
        self._cursors = {"unsent": 0, "replay": 0}
        self._connected = True
        log.info(
            "%s connected: %d unacknowledged (%d re-sent by paho), %d replayed",
            self._settings.client_id,
            replay.unacked,
            len(self._in_flight),
            len(replay.replayed_ids),
        )

    def _fill_window(self) -> None:
        window = self._settings.inflight_window
        for kind, fetch in (
            ("unsent", self._outbox.next_unsent),
            ("replay", self._outbox.next_replay),
        ):
            while len(self._in_flight) < window:
                rows = fetch(window - len(self._in_flight), self._cursors[kind])
                if not rows:
                    break
                for row in rows:
                    # A row still in flight is paho's to re-send, not ours.
                    if row.id not in self._in_flight_rows and not self._publish(row):
                        return
                    self._cursors[kind] = row.id

    def _publish(self, row: OutboxMessage) -> bool:
        info = self._client.publish(row.topic, row.payload, qos=row.qos, retain=row.publish_retain)
        if info.rc not in _ACCEPTED or (row.qos == 0 and info.rc != mqtt.MQTT_ERR_SUCCESS):
            # Not taken (paho's queue is full, a packet id still in use, or QoS 0 with no
            # connection, which paho drops): stop here and offer the row again next round.
            self._counts["publish_refused"] += 1
            log.warning(
                "paho did not take message %d on %s: %s",
                row.id,
                row.topic,
                mqtt.error_string(info.rc),
            )
            return False
        # MQTT_ERR_NO_CONN at QoS 1: paho keeps the message and sends it on reconnect.
        self._in_flight[info.mid] = _InFlight(row.id, row.topic)
        self._in_flight_rows.add(row.id)
        self._counts["publishes"] += 1
        return True

    # paho callbacks (network thread): record and wake the pump, nothing else ------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.warning("%s: broker refused the connection: %s", self._settings.client_id, reason)
            return
        self._connacks += 1
        for topic_filter, qos in self._subscriptions:
            client.subscribe(topic_filter, qos=qos)
        if self._link_handler is not None:
            # Before the pump hears of the connection: what the handler puts (the online
            # status) is then in the outbox when the replay decides which retained messages
            # are superseded, so a replayed offline status cannot overwrite it.
            try:
                self._link_handler(self._connacks == 1)
            except Exception:
                log.exception("%s: link-up handler failed", self._settings.client_id)
        self._post(_Connected(self._clock()))

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._post(_Disconnected(self._clock(), str(reason)))

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._post(_Acked(mid, reason.value, str(reason), self._clock()))

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        handler = self._message_handler
        if handler is None:
            return
        try:
            handler(msg.topic, bytes(msg.payload))
        except Exception:
            # An exception escaping into paho would end its network loop, and with it the
            # agent's only session: log it, the message is lost to this handler only.
            log.exception(
                "%s: handling a message on %s failed", self._settings.client_id, msg.topic
            )

    def _post(self, event: _Event) -> None:
        self._events.append(event)
        self._wake.set()
