"""The presence consumer: device statuses from MQTT into the registry, in the API process.

- **Live statuses** arrive on a shared subscription (``$share/api-presence/...``), so API
  replicas split them; each is applied (``apply_presence``, committed) and only then
  acknowledged (manual ack), in a persistent session (fixed client id ``{instance}-presence``,
  clean_start False, a session expiry), so a restarting replica loses none.
- **Retained statuses** are not sent to shared subscriptions (MQTT 5, section 4.8.2), so at
  every (re)connect a short-lived plain subscription (``{instance}-presence-sync``, clean
  session) reads them once and applies them: what happened while no replica was listening, or
  before the registry knew the device. Each replica does this; the event-time guard makes the
  repeats harmless.
- **A last will's time**: a will is composed when the device connects, so its ``ts`` is that
  connect time (``hgj_contracts.status``). A will delivered live (neither retained nor a
  redelivery) is dated when it arrived, which is when the device was lost; a retained or
  redelivered copy keeps its ``ts``, so it cannot overwrite a status that came after it.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Final

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy.engine import Engine

from hgj_api.mqtt_client import new_client
from hgj_api.presence.store import PresenceUpdate, apply_presence
from hgj_api.settings import ApiSettings
from hgj_contracts import DEVICE_STATUS, ContractError, utc_now

log = logging.getLogger("hgj_api.presence")

SHARE_GROUP: Final = "api-presence"
SESSION_EXPIRY_S: Final = 3600
SYNC_QUIET_S: Final = 1.0
"""The retained statuses come in one burst after the subscription; this long without one
ends the read."""
SYNC_MAX_S: Final = 60.0


class PresenceConsumer:
    def __init__(
        self,
        settings: ApiSettings,
        engine: Engine,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if settings.mqtt_host is None:
            raise ValueError("no broker configured (HGJ_API_MQTT_HOST)")
        self._settings = settings
        self._engine = engine
        self._clock = clock
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._sync_done = threading.Event()
        self._sync_thread: threading.Thread | None = None
        self._client = self._make_client(f"{settings.instance}-presence", manual_ack=True)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_live

    # Lifecycle.

    def start(self) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        host, port = self._settings.mqtt_host or "", self._settings.mqtt_port
        self._client.connect_async(
            host, port, keepalive=30, clean_start=False, properties=properties
        )
        self._client.loop_start()

    def wait_ready(self, timeout: float) -> bool:
        """True once the live subscription is in place and the retained statuses were read."""
        deadline = time.monotonic() + timeout
        return self._subscribed.wait(timeout) and self._sync_done.wait(
            max(0.0, deadline - time.monotonic())
        )

    def stop(self) -> None:
        self._stopping.set()
        self._client.disconnect()
        self._client.loop_stop()
        self._client._reset_sockets()  # see MqttLink.stop: no ResourceWarning later
        if self._sync_thread is not None:
            self._sync_thread.join(timeout=SYNC_MAX_S)

    # Applying.

    def apply(self, topic: str, payload: bytes, *, fresh: bool) -> bool:
        """Apply one status message; ``fresh`` when it was delivered live, first time."""
        params = DEVICE_STATUS.match(topic.split("/"))
        if params is None:
            return False
        try:
            status = DEVICE_STATUS.decode(payload, params)
        except ContractError as error:
            log.warning("ignored a bad status on %s: %s", topic, error)  # ingest dead-letters it
            return False
        at = status.ts
        if fresh and status.state == "offline" and status.reason == "connection_lost":
            at = max(at, self._clock())
        change = PresenceUpdate.of(params["community"], params["device"], status, at)
        return apply_presence(self._engine, change)

    # paho callbacks (network thread).

    def _on_live(self, client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            self.apply(msg.topic, bytes(msg.payload), fresh=not (msg.retain or msg.dup))
        except Exception:
            # Not acknowledged: the broker sends it again after the next reconnect.
            log.exception("could not apply the status on %s", msg.topic)
            return
        client.ack(msg.mid, msg.qos)

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("the broker refused the presence consumer: %s", reason)
            return
        topic = DEVICE_STATUS.subscription(share_group=SHARE_GROUP, root=self._settings.root)
        client.subscribe(topic, qos=DEVICE_STATUS.qos)

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("the broker refused the presence subscription: %s", reasons)
            return
        self._subscribed.set()
        # Read the retained statuses now that nothing live can fall between the two.
        if self._sync_thread is None or not self._sync_thread.is_alive():
            self._sync_done.clear()
            self._sync_thread = threading.Thread(
                target=self._sync_retained, name="presence-sync", daemon=True
            )
            self._sync_thread.start()

    # The retained read.

    def _sync_retained(self) -> None:
        last = [time.monotonic()]
        subscribed = threading.Event()
        client = self._make_client(f"{self._settings.instance}-presence-sync", manual_ack=False)

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            last[0] = time.monotonic()
            if not msg.retain:
                return  # live: the shared subscription has it
            try:
                self.apply(msg.topic, bytes(msg.payload), fresh=False)
            except Exception:
                log.exception("could not apply the retained status on %s", msg.topic)

        def on_connect(
            c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
        ) -> None:
            if not reason.is_failure:
                options = SubscribeOptions(
                    qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE
                )
                c.subscribe(DEVICE_STATUS.subscription(root=self._settings.root), options=options)

        def on_subscribe(*_args: object) -> None:
            last[0] = time.monotonic()
            subscribed.set()

        client.on_message = on_message
        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        try:
            client.connect(self._settings.mqtt_host or "", self._settings.mqtt_port, keepalive=30)
            client.loop_start()
            started = time.monotonic()
            if subscribed.wait(SYNC_MAX_S):
                while (
                    not self._stopping.is_set()
                    and time.monotonic() - last[0] < SYNC_QUIET_S
                    and time.monotonic() - started < SYNC_MAX_S
                ):
                    time.sleep(0.1)
            else:
                log.warning("the retained status read was not subscribed in time")
        except OSError as error:
            log.warning("could not read the retained statuses: %s", error)
        finally:
            client.disconnect()
            client.loop_stop()
            client._reset_sockets()
            self._sync_done.set()

    def _make_client(self, client_id: str, *, manual_ack: bool) -> mqtt.Client:
        return new_client(
            client_id,
            login=self._settings.mqtt_login,
            tls=self._settings.mqtt_tls,
            ca_file=self._settings.mqtt_ca_file,
            manual_ack=manual_ack,
        )
