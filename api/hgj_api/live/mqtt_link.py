"""The API process's own MQTT connection: the live stream's feed, and alert changes out.

- **Subscriptions** are plain (not shared): every replica must see every alert change, status
  and command progress for its own WebSocket clients. The session starts clean and expires with
  the connection: a restarted replica has no clients waiting for what it missed, and a
  persistent session would queue messages for nobody. Retained status messages are not asked for
  at subscription (Retain Handling 2): the stream carries changes; the current picture is the
  REST API's job.
- **Publishes** (alert changes people made through this replica) go out at QoS 1; the broker's
  PUBACK is passed to ``on_published`` with the value given to ``publish``, so that the outbox
  row is marked delivered only when the broker has it.

The client id is ``{instance}-live``, beside the command dispatcher's ``{instance}`` session.
No lock of ours is held while calling into paho: paho runs ``on_publish`` while holding its own
lock, and a PUBACK can arrive before ``publish`` has returned its message id, which is why
acknowledgements that beat their registration are remembered (``_early``) rather than waited for.
"""

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from hgj_api.mqtt_client import new_client
from hgj_api.settings import ApiSettings

log = logging.getLogger("hgj_api.live")

Token = TypeVar("Token")


class MqttLink(Generic[Token]):
    def __init__(
        self,
        settings: ApiSettings,
        subscriptions: Sequence[tuple[str, int]],
        *,
        on_message: Callable[[str, bytes], None],
        on_published: Callable[[Token], None],
    ) -> None:
        if settings.mqtt_host is None:
            raise ValueError("no broker configured (HGJ_API_MQTT_HOST)")
        self._host = settings.mqtt_host
        self._port = settings.mqtt_port
        self._subscriptions = list(subscriptions)
        self._on_message_cb = on_message
        self._on_published = on_published
        self._lock = threading.Lock()
        self._pending: dict[int, Token] = {}
        self._early: dict[int, ReasonCode] = {}
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._stopping = threading.Event()
        self._client = self._make_client(settings)

    # Lifecycle.

    def start(self) -> None:
        self._client.connect_async(self._host, self._port, keepalive=30, clean_start=True)
        self._client.loop_start()

    def wait_ready(self, timeout: float) -> bool:
        """True once connected and subscribed."""
        return self._subscribed.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        self._client.disconnect()
        self._client.loop_stop()
        # paho closes its wake-up sockets only when garbage collected, which warns
        # (ResourceWarning) in a process that keeps running, such as the test suite.
        self._client._reset_sockets()

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    @property
    def is_ready(self) -> bool:
        return self._subscribed.is_set()

    # Publishing.

    def publish(self, topic: str, payload: bytes, qos: int, token: Token) -> bool:
        """Publish; ``on_published(token)`` follows the broker's PUBACK. False when paho
        refused the message outright (nothing will follow)."""
        info = self._client.publish(topic, payload, qos=qos)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("publish on %s failed: %s", topic, mqtt.error_string(info.rc))
            return False
        # NO_CONN: paho keeps the message and sends it after reconnecting.
        with self._lock:
            early = self._early.pop(info.mid, None)
            if early is None:
                self._pending[info.mid] = token
        if early is not None:
            self._acknowledged(token, early)
        return True

    def _acknowledged(self, token: Token, reason: ReasonCode) -> None:
        if reason.is_failure:  # not authorised, say: leave it to the outbox sweep
            log.error("the broker refused a publish: %s", reason)
            return
        try:
            self._on_published(token)
        except Exception:
            log.exception("could not record a PUBACK")

    # paho callbacks (network thread).

    def _on_publish(
        self,
        _client: mqtt.Client,
        _userdata: object,
        mid: int,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        with self._lock:
            if mid not in self._pending:
                self._early[mid] = reason  # publish() has not recorded it yet
                return
            token = self._pending.pop(mid)
        self._acknowledged(token, reason)

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            self._on_message_cb(msg.topic, bytes(msg.payload))
        except Exception:  # one bad message must not stop the feed
            log.exception("could not stream the message on %s", msg.topic)

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("the broker refused the API's live connection: %s", reason)
            return
        self._connected.set()
        if self._subscriptions:
            # A clean session forgets subscriptions: subscribe on every (re)connect.
            options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)
            client.subscribe([(topic, options) for topic, _ in self._subscriptions])
        else:
            self._subscribed.set()

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("the broker refused the live stream's subscriptions: %s", reasons)
            return
        self._subscribed.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected.clear()
        self._subscribed.clear()
        if not self._stopping.is_set():
            log.warning("the API's live connection lost the broker (%s); reconnecting", reason)

    def _make_client(self, settings: ApiSettings) -> mqtt.Client:
        client = new_client(
            f"{settings.instance}-live",
            login=settings.mqtt_login,
            tls=settings.mqtt_tls,
            ca_file=settings.mqtt_ca_file,
        )
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client
