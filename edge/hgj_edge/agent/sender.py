"""Everything an agent publishes, built through the contract and put into the outbox.

Nothing here talks to the network: ``put`` commits a message to the outbox file and the
publisher sends it when it can, so a message produced while the broker is away is not lost.
Each channel numbers its own ``seq`` from 1 per run (the contract's rule); the numbers are
taken under a lock because commands (network thread) and the agent's loop both publish.
"""

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, Protocol

from hgj_contracts import (
    COMMAND_RESULT,
    DEVICE_STATE,
    DEVICE_STATUS,
    EVENT,
    TELEMETRY,
    Channel,
    CommandResult,
    DeviceState,
    DeviceStatus,
    Reading,
    StatusReason,
    StatusState,
    Telemetry,
    utc_now,
)
from hgj_contracts.commands import ResultStatus
from hgj_contracts.events import GatePassageEvent, PassageMethod
from hgj_edge.mqtt_client import Will

StateValue = str | int | float | bool | None
ResultData = dict[str, StateValue]


class Sink(Protocol):
    """Where messages go: the outbox (``OutboxPublisher.put``) or a test's list."""

    def put(self, topic: str, payload: bytes) -> int | None: ...


class DeviceSender:
    def __init__(
        self,
        sink: Sink,
        *,
        root: str,
        community: str,
        device: str,
        describe: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._sink = sink
        self.ids = {"root": root, "community": community, "device": device}
        self._describe = describe or dict
        self._lock = threading.Lock()
        self._seq: dict[str, int] = {}

    def next_seq(self, channel: Channel[Any]) -> int:
        with self._lock:
            self._seq[channel.name] = self._seq.get(channel.name, 0) + 1
            return self._seq[channel.name]

    # Status (retained, and the last will) ---------------------------------------------------

    def status_message(self, state: StatusState, reason: StatusReason, seq: int) -> bytes:
        status = DeviceStatus(ts=utc_now(), seq=seq, state=state, reason=reason, **self._describe())
        return DEVICE_STATUS.encode(status)

    def status(self, state: StatusState, reason: StatusReason, seq: int | None = None) -> None:
        seq = self.next_seq(DEVICE_STATUS) if seq is None else seq
        self._sink.put(DEVICE_STATUS.topic(**self.ids), self.status_message(state, reason, seq))

    def will(self, seq: int) -> Will:
        return Will(
            DEVICE_STATUS.topic(**self.ids),
            self.status_message("offline", "connection_lost", seq),
            qos=DEVICE_STATUS.qos,
            retain=DEVICE_STATUS.retain,
        )

    # Everything else ------------------------------------------------------------------------

    def telemetry(self, metrics: dict[str, Reading]) -> None:
        message = Telemetry(ts=utc_now(), seq=self.next_seq(TELEMETRY), metrics=metrics)
        self._sink.put(TELEMETRY.topic(**self.ids), TELEMETRY.encode(message))

    def gate_passage(
        self,
        method: PassageMethod,
        granted: bool,
        *,
        direction: Literal["in", "out"] = "in",
        person_id: str | None = None,
        credential_ref: str | None = None,
        reason: str | None = None,
        command_id: str | None = None,
    ) -> GatePassageEvent:
        event = GatePassageEvent(
            ts=utc_now(),
            seq=self.next_seq(EVENT),
            method=method,
            granted=granted,
            direction=direction,
            person_id=person_id,
            credential_ref=credential_ref,
            reason=reason,
            command_id=command_id,
        )
        self._sink.put(EVENT.topic(kind=event.kind, **self.ids), EVENT.encode(event))
        return event

    def result(
        self,
        command_id: str,
        action: str,
        status: ResultStatus,
        *,
        error_code: str | None = None,
        error: str | None = None,
        data: ResultData | None = None,
    ) -> CommandResult:
        result = CommandResult(
            ts=utc_now(),
            seq=self.next_seq(COMMAND_RESULT),
            command_id=command_id,
            action=action,
            status=status,
            data=data,
            error_code=error_code,
            error=error,
        )
        self._sink.put(
            COMMAND_RESULT.topic(action=action, **self.ids), COMMAND_RESULT.encode(result)
        )
        return result

    def state(self, state: dict[str, StateValue], command_id: str | None, at: datetime) -> None:
        message = DeviceState(
            ts=at, seq=self.next_seq(DEVICE_STATE), state=state, command_id=command_id
        )
        self._sink.put(DEVICE_STATE.topic(**self.ids), DEVICE_STATE.encode(message))
