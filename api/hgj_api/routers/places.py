"""Places (``community:manage`` to change, ``device:view`` to read): communities, grids (网格)
with their grid workers, buildings and units.

A community is created by a platform-wide admin (a community admin could not see a community
outside their scope). Everything else is created inside a community the admin manages; a
community outside the caller's scope answers 404 like one that does not exist.
"""

from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hgj_api.audit import AuditAction
from hgj_api.deps import Audit, ReadSession, ServicesDep, WriteSession, require
from hgj_api.principal import Principal
from hgj_api.routers import API_V1, INTEGER_ONLY, NOT_FOUND, PROTECTED, ErrorDetail
from hgj_api.scope import in_scope_or_404, require_community, scoped
from hgj_api.security.permissions import Permission
from hgj_contracts.ids import Identifier
from hgj_statedb.ids import new_id
from hgj_statedb.models import UserRow
from hgj_statedb.registry_models import (
    DEFAULT_TIMEZONE,
    BuildingRow,
    CommunityRow,
    GridRow,
    GridWorkerRow,
    UnitRow,
)

router = APIRouter(prefix=f"{API_V1}/communities", tags=["places"], responses=PROTECTED)

Manager = Annotated[Principal, require(Permission.COMMUNITY_MANAGE)]
Viewer = Annotated[Principal, require(Permission.DEVICE_VIEW)]
Name = Annotated[str, Field(min_length=1, max_length=128)]
CONFLICT: Final[dict[int | str, dict[str, Any]]] = {
    status.HTTP_409_CONFLICT: {"model": ErrorDetail, "description": "already exists"}
}


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CommunityIn(BaseModel):
    id: Identifier = Field(description="as in MQTT topics (guangsha); never changes")
    name: Name = Field(description="the name people use (广厦小区)")
    name_en: Name | None = None
    timezone: str = Field(default=DEFAULT_TIMEZONE, max_length=64)


class CommunityUpdate(BaseModel):
    """Only the fields given change; ``name`` and ``timezone`` cannot be emptied (null)."""

    name: Name | SkipJsonSchema[None] = None
    name_en: Name | None = None
    timezone: Annotated[str, Field(max_length=64)] | SkipJsonSchema[None] = None


class CommunityOut(Out):
    id: str
    name: str
    name_en: str | None
    timezone: str
    created_at: datetime
    updated_at: datetime


class GridIn(BaseModel):
    id: Identifier
    name: Name


class GridOut(Out):
    community: str
    id: str
    name: str


class GridWorkerIn(BaseModel):
    name: Name
    phone: str | None = Field(default=None, max_length=32)
    user_id: str | None = Field(default=None, max_length=64, description="if they sign in")


class GridWorkerOut(Out):
    id: str
    community: str
    grid: str
    name: str
    phone: str | None
    user_id: str | None
    active: bool


class BuildingIn(BaseModel):
    id: Identifier
    name: Name
    grid: Identifier | None = None
    floors: Annotated[int, Field(ge=1, le=200), INTEGER_ONLY] | None = None


class BuildingOut(Out):
    community: str
    id: str
    name: str
    grid: str | None
    floors: int | None


class UnitIn(BaseModel):
    id: Identifier
    name: Name


class UnitOut(Out):
    community: str
    building: str
    id: str
    name: str


# communities ---------------------------------------------------------------------------------


@router.get("")
def list_communities(principal: Viewer, session: ReadSession) -> list[CommunityOut]:
    """The communities you can see, by id."""
    stmt = scoped(select(CommunityRow), principal, CommunityRow.id).order_by(CommunityRow.id)
    return [CommunityOut.model_validate(row) for row in session.scalars(stmt)]


@router.post("", status_code=status.HTTP_201_CREATED, responses=CONFLICT)
def create_community(
    body: CommunityIn,
    principal: Manager,
    services: ServicesDep,
    session: WriteSession,
    audit: Audit,
) -> CommunityOut:
    """Create a community (platform-wide admins only)."""
    if not principal.all_communities:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="only a platform-wide admin creates communities"
        )
    now = services.clock()
    row = CommunityRow(**body.model_dump(), created_at=now, updated_at=now)
    with session.begin():
        _insert(session, row, f"community {body.id!r}")
        audit.record(
            session,
            AuditAction.COMMUNITY_CREATE,
            actor=principal,
            target=("community", row.id),
            community=row.id,
            detail=body.model_dump(),
        )
    return CommunityOut.model_validate(row)


@router.get("/{community}", responses=NOT_FOUND)
def get_community(community: str, principal: Viewer, session: ReadSession) -> CommunityOut:
    row = in_scope_or_404(
        session.get(CommunityRow, community), principal, what="community", community_of=_own_id
    )
    return CommunityOut.model_validate(row)


@router.patch("/{community}", responses=NOT_FOUND)
def update_community(
    community: str,
    body: CommunityUpdate,
    principal: Manager,
    services: ServicesDep,
    session: WriteSession,
    audit: Audit,
) -> CommunityOut:
    """Change names or the time zone; the id never changes."""
    changes = body.model_dump(exclude_unset=True)
    with session.begin():
        row = in_scope_or_404(
            session.get(CommunityRow, community),
            principal,
            what="community",
            community_of=_own_id,
        )
        for name, value in changes.items():
            if value is None and name in ("name", "timezone"):
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} is required")
            setattr(row, name, value)
        row.updated_at = services.clock()
        audit.record(
            session,
            AuditAction.COMMUNITY_UPDATE,
            actor=principal,
            target=("community", row.id),
            community=row.id,
            detail=changes,
        )
    return CommunityOut.model_validate(row)


# grids and grid workers -----------------------------------------------------------------------


