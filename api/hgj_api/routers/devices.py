"""The device registry (``device:view`` to read, ``device:manage`` to change) and each device's
broker credentials.

Registering a device creates its broker account for real (through the broker's control topic)
and returns the password once: only a hash stays on the broker, nothing in the database.
Disabling a device deletes that account, which also cuts a live connection, and ingest stops
storing what the device sends (it reads the registry's enabled devices); enabling it again
issues new credentials. The database change and the broker change succeed or fail together: the
broker is changed inside the database transaction, and undone if the commit fails.
"""

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    field_validator,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from hgj_api.audit import AuditAction
from hgj_api.broker_accounts import BrokerUnavailableError
from hgj_api.deps import Audit, ReadSession, ServicesDep, WriteSession, require
from hgj_api.principal import Principal
from hgj_api.routers import API_V1, INTEGER_ONLY, MAX_OFFSET, NOT_FOUND, PROTECTED, ErrorDetail
from hgj_api.scope import in_scope_or_404, require_community, scoped
from hgj_api.security.permissions import Permission
from hgj_api.services import Services
from hgj_brokeradmin.acl import MqttAccount, device_account
from hgj_contracts import DeviceType
from hgj_contracts.commands import COMMAND_ACTIONS
from hgj_contracts.ids import Identifier
from hgj_statedb.models import DeviceRow
from hgj_statedb.registry_models import BuildingRow, CommunityRow, UnitRow

log = logging.getLogger("hgj_api.devices")

router = APIRouter(prefix=f"{API_V1}/devices", tags=["devices"], responses=PROTECTED)

Manager = Annotated[Principal, require(Permission.DEVICE_MANAGE)]
Floor = Annotated[int, Field(ge=-10, le=200), INTEGER_ONLY]
Capability = Annotated[str, Field(json_schema_extra={"enum": list(COMMAND_ACTIONS)})]
Viewer = Annotated[Principal, require(Permission.DEVICE_VIEW)]
BROKER_DOWN: Final[dict[int | str, dict[str, Any]]] = {
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorDetail,
        "description": "the broker's accounts could not be changed; nothing was changed",
    }
}
CONFLICT: Final[dict[int | str, dict[str, Any]]] = {
    status.HTTP_409_CONFLICT: {"model": ErrorDetail, "description": "already exists"}
}


class DeviceFields(BaseModel):
    device_type: DeviceType | None = None
    name: str | None = Field(default=None, max_length=128)
    building: Identifier | None = None
    unit: Identifier | None = None
    floor: Floor | None = None
    location: str | None = Field(default=None, max_length=255, description="for people")
    capabilities: list[Capability] = Field(
        default_factory=list,
        description=f"command actions it accepts: {', '.join(COMMAND_ACTIONS)}",
    )
    report_interval_s: StrictFloat | None = Field(default=None, gt=0, le=86400)

    @field_validator("capabilities")
    @classmethod
    def _known_actions(cls, value: list[str]) -> list[str]:
        return _known_actions(value)


def _known_actions(value: list[str]) -> list[str]:
    unknown = sorted(set(value) - set(COMMAND_ACTIONS))
    if unknown:
        raise ValueError(f"unknown command action(s) {unknown}; known: {list(COMMAND_ACTIONS)}")
    return sorted(set(value))


class DeviceIn(DeviceFields):
    community: Identifier
    id: Identifier = Field(description="as in MQTT topics; never changes")
    issue_credentials: StrictBool = Field(
        default=True, description="create its broker account now and return the password once"
    )


class DeviceUpdate(BaseModel):
    """Only the fields given change."""

    device_type: DeviceType | None = None
    name: str | None = Field(default=None, max_length=128)
    building: Identifier | None = None
    unit: Identifier | None = None
    floor: Floor | None = None
    location: str | None = Field(default=None, max_length=255)
    capabilities: list[Capability] | None = None
    report_interval_s: StrictFloat | None = Field(default=None, gt=0, le=86400)

    @field_validator("capabilities")
    @classmethod
    def _known_actions(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _known_actions(value)


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    community: str
    device: str
    device_type: str | None
    name: str | None
    building: str | None
    unit: str | None
    floor: int | None
    location: str | None
    capabilities: list[str]
    report_interval_s: float | None
    enabled: bool
    has_credentials: bool
    credentials_issued_at: datetime | None
    online: bool | None = Field(description="from its last status; None: never heard")
    status_reason: str | None
    status_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: DeviceRow) -> "DeviceOut":
        return cls.model_validate(
            {
                **{k: getattr(row, k) for k in cls.model_fields if hasattr(row, k)},
                "has_credentials": row.credentials_issued_at is not None,
            }
        )


