"""Reading the audit log (``audit:view``: admins and privacy officers), newest first.

A community-scoped reader sees the records of their communities; platform-wide records (sign
ins, user administration), which belong to no community, are for platform-wide readers.
Pages are cut by id (``before_id``), which stays correct while new records arrive.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select

from hgj_api.deps import ReadSession, require
from hgj_api.principal import Principal
from hgj_api.routers import API_V1, PROTECTED
from hgj_api.scope import scoped
from hgj_api.security.permissions import Permission
from hgj_statedb.models import AuditLogRow, AuditOutcome

router = APIRouter(prefix=f"{API_V1}/audit", tags=["audit"], responses=PROTECTED)


class AuditEntry(BaseModel):
    id: int
    ts: datetime
    actor_id: str | None
    actor_username: str | None
    action: str
    target_type: str | None
    target_id: str | None
    community: str | None
    outcome: AuditOutcome
    detail: dict[str, Any]
    request_id: str | None
    client_ip: str | None


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_before_id: int | None = Field(
        description="pass as before_id for the next (older) page; null on the last page"
    )


@router.get("")
def list_audit(
    principal: Annotated[Principal, require(Permission.AUDIT_VIEW)],
    session: ReadSession,
    action: str | None = None,
    actor: Annotated[str | None, Query(description="username")] = None,
    actor_id: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    community: str | None = None,
    outcome: AuditOutcome | None = None,
    since: Annotated[AwareDatetime | None, Query(description="inclusive")] = None,
    until: Annotated[AwareDatetime | None, Query(description="exclusive")] = None,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    row = AuditLogRow
    statement = scoped(
        select(row), principal, row.community, [community] if community is not None else None
    )
    equal = (
        (row.action, action),
        (row.actor_username, actor.lower() if actor else None),
        (row.actor_id, actor_id),
        (row.target_type, target_type),
        (row.target_id, target_id),
        (row.outcome, outcome),
    )
    for column, value in equal:
        if value is not None:
            statement = statement.where(column == value)
    if since is not None:
        statement = statement.where(row.ts >= since)
    if until is not None:
        statement = statement.where(row.ts < until)
    if before_id is not None:
        statement = statement.where(row.id < before_id)
    rows = list(session.scalars(statement.order_by(row.id.desc()).limit(limit + 1)))
    page = rows[:limit]
    return AuditPage(
        items=[AuditEntry.model_validate(r, from_attributes=True) for r in page],
        next_before_id=page[-1].id if len(rows) > limit else None,
    )
