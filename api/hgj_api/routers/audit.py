"""Reading the audit log (``audit:view``: admins and privacy officers), newest first, and
verifying its hash chain.

A community-scoped reader sees the records of their communities; platform-wide records (sign
ins, user administration), which belong to no community, are for platform-wide readers.
Pages are cut by id (``before_id``), which stays correct while new records arrive. Verifying
walks the whole chain, every community's records, so it is for platform-wide readers only.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from hgj_api.deps import ReadSession, require
from hgj_api.principal import Principal
from hgj_api.routers import API_V1, PROTECTED, QueryDateTime
from hgj_api.scope import scoped
from hgj_api.security.permissions import Permission
from hgj_statedb.audit_chain import ChainReport, verify_chain
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
    seq: int = Field(description="the record's place in the hash chain")
    hash: str = Field(description="SHA-256 over the previous record's hash and this record")


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
    since: Annotated[QueryDateTime | None, Query(description="inclusive")] = None,
    until: Annotated[QueryDateTime | None, Query(description="exclusive")] = None,
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


class ChainBreakOut(BaseModel):
    seq: int = Field(description="where the chain breaks: the first record that fails")
    record_id: int | None = Field(description="that record's id, when it exists")
    problem: str


class AuditChainOut(BaseModel):
    intact: bool
    records: int = Field(description="records checked (up to the break, if any)")
    head_seq: int
    head_hash: str = Field(
        description="the chain's end: keep a copy elsewhere, and a later rewrite of the whole "
        "log will show as well"
    )
    first_break: ChainBreakOut | None

    @classmethod
    def of(cls, report: ChainReport) -> "AuditChainOut":
        found = report.first_break
        return cls(
            intact=report.intact,
            records=report.records,
            head_seq=report.head_seq,
            head_hash=report.head_hash,
            first_break=None
            if found is None
            else ChainBreakOut(seq=found.seq, record_id=found.record_id, problem=found.problem),
        )


@router.get("/verify")
def verify_audit(
    principal: Annotated[Principal, require(Permission.AUDIT_VIEW)], session: ReadSession
) -> AuditChainOut:
    """Check the whole hash chain: is any record changed, missing or inserted? Reports the
    first broken link. Platform-wide readers only (the chain spans every community)."""
    if not principal.all_communities:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="verifying the chain needs a platform-wide reader"
        )
    return AuditChainOut.of(verify_chain(session))
