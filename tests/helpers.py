"""Helpers shared by tests: polling instead of sleeping, and a small synchronous MQTT client.

Tests never assert on timing. They poll for a condition with a generous timeout, and they
prove that something was *not* delivered with a sentinel: publish the forbidden message, then
an allowed one on the same connection, wait for the allowed one, and only then check that
the forbidden one is absent (the broker keeps the order of one publisher's messages).
"""

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hgj_devstack.accounts import MqttAccount
from hgj_devstack.mosquitto import Mosquitto

DEFAULT_TIMEOUT = 10.0


def wait_until(
    predicate: Callable[[], bool],
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = 0.02,
    message: str = "condition",
) -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def unique_id(prefix: str = "t") -> str:
    """An id valid in topics (``^[a-z0-9][a-z0-9_-]{0,63}$``) that no other test uses."""
    return f"{prefix}{secrets.token_hex(6)}"


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int


class ConnectRefusedError(Exception):
    """The broker answered CONNACK with a failure reason (bad password, not authorised...)."""

    def __init__(self, reason: ReasonCode) -> None:
        super().__init__(f"connection refused: {reason}")
        self.reason = reason


class MqttTestClient:
    """A paho MQTT 5 client with its network thread, whose calls wait for the broker's answer.

    ``connect`` waits for CONNACK, ``subscribe`` for SUBACK, ``publish`` for PUBACK; received
    messages are collected in arrival order. Automatic reconnection is off so that a killed
    broker ends the client instead of leaving a thread retrying in the background.
    """

    def __init__(
        self,
        host: str,
        port: int,
        account: MqttAccount | None,
        client_id: str | None = None,
        *,
        clean_start: bool = True,
        session_expiry: int = 0,
        receive_maximum: int | None = None,
        manual_ack: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id or unique_id("client-")
        self._clean_start = clean_start
        self._session_expiry = session_expiry
        self._receive_maximum = receive_maximum
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
            manual_ack=manual_ack,
        )
        if account is not None:  # None: an anonymous client, which the broker must refuse
            self._client.username_pw_set(account.username, account.password)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect
        self._lock = threading.Lock()
        self._connack = threading.Event()
        self._disconnected = threading.Event()
        self._connack_reason: ReasonCode | None = None
        self.session_present = False
        self.disconnect_reason: ReasonCode | None = None
        self._subacks: dict[int, list[ReasonCode]] = {}
        self._pubacks: dict[int, ReasonCode] = {}
        self._messages: list[Received] = []
        self._started = False

    @classmethod
    def connected(cls, broker: Mosquitto, account: MqttAccount, **options: Any) -> Self:
        """A client of ``broker`` logged in as ``account``; options as for the constructor."""
        return cls(broker.host, broker.port, account, **options).connect()

    def connect(self, timeout: float = DEFAULT_TIMEOUT) -> Self:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if self._session_expiry:
            properties.SessionExpiryInterval = self._session_expiry
        if self._receive_maximum is not None:
            properties.ReceiveMaximum = self._receive_maximum
        self._client.connect(
            self.host,
            self.port,
            keepalive=30,
            clean_start=self._clean_start,
            properties=properties,
        )
        self._client.loop_start()
        self._started = True
        if not self._connack.wait(timeout):
            self.close()
            raise AssertionError(f"no CONNACK from {self.host}:{self.port} within {timeout}s")
        reason = self._connack_reason
        if reason is None or reason.is_failure:
            self.close()
            raise ConnectRefusedError(reason if reason is not None else ReasonCode(2, "Failure"))
        return self

    def subscribe(
        self, topic_filter: str, qos: int = 1, timeout: float = DEFAULT_TIMEOUT
    ) -> list[ReasonCode]:
        """Subscribe and return the SUBACK reason codes (granted QoS or a refusal)."""
        result, mid = self._client.subscribe(topic_filter, qos)
        assert result == mqtt.MQTT_ERR_SUCCESS, f"subscribe failed: {result}"
        assert mid is not None
        wait_until(lambda: mid in self._subacks, timeout, message=f"SUBACK {topic_filter}")
        with self._lock:
            return self._subacks.pop(mid)

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> ReasonCode | None:
        """Publish and wait until it is sent (QoS 0) or acknowledged; the PUBACK reason code."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        self._wait_published(info, topic, time.monotonic() + timeout)
        with self._lock:
            return self._pubacks.pop(info.mid, None)

    def publish_many(
        self, topic: str, payloads: Sequence[bytes], qos: int = 1, timeout: float = 60.0
    ) -> None:
        """Publish a burst without waiting for each PUBACK in turn, then wait for all of them.

        paho refuses more than 65,535 pending QoS>0 messages, so bursts stay below that.
        """
        infos = [self._client.publish(topic, payload, qos=qos) for payload in payloads]
        deadline = time.monotonic() + timeout
        for info in infos:
            self._wait_published(info, topic, deadline)
        with self._lock:
            for info in infos:
                self._pubacks.pop(info.mid, None)

    def _wait_published(self, info: mqtt.MQTTMessageInfo, topic: str, deadline: float) -> None:
        """Wait for the PUBACK; ConnectionError as soon as the connection is gone (paho itself
        would keep waiting until the timeout)."""
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_AGAIN):
            raise ConnectionError(
                f"connection lost before PUBACK for {topic}: {mqtt.error_string(info.rc)}"
            )
        wait_until(
            lambda: info.is_published() or self._disconnected.is_set(),
            max(0.0, deadline - time.monotonic()),
            interval=0.005,
            message=f"PUBACK for {topic}",
        )
        if not info.is_published():
            raise ConnectionError(
                f"connection lost before PUBACK for {topic}: {self.disconnect_reason}"
            )

    @property
    def is_connected(self) -> bool:
        # paho's is_connected() can stay true after the broker closed the connection.
        return self._connack.is_set() and not self._disconnected.is_set()

    def ack(self, message: Received) -> None:
        """Acknowledge a message (clients created with ``manual_ack=True``)."""
        self._client.ack(message.mid, message.qos)

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def wait_for_messages(self, count: int, timeout: float = DEFAULT_TIMEOUT) -> list[Received]:
        """Wait until at least ``count`` messages arrived; all of them, in arrival order."""
        wait_until(lambda: len(self.messages) >= count, timeout, message=f"{count} message(s)")
        return self.messages

    def wait_for_topic(self, topic: str, timeout: float = DEFAULT_TIMEOUT) -> Received:
        wait_until(lambda: any(m.topic == topic for m in self.messages), timeout, message=topic)
        return next(m for m in self.messages if m.topic == topic)

    def close(self) -> None:
        """Disconnect cleanly (a persistent session stays on the broker) and stop the thread."""
        if not self._started:
            return
        self._started = False
        self._client.disconnect()
        self._client.loop_stop()
        # paho closes its socket pair (the network thread's wake-up channel) only in __del__;
        # when the garbage collector finalizes the sockets first, pytest (filterwarnings =
        # error) fails the run on a ResourceWarning. Close them now, the thread has ended.
        self._client._reset_sockets()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # paho callbacks run on the network thread.

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connack_reason = reason
        self.session_present = flags.session_present
        self._connack.set()

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._subacks[mid] = list(reasons)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._pubacks[mid] = reason

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.disconnect_reason = reason
        self._disconnected.set()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        received = Received(msg.topic, bytes(msg.payload), msg.qos, msg.retain, msg.mid)
        with self._lock:
            self._messages.append(received)


class MosquittoFactory(Protocol):
    """The ``mosquitto_factory`` fixture: start a broker with these accounts (and port)."""

    def __call__(self, accounts: Sequence[MqttAccount], port: int | None = None) -> Mosquitto: ...
