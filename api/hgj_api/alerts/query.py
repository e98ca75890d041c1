"""Reading alerts for people: scoped lists with filters and stable pages, one alert with its
timeline, and the figures of a screen's header.

Lists are newest first by alert id. Ids are ULIDs, which sort by creation time and never change,
so a page boundary (the cursor: the last id of a page) stays exact while alerts are raised,
repeated or acknowledged between two pages; ordering by ``raised_at`` would not, since a late
repeat moves an alert's ``raised_at`` back.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from hgj_api.alerts.schemas import AlertDetail, AlertOut, AlertSummary, TimelineOut, TodayFigures
from hgj_api.principal import Principal
from hgj_api.scope import in_scope_or_404, scoped
from hgj_contracts import Severity
from hgj_contracts.alerts import SEVERITIES
from hgj_statedb.models import AlertEventRow, AlertRow, AlertState
from hgj_statedb.views import AlertView, TimelineEntry


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Every given field must match; None (or empty) leaves it open."""

    communities: Sequence[str] = ()
    device: str | None = None
    rule: str | None = None
    severities: Sequence[Severity] = ()
    state: AlertState | None = None
    acknowledged: bool | None = None
    assignee: str | None = None
    since: datetime | None = None
    """Raised at or after (event time of the earliest raise)."""
    until: datetime | None = None
    """Raised before."""


def list_alerts(
    session: Session,
    principal: Principal,
    where: AlertFilter,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[AlertOut], str | None]:
    """One page of the alerts in the user's scope and the cursor of the next, if any."""
    statement = _filtered(principal, where)
    if cursor is not None:
        statement = statement.where(AlertRow.id < cursor)
    rows = list(session.scalars(statement.order_by(AlertRow.id.desc()).limit(limit + 1)))
    page = rows[:limit]
    next_cursor = page[-1].id if len(rows) > limit else None
    return [AlertOut.of(AlertView.of(row)) for row in page], next_cursor


def _filtered(principal: Principal, where: AlertFilter) -> Select[AlertRow]:
    row = AlertRow
    statement = scoped(select(row), principal, row.community, where.communities or None)
    if where.device is not None:
        statement = statement.where(row.device == where.device)
    if where.rule is not None:
        statement = statement.where(row.rule == where.rule)
    if where.severities:
        statement = statement.where(row.severity.in_(where.severities))
    if where.state is not None:
        statement = statement.where(row.state == where.state)
    if where.acknowledged is not None:
        statement = statement.where(row.acknowledged.is_(where.acknowledged))
    if where.assignee is not None:
        statement = statement.where(row.assignee == where.assignee)
    if where.since is not None:
        statement = statement.where(row.raised_at >= where.since)
    if where.until is not None:
        statement = statement.where(row.raised_at < where.until)
    return statement


def alert_in_scope(session: Session, principal: Principal, alert_id: str) -> AlertRow:
    """The alert, or 404 when it does not exist or lies outside the user's communities."""
    return in_scope_or_404(session.get(AlertRow, alert_id), principal, what="alert")


def alert_detail(session: Session, principal: Principal, alert_id: str) -> AlertDetail:
    alert = alert_in_scope(session, principal, alert_id)
    events = session.scalars(
        select(AlertEventRow)
        .where(AlertEventRow.alert_id == alert.id)
        .order_by(AlertEventRow.at, AlertEventRow.id)
    )
    return AlertDetail(
        alert=AlertOut.of(AlertView.of(alert)),
        timeline=[TimelineOut.of(TimelineEntry.of(event)) for event in events],
    )


def summary(
    session: Session,
    principal: Principal,
    communities: Sequence[str],
    day_start: datetime,
) -> AlertSummary:
    """Open alerts by severity, and how fast alerts were acknowledged since ``day_start``."""
    row = AlertRow
    requested = list(communities) or None
    open_counts = session.execute(
        scoped(
            select(row.severity, row.acknowledged, func.count()),
            principal,
            row.community,
            requested,
        )
        .where(row.state == "active")
        .group_by(row.severity, row.acknowledged)
    ).all()
    by_severity: dict[Severity, int] = dict.fromkeys(SEVERITIES, 0)
    unacknowledged = 0
    for severity, acknowledged, count in open_counts:
        by_severity[severity] += count
        if not acknowledged:
            unacknowledged += count
    # Few acknowledgements a day per community: averaged here rather than in dialect-specific
    # SQL date arithmetic. raised_at is the device's clock: a device running ahead could make
    # a delay negative, which counts as an immediate acknowledgement.
    acknowledged_today = session.execute(
        scoped(
            select(row.raised_at, row.acknowledged_at), principal, row.community, requested
        ).where(row.acknowledged_at >= day_start)
    ).all()
    delays = [
        max(timedelta(0), acked_at - raised_at)
        for raised_at, acked_at in acknowledged_today
        if acked_at is not None  # the filter says so; the type does not
    ]
    mean = sum(delays, timedelta(0)).total_seconds() / len(delays) if delays else None
    counted = _communities_counted(principal, communities)
    return AlertSummary(
        communities=counted,
        open_by_severity=by_severity,
        open_total=sum(by_severity.values()),
        open_unacknowledged=unacknowledged,
        today=TodayFigures(since=day_start, acknowledged=len(delays), mean_time_to_ack_s=mean),
    )


def _communities_counted(principal: Principal, requested: Sequence[str]) -> list[str] | None:
    if principal.all_communities:
        return sorted(set(requested)) if requested else None
    mine = principal.communities
    return sorted(mine & set(requested)) if requested else sorted(mine)
