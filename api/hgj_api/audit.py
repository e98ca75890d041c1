"""The audit service: every state-changing endpoint records who did what through it.

A record is staged in the caller's session, so it commits (or rolls back) with the change it
describes: there is never a change without its record, nor a record of a change that did not
happen. Failures and refusals are recorded too; their endpoint commits the record before it
answers with the error. At commit the records join the log's hash chain
(``hgj_statedb.audit_chain``): the row returned by ``record`` gets its ``id``, ``seq`` and
``hash`` only then.

    audit.record(session, AuditAction.USER_CREATE, actor=principal, target=("user", user.id))
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy.orm import Session

from hgj_api.principal import Principal
from hgj_statedb import audit_chain
from hgj_statedb.models import AuditLogRow, AuditOutcome

MAX_USERNAME: Final = 64


class AuditAction(StrEnum):
    """Actions recorded so far; later features add theirs (``alert.ack``, ``device.command``).
    The column is free text, so adding one needs no migration."""

    LOGIN = "auth.login"
    LOCKOUT = "auth.lockout"
    REFRESH = "auth.refresh"
    REFRESH_REUSE = "auth.refresh_reuse"
    LOGOUT = "auth.logout"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    USER_PASSWORD_RESET = "user.password_reset"  # noqa: S105 - an action's name
    USER_UNLOCK = "user.unlock"
    ALERT_ACK = "alert.ack"
    ALERT_ASSIGN = "alert.assign"
    ALERT_NOTE = "alert.note"
    ALERT_RESOLVE = "alert.resolve"
    COMMUNITY_CREATE = "community.create"
    COMMUNITY_UPDATE = "community.update"
    GRID_CREATE = "grid.create"
    GRID_WORKER_CREATE = "grid_worker.create"
    BUILDING_CREATE = "building.create"
    UNIT_CREATE = "unit.create"
    DEVICE_CREATE = "device.create"
    DEVICE_UPDATE = "device.update"
    DEVICE_DISABLE = "device.disable"
    DEVICE_ENABLE = "device.enable"
    DEVICE_CREDENTIALS = "device.credentials"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted when nobody is signed in: a failed login names the username that was typed,
    the CLI names itself."""

    user_id: str | None
    username: str | None


@dataclass(frozen=True, slots=True)
class RequestInfo:
    request_id: str | None = None
    client_ip: str | None = None


class AuditLog:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def record(
        self,
        session: Session,
        action: str,
        *,
        actor: Principal | Actor | None,
        outcome: AuditOutcome = "success",
        target: tuple[str, str] | None = None,
        community: str | None = None,
        detail: Mapping[str, object] | None = None,
        request: RequestInfo | None = None,
    ) -> AuditLogRow:
        """Stage one record in ``session`` (the caller commits). ``target`` is (type, id)."""
        user_id = actor.user_id if actor is not None else None
        username = actor.username if actor is not None else None
        row = AuditLogRow(
            ts=self._clock(),
            actor_id=user_id,
            actor_username=username[:MAX_USERNAME] if username is not None else None,
            action=str(action),
            target_type=target[0] if target else None,
            target_id=target[1] if target else None,
            community=community,
            outcome=outcome,
            detail=dict(detail or {}),
            request_id=request.request_id if request else None,
            client_ip=request.client_ip if request else None,
        )
        audit_chain.stage(session, row)
        return row


@dataclass(frozen=True, slots=True)
class AuditTrail:
    """The audit log bound to one request (its id and client address): what routers get."""

    log: AuditLog
    request: RequestInfo

    def record(
        self,
        session: Session,
        action: str,
        *,
        actor: Principal | Actor | None,
        outcome: AuditOutcome = "success",
        target: tuple[str, str] | None = None,
        community: str | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> AuditLogRow:
        return self.log.record(
            session,
            action,
            actor=actor,
            outcome=outcome,
            target=target,
            community=community,
            detail=detail,
            request=self.request,
        )