class Credentials(BaseModel):
    """Shown once: the broker keeps only a hash, and the API keeps nothing."""

    username: str
    password: str
    client_id: str = Field(description="use it as the MQTT client id, with a persistent session")
    root: str
    broker_url: str | None
    publish: list[str] = Field(description="topic filters it may publish to")
    subscribe: list[str] = Field(description="topic filters it may subscribe to")


class DeviceCreated(BaseModel):
    device: DeviceOut
    credentials: Credentials | None


@router.get("")
def list_devices(
    principal: Viewer,
    session: ReadSession,
    community: Annotated[list[Identifier] | None, Query()] = None,
    device_type: DeviceType | None = None,
    building: Identifier | None = None,
    online: bool | None = None,
    enabled: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[DeviceOut]:
    """Devices in your communities, by community and id."""
    stmt = scoped(select(DeviceRow), principal, DeviceRow.community, requested=community)
    if device_type is not None:
        stmt = stmt.where(DeviceRow.device_type == device_type)
    if building is not None:
        stmt = stmt.where(DeviceRow.building == building)
    if online is not None:
        stmt = stmt.where(DeviceRow.online.is_(online))
    if enabled is not None:
        stmt = stmt.where(DeviceRow.enabled.is_(enabled))
    stmt = stmt.order_by(DeviceRow.community, DeviceRow.device).limit(limit).offset(offset)
    return [DeviceOut.of(row) for row in session.scalars(stmt)]


@router.post("", status_code=status.HTTP_201_CREATED, responses=NOT_FOUND | CONFLICT | BROKER_DOWN)
def create_device(
    body: DeviceIn,
    principal: Manager,
    services: ServicesDep,
    session: WriteSession,
    audit: Audit,
) -> DeviceCreated:
    """Register a device and (by default) issue its broker credentials, returned once."""
    require_community(principal, body.community)
    now = services.clock()
    fields = body.model_dump(exclude={"community", "id", "issue_credentials"})
    with _undone_on_error(services) as created, session.begin():
        if session.get(CommunityRow, body.community) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="community not found")
        _check_places(session, body.community, body.building, body.unit)
        if session.get(DeviceRow, (body.community, body.id), with_for_update=True) is not None:
            raise HTTPException(
                status.HTTP_409_CONFLICT, detail=f"device {body.id!r} is already registered"
            )
        row = DeviceRow(
            community=body.community,
            device=body.id,
            enabled=True,
            created_at=now,
            updated_at=now,
            **fields,
        )
        session.add(row)
        _record(
            audit,
            session,
            principal,
            AuditAction.DEVICE_CREATE,
            body.community,
            body.id,
            {**fields, "issue_credentials": body.issue_credentials},
        )
        session.flush()
        credentials = None
        if body.issue_credentials:
            credentials = _issue(services, session, row, audit, principal, created)
    return DeviceCreated(device=DeviceOut.of(row), credentials=credentials)


@router.get("/{community}/{device}", responses=NOT_FOUND)
def get_device(community: str, device: str, principal: Viewer, session: ReadSession) -> DeviceOut:
    return DeviceOut.of(_device_or_404(session, principal, community, device))


@router.patch("/{community}/{device}", responses=NOT_FOUND)
def update_device(
    community: str,
    device: str,
    body: DeviceUpdate,
    principal: Manager,
    services: ServicesDep,
    session: WriteSession,
    audit: Audit,
) -> DeviceOut:
    """Change what the registry says about a device (not its id or community)."""
    changes = body.model_dump(exclude_unset=True)
    with session.begin():
        row = _device_or_404(session, principal, community, device, lock=True)
        building = changes.get("building", row.building)
        unit = changes.get("unit", row.unit)
        _check_places(session, community, building, unit)
        for name, value in changes.items():
            setattr(row, name, [] if name == "capabilities" and value is None else value)
        row.updated_at = services.clock()
        _record(audit, session, principal, AuditAction.DEVICE_UPDATE, community, device, changes)
    return DeviceOut.of(row)


@router.post("/{community}/{device}/credentials", responses=NOT_FOUND | BROKER_DOWN)
def issue_credentials(
    community: str,
    device: str,
    principal: Manager,
    services: ServicesDep,
    session: WriteSession,
    audit: Audit,
) -> Credentials:
    """Issue new credentials (the old password stops working and its session is cut)."""
    with _undone_on_error(services) as created, session.begin():
        row = _device_or_404(session, principal, community, device, lock=True)
        if not row.enabled:
            raise HTTPException(
                status.HTTP_409_CONFLICT, detail="the device is disabled: enable it instead"
            )
        return _issue(services, session, row, audit, principal, created)


