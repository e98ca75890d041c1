"""The live side of one API process, wired together: the hub of WebSocket connections, the
feed from MQTT into it, and the announcer of alert changes made here.

    MQTT (alert, device status, command progress; plain subscription, every replica)
      └─ MqttLink (paho thread) ─ FeedBridge ─(event loop)─ StreamHub ─ a queue per connection
    alert action (request thread) ─ AlertAnnouncer ─┬─ FeedBridge (this replica's clients)
                                                    └─ MqttLink.publish ─ PUBACK ─ outbox row
    command change (any thread) ─ command_changed ─ FeedBridge (at once; the dispatcher
                                  publishes it on MQTT for the other replicas)

Nothing here is shared between replicas: each has its own subscription and its own clients,
so replicas stay stateless and any of them can take any connection.
"""

import asyncio
import logging
from typing import Literal

from hgj_api.alerts.announcer import AlertAnnouncer
from hgj_api.live.feed import FeedBridge, stream_subscriptions
from hgj_api.live.hub import StreamEvent, StreamHub
from hgj_api.live.mqtt_link import MqttLink
from hgj_api.live.protocol import event_text
from hgj_api.metrics import ApiMetrics
from hgj_api.settings import ApiSettings
from hgj_contracts import COMMAND_PROGRESS
from hgj_statedb.alert_store import AlertStore
from hgj_statedb.command_views import CommandChange

log = logging.getLogger("hgj_api.live")

FeedState = Literal["connected", "disconnected", "off"]


class LiveService:
    def __init__(self, settings: ApiSettings, store: AlertStore, metrics: ApiMetrics) -> None:
        self.settings = settings
        self.hub = StreamHub(settings.stream_queue_size)
        self.bridge = FeedBridge(
            self.hub,
            on_event=lambda kind: metrics.stream_events.labels(kind).inc(),
            on_overflow=metrics.stream_feed_overflow.inc,
        )
        self.announcer = AlertAnnouncer(store, settings.root, self.bridge)
        self.link: MqttLink[int] | None = None
        if settings.mqtt_host is not None:
            self.link = MqttLink(
                settings,
                stream_subscriptions(settings.root),
                on_message=self.bridge.on_mqtt_message,
                on_published=self.announcer.confirmed,
            )
            self.announcer.attach(self.link.publish)

    @property
    def feed_state(self) -> FeedState:
        if self.link is None:
            return "off"
        return "connected" if self.link.is_ready else "disconnected"

    def command_changed(self, change: CommandChange) -> None:
        """A command transition made by this replica, to its own clients at once (its MQTT
        echo, and a re-sent announcement, are dropped by the feed as not newer)."""
        params = change.topic_params
        data = COMMAND_PROGRESS.adapter.dump_python(
            change.to_progress(), mode="json", exclude_none=True
        )
        text = event_text("command_progress", params, data)
        self.bridge.submit(
            StreamEvent("command_progress", params["community"], text), change.to_progress()
        )

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start delivering on ``loop`` (the server's); connects to the broker in the
        background, so a broker that is down delays the stream, not the API."""
        self.bridge.bind(loop)
        self.announcer.start()
        if self.link is None:
            log.warning(
                "no broker configured (HGJ_API_MQTT_HOST): the live stream carries only this "
                "replica's own alert changes, and ingest's outbox sweep publishes them"
            )
            return
        self.link.start()

    def stop(self) -> None:
        if self.link is not None:
            self.link.stop()
        self.announcer.stop()
        self.bridge.bind(None)
