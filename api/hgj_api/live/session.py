"""One live-stream connection, from sign-in to close.

The token may come with the upgrade request (``Authorization: Bearer``, or ``?token=``, which
proxies and access logs record: prefer the other two) or as the first message. The connection
is accepted first either way, so that a refusal arrives as a close code the browser can read
(a refused upgrade is only "error 1006" to a script).

Once signed in, four things run until the first of them ends the connection:

- the pump sends what the hub queued, one frame at a time (it alone writes to the socket);
- the reader takes the client's messages: a new token renews the sign-in, anything else ends it;
- the watch closes the connection when the token expires unrenewed, and re-reads the user every
  ``stream_recheck_s`` (a disabled user or a new password ends it, new roles or communities
  apply at once);
- the hub's drop: the client fell a whole queue behind.

A dropped client is closed with ``TOO_SLOW`` as soon as its socket takes the close frame; the
wait is bounded, since a client that reads nothing may never take it.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import anyio
from fastapi import WebSocket
from fastapi.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from hgj_api.accounts import principal_of
from hgj_api.deps import anonymous_principal, authenticate
from hgj_api.live.hub import StreamScope, Subscriber
from hgj_api.live.protocol import (
    STREAM_KINDS,
    CloseCode,
    StreamKind,
    auth_token_of,
    ready_text,
    renewed_text,
)
from hgj_api.live.service import LiveService
from hgj_api.principal import Principal
from hgj_api.security.permissions import Permission
from hgj_api.security.tokens import TokenError
from hgj_api.services import Services
from hgj_statedb.models import UserRow

log = logging.getLogger("hgj_api.live")

STREAM_PERMISSIONS: Final[dict[StreamKind, Permission]] = {
    "alert": Permission.ALERT_VIEW,
    "device_status": Permission.DEVICE_VIEW,
    "command_progress": Permission.DEVICE_VIEW,
}
"""Which kinds of message a user receives: those whose view permission they hold."""

CLOSE_WAIT_S: Final = 5.0
"""How long a close frame may wait for a socket that does not drain."""

Ending = tuple[CloseCode, str] | None
"""How a connection ends: a close code and reason, or None when the client went away."""


def scope_of(principal: Principal) -> StreamScope:
    kinds = frozenset(k for k in STREAM_KINDS if principal.has(STREAM_PERMISSIONS[k]))
    return StreamScope(kinds, None if principal.all_communities else principal.communities)


@dataclass
class _SignIn:
    principal: Principal
    generation: int | None
    """The token generation signed in with; None for development's anonymous user."""
    expires_at: datetime | None


