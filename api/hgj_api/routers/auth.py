"""Signing in (OAuth2 password flow), refreshing, signing out, and who am I.

Access tokens live ``access_token_ttl_s`` (15 minutes by default); refresh tokens
``refresh_token_ttl_s`` (12 hours, one shift) and are replaced at every use (see
``hgj_api.refresh_tokens``).
"""

from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from hgj_api import refresh_tokens
from hgj_api.accounts import principal_of
from hgj_api.audit import Actor, AuditAction, AuditTrail
from hgj_api.deps import Audit, CurrentPrincipal, ServicesDep
from hgj_api.login import attempt_login
from hgj_api.principal import Principal
from hgj_api.routers import API_V1, UNAUTHORIZED
from hgj_api.security.permissions import Permission, Role
from hgj_api.services import Services
from hgj_statedb.models import UserRow

router = APIRouter(prefix=f"{API_V1}/auth", tags=["auth"])

LOGIN_FAILED: Final = (
    "login failed: wrong username or password, or the account is locked after too many "
    "failures (try again later)"
)
"""One message for every failure, so that it reveals nothing about which usernames exist."""


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme's name
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str = Field(description="single use: exchange it at /auth/refresh")
    refresh_expires_in: int


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    user_id: str
    username: str
    roles: list[Role]
    communities: list[str]
    all_communities: bool
    permissions: list[Permission]


@router.post("/token", responses=UNAUTHORIZED)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    services: ServicesDep,
    audit: Audit,
) -> TokenPair:
    """Sign in with a username and password (form fields per OAuth2's password grant)."""
    success = attempt_login(services, audit, form.username, form.password)
    if success is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=LOGIN_FAILED)
    return _pair(services, success.principal.user_id, success.token_generation, success.refresh)


@router.post("/refresh", responses=UNAUTHORIZED)
def refresh(body: RefreshRequest, services: ServicesDep, audit: Audit) -> TokenPair:
    """Exchange a refresh token for a new pair. Each refresh token works once: presenting one
    again revokes its whole family (every token descended from the same login)."""
    now = services.clock()
    with services.database.write_session() as session, session.begin():
        try:
            rotation = refresh_tokens.rotate(
                session, body.refresh_token, now=now, ttl=services.refresh_ttl
            )
        except refresh_tokens.RefreshRejectedError as rejected:
            _record_rejection(audit, session, rejected)
            issued = None
        else:
            audit.record(
                session,
                AuditAction.REFRESH,
                actor=principal_of(rotation.user),
                target=("user", rotation.user.id),
                detail={"refresh_family": rotation.refresh.family_id},
            )
            issued = (rotation.user.id, rotation.user.token_generation, rotation.refresh)
    if issued is None:  # the revocation and its record are committed first
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="invalid refresh token")
    return _pair(services, *issued)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=UNAUTHORIZED)
def logout(body: RefreshRequest, services: ServicesDep, audit: Audit) -> None:
    """Sign out: revoke the refresh token's family. Access tokens already issued stay valid
    until they expire (minutes); the console drops them."""
    now = services.clock()
    with services.database.write_session() as session, session.begin():
        try:
            row = refresh_tokens.revoke_presented(session, body.refresh_token, now=now)
        except refresh_tokens.RefreshRejectedError:
            revoked = False
        else:
            user = session.get(UserRow, row.user_id)
            audit.record(
                session,
                AuditAction.LOGOUT,
                actor=Actor(row.user_id, user.username if user else None),
                target=("user", row.user_id),
                detail={"refresh_family": row.family_id},
            )
            revoked = True
    if not revoked:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="invalid refresh token")


@router.get("/me", responses=UNAUTHORIZED)
def me(principal: CurrentPrincipal) -> Me:
    """The signed-in user: roles, communities and the permissions they add up to."""
    return me_of(principal)


def me_of(principal: Principal) -> Me:
    return Me(
        user_id=principal.user_id,
        username=principal.username,
        roles=sorted(principal.roles),
        communities=sorted(principal.communities),
        all_communities=principal.all_communities,
        permissions=sorted(principal.permissions),
    )


def _pair(
    services: Services,
    user_id: str,
    generation: int,
    refresh: refresh_tokens.IssuedRefreshToken,
) -> TokenPair:
    access = services.access_tokens.issue(user_id, generation)
    return TokenPair(
        access_token=access.token,
        expires_in=access.expires_in_s,
        refresh_token=refresh.token,
        refresh_expires_in=services.settings.refresh_token_ttl_s,
    )


def _record_rejection(
    audit: AuditTrail,
    session: Session,
    rejected: refresh_tokens.RefreshRejectedError,
) -> None:
    user = session.get(UserRow, rejected.user_id) if rejected.user_id else None
    reuse = rejected.reason == "reuse"
    audit.record(
        session,
        AuditAction.REFRESH_REUSE if reuse else AuditAction.REFRESH,
        actor=Actor(rejected.user_id, user.username if user else None),
        outcome="denied" if reuse else "failure",
        target=("user", rejected.user_id) if rejected.user_id else None,
        detail={"reason": rejected.reason, "refresh_family": rejected.family_id},
    )
