"""Announcing alert changes that people make through the API, as ingest announces its own.

The change is already in the store's outbox (``alert_events``, ``published_at`` NULL) when the
transaction that made it commits. The API then publishes it itself, at once, on the alert topic
(so that every replica's console sees an acknowledgement within milliseconds, not at the next
outbox sweep), hands it to this replica's own stream directly, and marks the outbox row
delivered when the broker's PUBACK comes. Whatever is not confirmed (the API died after the
commit, the broker was down, the PUBACK was lost) stays in the outbox, where ingest's alert
worker, the one outbox publisher that always runs, re-sends it after its redelivery delay.

So a change is never lost, and it may go out twice. Consumers absorb that by the payload's
``event_id`` (see ``hgj_contracts.alerts``): the stream's feed drops a change that is not newer
than the last it passed for that alert, including this replica's MQTT echo of what it already
handed to its clients directly.
"""

import logging
import threading
from collections.abc import Callable

from hgj_api.live.feed import FeedBridge
from hgj_api.live.hub import StreamEvent
from hgj_api.live.protocol import event_text
from hgj_contracts import ALERT
from hgj_statedb.alert_store import AlertStore
from hgj_statedb.views import AlertChange

log = logging.getLogger("hgj_api.alerts")

Publish = Callable[[str, bytes, int, int], bool]
"""(topic, payload, qos, outbox event id) → False when it could not even be queued."""


class AlertAnnouncer:
    def __init__(
        self,
        store: AlertStore,
        root: str,
        bridge: FeedBridge,
        *,
        flush_interval_s: float = 0.2,
    ) -> None:
        self._store = store
        self._root = root
        self._bridge = bridge
        self._publish: Publish | None = None
        self._flush_interval_s = flush_interval_s
        self._lock = threading.Lock()
        self._confirmed: list[int] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="api-alert-outbox", daemon=True)

    def attach(self, publish: Publish) -> None:
        """Publish through ``publish`` from now on (without one, the outbox sweep delivers)."""
        self._publish = publish

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def announce(self, change: AlertChange) -> None:
        """Announce a committed change (never raises: the outbox keeps it either way)."""
        try:
            payload = change.to_payload()
            data = ALERT.adapter.dump_python(payload, mode="json", exclude_none=True)
            params = change.topic_params
            self._bridge.submit(
                StreamEvent("alert", params["community"], event_text("alert", params, data)),
                payload,
            )
            if self._publish is not None:
                self._publish(
                    ALERT.topic(root=self._root, **params),
                    ALERT.encode(payload),
                    ALERT.qos,
                    change.event.event_id,
                )
        except Exception:
            log.exception("could not announce alert change %s", change.event.event_id)

    def confirmed(self, event_id: int) -> None:
        """The broker acknowledged this change (paho's thread: recorded by ours, soon)."""
        with self._lock:
            self._confirmed.append(event_id)
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_interval_s)
            self._wake.clear()
            self._flush()
        self._flush()

    def _flush(self) -> None:
        with self._lock:
            confirmed, self._confirmed = self._confirmed, []
        if not confirmed:
            return
        try:
            self._store.mark_delivered("mqtt", confirmed)
        except Exception:  # the database is down: the sweep will send them again, harmlessly
            log.exception("could not mark %d alert changes delivered", len(confirmed))