class StreamSession:
    def __init__(self, websocket: WebSocket, services: Services, live: LiveService) -> None:
        self._ws = websocket
        self._services = services
        self._live = live
        self._settings = services.settings
        self._metrics = services.metrics

    async def run(self) -> None:
        await self._ws.accept()
        signed_in = await self._sign_in()
        if isinstance(signed_in, tuple):
            await self._close(signed_in)
            return
        if signed_in is None:
            return
        scope = scope_of(signed_in.principal)
        if not scope.kinds:
            await self._close((CloseCode.FORBIDDEN, "no permission for any stream message"))
            return
        subscriber = self._live.hub.subscribe(scope)
        self._metrics.stream_connections.inc()
        try:
            ending = await self._serve(subscriber, signed_in)
        finally:
            self._live.hub.unsubscribe(subscriber)
            self._metrics.stream_connections.dec()
        if ending is not None:
            await self._close(ending)

    # Signing in.

    async def _sign_in(self) -> "_SignIn | Ending":
        token = self._token_from_request()
        if token is None:
            anonymous = anonymous_principal(self._services)
            if anonymous is not None:
                return _SignIn(anonymous, None, None)
            message = None
            with anyio.move_on_after(self._settings.stream_auth_timeout_s):
                message = await self._ws.receive()
            if message is None:
                return CloseCode.UNAUTHENTICATED, "no access token in time"
            if message["type"] == "websocket.disconnect":
                return None
            token = auth_token_of(message.get("text") or "")
            if token is None:
                return CloseCode.UNAUTHENTICATED, 'first send {"type": "auth", "token": ...}'
        return await self._check_token(token)

    def _token_from_request(self) -> str | None:
        scheme, _, credentials = self._ws.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return credentials.strip()
        return self._ws.query_params.get("token") or None

    async def _check_token(self, token: str) -> "_SignIn | Ending":
        try:
            principal, claims = await run_in_threadpool(authenticate, self._services, token)
        except TokenError as error:
            return CloseCode.UNAUTHENTICATED, str(error)
        return _SignIn(principal, claims.generation, claims.expires_at)

    # Serving.

    async def _serve(self, subscriber: Subscriber, signed_in: _SignIn) -> Ending:
        await self._ws.send_text(
            ready_text(
                user_id=signed_in.principal.user_id,
                username=signed_in.principal.username,
                communities=subscriber.scope.communities,
                kinds=subscriber.scope.kinds,
                queue_size=self._live.hub.queue_size,
                expires_at=signed_in.expires_at,
                feed=self._live.feed_state,
            )
        )
        ending: list[Ending] = []

        async def first_to_end(part: Awaitable[Ending]) -> None:
            try:
                result = await part
            except (WebSocketDisconnect, OSError, RuntimeError):
                result = None  # the client went away mid-receive
            if not ending:
                ending.append(result)
            group.cancel_scope.cancel()

        # anyio's task group (the server's own concurrency), so that a cancellation from
        # outside (the client or the server going away) ends all four parts cleanly.
        async with anyio.create_task_group() as group:
            group.start_soon(first_to_end, self._pump(subscriber))
            group.start_soon(first_to_end, self._read(subscriber, signed_in))
            group.start_soon(first_to_end, self._watch(subscriber, signed_in))
            group.start_soon(first_to_end, self._dropped(subscriber))
        return ending[0] if ending else None

    async def _pump(self, subscriber: Subscriber) -> Ending:
        while True:
            text = await subscriber.queue.get()
            try:
                await self._ws.send_text(text)
            except (WebSocketDisconnect, OSError, RuntimeError):
                return None  # the client went away; nothing to close

    async def _read(self, subscriber: Subscriber, signed_in: _SignIn) -> Ending:
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return None
            token = auth_token_of(message.get("text") or "")
            if token is None:
                return CloseCode.BAD_MESSAGE, 'only {"type": "auth", "token": ...} is understood'
            renewed = await self._check_token(token)
            if not isinstance(renewed, _SignIn):
                return renewed
            if renewed.principal.user_id != signed_in.principal.user_id:
                return CloseCode.UNAUTHENTICATED, "a token of another user"
            signed_in.generation, signed_in.expires_at = renewed.generation, renewed.expires_at
            ending = self._rescope(subscriber, renewed.principal)
            if ending is not None:
                return ending
            # Through the queue, so that the pump stays the socket's only writer.
            try:
                subscriber.queue.put_nowait(renewed_text(renewed.expires_at))
            except asyncio.QueueFull:
                return CloseCode.TOO_SLOW, "fell too far behind"

    async def _watch(self, subscriber: Subscriber, signed_in: _SignIn) -> Ending:
        recheck = self._settings.stream_recheck_s
        while True:
            wait = recheck
            if signed_in.expires_at is not None:
                left = (signed_in.expires_at - self._services.clock()).total_seconds()
                wait = max(0.0, min(wait, left))
            await anyio.sleep(wait)
            if signed_in.expires_at is not None and self._services.clock() >= signed_in.expires_at:
                return CloseCode.UNAUTHENTICATED, "access token expired"
            if signed_in.generation is None:
                continue  # development's anonymous user has no row to re-read
            principal = await run_in_threadpool(
                _current_user, self._services, signed_in.principal.user_id, signed_in.generation
            )
            if principal is None:
                return CloseCode.UNAUTHENTICATED, "access token revoked"
            ending = self._rescope(subscriber, principal)
            if ending is not None:
                return ending

    async def _dropped(self, subscriber: Subscriber) -> Ending:
        await subscriber.dropped.wait()
        return CloseCode.TOO_SLOW, f"fell {self._live.hub.queue_size} messages behind"

    def _rescope(self, subscriber: Subscriber, principal: Principal) -> Ending:
        scope = scope_of(principal)
        if not scope.kinds:
            return CloseCode.FORBIDDEN, "no permission for any stream message"
        subscriber.scope = scope
        return None

    async def _close(self, ending: tuple[CloseCode, str]) -> None:
        code, reason = ending
        self._metrics.stream_closed.labels(str(int(code))).inc()
        await _bounded(self._ws.close(int(code), reason[:120]))


def _current_user(services: Services, user_id: str, generation: int) -> Principal | None:
    """The user as now stored, unless disabled or their password was reset since sign-in."""
    with services.database.read_session() as session:
        user = session.get(UserRow, user_id)
        if user is None or not user.enabled or user.token_generation != generation:
            return None
        return principal_of(user)


async def _bounded(closing: Awaitable[None]) -> None:
    # The client is gone, or will never read the frame: the server closes anyway.
    with (
        anyio.move_on_after(CLOSE_WAIT_S),
        contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError),
    ):
        await closing
