"""What the command store takes and hands back: frozen values, detached from any session.

``CommandChange`` is what the dispatcher announces (``to_progress()``, ``topic_params``) and
hands to the audit hook; ``CommandView.to_command()`` is the contract payload sent to the
device, rebuilt identically from the row every time (same ``ts``, same ``expires_at``), so a
re-publish is a true duplicate that the device recognises by its ``command_id``.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from hgj_contracts import CommandProgress, CommandState, DeviceCommand
from hgj_contracts.commands import DEVICE_COMMAND_ADAPTER
from hgj_statedb.command_models import CommandEventKind, CommandEventRow, CommandRow

JsonScalar = str | int | float | bool | None

RESERVED_PARAMETERS: Final = frozenset(
    {"v", "ts", "action", "command_id", "expires_at", "issued_by", "reason"}
)
"""Fields of a command payload that the platform sets; a request cannot supply them."""

ERROR_LIMIT: Final = 500
"""The contract's ShortText limit: longer texts are stored whole and shortened on the wire."""


def build_command(
    *,
    command_id: str,
    action: str,
    parameters: Mapping[str, JsonScalar],
    created_at: datetime,
    expires_at: datetime,
    requested_by: str | None,
    reason: str | None,
) -> DeviceCommand:
    """The contract's command payload; ValueError (pydantic's ValidationError is one) when the
    action is unknown or the parameters do not fit it, including names the action lacks (the
    payload model would silently ignore those, and a typo must not switch the wrong thing)."""
    reserved = RESERVED_PARAMETERS & parameters.keys()
    if reserved:
        raise ValueError(f"parameters may not set {sorted(reserved)}")
    command = DEVICE_COMMAND_ADAPTER.validate_python(
        {
            **parameters,
            "action": action,
            "command_id": command_id,
            "ts": created_at,
            "expires_at": expires_at,
            "issued_by": requested_by,
            "reason": reason,
        }
    )
    unknown = parameters.keys() - type(command).model_fields.keys()
    if unknown:
        raise ValueError(f"{action} has no parameters {sorted(unknown)}")
    return command


@dataclass(frozen=True, slots=True)
class NewCommand:
    """A request to command a device, as the API received it."""

    community: str
    device: str
    action: str
    parameters: Mapping[str, JsonScalar]
    requested_by: str
    ttl: timedelta
    """How long the command stays valid: ``expires_at`` is the creation time plus this."""
    reason: str | None = None
    idempotency_key: str | None = None

    def request_hash(self) -> str:
        """A fingerprint of everything that makes two requests "the same command"; the key
        itself and the user are the lookup, not part of it."""
        canonical = json.dumps(
            {
                "community": self.community,
                "device": self.device,
                "action": self.action,
                "parameters": dict(self.parameters),
                "reason": self.reason,
                "ttl_s": self.ttl.total_seconds(),
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a command must not be carried out (an interlock), stored with the refused command."""

    error_code: str
    error: str


@dataclass(frozen=True, slots=True)
class CommandView:
    command_id: str
    community: str
    device: str
    action: str
    parameters: Mapping[str, Any]
    reason: str | None
    requested_by: str
    idempotency_key: str | None
    state: CommandState
    state_since: datetime
    created_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    timed_out_at: datetime | None
    finished_at: datetime | None
    error_code: str | None
    error: str | None
    result_data: Mapping[str, Any] | None
    dispatch_attempts: int
    updated_at: datetime

    @classmethod
    def of(cls, row: CommandRow) -> "CommandView":
        return cls(
            command_id=row.id,
            community=row.community,
            device=row.device,
            action=row.action,
            parameters=dict(row.parameters),
            reason=row.reason,
            requested_by=row.requested_by,
            idempotency_key=row.idempotency_key,
            state=row.state,
            state_since=row.state_since,
            created_at=row.created_at,
            expires_at=row.expires_at,
            sent_at=row.sent_at,
            delivered_at=row.delivered_at,
            timed_out_at=row.timed_out_at,
            finished_at=row.finished_at,
            error_code=row.error_code,
            error=row.error,
            result_data=None if row.result_data is None else dict(row.result_data),
            dispatch_attempts=row.dispatch_attempts,
            updated_at=row.updated_at,
        )

    @property
    def command_topic_params(self) -> dict[str, str]:
        """Ids for ``COMMAND.topic(root=..., **view.command_topic_params)``."""
        return {"community": self.community, "device": self.device, "action": self.action}

    def to_command(self) -> DeviceCommand:
        """The payload to publish on the device's command topic."""
        return build_command(
            command_id=self.command_id,
            action=self.action,
            parameters=self.parameters,
            created_at=self.created_at,
            expires_at=self.expires_at,
            requested_by=self.requested_by,
            reason=self.reason,
        )


@dataclass(frozen=True, slots=True)
class CommandEvent:
    """One entry of a command's timeline."""

    event_id: int
    command_id: str
    at: datetime
    kind: CommandEventKind
    from_state: CommandState | None
    to_state: CommandState
    cause: str
    actor: str | None
    device_ts: datetime | None
    error_code: str | None
    error: str | None

    @classmethod
    def of(cls, row: CommandEventRow) -> "CommandEvent":
        return cls(
            event_id=row.id,
            command_id=row.command_id,
            at=row.at,
            kind=row.kind,
            from_state=row.from_state,
            to_state=row.to_state,
            cause=row.cause,
            actor=row.actor,
            device_ts=row.device_ts,
            error_code=row.error_code,
            error=row.error,
        )


def progress_payload(command: CommandView, event: CommandEvent) -> CommandProgress:
    """The contract's announcement of ``event``, with the command as it stands after it."""
    return CommandProgress(
        ts=event.at,
        event_id=event.event_id,
        command_id=command.command_id,
        device=command.device,
        action=command.action,
        state=event.to_state,
        previous_state=event.from_state,
        requested_by=command.requested_by,
        created_at=command.created_at,
        expires_at=command.expires_at,
        sent_at=command.sent_at,
        delivered_at=command.delivered_at,
        finished_at=command.finished_at,
        error_code=event.error_code,
        error=None if event.error is None else event.error[:ERROR_LIMIT],
    )


@dataclass(frozen=True, slots=True)
class CommandChange:
    """One timeline entry and the command after it. ``event.kind == "transition"`` for a state
    change (announced and audited); ``"late_result"`` for a contradicting result that arrived
    after the command was final (audited and logged, not announced: nothing changed)."""

    command: CommandView
    event: CommandEvent

    @property
    def is_transition(self) -> bool:
        return self.event.kind == "transition"

    @property
    def topic_params(self) -> dict[str, str]:
        """Ids for ``COMMAND_PROGRESS.topic(root=..., **change.topic_params)``."""
        return {"community": self.command.community, "device": self.command.device}

    def to_progress(self) -> CommandProgress:
        return progress_payload(self.command, self.event)


@dataclass(frozen=True, slots=True)
class ProgressEntry:
    """An announcement not yet acknowledged by the broker, exactly as first built."""

    event_id: int
    community: str
    payload: CommandProgress

    @property
    def topic_params(self) -> dict[str, str]:
        return {"community": self.community, "device": self.payload.device}


@dataclass(frozen=True, slots=True)
class Created:
    """The outcome of ``CommandStore.create``: the command, and the change to announce when it
    is new (None when an idempotent retry found the command created before)."""

    command: CommandView
    change: CommandChange | None

    @property
    def is_new(self) -> bool:
        return self.change is not None
