"""The MQTT side of commands: publish them, follow the devices' answers, announce every change.

- **Commands** go to the device's command topic at QoS 1 with an MQTT 5 Message Expiry
  Interval of the seconds left until ``expires_at``: a device that is offline past that moment
  never receives it from its persistent session (the broker drops it), and the device checks
  ``expires_at`` itself as well. The broker's PUBACK moves the command to ``sent``.
- **Results** arrive on a shared subscription (``$share/api/...``): each result reaches one
  replica, which applies it to the state database (where the row lock and the state machine
  make replicas and out-of-order answers safe) and only then acknowledges it (manual ack), so
  a replica that dies mid-way leaves the result to be redelivered rather than lost.
- **Every change** goes to the audit hook and, when it is a transition, to the progress
  channel, from which every replica feeds its WebSocket clients. An announcement whose PUBACK
  never came stays in the outbox (``command_events.published_at``) and the sweeper publishes
  it again.

Threads: paho's network thread runs the callbacks (PUBACKs, results); API request threads and
the sweeper call ``dispatch`` and ``announce``. No lock of ours is ever held while calling into
paho: paho calls ``on_publish`` while holding its own message lock, and a publisher waiting for
that lock while holding ours would deadlock.
"""

import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hgj_api.commands.config import BrokerEndpoint, CommandConfig
from hgj_api.mqtt_client import new_client
from hgj_contracts import COMMAND, COMMAND_PROGRESS, COMMAND_RESULT, ContractError, utc_now
from hgj_contracts.commands import CommandProgress, CommandResult
from hgj_statedb.command_store import CommandNotFoundError, CommandStore, ResultMismatchError
from hgj_statedb.command_views import CommandChange, CommandView, ProgressEntry, Refusal

log = logging.getLogger("hgj_api.commands")

AuditHook = Callable[[CommandChange], None]
"""Called once per change (transitions and late results) after it is committed. The audit log
service plugs in here; an exception is logged and does not undo the change."""
InterlockCheck = Callable[[str, str, str, Mapping[str, Any]], Refusal | None]
"""(community, device, action, parameters) → a refusal, checked again just before sending: a
command queued before a fire alarm must not go out after it."""

REGISTRATION_WAIT_S: Final = 5.0
"""How long a PUBACK may wait for the publisher to record what it acknowledges (normally
microseconds: the gap between paho's publish() returning and our bookkeeping)."""


BROKER_CLOCK_S: Final = 1
"""Mosquitto keeps time in whole seconds and drops a message only once its clock has passed
the expiry second, so a message can outlive its interval by up to a second (measured on 2.0.11:
published just after a second boundary with a 1 s interval, it still reached a device that came
back 1.9 s later, and not one that came back after 2.2 s)."""


def expiry_interval(remaining_s: float) -> int:
    """The Message Expiry Interval for a command with ``remaining_s`` seconds to live: whole
    seconds, less the broker's second of slack, so that the broker never delivers it after
    ``expires_at``. At least 1 (0 would mean "never expires" to some brokers): a command this
    close to its deadline is stopped by the device's own check instead."""
    return max(1, math.floor(remaining_s) - BROKER_CLOCK_S)


@dataclass(frozen=True, slots=True)
class _Pending:
    kind: Literal["command", "progress"]
    key: str | int  # command id, or progress event id


def _no_interlock(community: str, device: str, action: str, params: Mapping[str, Any]) -> None:
    return None


