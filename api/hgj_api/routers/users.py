"""User administration (``user:manage``): create, list, read, change, disable, reset password.

A community admin manages only users whose communities all lie inside the admin's own (see
``hgj_api.accounts.manages``); anyone else answers 404. Users are disabled, never deleted.
Disabling a user or resetting their password ends their sessions at once: refresh tokens are
revoked and the token generation moves on, which invalidates access tokens already issued.
"""

from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field, StrictBool, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hgj_api import accounts, refresh_tokens
from hgj_api.audit import AuditAction
from hgj_api.deps import Audit, ReadSession, ServicesDep, WriteSession, require
from hgj_api.principal import Principal
from hgj_api.routers import API_V1, MAX_OFFSET, NOT_FOUND, PROTECTED, ErrorDetail
from hgj_api.scope import not_found
from hgj_api.security.passwords import MAX_PASSWORD_LENGTH, USERNAME_PATTERN, password_problem
from hgj_api.security.permissions import Permission, Role
from hgj_api.services import Services
from hgj_contracts.ids import Identifier
from hgj_statedb.models import RevokeReason, UserRow

router = APIRouter(prefix=f"{API_V1}/users", tags=["users"], responses=PROTECTED)

Admin = Annotated[Principal, require(Permission.USER_MANAGE)]
Password = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


class UserCreate(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN, description="lower case; how they sign in")
    password: Password
    display_name: str | None = Field(default=None, max_length=128)
    roles: list[Role] = Field(min_length=1)
    communities: list[Identifier] = Field(default_factory=list)
    all_communities: StrictBool = Field(
        default=False, description="platform-wide (every community)"
    )

    @field_validator("username", mode="before")
    @classmethod
    def _normalise(cls, value: object) -> object:
        return accounts.normalise_username(value) if isinstance(value, str) else value


class UserUpdate(BaseModel):
    """Only the fields given change."""

    display_name: str | None = Field(default=None, max_length=128)
    roles: Annotated[list[Role], Field(min_length=1)] | None = None
    communities: Annotated[list[Identifier], Field(min_length=1)] | None = None
    all_communities: StrictBool | None = None
    enabled: StrictBool | None = None
    password: Password | None = Field(default=None, description="reset it; ends all sessions")
    unlock: StrictBool = Field(default=False, description="lift a lockout after failed logins")


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str | None
    roles: list[Role]
    communities: list[str]
    all_communities: bool
    enabled: bool
    locked_until: datetime | None
    weak_password: bool
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        status.HTTP_409_CONFLICT: {"model": ErrorDetail, "description": "username taken"},
        status.HTTP_422_UNPROCESSABLE_CONTENT: {"description": "invalid, or a weak password"},
    },
)
def create_user(
    body: UserCreate, principal: Admin, services: ServicesDep, session: WriteSession, audit: Audit
) -> UserOut:
    """Create a user with roles, in communities (or platform-wide)."""
    if body.all_communities == bool(body.communities):  # a rule OpenAPI cannot say
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="give either communities or all_communities=true",
        )
    _check_scope_grant(principal, body.communities, body.all_communities)
    _check_role_grant(principal, frozenset(body.roles), already=frozenset(), own=False)
    _check_password(services, body.password, body.username)
    password_hash = services.passwords.hash(body.password)  # before the write lock
    with session.begin():
        try:
            user = accounts.create_user(
                session,
                username=body.username,
                password_hash=password_hash,
                roles=body.roles,
                communities=body.communities,
                all_communities=body.all_communities,
                display_name=body.display_name,
                now=services.clock(),
            )
            session.flush()  # a concurrent creation of the same name fails here
        except (accounts.UsernameTakenError, IntegrityError):
            raise HTTPException(
                status.HTTP_409_CONFLICT, detail=f"the username {body.username!r} is taken"
            ) from None
        audit.record(
            session,
            AuditAction.USER_CREATE,
            actor=principal,
            target=("user", user.id),
            detail={"username": user.username, **_scope_detail(user)},
        )
    return user_out(user, services)


