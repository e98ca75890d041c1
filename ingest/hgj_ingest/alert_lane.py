"""The alert lane: rules, the alert store and alert delivery, beside (not behind) the writer.

Alerts must not wait for InfluxDB: a smoke alarm matters most when something is already
wrong. The rule engine runs on MQTT's thread as each message is accepted (it is in-memory and
cheap, and a queue hop per message cost more than the rules themselves); the rare messages
that produce signals hand them to this lane's thread, which records the alert changes in the
state database and delivers them from the store's outbox to MQTT (for the API and console) and
to InfluxDB's ``alerts`` measurement, each sink retried until it confirms. The writer
acknowledges such a message only once its signals are recorded, so a crash re-runs the rules
on redelivery; the store drops the duplicate signals by their ids.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import paho.mqtt.client as mqtt

from hgj_contracts import ALERT, DeviceMessage, utc_now
from hgj_ingest.alerting.engine import RuleEngine
from hgj_ingest.counters import Counters
from hgj_ingest.influx_writer import PointWriter, RetryableWriteError
from hgj_ingest.points import alert_line
from hgj_statedb.alert_store import AlertStore
from hgj_statedb.escalation import EscalationPolicy
from hgj_statedb.signals import AlertSignal
from hgj_statedb.views import AlertChange

log = logging.getLogger("hgj_ingest.alerts")

REDELIVER_AFTER = timedelta(seconds=30)
"""Outbox entries older than this that no sink confirmed are sent again."""


@dataclass(frozen=True, slots=True)
class LaneItem:
    number: int
    signals: list[AlertSignal]


class AlertLane:
    def __init__(
        self,
        *,
        root: str,
        engine: RuleEngine,
        store: AlertStore,
        client: mqtt.Client,
        points: PointWriter,
        counters: Counters,
        escalation: EscalationPolicy,
        tick_s: float = 1.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._root = root
        self._engine = engine
        self._store = store
        self._client = client
        self._points = points
        self._counters = counters
        self._escalation = escalation
        self._tick_s = tick_s
        self._clock = clock
        self._queue: queue.SimpleQueue[LaneItem | None] = queue.SimpleQueue()
        self._submitted = 0
        self._processed = 0
        self._progress = threading.Condition()
        self._stop = threading.Event()
        self._pending_pubacks: dict[int, int] = {}  # MQTT mid → outbox event id
        self._pubacks_lock = threading.Lock()
        self._confirmed: list[int] = []
        self._engine_lock = threading.Lock()  # on_message (MQTT thread) vs on_tick (lane)
        self._thread = threading.Thread(target=self._run, name="ingest-alerts", daemon=True)
        # Exports to InfluxDB run on their own thread: a hanging InfluxDB (each write waits
        # for its timeout) must not hold up the next alert's announcement.
        self._exporter = threading.Thread(
            target=self._export_loop, name="ingest-alert-export", daemon=True
        )

    # called from paho's network thread -----------------------------------------------------

    def submit(
        self,
        community: str,
        device: str,
        channel: str,
        message: DeviceMessage,
        received_at: datetime,
    ) -> int:
        """Run the rules on a message; the number to wait for before acknowledging it, or 0
        when it caused no signal."""
        try:
            with self._engine_lock:
                signals = self._engine.on_message(community, device, channel, message, received_at)
        except Exception:  # one bad rule must not stop ingest or alerting for everyone
            log.exception("rules failed on %s/%s", community, device)
            self._counters.add("alert_rule_errors")
            return 0
        if not signals:
            return 0
        self._submitted += 1
        self._queue.put(LaneItem(self._submitted, signals))
        return self._submitted

    def on_puback(self, mid: int) -> None:
        with self._pubacks_lock:
            event_id = self._pending_pubacks.pop(mid, None)
            if event_id is not None:
                self._confirmed.append(event_id)

    # called from the writer thread -----------------------------------------------------------

    def wait_processed(self, number: int) -> bool:
        """Block until every message up to ``number`` went through the rules (False: stopping)."""
        with self._progress:
            while self._processed < number:
                if self._stop.is_set():
                    return False
                self._progress.wait(0.5)
        return True

    # lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._exporter.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._stop.set()
        self._exporter.join(timeout=30)

    # the lane's thread -----------------------------------------------------------------------

    def _run(self) -> None:
        next_tick = 0.0
        while True:
            try:
                items = [self._queue.get(timeout=self._tick_s)]
            except queue.Empty:
                items = []
            # Take whatever else is waiting: one progress notification per batch instead of
            # one per message keeps the lane cheap at telemetry rates.
            while items and len(items) < 5000:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stopping = bool(items) and items[-1] is None
            done = [item for item in items if item is not None]
            for item in done:
                self._apply(item.signals)
            if done:
                with self._progress:
                    self._processed = done[-1].number
                    self._progress.notify_all()
            if stopping:
                return
            now_mono = time.monotonic()
            if now_mono >= next_tick:
                next_tick = now_mono + self._tick_s
                self._tick()

    def _tick(self) -> None:
        now = self._clock()
        try:
            with self._engine_lock:
                signals = self._engine.on_tick(now)
            self._apply(signals)
            for change in self._store.due_escalations(now, self._escalation):
                self._publish(change.event.event_id, change)
        except Exception:
            log.exception("alert tick failed")
            self._counters.add("alert_tick_errors")
        self._deliver_outbox(now)

    def _apply(self, signals: list[AlertSignal]) -> None:
        for signal in signals:
            while True:
                try:
                    change = self._store.apply(signal)
                    break
                except Exception:  # the state database is down: hold the lane, retry
                    log.exception("alert store unavailable; retrying")
                    self._counters.add("alert_store_retries")
                    if self._stop.wait(1.0):
                        return
            if change is not None:
                self._counters.add(f"alerts_{change.change}")
                self._publish(change.event.event_id, change)

    def _publish(self, event_id: int, change: AlertChange) -> None:
        payload = change.to_payload()
        topic = ALERT.topic(root=self._root, **change.topic_params)
        info = self._client.publish(topic, ALERT.encode(payload), qos=ALERT.qos)
        with self._pubacks_lock:
            self._pending_pubacks[info.mid] = event_id

    # the exporter's thread: the outbox → InfluxDB's alerts measurement -----------------------

    def _export_loop(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self._export_pending()
            except Exception:
                log.exception("alert export failed")
                self._counters.add("alert_export_errors")
        try:
            self._export_pending()  # what the last moments produced, if InfluxDB is up
        except Exception:
            log.exception("alert export failed")

    def _export_pending(self) -> None:
        while entries := self._store.undelivered("influx"):
            lines = [alert_line(entry.community, entry.payload) for entry in entries]
            try:
                refused = self._points.write(lines)
            except RetryableWriteError:
                return  # InfluxDB is down: the outbox keeps them for the next round
            if refused is not None:
                # The data is at fault and retrying cannot help; count it and move on so one
                # bad line cannot block every later export.
                log.error("InfluxDB refused alert lines: %s", refused.error)
                self._counters.add("alert_export_refused", len(entries))
            self._store.mark_delivered("influx", [entry.event_id for entry in entries])

    def _deliver_outbox(self, now: datetime) -> None:
        with self._pubacks_lock:
            confirmed, self._confirmed = self._confirmed, []
        try:
            self._store.mark_delivered("mqtt", confirmed)
            before = now - REDELIVER_AFTER
            for entry in self._store.undelivered("mqtt", recorded_before=before):
                info = self._client.publish(
                    ALERT.topic(root=self._root, **entry.topic_params),
                    ALERT.encode(entry.payload),
                    qos=ALERT.qos,
                )
                with self._pubacks_lock:
                    self._pending_pubacks[info.mid] = entry.event_id
        except Exception:
            log.exception("alert outbox delivery failed")
            self._counters.add("alert_outbox_errors")
