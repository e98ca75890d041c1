"""Users in the state database: creation, look-up, and the scope rules of user administration.

Shared by the users router, the login flow, the start-up bootstrap and the CLI, so that a
user is created the same way whichever door it comes through.
"""

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Select, and_, exists, func, not_, select
from sqlalchemy.orm import Session

from hgj_api.principal import Principal
from hgj_api.security.passwords import USERNAME_PATTERN
from hgj_api.security.permissions import Role
from hgj_contracts.ids import check_identifier
from hgj_statedb.ids import new_user_id
from hgj_statedb.models import UserCommunityRow, UserRoleRow, UserRow


class UsernameTakenError(ValueError):
    def __init__(self, username: str) -> None:
        super().__init__(f"the username {username!r} is taken")


def normalise_username(username: str) -> str:
    """Sign-in names compare without case and surrounding blanks."""
    return username.strip().lower()


def find_by_username(session: Session, username: str) -> UserRow | None:
    return session.scalars(
        select(UserRow).where(UserRow.username == normalise_username(username))
    ).one_or_none()


def create_user(
    session: Session,
    *,
    username: str,
    password_hash: str,
    roles: Iterable[Role],
    communities: Iterable[str] = (),
    all_communities: bool = False,
    display_name: str | None = None,
    weak_password: bool = False,
    now: datetime,
) -> UserRow:
    """Add a user to ``session`` (the caller commits); UsernameTakenError when taken,
    ValueError for a username or community that is not an id."""
    username = normalise_username(username)
    if re.fullmatch(USERNAME_PATTERN, username) is None:
        raise ValueError(f"username {username!r} is not valid (expected {USERNAME_PATTERN})")
    communities = [check_identifier(c, "community") for c in communities]
    if find_by_username(session, username) is not None:
        raise UsernameTakenError(username)
    user = UserRow(
        id=new_user_id(),
        username=username,
        display_name=display_name,
        password_hash=password_hash,
        weak_password=weak_password,
        enabled=True,
        all_communities=all_communities,
        failed_logins=0,
        token_generation=0,
        password_changed_at=now,
        created_at=now,
        updated_at=now,
    )
    set_roles(user, roles)
    set_communities(user, () if all_communities else communities)
    session.add(user)
    return user


def set_roles(user: UserRow, roles: Iterable[Role]) -> None:
    user.roles = [UserRoleRow(role=role.value) for role in sorted(set(roles))]


def set_communities(user: UserRow, communities: Iterable[str]) -> None:
    user.communities = [UserCommunityRow(community=c) for c in sorted(set(communities))]


def roles_of(user: UserRow) -> frozenset[Role]:
    return frozenset(Role(row.role) for row in user.roles)


def communities_of(user: UserRow) -> frozenset[str]:
    return frozenset(row.community for row in user.communities)


def principal_of(user: UserRow) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        roles=roles_of(user),
        communities=frozenset() if user.all_communities else communities_of(user),
        all_communities=user.all_communities,
    )


def manages(principal: Principal, user: UserRow) -> bool:
    """An admin manages the users whose whole scope lies inside the admin's own: a community
    admin cannot see or change a platform-wide user, nor one who also works elsewhere."""
    return principal.covers(communities_of(user), all_communities=user.all_communities)


def managed_users(principal: Principal) -> Select[UserRow]:
    """Users ``principal`` manages (``manages`` in SQL), ordered by username."""
    statement = select(UserRow).order_by(UserRow.username)
    if principal.all_communities:
        return statement
    scope = sorted(principal.communities)
    membership = select(UserCommunityRow).where(UserCommunityRow.user_id == UserRow.id)
    return statement.where(
        not_(UserRow.all_communities),
        exists(membership.where(UserCommunityRow.community.in_(scope))),
        not_(exists(membership.where(UserCommunityRow.community.not_in(scope)))),
    )


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(UserRow)) or 0


def weak_password_users(session: Session) -> list[str]:
    """Usernames of enabled users whose password was accepted below the policy."""
    return list(
        session.scalars(
            select(UserRow.username).where(and_(UserRow.enabled, UserRow.weak_password))
        )
    )
