"""The ingest service: MQTT in, InfluxDB out, acknowledged only after the write.

Threads: paho's network thread validates each message and adds it to the buffer; one writer
thread takes batches, stores them (retrying while InfluxDB is down) and then acknowledges the
messages of the batch; the status thread publishes counters. A message is acknowledged only
after its points are stored or its rejection is recorded, so a crash at any moment loses
nothing: the broker redelivers what was not acknowledged, and rewriting a point is harmless.
"""

import logging
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from hgj_contracts import DEAD_LETTER, DeviceMessage, device_tree_subscription, utc_now
from hgj_ingest.alert_setup import make_alert_lane
from hgj_ingest.batch_store import BatchStore
from hgj_ingest.buffer import Buffer, Entry
from hgj_ingest.counters import Counters
from hgj_ingest.handler import Accepted, Ignored, MessageHandler, Rejected
from hgj_ingest.influx_writer import WriteRejected
from hgj_ingest.known_devices import KnownDevices
from hgj_ingest.metrics import IngestMetrics
from hgj_ingest.mqtt_session import (
    connect_properties,
    make_client,
    status_payload,
    status_topic,
)
from hgj_ingest.settings import IngestSettings
from hgj_ingest.writers import make_point_writer
from hgj_statedb.device_registry import DeviceRegistry

log = logging.getLogger("hgj_ingest")


