"""The command handler: refuse what must not run, dispatch the rest by action, answer.

For every message on ``.../cmd/{action}``:

- undecodable: ``rejected`` (``invalid_command``) when its command_id can be read, else dropped;
- a ``command_id`` seen before (also before a restart): the first outcome again, nothing run;
- past ``expires_at``: ``expired`` (a gate must not open minutes late);
- an action this agent has no handler for: ``rejected`` (``unsupported_action``);
- otherwise ``accepted``, the handler runs (through a driver), then ``succeeded`` with the
  handler's data or ``failed`` with the driver's error code, and the retained state again.
"""

import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from hgj_contracts import COMMAND, DeviceCommand, utc_now
from hgj_contracts.errors import ContractError
from hgj_contracts.ids import is_identifier
from hgj_edge.agent.command_log import CommandLog, Outcome
from hgj_edge.agent.drivers import DriverError, State
from hgj_edge.agent.sender import DeviceSender, ResultData

log = logging.getLogger(__name__)

ActionHandler = Callable[[DeviceCommand], ResultData | None]
"""Carries a command out; returns the result's data; raises DriverError when it failed."""


class CommandHandler:
    def __init__(
        self,
        sender: DeviceSender,
        command_log: CommandLog,
        dispatch: Mapping[str, ActionHandler],
        state: Callable[[], State],
        *,
        now: Callable[[], datetime] = utc_now,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sender = sender
        self._log = command_log
        self._dispatch = dict(dispatch)
        self._state = state
        self._now = now
        self._clock = clock

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(self._dispatch)

    def on_message(self, topic: str, payload: bytes) -> None:
        """paho's message callback (network thread). Returns only once the outcome is stored,
        so the PUBACK that paho sends afterwards never precedes the record."""
        params = COMMAND.match(topic.split("/"))
        if params is None:
            log.warning("ignoring a message on %s: not a command topic", topic)
            return
        self.handle(params["action"], payload)

    def handle(self, action: str, payload: bytes) -> Outcome | None:
        try:
            command = COMMAND.decode(payload, {"action": action})
        except ContractError as exc:
            self._refuse_undecodable(action, payload, exc)
            return None
        first = self._log.first_outcome(command.command_id)
        if first is not None:
            return self._answer_again(command, first)
        now = self._now()
        if command.expires_at <= now:
            late = (now - command.expires_at).total_seconds()
            outcome = Outcome("expired", "expired", f"expired {late:.1f} s before it arrived")
            return self._final(command, outcome)
        handler = self._dispatch.get(command.action)
        if handler is None:
            outcome = Outcome("rejected", "unsupported_action", f"this agent cannot {action}")
            return self._final(command, outcome)
        self._log.record(command.command_id, action, Outcome("accepted"), self._clock())
        self._sender.result(command.command_id, action, "accepted")
        try:
            data = handler(command)
        except DriverError as exc:
            return self._final(command, Outcome("failed", exc.code, exc.message[:500]))
        except Exception as exc:
            log.exception("%s %s failed unexpectedly", action, command.command_id)
            return self._final(command, Outcome("failed", "agent_error", str(exc)[:500]))
        outcome = self._final(command, Outcome("succeeded", data=data))
        self._sender.state(self._state(), command.command_id, self._now())
        return outcome

    def _final(self, command: DeviceCommand, outcome: Outcome) -> Outcome:
        self._log.record(command.command_id, command.action, outcome, self._clock())
        self._send(command.command_id, command.action, outcome)
        return outcome

    def _answer_again(self, command: DeviceCommand, first: Outcome) -> Outcome:
        if first.status == "accepted":
            # Stored before the driver acted, never finished: the agent died in between.
            # Not run again (it may have moved the gate); say so, once and for all.
            first = Outcome("failed", "interrupted", "the agent restarted while carrying it out")
            self._log.record(command.command_id, command.action, first, self._clock())
        log.info("command %s seen before: answering %s again", command.command_id, first.status)
        self._send(command.command_id, command.action, first)
        return first

    def _send(self, command_id: str, action: str, outcome: Outcome) -> None:
        self._sender.result(
            command_id,
            action,
            outcome.status,
            error_code=outcome.error_code,
            error=outcome.error,
            data=outcome.data,
        )

    def _refuse_undecodable(self, action: str, payload: bytes, exc: ContractError) -> None:
        """Answer ``rejected`` when the command id can be read, so the sender learns why;
        otherwise there is nobody to answer."""
        try:
            command_id = json.loads(payload).get("command_id")
        except (ValueError, AttributeError):
            command_id = None
        if not isinstance(command_id, str) or not is_identifier(command_id):
            log.warning("dropping an undecodable command on %s: %s", action, exc)
            return
        if not is_identifier(action):
            log.warning("dropping a command for an action that is not an id: %r", action)
            return
        outcome = Outcome("rejected", "invalid_command", str(exc)[:500])
        if self._log.first_outcome(command_id) is None:
            self._log.record(command_id, action, outcome, self._clock())
        self._send(command_id, action, outcome)
