"""Change the broker's accounts while it runs, through the dynamic-security plugin's
``$CONTROL`` topic: the API registers and revokes devices this way, and the test harness adds
accounts to a running broker.

Each command carries a correlation id; the plugin answers every command of a request in one
message on the response topic, which every control client receives, so each client waits
only for its own ids.
"""

import json
import logging
import threading
import uuid
from collections.abc import Collection, Sequence
from types import TracebackType
from typing import Final, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hgj_brokeradmin.acl import MqttAccount
from hgj_brokeradmin.dynsec import (
    JsonObject,
    add_account_commands,
    remove_account_commands,
    set_enabled_command,
    set_password_command,
)

log = logging.getLogger("hgj_brokeradmin")

REQUEST_TOPIC: Final = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC: Final = "$CONTROL/dynamic-security/v1/response"
NOT_FOUND_ERRORS: Final = frozenset({"Client not found", "Role not found"})
EXISTS_ERRORS: Final = frozenset({"Client already exists", "Role already exists"})


class BrokerControlError(RuntimeError):
    """The broker refused a command, or did not answer in time."""


class DynsecControl:
    """A connection to the broker as its control account. Thread-safe; use as a context
    manager or call ``close``."""

    def __init__(
        self,
        host: str,
        port: int,
        account: MqttAccount,
        *,
        timeout_s: float = 10.0,
        tls: bool = False,
    ) -> None:
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._waiting: dict[str, JsonObject | None] = {}
        self._answered = threading.Condition(self._lock)
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"{account.username}-{uuid.uuid4().hex[:12]}",
            protocol=mqtt.MQTTv5,
        )
        self._client.username_pw_set(account.username, account.password)
        if tls:
            self._client.tls_set()
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.connect(host, port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(timeout_s):
            self.close()
            raise BrokerControlError(
                f"no control session with the broker at {host}:{port} within {timeout_s}s "
                f"(is the dynamic-security plugin loaded and {account.username!r} allowed?)"
            )

    # accounts ----------------------------------------------------------------------------------

    def add_account(self, account: MqttAccount, *, replace: bool = False) -> None:
        """Create the account with its role; ``replace`` first removes one of the same name
        (new password and rules; its connection is cut)."""
        if replace:
            self.remove_account(account.username)
        self.run(add_account_commands(account))

    def add_accounts(self, accounts: Sequence[MqttAccount], *, batch: int = 100) -> None:
        """Create many accounts, a batch of them per request (one answer each, not one per
        account)."""
        for start in range(0, len(accounts), batch):
            commands = [c for a in accounts[start : start + batch] for c in add_account_commands(a)]
            self.run(commands)

    def remove_account(self, username: str) -> None:
        """Delete the account (and cut its connection); absent already is fine."""
        self.run(remove_account_commands(username), tolerate=NOT_FOUND_ERRORS)

    def set_enabled(self, username: str, enabled: bool) -> None:
        """Disabling cuts the connection and refuses new logins, keeping the account."""
        self.run([set_enabled_command(username, enabled)])

    def set_password(self, username: str, password: str) -> None:
        self.run([set_password_command(username, password)])

    # the protocol ------------------------------------------------------------------------------

    def run(
        self, commands: Sequence[JsonObject], *, tolerate: Collection[str] = ()
    ) -> list[JsonObject]:
        """Send the commands in one request and wait for every answer, in order.

        Raises BrokerControlError for an answer with an error not in ``tolerate``.
        """
        ids = [uuid.uuid4().hex for _ in commands]
        request = {
            "commands": [{**c, "correlationData": i} for c, i in zip(commands, ids, strict=True)]
        }
        with self._lock:
            for i in ids:
                self._waiting[i] = None
        try:
            info = self._client.publish(REQUEST_TOPIC, json.dumps(request), qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise BrokerControlError(f"control request not sent: {mqtt.error_string(info.rc)}")
            with self._answered:
                done = self._answered.wait_for(
                    lambda: all(self._waiting[i] is not None for i in ids), self._timeout_s
                )
                answers = [self._waiting[i] for i in ids]
        finally:
            with self._lock:
                for i in ids:
                    self._waiting.pop(i, None)
        if not done:
            raise BrokerControlError(f"the broker did not answer within {self._timeout_s}s")
        results = []
        for command, answer in zip(commands, answers, strict=True):
            assert answer is not None
            error = answer.get("error")
            if error and error not in tolerate:
                raise BrokerControlError(f"{command['command']} refused by the broker: {error}")
            results.append(answer)
        return results

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        _t: type[BaseException] | None,
        _e: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    def _on_connect(
        self,
        client: mqtt.Client,
        _u: object,
        _f: mqtt.ConnectFlags,
        reason: ReasonCode,
        _p: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the control login: %s", reason)
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def _on_subscribe(
        self,
        _c: mqtt.Client,
        _u: object,
        _mid: int,
        reasons: list[ReasonCode],
        _p: Properties | None,
    ) -> None:
        if reasons and not reasons[0].is_failure:
            self._subscribed.set()
        else:
            log.error("broker refused the control subscription: %s", reasons)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(msg.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable control response: %r", msg.payload[:200])
            return
        with self._answered:
            for answer in responses:
                key = answer.get("correlationData") if isinstance(answer, dict) else None
                if key in self._waiting:
                    self._waiting[key] = answer
            self._answered.notify_all()
