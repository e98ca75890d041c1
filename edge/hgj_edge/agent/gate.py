"""The gate and access-control agent's own logic: who may pass, and the passage events.

Every way in ends in the same place (open the gate through the driver, publish one
``gate_passage`` event with its method): a recognised resident's face (the camera agent's
decision, injected here), a card, a QR code or a PIN checked locally, or a remote
``open_gate`` command. Refusals are published too, with the reason.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from hgj_contracts import utc_now
from hgj_contracts.commands import OpenGateCommand
from hgj_contracts.events import FaceCategory
from hgj_edge.agent.config import GateConfig
from hgj_edge.agent.credentials import CredentialList, Decision, mask
from hgj_edge.agent.drivers import DriverError, GateDriver
from hgj_edge.agent.sender import DeviceSender, ResultData

log = logging.getLogger(__name__)

Direction = Literal["in", "out"]


class GateAgent:
    def __init__(
        self,
        config: GateConfig,
        driver: GateDriver,
        sender: DeviceSender,
        *,
        now: Callable[[], datetime] = utc_now,
        opened: Callable[[], None] | None = None,
    ) -> None:
        """``opened`` runs after each local opening (the agent republishes its retained
        state; after a remote one the command handler does)."""
        self._config = config
        self._opened = opened
        self._driver = driver
        self._sender = sender
        self._now = now
        self._credentials = CredentialList(config.methods, config.credentials)

    def present_credential(
        self, method: Literal["card", "qr", "pin"], secret: str, direction: Direction = "in"
    ) -> Decision:
        """A card was held to the reader, a QR code scanned or a PIN typed."""
        decision = self._credentials.check(method, secret, self._now())
        return self._pass(method, decision, direction, credential_ref=mask(method, secret))

    def face_recognised(
        self, person_id: str, category: FaceCategory, direction: Direction = "in"
    ) -> Decision:
        """The camera agent named somebody at this gate."""
        if not self._credentials.accepts("face"):
            decision = Decision(False, person_id=person_id, reason="method_not_accepted")
        elif category not in self._config.face_categories:
            decision = Decision(False, person_id=person_id, reason=f"face_{category}")
        else:
            decision = Decision(True, person_id=person_id)
        return self._pass("face", decision, direction)

    def open_remote(self, command: OpenGateCommand) -> ResultData:
        """The ``open_gate`` action of the command dispatch table."""
        self._driver.open(command.hold_open_s)  # DriverError: the handler answers failed
        self._sender.gate_passage(
            method="remote",
            granted=True,
            person_id=command.issued_by,
            command_id=command.command_id,
        )
        return {"hold_open_s": command.hold_open_s}

    def _pass(
        self,
        method: Literal["face", "card", "qr", "pin"],
        decision: Decision,
        direction: Direction,
        credential_ref: str | None = None,
    ) -> Decision:
        if decision.granted:
            try:
                self._driver.open(self._config.hold_open_s)
            except DriverError as exc:
                log.error("gate did not open for %s: %s", method, exc.message)
                decision = Decision(False, decision.person_id, reason=exc.code)
            else:
                if self._opened is not None:
                    self._opened()
        self._sender.gate_passage(
            method=method,
            granted=decision.granted,
            direction=direction,
            person_id=decision.person_id,
            credential_ref=credential_ref,
            reason=decision.reason,
        )
        return decision
