"""Community scoping: a user sees only what belongs to their communities.

Routers filter list queries in SQL (``scoped``, ``community_filter``) and fetch single
objects through ``in_scope_or_404``. Something outside the user's scope answers 404, exactly
as if it did not exist: a 403 would confirm to a guard of one community that an alert id or a
device of another community is real.

    stmt = scoped(select(AlertRow), principal, AlertRow.community, requested=community)
    alert = in_scope_or_404(session.get(AlertRow, alert_id), principal, what="alert")
"""

from collections.abc import Callable, Collection
from typing import TypeVar, TypeVarTuple

from fastapi import HTTPException, status
from sqlalchemy import ColumnElement, Select, false, true
from sqlalchemy.sql.elements import SQLCoreOperations

from hgj_api.principal import Principal

Columns = TypeVarTuple("Columns")
CommunityColumn = SQLCoreOperations[str] | SQLCoreOperations[str | None]
"""A model attribute (``AlertRow.community``) or any column expression holding a community."""
ObjT = TypeVar("ObjT")


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} not found")


def community_filter(
    principal: Principal,
    column: CommunityColumn,
    requested: Collection[str] | None = None,
) -> ColumnElement[bool]:
    """A WHERE clause keeping rows whose ``column`` is in the user's scope and, when
    ``requested`` (a query's ``?community=`` filter) is given, in it too. A requested community
    outside the scope yields nothing rather than an error, like one with no rows."""
    allowed: set[str] | None = None if principal.all_communities else set(principal.communities)
    if requested is not None:
        allowed = set(requested) if allowed is None else allowed & set(requested)
    if allowed is None:
        return true()
    if not allowed:
        return false()
    return column.in_(sorted(allowed))


def scoped(
    statement: Select[*Columns],
    principal: Principal,
    column: CommunityColumn,
    requested: Collection[str] | None = None,
) -> Select[*Columns]:
    """``statement`` narrowed to the user's scope (see ``community_filter``)."""
    return statement.where(community_filter(principal, column, requested))


def require_community(principal: Principal, community: str, *, what: str = "community") -> None:
    """404 unless ``community`` (from a path such as ``/communities/{community}/...``) is in
    the user's scope."""
    if not principal.can_see(community):
        raise not_found(what)


def in_scope_or_404(
    obj: ObjT | None,
    principal: Principal,
    *,
    what: str,
    community_of: Callable[[ObjT], str | None] | None = None,
) -> ObjT:
    """``obj`` when it exists and is in the user's scope; 404 otherwise (the same answer for
    both, see the module's docstring). Without ``community_of``, the object's ``community``
    attribute says where it belongs; an object of no community is visible to platform-wide
    users only."""
    if obj is None:
        raise not_found(what)
    community = community_of(obj) if community_of else getattr(obj, "community", None)
    if principal.all_communities:
        return obj
    if not isinstance(community, str) or not principal.can_see(community):
        raise not_found(what)
    return obj