@router.post("/{community}/{device}/disable", responses=NOT_FOUND | BROKER_DOWN)
def disable_device(
    community: str,
    device: str,
    principal: Manager,
    services: ServicesDep,
    session: WriteSession,
    audit: Audit,
) -> DeviceOut:
    """Revoke its credentials (cutting a live connection) and stop ingest from storing what it
    sends. Disabling a disabled device changes nothing."""
    with session.begin():
        row = _device_or_404(session, principal, community, device, lock=True)
        if not row.enabled:
            return DeviceOut.of(row)
        _broker(lambda: services.broker_accounts.revoke(_username(row)))
        row.enabled = False
        row.credentials_issued_at = None
        row.updated_at = services.clock()
        _record(audit, session, principal, AuditAction.DEVICE_DISABLE, community, device)
    return DeviceOut.of(row)


@router.post("/{community}/{device}/enable", responses=NOT_FOUND | BROKER_DOWN)
def enable_device(
    community: str,
    device: str,
    principal: Manager,
    services: ServicesDep,
    session: WriteSession,
    audit: Audit,
) -> DeviceCreated:
    """Enable a disabled device with new credentials (returned once). Enabling an enabled
    device changes nothing and returns no credentials."""
    with _undone_on_error(services) as created, session.begin():
        row = _device_or_404(session, principal, community, device, lock=True)
        if row.enabled:
            return DeviceCreated(device=DeviceOut.of(row), credentials=None)
        row.enabled = True
        row.updated_at = services.clock()
        _record(audit, session, principal, AuditAction.DEVICE_ENABLE, community, device)
        credentials = _issue(services, session, row, audit, principal, created)
    return DeviceCreated(device=DeviceOut.of(row), credentials=credentials)


# helpers ----------------------------------------------------------------------------------------


def _device_or_404(
    session: Session, principal: Principal, community: str, device: str, *, lock: bool = False
) -> DeviceRow:
    require_community(principal, community, what="device")
    return in_scope_or_404(
        session.get(DeviceRow, (community, device), with_for_update=lock),
        principal,
        what="device",
    )


def _check_places(session: Session, community: str, building: str | None, unit: str | None) -> None:
    if unit is not None and building is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "a unit needs its building")
    if building is not None and session.get(BuildingRow, (community, building)) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="building not found")
    if unit is not None and session.get(UnitRow, (community, building, unit)) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unit not found")


def _username(row: DeviceRow) -> str:
    return device_account("x", row.community, row.device).username


def _issue(
    services: Services,
    session: Session,
    row: DeviceRow,
    audit: Audit,
    principal: Principal,
    created: list[str],
) -> Credentials:
    """New broker credentials for ``row``, inside the caller's transaction: the broker account
    is created (replacing any) now and noted in ``created``, so that ``_undone_on_error``
    deletes it again if the transaction does not commit."""
    settings = services.settings
    account = device_account(settings.root, row.community, row.device)
    _broker(lambda: services.broker_accounts.put(account))
    created.append(account.username)
    row.credentials_issued_at = services.clock()
    detail = {"username": account.username}  # never the password
    _record(
        audit, session, principal, AuditAction.DEVICE_CREDENTIALS, row.community, row.device, detail
    )
    return _credentials(account, settings.root, settings.device_broker_url)


def _credentials(account: MqttAccount, root: str, broker_url: str | None) -> Credentials:
    return Credentials(
        username=account.username,
        password=account.password,
        client_id=account.username,
        root=root,
        broker_url=broker_url,
        publish=[r.topic for r in account.rules if r.access in ("write", "readwrite")],
        subscribe=[r.topic for r in account.rules if r.access in ("read", "readwrite")],
    )


def _broker(change: Callable[[], None]) -> None:
    try:
        change()
    except BrokerUnavailableError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(error)) from None


@contextmanager
def _undone_on_error(services: Services) -> Iterator[list[str]]:
    """Collects broker accounts created inside the block; if the block fails (an error after
    the broker change, or a failed commit), they are deleted again, so that the broker never
    keeps an account the registry does not record."""
    created: list[str] = []
    try:
        yield created
    except BaseException:
        for username in created:
            try:
                services.broker_accounts.revoke(username)
            except BrokerUnavailableError:
                log.exception("could not delete the orphaned broker account %s", username)
        raise


def _record(
    audit: Audit,
    session: Session,
    principal: Principal,
    action: AuditAction,
    community: str,
    device: str,
    detail: Mapping[str, object] | None = None,
) -> None:
    """One audit record about a device, named ``community/device``, in its community."""
    audit.record(
        session,
        action,
        actor=principal,
        target=("device", f"{community}/{device}"),
        community=community,
        detail=detail,
    )
