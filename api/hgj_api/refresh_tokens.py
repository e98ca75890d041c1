"""Refresh tokens in the state database: families, rotation on use, and reuse detection.

A login starts a family. Each refresh marks the presented token used and issues its successor
in the same family, so at any time a family has one live token. Presenting a used token
again means two parties hold the family (the legitimate client moved on and someone replays an
old copy, or the other way round); nobody can tell which is which, so the whole family is
revoked and both must sign in again.

All functions add their changes to the caller's write session; the caller commits.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import Session

from hgj_api.security.tokens import (
    hash_refresh_secret,
    new_refresh_token,
    parse_refresh_token,
    refresh_secret_matches,
)
from hgj_statedb.models import RefreshTokenRow, RevokeReason, UserRow

RejectReason = Literal["malformed", "unknown", "revoked", "expired", "reuse", "user_disabled"]


@dataclass(frozen=True, slots=True)
class IssuedRefreshToken:
    token: str
    jti: str
    family_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Rotation:
    user: UserRow
    refresh: IssuedRefreshToken


class RefreshRejectedError(Exception):
    """The presented token buys nothing. ``user_id`` and ``family_id`` are known when the
    token was genuine (for the audit record)."""

    def __init__(
        self, reason: RejectReason, *, user_id: str | None = None, family_id: str | None = None
    ) -> None:
        super().__init__(f"refresh token rejected: {reason}")
        self.reason: RejectReason = reason
        self.user_id = user_id
        self.family_id = family_id


def issue(
    session: Session, user_id: str, *, now: datetime, ttl: timedelta, family_id: str | None = None
) -> IssuedRefreshToken:
    """A new token, in ``family_id`` or (at login) in a new family."""
    token, parts = new_refresh_token()
    family = family_id or secrets.token_urlsafe(16)
    session.add(
        RefreshTokenRow(
            jti=parts.jti,
            family_id=family,
            user_id=user_id,
            token_hash=hash_refresh_secret(parts.secret),
            issued_at=now,
            expires_at=now + ttl,
        )
    )
    return IssuedRefreshToken(token, parts.jti, family, now + ttl)


def rotate(session: Session, token: str, *, now: datetime, ttl: timedelta) -> Rotation:
    """Exchange ``token`` for its successor; RefreshRejectedError otherwise. On reuse the
    family is revoked in ``session`` before the error is raised: commit it anyway."""
    row = _locked_row(session, token)
    if row.revoked_at is not None:
        raise RefreshRejectedError("revoked", user_id=row.user_id, family_id=row.family_id)
    if row.used_at is not None:
        revoke_family(session, row.family_id, now=now, reason="reuse")
        raise RefreshRejectedError("reuse", user_id=row.user_id, family_id=row.family_id)
    if now >= row.expires_at:
        raise RefreshRejectedError("expired", user_id=row.user_id, family_id=row.family_id)
    user = session.get(UserRow, row.user_id)
    if user is None or not user.enabled:
        revoke_family(session, row.family_id, now=now, reason="disabled")
        raise RefreshRejectedError("user_disabled", user_id=row.user_id, family_id=row.family_id)
    successor = issue(session, row.user_id, now=now, ttl=ttl, family_id=row.family_id)
    row.used_at = now
    row.replaced_by = successor.jti
    return Rotation(user, successor)


def revoke_presented(session: Session, token: str, *, now: datetime) -> RefreshTokenRow:
    """Logout: revoke the family of a genuine ``token`` (used or not); RefreshRejectedError
    when it is not genuine."""
    row = _locked_row(session, token)
    revoke_family(session, row.family_id, now=now, reason="logout")
    return row


def revoke_family(session: Session, family_id: str, *, now: datetime, reason: RevokeReason) -> int:
    return _revoke(session, RefreshTokenRow.family_id == family_id, now, reason)


def revoke_user(session: Session, user_id: str, *, now: datetime, reason: RevokeReason) -> int:
    """Revoke every live token of the user (disable, password reset)."""
    return _revoke(session, RefreshTokenRow.user_id == user_id, now, reason)


def purge_expired(session: Session, user_id: str, *, now: datetime) -> None:
    """Forget the user's families whose every token has expired. A family with a live token
    keeps its used tokens, expired or not: a replay of one must still revoke the family."""
    live_families = select(RefreshTokenRow.family_id).where(
        RefreshTokenRow.user_id == user_id, RefreshTokenRow.expires_at > now
    )
    session.execute(
        delete(RefreshTokenRow)
        .where(RefreshTokenRow.user_id == user_id, RefreshTokenRow.family_id.not_in(live_families))
        .execution_options(synchronize_session=False)
    )


def _locked_row(session: Session, token: str) -> RefreshTokenRow:
    parts = parse_refresh_token(token)
    if parts is None:
        raise RefreshRejectedError("malformed")
    row = session.scalars(
        select(RefreshTokenRow).where(RefreshTokenRow.jti == parts.jti).with_for_update()
    ).one_or_none()
    # A wrong secret for a real jti is a forgery, not a replay: it revokes nothing, or anyone
    # who learnt a jti (it is not secret in logs) could end other people's sessions.
    if row is None or not refresh_secret_matches(parts.secret, row.token_hash):
        raise RefreshRejectedError("unknown")
    return row


def _revoke(
    session: Session, where: ColumnElement[bool], now: datetime, reason: RevokeReason
) -> int:
    result = session.execute(
        update(RefreshTokenRow)
        .where(where, RefreshTokenRow.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))
