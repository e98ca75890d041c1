"""Dependencies that routers declare with ``Annotated``:

    def acknowledge(principal: Annotated[Principal, require(Permission.ALERT_ACK)],
                    session: WriteSession, audit: Audit) -> ...

- ``CurrentPrincipal``: the signed-in user (401 without a valid token);
- ``require(*permissions)``: the same, and 403 unless the user holds every permission;
- ``ReadSession`` / ``WriteSession``: a database session for the request (write sessions take
  SQLite's write lock at BEGIN; the endpoint commits, so the response never gets ahead of it);
- ``Audit``: the audit log bound to this request's id and client address;
- ``ServicesDep`` / ``Clock``: what the app factory built.
"""

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from hgj_api.accounts import principal_of
from hgj_api.audit import AuditTrail, RequestInfo
from hgj_api.principal import Principal
from hgj_api.request_id import request_id_of
from hgj_api.security.permissions import Permission
from hgj_api.security.tokens import AccessClaims, TokenError
from hgj_api.services import Services
from hgj_statedb.models import UserRow

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path

_bearer = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,  # we answer 401 ourselves (and anonymous development mode needs None)
    scheme_name="OAuth2Password",
    description="Sign in at /api/v1/auth/token with a username and password; send the access "
    "token as `Authorization: Bearer <token>`.",
)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_clock(services: ServicesDep) -> Callable[[], datetime]:
    return services.clock


Clock = Annotated[Callable[[], datetime], Depends(get_clock)]


def read_session(services: ServicesDep) -> Iterator[Session]:
    with services.database.read_session() as session:
        yield session


def write_session(services: ServicesDep) -> Iterator[Session]:
    with services.database.write_session() as session:
        yield session  # uncommitted work is rolled back on close


ReadSession = Annotated[Session, Depends(read_session)]
WriteSession = Annotated[Session, Depends(write_session)]


def request_info(request: Request) -> RequestInfo:
    client = request.client
    return RequestInfo(request_id_of(request), client.host if client else None)


def audit_trail(services: ServicesDep, request: Request) -> AuditTrail:
    return AuditTrail(services.audit, request_info(request))


Audit = Annotated[AuditTrail, Depends(audit_trail)]


def _unauthorized(detail: str, error: str | None = None) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": challenge}
    )


def anonymous_principal(services: Services) -> Principal | None:
    """Who a request without a token is: nobody, except in development with an anonymous role
    (refused at start in production)."""
    anonymous = services.settings.anonymous_role
    if anonymous is None:
        return None
    return Principal("anonymous", "anonymous", frozenset({anonymous}), all_communities=True)


def authenticate(services: Services, token: str) -> tuple[Principal, AccessClaims]:
    """The user an access token speaks for, read from the database now, and the token's
    claims; TokenError (its message safe to show) when the token is not valid any more."""
    claims = services.access_tokens.decode(token)
    with services.database.read_session() as session:
        user = session.get(UserRow, claims.user_id)
        # A disabled user or a reset password bumps the generation: older tokens end at once.
        if user is None or not user.enabled or user.token_generation != claims.generation:
            raise TokenError("access token revoked")
        return principal_of(user), claims


def current_principal(
    services: ServicesDep, token: Annotated[str | None, Depends(_bearer)]
) -> Principal:
    if token is None:
        anonymous = anonymous_principal(services)
        if anonymous is not None:
            return anonymous
        raise _unauthorized("not authenticated")
    try:
        principal, _ = authenticate(services, token)
    except TokenError as error:
        raise _unauthorized(str(error), "invalid_token") from None
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(*permissions: Permission) -> Any:  # noqa: ANN401 - what Depends() returns
    """A dependency giving the principal, or 403 unless it holds every one of ``permissions``.
    Use as ``Annotated[Principal, require(Permission.X)]`` or in ``dependencies=[...]``."""
    needed = frozenset(permissions)

    def check(principal: CurrentPrincipal) -> Principal:
        if not needed <= principal.permissions:
            missing = ", ".join(sorted(needed - principal.permissions))
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"missing permission: {missing}")
        return principal

    return Depends(check)
