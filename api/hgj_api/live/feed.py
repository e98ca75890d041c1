"""From MQTT messages to stream events, and across from paho's thread to the event loop.

Every payload is decoded through the contract before it reaches a console: device status
comes from devices, and a device that sends garbage must not get it onto a guard's screen.
Alert changes and command progress can arrive twice or out of order (outboxes re-send what they
could not confirm; this replica also hands its own changes to the hub before their MQTT echo
arrives), so the feed keeps the last ``event_id`` sent per alert and per command and drops
anything not newer: each such message is the alert's or command's whole current picture, so
dropping an older one loses nothing.
"""

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Final

from hgj_api.live.hub import StreamEvent, StreamHub
from hgj_api.live.protocol import StreamKind, event_text
from hgj_contracts import (
    ALERT,
    COMMAND_PROGRESS,
    DEVICE_STATUS,
    Alert,
    Channel,
    CommandProgress,
    ContractError,
)

log = logging.getLogger("hgj_api.live")

STREAMED: Final[dict[str, tuple[StreamKind, Channel[Any]]]] = {
    ALERT.name: ("alert", ALERT),
    DEVICE_STATUS.name: ("device_status", DEVICE_STATUS),
    COMMAND_PROGRESS.name: ("command_progress", COMMAND_PROGRESS),
}
"""The channels the stream carries, by channel name."""

ALERTS_REMEMBERED: Final = 10_000
"""Alerts and commands whose last event id the feed keeps; the oldest is forgotten first (one
that changes after that long is let through, which is a duplicate at worst)."""

Versioned = Alert | CommandProgress
"""Payloads that carry an ``event_id`` growing per alert or per command."""


def stream_subscriptions(root: str) -> list[tuple[str, int]]:
    """(filter, QoS) for everything the stream carries, in every community."""
    return [(channel.subscription(root=root), channel.qos) for _, channel in STREAMED.values()]


def event_from_message(topic: str, payload: bytes) -> tuple[StreamEvent, Any] | None:
    """The stream event for an MQTT message and its decoded payload; None for a topic the
    stream does not carry. ContractError for a payload that breaks the contract."""
    levels = topic.split("/")
    for kind, channel in STREAMED.values():
        params = channel.match(levels)
        if params is None:
            continue
        decoded = channel.decode(payload, params)
        data = channel.adapter.dump_python(decoded, mode="json", exclude_none=True)
        return StreamEvent(kind, params["community"], event_text(kind, params, data)), decoded
    return None


class AlertDeduplicator:
    """Remembers the newest ``event_id`` passed per alert and per command (bounded, least
    recently used)."""

    def __init__(self, capacity: int = ALERTS_REMEMBERED) -> None:
        self._capacity = capacity
        self._last: OrderedDict[str, int] = OrderedDict()

    def is_new(self, payload: Versioned) -> bool:
        """True (and remembered) when this change is newer than any passed for its alert or
        command. Changes without an event id (published before it existed) always pass."""
        if payload.event_id is None:
            return True
        if isinstance(payload, Alert):
            key = f"alert:{payload.alert_id}"
        else:
            key = f"command:{payload.command_id}"
        last = self._last.get(key)
        if last is not None and payload.event_id <= last:
            return False
        self._last[key] = payload.event_id
        self._last.move_to_end(key)
        if len(self._last) > self._capacity:
            self._last.popitem(last=False)
        return True


class FeedBridge:
    """Takes stream events on any thread and publishes them to the hub on the event loop.

    Events wait in a bounded buffer and one callback per burst drains it, so paho's thread
    never blocks on the loop; if the loop falls ``max_pending`` behind, events are dropped and
    counted rather than piling up in memory.
    """

    def __init__(
        self,
        hub: StreamHub,
        *,
        max_pending: int = 10_000,
        on_event: Callable[[StreamKind], None] | None = None,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self._hub = hub
        self._max_pending = max_pending
        self._on_event = on_event
        self._on_overflow = on_overflow
        self._lock = threading.Lock()
        self._pending: deque[tuple[StreamEvent, Versioned | None]] = deque()
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._alerts = AlertDeduplicator()  # used on the loop only

    def bind(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Deliver on ``loop`` from now on (None: stop delivering, at shutdown)."""
        with self._lock:
            self._loop = loop
            self._pending.clear()
            self._scheduled = False

    def on_mqtt_message(self, topic: str, payload: bytes) -> None:
        """paho's ``on_message`` (network thread)."""
        try:
            found = event_from_message(topic, payload)
        except ContractError as error:
            log.warning("not streamed, breaks the contract: %s (%s)", topic, error)
            return
        if found is not None:
            event, decoded = found
            versioned = decoded if isinstance(decoded, Alert | CommandProgress) else None
            self.submit(event, versioned)

    def submit(self, event: StreamEvent, alert: Versioned | None = None) -> None:
        """Hand ``event`` to the hub (any thread); ``alert`` is its payload, for alert and
        command progress events (dropped when not newer than one passed before)."""
        with self._lock:
            loop = self._loop
            if loop is None:
                return
            overflow = len(self._pending) >= self._max_pending
            schedule = False
            if not overflow:
                self._pending.append((event, alert))
                schedule = not self._scheduled
                self._scheduled = True
        if overflow:
            if self._on_overflow is not None:
                self._on_overflow()
            return
        if schedule:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutting down)
                loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
            self._scheduled = False
        for event, alert in batch:
            if alert is not None and not self._alerts.is_new(alert):
                continue
            if self._on_event is not None:
                self._on_event(event.kind)
            self._hub.publish(event)
