"""Remote commands: operators send them (``device:command``), anyone who may view devices
follows them (``device:view``), in their own communities only.

``POST`` checks the device in the registry (in scope, enabled, the action among its
capabilities when it lists any), then hands the command to this replica's ``CommandRuntime``,
which stores it (``refused`` when an interlock says no: still 201, with the reason), audits it
and publishes it. The state then moves on the broker's and the device's answers; ``GET`` shows
where it is and how it got there.
"""

from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, HTTPException, Path, Query, Response, status
from sqlalchemy import select

from hgj_api.commands.requests import CommandRequest, InvalidCommandError
from hgj_api.commands.schemas import (
    CommandDetail,
    CommandEventOut,
    CommandIn,
    CommandOut,
    CommandPage,
)
from hgj_api.deps import ReadSession, ServicesDep, require
from hgj_api.principal import Principal
from hgj_api.routers import API_V1, NOT_FOUND, PROTECTED, ErrorDetail
from hgj_api.scope import in_scope_or_404, not_found, scoped
from hgj_api.security.permissions import Permission
from hgj_contracts.commands import CommandState
from hgj_contracts.ids import ID_PATTERN
from hgj_statedb.command_models import CommandEventRow, CommandRow
from hgj_statedb.command_store import IdempotencyConflictError
from hgj_statedb.command_views import CommandEvent, CommandView
from hgj_statedb.models import DeviceRow

router = APIRouter(prefix=f"{API_V1}/commands", tags=["commands"], responses=PROTECTED)

Commander = Annotated[Principal, require(Permission.DEVICE_COMMAND)]
Viewer = Annotated[Principal, require(Permission.DEVICE_VIEW)]
IdQuery = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=64)]
IDEMPOTENCY_KEY_MAX: Final = 128
MAX_PAGE: Final = 500

POST_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    **NOT_FOUND,
    status.HTTP_200_OK: {
        "model": CommandOut,
        "description": "a repeat with the same Idempotency-Key and body: the first command",
    },
    status.HTTP_409_CONFLICT: {
        "model": ErrorDetail,
        "description": "the device is disabled, or the Idempotency-Key was used for a "
        "different command",
    },
    status.HTTP_422_UNPROCESSABLE_CONTENT: {
        "model": ErrorDetail,
        "description": "an action the device does not accept, or parameters that do not fit it",
    },
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorDetail,
        "description": "this API has no broker (HGJ_API_MQTT_HOST), so it cannot send commands",
    },
}


@router.post("", status_code=status.HTTP_201_CREATED, responses=POST_ERRORS)
def send_command(
    body: CommandIn,
    principal: Commander,
    services: ServicesDep,
    session: ReadSession,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=IDEMPOTENCY_KEY_MAX,
            description="send the same key again (a retry) and the same command comes back "
            "rather than a second one",
        ),
    ] = None,
) -> CommandOut:
    """Send a command to a device. 201 with the command (``queued``, or ``refused`` by an
    interlock with the reason); follow it with ``GET /api/v1/commands/{id}`` or the live
    stream's ``command_progress``."""
    runtime = services.commands
    if runtime is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="commands are unavailable: this API has no broker (HGJ_API_MQTT_HOST)",
        )
    if not principal.can_see(body.community):
        raise not_found("device")
    device = session.get(DeviceRow, (body.community, body.device))
    if device is None:
        raise not_found("device")
    if not device.enabled:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="the device is disabled")
    if device.capabilities and body.action not in device.capabilities:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"the device does not accept {body.action!r}; it accepts "
            f"{', '.join(device.capabilities)}",
        )
    session.close()  # the runtime writes in its own transactions; do not hold a read open
    request = CommandRequest(
        device=body.device,
        action=body.action,
        parameters=body.parameters,
        reason=body.reason,
        ttl_s=body.ttl_s,
    )
    try:
        created = runtime.service.create(
            body.community, request, principal.user_id, idempotency_key
        )
    except InvalidCommandError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(error)) from None
    except IdempotencyConflictError:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail="this Idempotency-Key was used for a different command",
        ) from None
    if not created.is_new:
        response.status_code = status.HTTP_200_OK
    return CommandOut.of(created.command)


@router.get("")
def list_commands(
    principal: Viewer,
    session: ReadSession,
    community: Annotated[
        list[Annotated[str, Query(pattern=ID_PATTERN, max_length=64)]] | None,
        Query(description="repeat for several; default: all of yours"),
    ] = None,
    device: IdQuery = None,
    state: Annotated[list[CommandState] | None, Query(description="repeat for several")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CommandPage:
    """Commands in your communities, newest first."""
    stmt = scoped(select(CommandRow), principal, CommandRow.community, requested=community)
    if device is not None:
        stmt = stmt.where(CommandRow.device == device)
    if state:
        stmt = stmt.where(CommandRow.state.in_(state))
    rows = session.scalars(
        stmt.order_by(CommandRow.created_at.desc(), CommandRow.id.desc())
        .limit(limit + 1)
        .offset(offset)
    ).all()
    items = [CommandOut.of(CommandView.of(row)) for row in rows[:limit]]
    return CommandPage(items=items, next_offset=offset + limit if len(rows) > limit else None)


@router.get("/{command_id}", responses=NOT_FOUND)
def get_command(
    command_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=64)],
    principal: Viewer,
    session: ReadSession,
) -> CommandDetail:
    """One command with its timeline (every state change, and answers that came too late)."""
    row = in_scope_or_404(session.get(CommandRow, command_id), principal, what="command")
    events = session.scalars(
        select(CommandEventRow)
        .where(CommandEventRow.command_id == command_id)
        .order_by(CommandEventRow.id)  # the order they happened in (recorded under a row lock)
    )
    timeline = [CommandEventOut.of(CommandEvent.of(event)) for event in events]
    return CommandDetail(**CommandOut.of(CommandView.of(row)).model_dump(), timeline=timeline)