class CommandDispatcher:
    def __init__(
        self,
        config: CommandConfig,
        endpoint: BrokerEndpoint,
        store: CommandStore,
        *,
        audit: AuditHook | None = None,
        interlock: InterlockCheck = _no_interlock,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self.endpoint = endpoint
        self._store = store
        self._audit = audit
        self._interlock = interlock
        self._clock = clock
        self._lock = threading.Condition()
        self._pending: dict[int, _Pending] = {}
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._client = self._make_client()

    # Lifecycle.

    def start(self) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.config.session_expiry_s
        self._client.connect_async(
            self.endpoint.host,
            self.endpoint.port,
            keepalive=30,
            clean_start=False,  # results queued while this replica restarted are kept
            properties=properties,
        )
        self._client.loop_start()

    def wait_ready(self, timeout: float) -> bool:
        """True once connected and subscribed to the results."""
        return self._subscribed.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        self._client.disconnect()
        self._client.loop_stop()
        # paho closes its wake-up socket pair only when the client is garbage collected, which
        # warns (ResourceWarning) in a process that keeps running, such as the test suite.
        self._client._reset_sockets()

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    # Outgoing.

    def dispatch(self, command: CommandView) -> bool:
        """Publish a queued command unless an interlock now forbids it or it has expired; True
        when it went out (its PUBACK will move it to ``sent``). Not connected: False, and the
        command waits for a dispatcher to claim it again (paho would otherwise send it on
        reconnect with an expiry interval computed before the outage)."""
        refusal = self._interlock(
            command.community, command.device, command.action, command.parameters
        )
        if refusal is not None:
            change = self._store.apply(
                command.command_id,
                "interlock",
                actor=self.config.instance,
                error_code=refusal.error_code,
                error=refusal.error,
            )
            if change is not None:
                self.announce(change)
            return False
        remaining = (command.expires_at - self._clock()).total_seconds()
        if remaining <= 0 or not self.is_connected:
            return False  # expired: the sweeper says so; offline: claimed again later
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.MessageExpiryInterval = expiry_interval(remaining)
        info = self._client.publish(
            COMMAND.topic(root=self.config.root, **command.command_topic_params),
            COMMAND.encode(command.to_command()),
            qos=COMMAND.qos,
            retain=COMMAND.retain,
            properties=properties,
        )
        return self._track(info, _Pending("command", command.command_id))

    def announce(self, change: CommandChange) -> None:
        """Hand a committed change to the audit hook and, if it is a transition, publish it
        on the progress channel (left in the outbox when that cannot be done now)."""
        if self._audit is not None:
            try:
                self._audit(change)
            except Exception:
                log.exception("audit hook failed for %s", change.command.command_id)
        if not change.is_transition:
            log.warning(
                "late result for %s (%s): %s after %s",
                change.command.command_id,
                change.command.device,
                change.event.cause,
                change.command.state,
            )
            return
        self._publish_progress(change.event.event_id, change.topic_params, change.to_progress())

    def republish(self, entries: Iterable[ProgressEntry]) -> None:
        """Publish announcements again that were never acknowledged (the outbox)."""
        for entry in entries:
            self._publish_progress(entry.event_id, entry.topic_params, entry.payload)

    def _publish_progress(
        self, event_id: int, params: dict[str, str], payload: CommandProgress
    ) -> None:
        if not self.is_connected:
            return  # stays in the outbox
        info = self._client.publish(
            COMMAND_PROGRESS.topic(root=self.config.root, **params),
            COMMAND_PROGRESS.encode(payload),
            qos=COMMAND_PROGRESS.qos,
            retain=COMMAND_PROGRESS.retain,
        )
        self._track(info, _Pending("progress", event_id))

    def _track(self, info: mqtt.MQTTMessageInfo, pending: _Pending) -> bool:
        """Record what a PUBACK will acknowledge; True when the message is on its way."""
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("publish of %s %s failed: %s", pending.kind, pending.key, info.rc)
            return False  # paho dropped it (its queue is full)
        # NO_CONN: the connection fell between our check and the publish; paho keeps the
        # message and sends it after reconnecting, so its PUBACK will come.
        with self._lock:
            self._pending[info.mid] = pending
            self._lock.notify_all()
        return info.rc == mqtt.MQTT_ERR_SUCCESS

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
            # The PUBACK can be processed before publish() has returned to its caller, which
            # then records the mid; wait for that (it never calls paho in between).
            self._lock.wait_for(lambda: mid in self._pending, REGISTRATION_WAIT_S)
            pending = self._pending.pop(mid, None)
        if pending is None:
            log.error("PUBACK for unknown message %s", mid)
            return
        try:
            if pending.kind == "progress":
                if not reason.is_failure:
                    self._store.mark_progress_published([int(pending.key)])
                return
            command_id = str(pending.key)
            if reason.is_failure:  # e.g. not authorised: the ACL lacks the command topic
                change = self._store.apply(
                    command_id,
                    "publish_refused",
                    actor=self.config.instance,
                    error_code="publish_refused",
                    error=f"the broker refused the command: {reason}",
                )
            else:
                change = self._store.apply(command_id, "published", actor=self.config.instance)
            if change is not None:
                self.announce(change)
        except Exception:
            log.exception("could not record the PUBACK of %s %s", pending.kind, pending.key)

    def _on_message(self, client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            self._handle_result(msg.topic, bytes(msg.payload))
        except Exception:
            # The database is unreachable (or a bug): leave the result unacknowledged, so the
            # broker delivers it again when this session reconnects.
            log.exception("could not apply the result on %s", msg.topic)
            return
        client.ack(msg.mid, msg.qos)

    def _handle_result(self, topic: str, payload: bytes) -> None:
        levels = topic.split("/")
        params = COMMAND_RESULT.match(levels)
        if params is None:
            log.warning("ignored a message on %s: not a command result", topic)
            return
        try:
            result: CommandResult = COMMAND_RESULT.decode(payload, params)
        except ContractError as error:
            log.warning("ignored a bad result on %s: %s", topic, error)  # ingest dead-letters it
            return
        try:
            change = self._store.record_result(
                params["community"], params["device"], result, actor=self.config.instance
            )
        except (CommandNotFoundError, ResultMismatchError) as error:
            log.warning("ignored a result on %s: %s", topic, error)
            return
        if change is not None:
            self.announce(change)

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("the broker refused the command dispatcher: %s", reason)
            return
        self._connected.set()
        topic_filter = COMMAND_RESULT.subscription(
            share_group=self.config.share_group, root=self.config.root
        )
        client.subscribe(topic_filter, qos=COMMAND_RESULT.qos)

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("the broker refused the result subscription: %s", reasons)
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
            log.warning("command dispatcher lost the broker (%s); paho reconnects", reason)

    def _make_client(self) -> mqtt.Client:
        endpoint = self.endpoint
        password = endpoint.password
        login = None
        if password is not None or endpoint.username is not None:
            login = (
                endpoint.username or f"svc.{self.config.instance}",
                None if password is None else password.get_secret_value(),
            )
        client = new_client(
            self.config.instance,
            login=login,
            tls=endpoint.tls,
            ca_file=endpoint.ca_file,
            manual_ack=True,
        )
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client
