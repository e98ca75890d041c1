"""Device credentials on the broker: the API creates and revokes MQTT accounts for real.

The broker holds accounts in its dynamic-security plugin, changed over its control topic by
the ``broker-control`` account (hgj_brokeradmin). One control session is kept per API process
and reopened after a failure; each change waits for the broker's answer, so a device created
through the API can log in as soon as the API has answered.
"""

import logging
import threading
from typing import Protocol

from hgj_brokeradmin.acl import CONTROL_USERNAME, MqttAccount
from hgj_brokeradmin.control import BrokerControlError, DynsecControl

log = logging.getLogger("hgj_api.broker")


class BrokerUnavailableError(RuntimeError):
    """The broker's accounts cannot be changed now; the message says why (safe to show)."""


class BrokerAccounts(Protocol):
    def put(self, account: MqttAccount) -> None:
        """Create the account, replacing one of the same name (new password, cut session)."""

    def revoke(self, username: str) -> None:
        """Delete the account and cut its connection; absent already is fine."""


class DynsecBrokerAccounts:
    def __init__(
        self, host: str, port: int, password: str, *, tls: bool = False, timeout_s: float = 10.0
    ) -> None:
        self._host = host
        self._port = port
        self._account = MqttAccount(CONTROL_USERNAME, password, ())
        self._tls = tls
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._control: DynsecControl | None = None

    def put(self, account: MqttAccount) -> None:
        self._run(lambda control: control.add_account(account, replace=True))

    def revoke(self, username: str) -> None:
        self._run(lambda control: control.remove_account(username))

    def close(self) -> None:
        with self._lock:
            if self._control is not None:
                self._control.close()
                self._control = None

    def _run(self, change: "Change") -> None:
        with self._lock:
            try:
                if self._control is None:
                    self._control = DynsecControl(
                        self._host,
                        self._port,
                        self._account,
                        timeout_s=self._timeout_s,
                        tls=self._tls,
                    )
                change(self._control)
            except (BrokerControlError, OSError) as error:
                log.warning("broker account change failed: %s", error)
                if self._control is not None:
                    self._control.close()
                    self._control = None
                raise BrokerUnavailableError(
                    f"the broker refused or did not answer: {error}"
                ) from None


class Change(Protocol):
    def __call__(self, control: DynsecControl, /) -> None: ...


class NoBrokerAccounts:
    """When the API has no control password: registering devices still works, issuing
    credentials does not, and says how to fix it."""

    def put(self, account: MqttAccount) -> None:
        raise BrokerUnavailableError(
            "device credentials cannot be issued: HGJ_API_BROKER_CONTROL_PASSWORD is not set"
        )

    def revoke(self, username: str) -> None:
        raise BrokerUnavailableError(
            "device credentials cannot be revoked: HGJ_API_BROKER_CONTROL_PASSWORD is not set"
        )
