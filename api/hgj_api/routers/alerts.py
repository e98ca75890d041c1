"""Alerts (``alert:*`` permissions: security and operators), in the user's communities only.

Lists filter in SQL within the user's scope; one alert outside it answers 404, like one that
does not exist. Actions are idempotent and audited (``hgj_api.alerts.actions``), and their
changes go out on the alert topic and the live stream like the rule engine's.
"""

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Path, Query, status

from hgj_api.alerts import actions, query
from hgj_api.alerts.schemas import (
    AcknowledgeBody,
    AlertDetail,
    AlertOut,
    AlertPage,
    AlertSummary,
    AssignBody,
    NoteBody,
    ResolveBody,
)
from hgj_api.deps import Audit, ReadSession, ServicesDep, WriteSession, require
from hgj_api.principal import Principal
from hgj_api.routers import API_V1, NOT_FOUND, PROTECTED, ErrorDetail, QueryDateTime
from hgj_api.security.permissions import Permission
from hgj_contracts import Severity
from hgj_contracts.ids import ID_PATTERN
from hgj_statedb.models import AlertState

router = APIRouter(prefix=f"{API_V1}/alerts", tags=["alerts"], responses=PROTECTED)

AlertId = Annotated[str, Path(pattern=ID_PATTERN, max_length=64)]
IdQuery = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=64)]
Viewer = Annotated[Principal, require(Permission.ALERT_VIEW)]
IDEMPOTENCY_KEY_MAX = 128


@router.get("")
def list_alerts(
    principal: Viewer,
    session: ReadSession,
    community: Annotated[
        list[Annotated[str, Query(pattern=ID_PATTERN, max_length=64)]] | None,
        Query(description="repeat for several; default: all of yours"),
    ] = None,
    device: IdQuery = None,
    rule: IdQuery = None,
    severity: Annotated[list[Severity] | None, Query(description="repeat for several")] = None,
    state: AlertState | None = None,
    acknowledged: bool | None = None,
    assignee: IdQuery = None,
    since: Annotated[QueryDateTime | None, Query(description="raised at or after")] = None,
    until: Annotated[QueryDateTime | None, Query(description="raised before")] = None,
    cursor: Annotated[
        str | None, Query(pattern=ID_PATTERN, max_length=64, description="next_cursor")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AlertPage:
    """Alerts in your communities, newest first (by creation: the order never changes, so
    pages neither skip nor repeat an alert while alerts change)."""
    where = query.AlertFilter(
        communities=community or (),
        device=device,
        rule=rule,
        severities=severity or (),
        state=state,
        acknowledged=acknowledged,
        assignee=assignee,
        since=since,
        until=until,
    )
    items, next_cursor = query.list_alerts(session, principal, where, cursor=cursor, limit=limit)
    return AlertPage(items=items, next_cursor=next_cursor)


@router.get("/summary")
def alert_summary(
    principal: Viewer,
    services: ServicesDep,
    session: ReadSession,
    community: Annotated[
        list[Annotated[str, Query(pattern=ID_PATTERN, max_length=64)]] | None,
        Query(description="repeat for several; default: all of yours"),
    ] = None,
) -> AlertSummary:
    """The header of a guard's screen: open alerts by severity, and the mean time to
    acknowledge of the alerts acknowledged today (local time, HGJ_API_LOCAL_TIMEZONE)."""
    day_start = _day_start(services.clock(), services.settings.zone)
    return query.summary(session, principal, community or (), day_start)


@router.get("/{alert_id}", responses=NOT_FOUND)
def get_alert(alert_id: AlertId, principal: Viewer, session: ReadSession) -> AlertDetail:
    """One alert with its timeline: raises, repeats, clears, escalations, people's actions."""
    return query.alert_detail(session, principal, alert_id)


@router.post("/{alert_id}/ack", responses=NOT_FOUND)
def acknowledge_alert(
    alert_id: AlertId,
    principal: Annotated[Principal, require(Permission.ALERT_ACK)],
    services: ServicesDep,
    session: WriteSession,
    audit: Audit,
    body: AcknowledgeBody | None = None,
) -> AlertOut:
    """Acknowledge (stops escalation). Again: nothing changes, the alert is returned."""
    note = body.note if body is not None else None
    return actions.acknowledge(services, session, audit, principal, alert_id, note)


@router.post(
    "/{alert_id}/assign",
    responses={
        **NOT_FOUND,
        status.HTTP_422_UNPROCESSABLE_CONTENT: {
            "model": ErrorDetail,
            "description": "the assignee is not an enabled user handling alerts here",
        },
    },
)
def assign_alert(
    alert_id: AlertId,
    body: AssignBody,
    principal: Annotated[Principal, require(Permission.ALERT_ASSIGN)],
    services: ServicesDep,
    session: WriteSession,
    audit: Audit,
) -> AlertOut:
    """Hand the alert to a user (null: nobody). To the current assignee: nothing changes."""
    return actions.assign(services, session, audit, principal, alert_id, body.assignee)


@router.post("/{alert_id}/notes", responses=NOT_FOUND)
def note_alert(
    alert_id: AlertId,
    body: NoteBody,
    principal: Annotated[Principal, require(Permission.ALERT_NOTE)],
    services: ServicesDep,
    session: WriteSession,
    audit: Audit,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=IDEMPOTENCY_KEY_MAX,
            description="send the same key again (a retry) and the note is not added twice",
        ),
    ] = None,
) -> AlertOut:
    """Add a note to the timeline."""
    return actions.add_note(
        services, session, audit, principal, alert_id, body.text, idempotency_key
    )


@router.post("/{alert_id}/resolve", responses=NOT_FOUND)
def resolve_alert(
    alert_id: AlertId,
    principal: Annotated[Principal, require(Permission.ALERT_RESOLVE)],
    services: ServicesDep,
    session: WriteSession,
    audit: Audit,
    body: ResolveBody | None = None,
) -> AlertOut:
    """Clear an active alert by hand (a false alarm, a rule without a clear condition).
    A cleared alert: nothing changes, the alert is returned."""
    note = body.note if body is not None else None
    return actions.resolve(services, session, audit, principal, alert_id, note)


def _day_start(now: datetime, zone: ZoneInfo) -> datetime:
    """Local midnight of ``now``'s day in ``zone``, in UTC."""
    return now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
