"""What people do with an alert: acknowledge, assign, note, resolve.

Each action is one transaction holding the store's change and its audit record (both or
neither), and is idempotent: repeating it changes nothing, records nothing and returns the
alert as it is (acknowledging an acknowledged alert, assigning to the current assignee,
resolving a cleared alert; a note is idempotent under its ``Idempotency-Key``). Only after the
commit is the change announced (``AlertAnnouncer``), so nobody hears of a change that then
rolled back.
"""

from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, status
from sqlalchemy.orm import Session

from hgj_api.accounts import principal_of
from hgj_api.alerts.query import alert_in_scope
from hgj_api.alerts.schemas import AlertOut
from hgj_api.audit import AuditAction, AuditTrail
from hgj_api.principal import Principal
from hgj_api.scope import not_found
from hgj_api.security.permissions import Permission
from hgj_api.services import Services
from hgj_statedb.alert_store import AlertNotFoundError
from hgj_statedb.models import AlertRow, UserRow
from hgj_statedb.views import AlertChange, AlertView

Act = Callable[[AlertRow], AlertChange | None]
"""Applies the action to the (scoped) alert in the request's session; None: nothing to do."""


def acknowledge(
    services: Services,
    session: Session,
    audit: AuditTrail,
    principal: Principal,
    alert_id: str,
    note: str | None,
) -> AlertOut:
    def act(alert: AlertRow) -> AlertChange | None:
        return services.alerts.acknowledge(
            alert.id, principal.user_id, services.clock(), note, session=session
        )

    detail = {"note": note} if note else {}
    return _perform(
        services, session, audit, principal, alert_id, AuditAction.ALERT_ACK, act, detail
    )


def assign(
    services: Services,
    session: Session,
    audit: AuditTrail,
    principal: Principal,
    alert_id: str,
    assignee: str | None,
) -> AlertOut:
    def act(alert: AlertRow) -> AlertChange | None:
        if assignee is not None:
            _check_assignee(session, alert, assignee)
        return services.alerts.assign(
            alert.id, assignee, principal.user_id, services.clock(), session=session
        )

    # The previous assignee is in the record of the assignment before (the chain keeps all).
    detail = {"assignee": assignee}
    return _perform(
        services, session, audit, principal, alert_id, AuditAction.ALERT_ASSIGN, act, detail
    )


def add_note(
    services: Services,
    session: Session,
    audit: AuditTrail,
    principal: Principal,
    alert_id: str,
    text: str,
    key: str | None,
) -> AlertOut:
    def act(alert: AlertRow) -> AlertChange | None:
        return services.alerts.add_note(
            alert.id, principal.user_id, text, services.clock(), key=key, session=session
        )

    def detail(change: AlertChange) -> dict[str, Any]:
        return {"event_id": change.event.event_id, "text": text}

    return _perform(
        services, session, audit, principal, alert_id, AuditAction.ALERT_NOTE, act, detail
    )


def resolve(
    services: Services,
    session: Session,
    audit: AuditTrail,
    principal: Principal,
    alert_id: str,
    note: str | None,
) -> AlertOut:
    def act(alert: AlertRow) -> AlertChange | None:
        return services.alerts.resolve(
            alert.id, principal.user_id, services.clock(), note, session=session
        )

    detail = {"note": note} if note else {}
    return _perform(
        services, session, audit, principal, alert_id, AuditAction.ALERT_RESOLVE, act, detail
    )


def _perform(
    services: Services,
    session: Session,
    audit: AuditTrail,
    principal: Principal,
    alert_id: str,
    action: AuditAction,
    act: Act,
    detail: dict[str, Any] | Callable[[AlertChange], dict[str, Any]],
) -> AlertOut:
    with session.begin():
        alert = alert_in_scope(session, principal, alert_id)
        try:
            change = act(alert)
        except AlertNotFoundError:
            raise not_found("alert") from None
        if change is not None:
            audit.record(
                session,
                action,
                actor=principal,
                target=("alert", alert.id),
                community=alert.community,
                detail=detail(change) if callable(detail) else detail,
            )
        # The store re-read the row under its lock into this session: this is the alert now.
        current = change.alert if change is not None else AlertView.of(alert)
    if change is not None:
        services.live.announcer.announce(change)
    return AlertOut.of(current)


def _check_assignee(session: Session, alert: AlertRow, assignee: str) -> None:
    """An alert goes only to an enabled user who may see it: one who handles alerts, in its
    community. Anyone else is refused alike, so the answer tells nothing about other users."""
    user = session.get(UserRow, assignee)
    if user is not None and user.enabled:
        candidate = principal_of(user)
        if candidate.has(Permission.ALERT_VIEW) and candidate.can_see(alert.community):
            return
    raise HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail="the assignee must be an enabled user who handles alerts in this community",
    )
