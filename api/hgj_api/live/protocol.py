"""The live stream's protocol: what the server sends, what a client may send, close codes.

Server → client, one JSON object per text frame:

- ``{"type": "ready", ...}`` once signed in: who, which communities, which kinds of message,
  the queue size, when the token expires and whether the MQTT feed is connected;
- ``{"type": "alert", "community": ..., "data": <contract Alert>}``;
- ``{"type": "device_status", "community": ..., "device": ..., "data": <DeviceStatus>}``;
- ``{"type": "command_progress", "community": ..., "device": ..., "data": <CommandProgress>}``;
- ``{"type": "renewed", "expires_at": ...}`` after a new token was accepted.

Client → server: ``{"type": "auth", "token": "<access token>"}`` as the first message (unless
the token came with the upgrade request) and again before the token expires, to keep the
stream open with a fresh one (the console refreshes its tokens anyway).

Every alert message carries the change's ``event_id``; the stream drops a change that is not
newer than the last it sent for that alert, and so should a client that also reads the REST
API, where it may have seen a newer state already.
"""

import json
from datetime import datetime
from enum import IntEnum
from typing import Any, Final, Literal

StreamKind = Literal["alert", "device_status", "command_progress"]
STREAM_KINDS: Final[tuple[StreamKind, ...]] = ("alert", "device_status", "command_progress")


class CloseCode(IntEnum):
    """Why the server closed the connection. 4000-4999 are the application's own codes
    (RFC 6455 section 7.4.2); each mirrors the HTTP status a client would know."""

    NORMAL = 1000
    GOING_AWAY = 1001
    """The API is shutting down: reconnect (to another replica)."""
    BAD_MESSAGE = 4400
    """The client sent something that is not a message of this protocol."""
    UNAUTHENTICATED = 4401
    """No token in time, an invalid or expired one, or the user was disabled: sign in again."""
    FORBIDDEN = 4403
    """The user may see none of the kinds of message the stream carries."""
    TOO_SLOW = 4429
    """The client fell more than the queue size behind: reconnect and reload what it shows."""


def auth_token_of(text: str) -> str | None:
    """The token of an ``auth`` message; None when ``text`` is not one."""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("type") != "auth":
        return None
    token = message.get("token")
    return token if isinstance(token, str) and token else None


def event_text(kind: StreamKind, params: dict[str, str], data: dict[str, Any]) -> str:
    """The frame for one message from MQTT: its kind, its topic's ids, its payload."""
    ids = {name: params[name] for name in ("community", "device") if name in params}
    return json.dumps({"type": kind, **ids, "data": data}, ensure_ascii=False)


def ready_text(
    *,
    user_id: str,
    username: str,
    communities: frozenset[str] | None,
    kinds: frozenset[StreamKind],
    queue_size: int,
    expires_at: datetime | None,
    feed: Literal["connected", "disconnected", "off"],
) -> str:
    return json.dumps(
        {
            "type": "ready",
            "user_id": user_id,
            "username": username,
            "communities": None if communities is None else sorted(communities),
            "all_communities": communities is None,
            "kinds": sorted(kinds),
            "queue_size": queue_size,
            "expires_at": None if expires_at is None else expires_at.isoformat(),
            "feed": feed,
        },
        ensure_ascii=False,
    )


def renewed_text(expires_at: datetime | None) -> str:
    return json.dumps(
        {"type": "renewed", "expires_at": None if expires_at is None else expires_at.isoformat()}
    )