@router.get("/{community}/grids", responses=NOT_FOUND)
def list_grids(community: str, principal: Viewer, session: ReadSession) -> list[GridOut]:
    _community_or_404(session, principal, community)
    stmt = select(GridRow).where(GridRow.community == community).order_by(GridRow.id)
    return [GridOut.model_validate(row) for row in session.scalars(stmt)]


@router.post(
    "/{community}/grids", status_code=status.HTTP_201_CREATED, responses=NOT_FOUND | CONFLICT
)
def create_grid(
    community: str, body: GridIn, principal: Manager, session: WriteSession, audit: Audit
) -> GridOut:
    with session.begin():
        _community_or_404(session, principal, community)
        row = GridRow(community=community, **body.model_dump())
        _insert(session, row, f"grid {body.id!r}")
        _record_place(audit, session, principal, AuditAction.GRID_CREATE, row.id, community, body)
    return GridOut.model_validate(row)


@router.get("/{community}/grids/{grid}/workers", responses=NOT_FOUND)
def list_grid_workers(
    community: str, grid: str, principal: Viewer, session: ReadSession
) -> list[GridWorkerOut]:
    _community_or_404(session, principal, community)
    _exists_or_404(session, GridRow, (community, grid), "grid")
    stmt = (
        select(GridWorkerRow)
        .where(GridWorkerRow.community == community, GridWorkerRow.grid == grid)
        .order_by(GridWorkerRow.name, GridWorkerRow.id)
    )
    return [GridWorkerOut.model_validate(row) for row in session.scalars(stmt)]


@router.post(
    "/{community}/grids/{grid}/workers",
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND,
)
def create_grid_worker(
    community: str,
    grid: str,
    body: GridWorkerIn,
    principal: Manager,
    session: WriteSession,
    audit: Audit,
) -> GridWorkerOut:
    """Add a grid worker (网格员) to a grid; the work orders of that grid go to them."""
    with session.begin():
        _community_or_404(session, principal, community)
        _exists_or_404(session, GridRow, (community, grid), "grid")
        if body.user_id is not None:  # else the foreign key fails, as if a duplicate (409)
            _exists_or_404(session, UserRow, (body.user_id,), "user")
        row = GridWorkerRow(id=new_id("gw-"), community=community, grid=grid, **body.model_dump())
        _insert(session, row, "grid worker")
        _record_place(
            audit, session, principal, AuditAction.GRID_WORKER_CREATE, row.id, community, body
        )
    return GridWorkerOut.model_validate(row)


# buildings and units --------------------------------------------------------------------------


@router.get("/{community}/buildings", responses=NOT_FOUND)
def list_buildings(community: str, principal: Viewer, session: ReadSession) -> list[BuildingOut]:
    _community_or_404(session, principal, community)
    stmt = select(BuildingRow).where(BuildingRow.community == community).order_by(BuildingRow.id)
    return [BuildingOut.model_validate(row) for row in session.scalars(stmt)]


@router.post(
    "/{community}/buildings",
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND | CONFLICT,
)
def create_building(
    community: str, body: BuildingIn, principal: Manager, session: WriteSession, audit: Audit
) -> BuildingOut:
    with session.begin():
        _community_or_404(session, principal, community)
        if body.grid is not None:
            _exists_or_404(session, GridRow, (community, body.grid), "grid")
        row = BuildingRow(community=community, **body.model_dump())
        _insert(session, row, f"building {body.id!r}")
        _record_place(
            audit, session, principal, AuditAction.BUILDING_CREATE, row.id, community, body
        )
    return BuildingOut.model_validate(row)


@router.get("/{community}/buildings/{building}/units", responses=NOT_FOUND)
def list_units(
    community: str, building: str, principal: Viewer, session: ReadSession
) -> list[UnitOut]:
    _community_or_404(session, principal, community)
    _exists_or_404(session, BuildingRow, (community, building), "building")
    stmt = (
        select(UnitRow)
        .where(UnitRow.community == community, UnitRow.building == building)
        .order_by(UnitRow.id)
    )
    return [UnitOut.model_validate(row) for row in session.scalars(stmt)]


@router.post(
    "/{community}/buildings/{building}/units",
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND | CONFLICT,
)
def create_unit(
    community: str,
    building: str,
    body: UnitIn,
    principal: Manager,
    session: WriteSession,
    audit: Audit,
) -> UnitOut:
    with session.begin():
        _community_or_404(session, principal, community)
        _exists_or_404(session, BuildingRow, (community, building), "building")
        row = UnitRow(community=community, building=building, **body.model_dump())
        _insert(session, row, f"unit {body.id!r}")
        _record_place(
            audit,
            session,
            principal,
            AuditAction.UNIT_CREATE,
            f"{building}/{row.id}",
            community,
            body,
        )
    return UnitOut.model_validate(row)


# helpers ----------------------------------------------------------------------------------------


def _own_id(row: CommunityRow) -> str:
    return row.id


def _community_or_404(session: Session, principal: Principal, community: str) -> CommunityRow:
    require_community(principal, community)
    return in_scope_or_404(
        session.get(CommunityRow, community), principal, what="community", community_of=_own_id
    )


def _exists_or_404(session: Session, model: type[object], key: tuple[str, ...], what: str) -> None:
    if session.get(model, key) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} not found")


def _insert(session: Session, row: object, what: str) -> None:
    """Add ``row`` and flush, so a duplicate fails here as 409 (also against a concurrent
    creation, through the primary key)."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"{what} already exists") from None


def _record_place(
    audit: Audit,
    session: Session,
    principal: Principal,
    action: AuditAction,
    target_id: str,
    community: str,
    body: BaseModel,
) -> None:
    audit.record(
        session,
        action,
        actor=principal,
        target=(action.split(".")[0], target_id),
        community=community,
        detail=body.model_dump(),
    )