@router.get("")
def list_users(
    principal: Admin,
    services: ServicesDep,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[UserOut]:
    """The users you manage, by username."""
    users = session.scalars(accounts.managed_users(principal).limit(limit).offset(offset))
    return [user_out(user, services) for user in users]


@router.get("/{user_id}", responses=NOT_FOUND)
def get_user(
    user_id: str, principal: Admin, services: ServicesDep, session: ReadSession
) -> UserOut:
    return user_out(_managed_user(session, principal, user_id), services)


@router.patch(
    "/{user_id}",
    responses={
        **NOT_FOUND,
        status.HTTP_409_CONFLICT: {
            "model": ErrorDetail,
            "description": "you cannot disable yourself or drop your own admin role",
        },
    },
)
def update_user(
    user_id: str,
    body: UserUpdate,
    principal: Admin,
    services: ServicesDep,
    session: WriteSession,
    audit: Audit,
) -> UserOut:
    """Change roles, communities, display name; disable or enable; reset the password;
    unlock. Each kind of change is its own audit record."""
    new_hash = None
    if body.password is not None:
        new_hash = services.passwords.hash(body.password)  # before the write lock
    now = services.clock()
    with session.begin():
        user = _managed_user(session, principal, user_id, for_update=True)
        if body.password is not None:
            _check_password(services, body.password, user.username)
        records = _apply_scope_changes(principal, user, body)
        if body.display_name is not None and body.display_name != user.display_name:
            records.append((AuditAction.USER_UPDATE, {"display_name": body.display_name}))
            user.display_name = body.display_name
        if body.enabled is not None and body.enabled != user.enabled:
            if not body.enabled and user.id == principal.user_id:
                raise HTTPException(status.HTTP_409_CONFLICT, detail="you cannot disable yourself")
            user.enabled = body.enabled
            if not body.enabled:
                _end_sessions(session, user, now, "disabled")
            records.append(
                (AuditAction.USER_ENABLE if body.enabled else AuditAction.USER_DISABLE, {})
            )
        if new_hash is not None:
            user.password_hash = new_hash
            user.weak_password = False
            user.password_changed_at = now
            user.failed_logins, user.locked_until = 0, None
            _end_sessions(session, user, now, "password_reset")
            records.append((AuditAction.USER_PASSWORD_RESET, {}))
        if body.unlock and (user.locked_until is not None or user.failed_logins):
            user.failed_logins, user.locked_until = 0, None
            records.append((AuditAction.USER_UNLOCK, {}))
        if records:
            user.updated_at = now
        for action, detail in records:
            audit.record(session, action, actor=principal, target=("user", user.id), detail=detail)
    return user_out(user, services)


def user_out(user: UserRow, services: Services) -> UserOut:
    locked = user.locked_until
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=sorted(accounts.roles_of(user)),
        communities=sorted(accounts.communities_of(user)),
        all_communities=user.all_communities,
        enabled=user.enabled,
        locked_until=locked if locked is not None and locked > services.clock() else None,
        weak_password=user.weak_password,
        last_login_at=user.last_login_at,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def _managed_user(
    session: Session, principal: Principal, user_id: str, *, for_update: bool = False
) -> UserRow:
    statement = select(UserRow).where(UserRow.id == user_id)
    user = session.scalars(statement.with_for_update() if for_update else statement).one_or_none()
    if user is None or not accounts.manages(principal, user):
        raise not_found("user")  # out of scope looks exactly like absent
    return user


def _check_scope_grant(principal: Principal, communities: list[str], all_communities: bool) -> None:
    if not principal.covers(frozenset(communities), all_communities=all_communities):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="you can only give communities within your own scope",
        )


SEPARATE_ROLES: Final = frozenset({Role.PRIVACY_OFFICER})
"""Roles an admin grants only when holding them too, or platform-wide: face data is kept apart
from administration, so that a community admin cannot make someone (or themselves) a privacy
officer and read face data and the audit of it."""


def _check_role_grant(
    principal: Principal, roles: frozenset[Role], *, already: frozenset[Role], own: bool
) -> None:
    """403 for a grant beyond the granter's own: adding a role to yourself that you do not
    hold (a role escalation), or a separate role you neither hold nor could as platform-wide
    admin."""
    added = roles - already
    beyond = (
        added - principal.roles
        if own
        else {
            role
            for role in added & SEPARATE_ROLES
            if role not in principal.roles and not principal.all_communities
        }
    )
    if beyond:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"you cannot grant {', '.join(sorted(beyond))}: beyond your own roles",
        )


def _check_password(services: Services, password: str, username: str) -> None:
    problem = password_problem(
        password, min_length=services.settings.password_min_length, username=username
    )
    if problem is not None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=problem)


def _apply_scope_changes(
    principal: Principal, user: UserRow, body: UserUpdate
) -> list[tuple[AuditAction, dict[str, object]]]:
    before = _scope_detail(user)
    if body.roles is not None:
        own = user.id == principal.user_id
        if own and Role.ADMIN not in body.roles:
            raise HTTPException(
                status.HTTP_409_CONFLICT, detail="you cannot take away your own admin role"
            )
        _check_role_grant(
            principal, frozenset(body.roles), already=frozenset(accounts.roles_of(user)), own=own
        )
        accounts.set_roles(user, body.roles)
    if body.all_communities is not None or body.communities is not None:
        all_communities = (
            body.all_communities if body.all_communities is not None else user.all_communities
        )
        communities = [] if all_communities else (body.communities or [])
        if not all_communities and not communities:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail="give communities, or all_communities=true",
            )
        _check_scope_grant(principal, communities, all_communities)
        user.all_communities = all_communities
        accounts.set_communities(user, communities)
    after = _scope_detail(user)
    if after == before:
        return []
    return [(AuditAction.USER_UPDATE, {"before": before, "after": after})]


def _scope_detail(user: UserRow) -> dict[str, object]:
    return {
        "roles": sorted(accounts.roles_of(user)),
        "communities": sorted(accounts.communities_of(user)),
        "all_communities": user.all_communities,
    }


def _end_sessions(session: Session, user: UserRow, now: datetime, reason: RevokeReason) -> None:
    user.token_generation += 1
    refresh_tokens.revoke_user(session, user.id, now=now, reason=reason)
