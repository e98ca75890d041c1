"""A device that carries out commands, for tests: what the edge agent will do, kept minimal.

It follows the contract's rules for commands, which are the device's half of "never late,
never twice":

- a persistent MQTT 5 session (fixed client id, clean_start False, a session expiry), so
  commands published while it is offline wait for it at the broker, unless they expire first;
- a command whose ``expires_at`` has passed is not carried out: it answers ``expired``;
- a ``command_id`` it has seen before is not carried out again: it answers again with its
  first outcome (QoS 1 may deliver twice, and a replay must not open a gate twice);
- otherwise it answers ``accepted``, carries the command out, answers ``succeeded`` (or
  ``failed`` with an error code when told to fail that action) and publishes its retained
  state.

What it did is recorded (``executed``, ``received``, ``answers``) for the tests to check.
"""

import threading
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hgj_contracts import (
    COMMAND,
    COMMAND_RESULT,
    DEVICE_STATE,
    CommandResult,
    DeviceCommand,
    DeviceState,
    utc_now,
)
from hgj_contracts.commands import ResultStatus
from hgj_devstack.accounts import MqttAccount
from hgj_devstack.mosquitto import Mosquitto
from tests.helpers import DEFAULT_TIMEOUT, wait_until

SESSION_EXPIRY_S = 600


class CommandDevice:
    def __init__(
        self,
        broker: Mosquitto,
        account: MqttAccount,
        *,
        root: str,
        community: str,
        device: str,
        fail: Mapping[str, str] | None = None,
        final_first: bool = False,
    ) -> None:
        """``fail`` maps actions to the error code to fail them with; ``final_first`` sends the
        outcome before ``accepted`` (answers overtaking each other)."""
        self.root, self.community, self.device = root, community, device
        self._ids = {"root": root, "community": community, "device": device}
        self._client_id = f"dev-{community}-{device}"
        self._broker = broker
        self._account = account
        self._fail = dict(fail or {})
        self._final_first = final_first
        self._lock = threading.Lock()
        self._outcomes: dict[str, CommandResult] = {}
        self._seq = 0
        self._state_seq = 0
        self._state: dict[str, str | int | float | bool | None] = {}
        self.received: list[DeviceCommand] = []
        self.executed: list[DeviceCommand] = []
        self.answers: list[CommandResult] = []
        self.expiry_intervals: dict[str, int | None] = {}
        """The MQTT 5 Message Expiry Interval each command arrived with (first delivery)."""
        self._client: mqtt.Client | None = None
        self._subscribed = threading.Event()

    # Connection.

    def connect(self, timeout: float = DEFAULT_TIMEOUT) -> Self:
        """Connect (resuming the session if the broker kept it) and subscribe to commands."""
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        client.username_pw_set(self._account.username, self._account.password)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self._subscribed.clear()
        client.connect(
            self._broker.host, self._broker.port, clean_start=False, properties=properties
        )
        client.loop_start()
        self._client = client
        if not self._subscribed.wait(timeout):
            self.disconnect()
            raise AssertionError(f"device {self.device} not subscribed within {timeout}s")
        return self

    def disconnect(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Go offline cleanly and wait until the broker has seen it go, so that what a test
        publishes next is queued in the kept session, not written to a closing connection."""
        client, self._client = self._client, None
        if client is None:
            return
        seen = self._broker_disconnects()
        client.disconnect()
        client.loop_stop()
        client._reset_sockets()  # see MqttTestClient.close: no ResourceWarning at collection
        wait_until(
            lambda: self._broker_disconnects() > seen,
            timeout,
            message=f"the broker to log {self._client_id} disconnected",
        )

    def _broker_disconnects(self) -> int:
        try:
            log = self._broker.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return 0
        return log.count(f"Client {self._client_id} disconnected")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()

    # What happened.

    def answers_to(self, command_id: str) -> list[CommandResult]:
        with self._lock:
            return [a for a in self.answers if a.command_id == command_id]

    def wait_for_answers(
        self, command_id: str, count: int, timeout: float = DEFAULT_TIMEOUT
    ) -> list[CommandResult]:
        wait_until(
            lambda: len(self.answers_to(command_id)) >= count,
            timeout,
            message=f"{count} answer(s) to {command_id}",
        )
        return self.answers_to(command_id)

    def executed_ids(self) -> list[str]:
        with self._lock:
            return [c.command_id for c in self.executed]

    def received_ids(self) -> list[str]:
        with self._lock:
            return [c.command_id for c in self.received]

    # paho callbacks (network thread).

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if not reason.is_failure:
            client.subscribe(COMMAND.subscription(**self._ids), qos=1)

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        if not any(reason.is_failure for reason in reasons):
            self._subscribed.set()

    def _on_message(self, client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        params = COMMAND.match(msg.topic.split("/"))
        assert params is not None, msg.topic
        command = COMMAND.decode(bytes(msg.payload), params)
        interval = getattr(msg.properties, "MessageExpiryInterval", None)
        with self._lock:
            self.received.append(command)
            self.expiry_intervals.setdefault(command.command_id, interval)
            first = self._outcomes.get(command.command_id)
            if first is not None:
                # Seen before: not again. The same outcome, as a new message (its own seq).
                self._answer(client, command, first.status, first.error_code, first.error)
                return
            now = utc_now()
            if command.expires_at <= now:
                late = (now - command.expires_at).total_seconds()
                outcome = self._answer(
                    client, command, "expired", "expired", f"expired {late:.1f} s before it came"
                )
                self._outcomes[command.command_id] = outcome
                return
            if not self._final_first:
                self._answer(client, command, "accepted")
            outcome = self._execute(client, command, now)
            if self._final_first:
                self._answer(client, command, "accepted")
            self._outcomes[command.command_id] = outcome

    def _execute(self, client: mqtt.Client, command: DeviceCommand, now: datetime) -> CommandResult:
        self.executed.append(command)
        error_code = self._fail.get(command.action)
        if error_code is not None:
            return self._answer(client, command, "failed", error_code, "told to fail")
        if command.action == "open_gate":
            self._state["gate"] = "open"
        elif command.action == "set_switch":
            self._state[f"switch_{command.channel}"] = command.on
        outcome = self._answer(client, command, "succeeded")
        self._state_seq += 1
        state = DeviceState(
            ts=now, seq=self._state_seq, state=dict(self._state), command_id=command.command_id
        )
        client.publish(
            DEVICE_STATE.topic(**self._ids),
            DEVICE_STATE.encode(state),
            qos=DEVICE_STATE.qos,
            retain=DEVICE_STATE.retain,
        )
        return outcome

    def _answer(
        self,
        client: mqtt.Client,
        command: DeviceCommand,
        status: ResultStatus,
        error_code: str | None = None,
        error: str | None = None,
    ) -> CommandResult:
        self._seq += 1
        result = CommandResult(
            ts=utc_now(),
            seq=self._seq,
            command_id=command.command_id,
            action=command.action,
            status=status,
            error_code=error_code,
            error=error,
        )
        client.publish(
            COMMAND_RESULT.topic(action=command.action, **self._ids),
            COMMAND_RESULT.encode(result),
            qos=COMMAND_RESULT.qos,
            retain=COMMAND_RESULT.retain,
        )
        self.answers.append(result)
        return result
