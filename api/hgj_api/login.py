"""Signing in with a password, and locking an account after repeated failures.

Every failure looks the same to the client (unknown user, wrong password, locked, disabled),
takes the same time (the password is checked against a dummy hash when there is no user), and
is recorded in the audit log with its real reason. Failures are counted per user: after
``max_failed_logins`` in a row the account is locked for ``lockout_s``, during which even the
right password is refused, and the count starts again from zero when the lock ends.

The password is verified before the write transaction, because Argon2 takes tens of
milliseconds and on SQLite a write transaction holds the database's write lock; the user row
is then locked (``FOR UPDATE`` on PostgreSQL) so that concurrent failures all count.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from hgj_api import refresh_tokens
from hgj_api.accounts import normalise_username, principal_of
from hgj_api.audit import Actor, AuditAction, AuditTrail
from hgj_api.principal import Principal
from hgj_api.services import Services
from hgj_statedb.models import UserRow

FailureReason = Literal["unknown_user", "bad_password", "locked", "disabled"]


@dataclass(frozen=True, slots=True)
class LoginSuccess:
    principal: Principal
    token_generation: int
    refresh: refresh_tokens.IssuedRefreshToken


def attempt_login(
    services: Services, audit: AuditTrail, username: str, password: str
) -> LoginSuccess | None:
    """Tokens' makings for the user, or None; either way the attempt is recorded."""
    name = normalise_username(username)
    with services.database.read_session() as session:
        found = session.scalars(select(UserRow.password_hash).where(UserRow.username == name))
        seen_hash = found.one_or_none()
    password_ok = services.passwords.verify(seen_hash, password)

    settings = services.settings
    now = services.clock()
    with services.database.write_session() as session, session.begin():
        user = session.scalars(
            select(UserRow).where(UserRow.username == name).with_for_update()
        ).one_or_none()
        reason: FailureReason | None = None
        if user is None:
            reason = "unknown_user"
        elif not user.enabled:
            reason = "disabled"
        elif user.locked_until is not None and now < user.locked_until:
            reason = "locked"
        elif not password_ok or user.password_hash != seen_hash:  # reset meanwhile: retry
            reason = "bad_password"
            user.failed_logins += 1
            if user.failed_logins >= settings.max_failed_logins:
                _lock(services, audit, session, user, now)
        if reason is not None:
            audit.record(
                session,
                AuditAction.LOGIN,
                actor=Actor(user.id if user else None, user.username if user else name),
                outcome="failure",
                target=("user", user.id) if user else None,
                detail={"reason": reason},
            )
            services.metrics.login_attempts.labels(outcome=reason).inc()
            return None
        assert user is not None
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now
        if services.passwords.needs_rehash(user.password_hash):
            user.password_hash = services.passwords.hash(password)
        refresh_tokens.purge_expired(session, user.id, now=now)
        refresh = refresh_tokens.issue(session, user.id, now=now, ttl=services.refresh_ttl)
        principal = principal_of(user)
        audit.record(
            session,
            AuditAction.LOGIN,
            actor=principal,
            target=("user", user.id),
            detail={"refresh_family": refresh.family_id},
        )
        services.metrics.login_attempts.labels(outcome="success").inc()
        return LoginSuccess(principal, user.token_generation, refresh)


def _lock(
    services: Services, audit: AuditTrail, session: Session, user: UserRow, now: datetime
) -> None:
    failures = user.failed_logins
    locked_until = now + timedelta(seconds=services.settings.lockout_s)
    user.locked_until = locked_until
    user.failed_logins = 0
    audit.record(
        session,
        AuditAction.LOCKOUT,
        actor=Actor(user.id, user.username),
        target=("user", user.id),
        detail={"failures": failures, "locked_until": locked_until.isoformat()},
    )
    services.metrics.lockouts.inc()