class IngestService:
    def __init__(self, settings: IngestSettings, counters: Counters | None = None) -> None:
        self.settings = settings
        self.counters = counters or Counters()
        self.metrics = IngestMetrics(self.counters)
        self._known_devices: KnownDevices | None = None
        if settings.device_registry == "enforce":
            registry = DeviceRegistry.open(settings.state_db_url)
            self._known_devices = KnownDevices(registry, settings.registry_refresh_s, self.counters)
        self._handler = MessageHandler(settings, known_device=self._known_devices)
        self._buffer = Buffer(settings.batch_size, settings.flush_interval_s)
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._generation = 0
        self._held = 0
        """Messages received and not yet stored: the buffer and the batch being written."""
        self._held_lock = threading.Lock()
        self.metrics.buffered.set_function(lambda: self._held)  # one count, read on scrape
        self._writer = make_point_writer(settings)
        self._store = BatchStore(
            self._writer, self.counters, self._stop, self._on_store_refused, self._on_retry
        )
        self._client = make_client(settings)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_publish = self._on_publish
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._dead_letter_topic = DEAD_LETTER.topic(root=settings.root, service=settings.instance)
        self._alerts = make_alert_lane(settings, self._client, self.counters)
        self._threads: list[threading.Thread] = []

    # lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        s = self.settings
        if s.metrics_port is not None:
            self.metrics.serve(s.metrics_port, s.metrics_addr)
        if self._known_devices is not None:
            self._known_devices.start()  # before the first message can arrive
        if s.mqtt_protocol == "5":
            self._client.connect_async(
                s.mqtt_host,
                s.mqtt_port,
                keepalive=30,
                clean_start=False,
                properties=connect_properties(s),
            )
        else:
            self._client.connect_async(s.mqtt_host, s.mqtt_port, keepalive=30)
        self._client.loop_start()
        if self._alerts is not None:
            self._alerts.start()
        for target, name in (
            (self._write_loop, "ingest-writer"),
            (self._status_loop, "ingest-status"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_ready(self, timeout: float) -> bool:
        """True once connected and subscribed (what the retained online status announces)."""
        return self._connected.wait(timeout)

    def knows_device(self, community: str, device: str) -> bool:
        """Whether messages from this device are accepted now (always, with the registry off)."""
        return self._known_devices is None or self._known_devices(community, device)

    def stop(self) -> None:
        """Flush what is buffered (if the store is up), say goodbye, disconnect."""
        self._stop.set()
        self._buffer.wake()
        for thread in self._threads:
            thread.join(timeout=30)
        if self._alerts is not None:
            self._alerts.stop()
        if self._known_devices is not None:
            self._known_devices.stop()
        if self._connected.is_set():
            info = self._client.publish(
                status_topic(self.settings),
                status_payload(self.settings, "offline", self.counters.snapshot()),
                qos=1,
                retain=True,
            )
            info.wait_for_publish(timeout=5)
        self._client.disconnect()
        self._client.loop_stop()
        self._writer.close()

    # MQTT callbacks (paho's network thread) ---------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        _u: object,
        _f: object,
        reason: ReasonCode,
        _p: object,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused ingest: %s", reason)
            self.counters.add("connect_refused")
            return
        self._generation += 1
        topic_filter = device_tree_subscription(self.settings.root, self.settings.share_group)
        client.subscribe(topic_filter, qos=1)
        log.info("ingest connected, subscribing to %s", topic_filter)

    def _on_subscribe(
        self, client: mqtt.Client, _u: object, _mid: int, reasons: list[ReasonCode], _p: object
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("broker refused ingest's subscription: %s", reasons)
            self.counters.add("subscribe_refused")
            return
        # Online means ready: only now is every message published from here on ours to store.
        client.publish(
            status_topic(self.settings),
            status_payload(self.settings, "online", self.counters.snapshot()),
            qos=1,
            retain=True,
        )
        self._connected.set()

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, _reason: ReasonCode, _p: object
    ) -> None:
        if self._alerts is not None:
            self._alerts.on_puback(mid)

    def _on_disconnect(
        self,
        _c: mqtt.Client,
        _u: object,
        _f: object,
        reason: ReasonCode,
        _p: object,
    ) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            self.counters.add("disconnects")
            log.warning("ingest lost the broker (%s); paho reconnects", reason)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.counters.add("received")
        if msg.qos == 0 and self._held >= self.settings.max_buffered:
            # QoS 0 has no flow control: the broker keeps sending while the store is down.
            # Dropping the newest keeps memory bounded; QoS 1 never reaches this point in
            # practice because the broker stops at our Receive Maximum.
            self.counters.add("dropped_backpressure")
            return
        payload = bytes(msg.payload)
        try:
            outcome = self._handler.handle(msg.topic, payload)
        except Exception:  # a bug must not stop ingest; the message is dead-lettered instead
            log.exception("handler failed on %s", msg.topic)
            outcome = self._handler.reject(msg.topic, payload, "schema", "internal error", "?")
        lane_number = 0
        if isinstance(outcome, Accepted):
            lines = outcome.lines
            if self._alerts is not None and isinstance(outcome.message, DeviceMessage):
                lane_number = self._alerts.submit(
                    outcome.params["community"],
                    outcome.params["device"],
                    outcome.channel,
                    outcome.message,
                    utc_now(),
                )
        elif isinstance(outcome, Rejected):
            self.counters.add(f"rejected_{outcome.reason}")
            if self.settings.role != "alerts":  # storage workers dead-letter, once
                self._publish_dead_letter(outcome)
            lines = list(outcome.lines)
        else:
            assert isinstance(outcome, Ignored)
            self.counters.add("ignored")
            lines = []
        self._buffer.add(
            Entry(
                lines,
                msg.mid,
                msg.qos,
                self._generation,
                msg.topic,
                payload,
                time.monotonic(),
                lane_number,
            )
        )
        with self._held_lock:
            self._held += 1

    # writer thread ---------------------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            stopping = self._stop.is_set()
            batch = self._buffer.take(self._stop)
            if batch and not self._store_until_done(batch):
                return  # stopped first: the batch stays unacknowledged and is redelivered
            if batch:
                self._ack(batch)
            if stopping:
                return

    def _store_until_done(self, batch: list[Entry]) -> bool:
        """Store a batch; an unexpected error is logged, counted and the batch tried again,
        since its messages must be neither acknowledged unstored nor forgotten."""
        while not self._stop.is_set():
            try:
                started = time.monotonic()
                stored = self._store.store(batch)
                finished = time.monotonic()
                if stored:
                    self.metrics.batch_seconds.observe(finished - started)
                    self.metrics.lag_seconds.observe(finished - batch[0].received_at)
                    with self._held_lock:
                        self._held -= len(batch)
                return stored
            except Exception:
                log.exception("storing a batch failed; retrying it")
                self.counters.add("write_errors")
                self._stop.wait(1.0)
        return False

    def _ack(self, batch: list[Entry]) -> None:
        last = max(entry.lane_number for entry in batch)
        if self._alerts is not None and last and not self._alerts.wait_processed(last):
            return  # stopping before the rules saw them: unacknowledged, so redelivered
        generation = self._generation
        acked = 0
        for entry in batch:
            if entry.qos > 0 and entry.generation == generation:
                self._client.ack(entry.mid, entry.qos)
                acked += 1
        self.counters.add("acked", acked)
        self.counters.add("stored_messages", len(batch))

    def _on_store_refused(self, entry: Entry, refused: WriteRejected) -> None:
        rejected = self._handler.reject(
            entry.topic, entry.payload, "store_rejected", f"{refused.status}: {refused.error}", "?"
        )
        self.counters.add("rejected_store_rejected")
        self._publish_dead_letter(rejected)

    def _on_retry(self, reason: str) -> None:
        log.warning("InfluxDB write failed, retrying: %s", reason)

    def _publish_dead_letter(self, rejected: Rejected) -> None:
        self._client.publish(
            self._dead_letter_topic,
            DEAD_LETTER.encode(rejected.dead_letter),
            qos=DEAD_LETTER.qos,
            retain=DEAD_LETTER.retain,
        )
        self.counters.add("dead_lettered")

    # status thread ---------------------------------------------------------------------------

    def _status_loop(self) -> None:
        while not self._stop.wait(self.settings.status_interval_s):
            if self._connected.is_set():
                self._client.publish(
                    status_topic(self.settings),
                    status_payload(self.settings, "online", self.counters.snapshot()),
                    qos=1,
                    retain=True,
                )
