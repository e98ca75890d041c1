"""Who may call what: every route of the app against every role, on SQLite.

``MATRIX`` declares, for each route the app serves, what it needs (public, signed in, or a
permission) and a realistic request against a Guangsha object and the same against a Guanbeigou
one. The routes are read from ``app.routes``: a route added without an entry here fails
``test_every_route_has_an_entry``. Each role is a Guangsha user holding that one role:

- no token: 401 (public routes answer as usual);
- a role without the permission: 403;
- a role with it: the Guangsha request succeeds, the Guanbeigou one answers 404 (not 403: a
  guard of one community must not learn that an object of another exists).

Then the tokens that must not work (unsigned ``alg=none``, expired, signed with another key, a
refresh token, a disabled user's) and mass assignment: extra body fields are ignored (pydantic's
default, the same for every body) and never change what they name; users cannot grant roles or
communities beyond their own.
"""

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Final, Literal

import jwt
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from hgj_api.app import create_app
from hgj_api.http_errors import served_routes
from hgj_api.live.protocol import CloseCode
from hgj_api.security.permissions import ROLE_PERMISSIONS, Permission, Role
from hgj_api.telemetry.client import ResultSeries
from hgj_api.telemetry.influxql import InfluxQuery
from tests.api_support import (
    FAST_PASSWORDS,
    JWT_SECRET,
    PASSWORD,
    Api,
    FakeBrokerAccounts,
    FakeClock,
    api_settings,
    bearer,
)
from tests.statedb_fixtures import signal

GS, GBG = "guangsha", "guanbeigou"
PREFIX: Final = {GS: "gs", GBG: "gbg"}
Access = Permission | Literal["public", "signed_in", "websocket"]
Body = Callable[["World", str], dict[str, Any] | None]
_unique = count()


@dataclass(frozen=True)
class Entry:
    """What a route needs, and how to call it for a community (``{community}`` and the other
    placeholders of ``path`` are filled from ``World.ids``)."""

    access: Access
    path: str = ""
    body: Body | None = None
    form: Body | None = None
    ok: frozenset[int] = frozenset({200, 201, 204})
    scoped: bool = True
    """Whether the route touches an object of one community (Guanbeigou's answers 404)."""
    query: dict[str, Any] = field(default_factory=dict)
    elsewhere: frozenset[int] = frozenset({404})
    """The answer for Guanbeigou's object, to a Guangsha user holding the permission."""
    fill: dict[str, str] = field(default_factory=dict)
    """Placeholders filled from another of ``World.ids`` (``{"device": "spare"}``)."""


def _new(prefix: str) -> str:
    return f"{prefix}-{next(_unique)}"


def _login_form(world: "World", community: str) -> dict[str, Any]:
    return {"username": "gs.security", "password": PASSWORD}


def _refresh(world: "World", community: str) -> dict[str, Any]:
    return {"refresh_token": world.api.login("gs.security")["refresh_token"]}


def _user(world: "World", community: str) -> dict[str, Any]:
    return {
        "username": _new("new.guard"),
        "password": "a long enough pass phrase 42",
        "roles": ["security"],
        "communities": [community],
    }


def _device(world: "World", community: str) -> dict[str, Any]:
    return {"community": community, "id": _new("dev"), "device_type": "gate"}


def _command(world: "World", community: str) -> dict[str, Any]:
    return {
        "community": community,
        "device": world.ids[community]["device"],
        "action": "open_gate",
        "parameters": {},
        "reason": "a visitor at the north gate",
    }


ALERT = "/api/v1/alerts/{alert_id}"
DEVICE = "/api/v1/devices/{community}/{device}"
PLACES = "/api/v1/communities/{community}"

MATRIX: Final[dict[tuple[str, str], Entry]] = {
    ("GET", "/healthz"): Entry("public", scoped=False),
    ("GET", "/readyz"): Entry("public", scoped=False),
    ("GET", "/metrics"): Entry("public", scoped=False),
    ("POST", "/api/v1/auth/token"): Entry("public", form=_login_form, scoped=False),
    ("POST", "/api/v1/auth/refresh"): Entry("public", body=_refresh, scoped=False),
    ("POST", "/api/v1/auth/logout"): Entry("public", body=_refresh, scoped=False),
    ("GET", "/api/v1/auth/me"): Entry("signed_in", scoped=False),
    ("GET", "/api/v1/stream"): Entry("websocket", scoped=False),
    ("POST", "/api/v1/users"): Entry(
        # Naming another community is a grant beyond one's scope: 403 (see the mass
        # assignment tests below), not an object lookup.
        Permission.USER_MANAGE,
        body=_user,
        scoped=False,
    ),
    ("GET", "/api/v1/users"): Entry(Permission.USER_MANAGE, scoped=False),
    ("GET", "/api/v1/users/{user_id}"): Entry(Permission.USER_MANAGE),
    ("PATCH", "/api/v1/users/{user_id}"): Entry(
        Permission.USER_MANAGE, body=lambda w, c: {"display_name": "值班员"}
    ),
    ("GET", "/api/v1/alerts"): Entry(Permission.ALERT_VIEW, scoped=False),
    ("GET", "/api/v1/alerts/summary"): Entry(Permission.ALERT_VIEW, scoped=False),
    ("GET", ALERT): Entry(Permission.ALERT_VIEW),
    ("POST", ALERT + "/ack"): Entry(Permission.ALERT_ACK),
    ("POST", ALERT + "/assign"): Entry(
        Permission.ALERT_ASSIGN, body=lambda w, c: {"assignee": None}
    ),
    ("POST", ALERT + "/notes"): Entry(Permission.ALERT_NOTE, body=lambda w, c: {"text": "到场"}),
    ("POST", ALERT + "/resolve"): Entry(Permission.ALERT_RESOLVE),
    ("GET", "/api/v1/communities"): Entry(Permission.DEVICE_VIEW, scoped=False),
    ("POST", "/api/v1/communities"): Entry(
        # Only a platform-wide admin creates communities: a community admin gets 403.
        Permission.COMMUNITY_MANAGE,
        body=lambda w, c: {"id": _new("c"), "name": "新小区"},
        ok=frozenset({403}),
        scoped=False,
    ),
    ("GET", PLACES): Entry(Permission.DEVICE_VIEW),
    ("PATCH", PLACES): Entry(Permission.COMMUNITY_MANAGE, body=lambda w, c: {"name_en": "X"}),
    ("GET", PLACES + "/grids"): Entry(Permission.DEVICE_VIEW),
    ("POST", PLACES + "/grids"): Entry(
        Permission.COMMUNITY_MANAGE, body=lambda w, c: {"id": _new("g"), "name": "网格"}
    ),
    ("GET", PLACES + "/grids/{grid}/workers"): Entry(Permission.DEVICE_VIEW),
    ("POST", PLACES + "/grids/{grid}/workers"): Entry(
        Permission.COMMUNITY_MANAGE, body=lambda w, c: {"name": "张敏"}
    ),
    ("GET", PLACES + "/buildings"): Entry(Permission.DEVICE_VIEW),
    ("POST", PLACES + "/buildings"): Entry(
        Permission.COMMUNITY_MANAGE, body=lambda w, c: {"id": _new("b"), "name": "楼"}
    ),
    ("GET", PLACES + "/buildings/{building}/units"): Entry(Permission.DEVICE_VIEW),
    ("POST", PLACES + "/buildings/{building}/units"): Entry(
        Permission.COMMUNITY_MANAGE, body=lambda w, c: {"id": _new("u"), "name": "单元"}
    ),
    ("GET", "/api/v1/devices"): Entry(Permission.DEVICE_VIEW, scoped=False),
    ("POST", "/api/v1/devices"): Entry(Permission.DEVICE_MANAGE, body=_device),
    ("GET", DEVICE): Entry(Permission.DEVICE_VIEW),
    ("PATCH", DEVICE): Entry(Permission.DEVICE_MANAGE, body=lambda w, c: {"name": "北门"}),
    ("POST", DEVICE + "/credentials"): Entry(Permission.DEVICE_MANAGE),
    ("POST", DEVICE + "/disable"): Entry(
        # A spare device: the gate stays enabled for the other routes.
        Permission.DEVICE_MANAGE,
        fill={"device": "spare"},
    ),
    ("POST", DEVICE + "/enable"): Entry(Permission.DEVICE_MANAGE),
    ("GET", DEVICE + "/telemetry"): Entry(Permission.TELEMETRY_VIEW),
    ("GET", DEVICE + "/telemetry/raw"): Entry(Permission.TELEMETRY_VIEW),
    ("GET", DEVICE + "/telemetry/latest"): Entry(Permission.TELEMETRY_VIEW),
    ("GET", PLACES + "/telemetry/latest"): Entry(Permission.TELEMETRY_VIEW),
    ("GET", "/api/v1/audit"): Entry(Permission.AUDIT_VIEW, scoped=False),
    ("GET", "/api/v1/audit/verify"): Entry(
        # The chain spans every community: a community-scoped reader gets 403.
        Permission.AUDIT_VIEW,
        ok=frozenset({403}),
        scoped=False,
    ),
    ("POST", "/api/v1/commands"): Entry(
        # This app has no broker: after the permission, every command is refused with 503,
        # before any device is looked up (so nothing about Guanbeigou's device shows). The
        # 404 for another community's device is tested with a broker, in the commands cases.
        Permission.DEVICE_COMMAND,
        body=_command,
        ok=frozenset({503}),
        elsewhere=frozenset({503}),
    ),
    ("GET", "/api/v1/commands"): Entry(Permission.DEVICE_VIEW, scoped=False),
    ("GET", "/api/v1/commands/{command_id}"): Entry(
        # No command can be sent without a broker here: an unknown id answers 404 for those
        # allowed (the scoping of real commands is tested with the broker).
        Permission.DEVICE_VIEW,
        ok=frozenset({404}),
        scoped=False,
    ),
}


class NoTelemetry:
    """InfluxDB with nothing stored: an empty result for each statement."""

    def query(self, query: InfluxQuery) -> list[list[ResultSeries]]:
        return [[] for statement in query.text.split(";") if statement.strip()]


@dataclass
class World:
    """The API with Guangsha and Guanbeigou, each with a grid, building, unit, two devices,
    an alert and a guard; and a Guangsha user per role."""

    api: Api
    ids: dict[str, dict[str, str]]
    headers: dict[str, dict[str, str]]

    def path(self, template: str, community: str, fill: dict[str, str]) -> str:
        ids = self.ids[community]
        return template.format(community=community, **(ids | {k: ids[v] for k, v in fill.items()}))


def _build_world(api: Api) -> World:
    api.seed_user("hq", [Role.ADMIN])
    hq = api.headers_for("hq")
    ids: dict[str, dict[str, str]] = {}
    for community in (GS, GBG):
        prefix = PREFIX[community]

        def post(path: str, body: dict[str, Any], community: str = community) -> dict[str, Any]:
            response = api.client.post(path.format(c=community), json=body, headers=hq)
            assert response.status_code == 201, response.text
            created: dict[str, Any] = response.json()
            return created

        post("/api/v1/communities", {"id": community, "name": community})
        post("/api/v1/communities/{c}/grids", {"id": "grid-1", "name": "一网格"})
        post("/api/v1/communities/{c}/grids/grid-1/workers", {"name": "张敏"})
        post("/api/v1/communities/{c}/buildings", {"id": "b01", "name": "1号楼"})
        post("/api/v1/communities/{c}/buildings/b01/units", {"id": "u1", "name": "1单元"})
        for device in (f"{prefix}-gate", f"{prefix}-spare"):
            body = {"community": community, "id": device, "capabilities": ["open_gate"]}
            post("/api/v1/devices", body | {"device_type": "gate", "building": "b01"})
        change = api.services.alerts.apply(
            signal("raise", -60, community=community, device=f"{prefix}-gate")
        )
        assert change is not None
        ids[community] = {
            "device": f"{prefix}-gate",
            "spare": f"{prefix}-spare",
            "grid": "grid-1",
            "building": "b01",
            "alert_id": change.alert.alert_id,
            "user_id": api.seed_user(f"{prefix}.guard", [Role.SECURITY], [community]),
            "command_id": "cmd-unknown",
        }
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role in Role:
        api.seed_user(f"gs.{role}", [role], [GS])
        headers[role] = api.headers_for(f"gs.{role}")
    return World(api, ids, headers)


@pytest.fixture
def world(sqlite_state_db_url: str) -> Iterator[World]:
    clock = FakeClock()
    app = create_app(
        api_settings(sqlite_state_db_url),
        clock=clock,
        passwords=FAST_PASSWORDS,
        broker_accounts=FakeBrokerAccounts(),
        telemetry_runner=NoTelemetry(),
    )
    with TestClient(app) as client:
        yield _build_world(Api(app, client, clock))


def _routes(world: World) -> set[tuple[str, str]]:
    served: set[tuple[str, str]] = set()
    for route in served_routes(world.api.app.routes):
        if isinstance(route, WebSocketRoute):
            served.add(("GET", route.path))
        elif isinstance(route, Route) and route.include_in_schema is not False:
            served.update(
                (method, route.path) for method in route.methods or () if method != "HEAD"
            )
        elif isinstance(route, Route):
            continue  # FastAPI's own documentation pages
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return served


def _call(world: World, key: tuple[str, str], role: str, community: str) -> int:
    method, template = key
    entry = MATRIX[key]
    path = world.path(template, community, entry.fill)
    kwargs: dict[str, Any] = {"headers": world.headers[role], "params": entry.query}
    if entry.body is not None:
        kwargs["json"] = entry.body(world, community)
    if entry.form is not None:
        kwargs["data"] = entry.form(world, community)
    response = world.api.client.request(method, path, **kwargs)
    return response.status_code


def test_every_route_has_an_entry(world: World) -> None:
    served = _routes(world)
    assert served - MATRIX.keys() == set(), "routes without an entry in MATRIX"
    assert MATRIX.keys() - served == set(), "entries for routes the app does not serve"


@pytest.mark.parametrize("role", ["anonymous", *Role])
def test_each_role_gets_what_its_permissions_allow(world: World, role: str) -> None:
    permissions = ROLE_PERMISSIONS[Role(role)] if role != "anonymous" else frozenset()
    problems: list[str] = []
    for key, entry in MATRIX.items():
        if entry.access == "websocket":
            continue  # test_the_stream_refuses_bad_tokens
        status = _call(world, key, role, GS)
        if entry.access == "public":
            expected = entry.ok
        elif role == "anonymous":
            expected = frozenset({401})
        elif entry.access == "signed_in" or entry.access in permissions:
            expected = entry.ok
        else:
            expected = frozenset({403})
        if status not in expected:
            problems.append(f"{key} as {role} in {GS}: {status}, expected {sorted(expected)}")
        if entry.scoped and isinstance(entry.access, Permission) and entry.access in permissions:
            status = _call(world, key, role, GBG)
            if status not in entry.elsewhere:
                problems.append(
                    f"{key} as {role} in {GBG}: {status}, expected {sorted(entry.elsewhere)}"
                )
    assert problems == []


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    return claims


def test_tokens_that_must_not_work(world: World) -> None:
    api = world.api
    token = world.headers[Role.OPERATOR]["Authorization"].removeprefix("Bearer ")
    claims = _claims(token)
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    other_key = jwt.encode(claims, "another-secret-of-enough-length-0123456789", algorithm="HS256")
    hs_none_case = f"{_b64({'alg': 'None', 'typ': 'JWT'})}.{_b64(claims)}."
    refresh = api.login("gs.operator")["refresh_token"]
    forged = {
        "alg=none": unsigned,
        "alg=None": hs_none_case,
        "another key": other_key,
        "a refresh token": refresh,
        "garbage": "not-a-token",
    }
    protected = ["/api/v1/auth/me", "/api/v1/alerts", f"/api/v1/devices/{GS}/gs-gate"]
    for path in protected:
        assert api.client.get(path, headers=bearer(token)).status_code == 200, path
        for name, bad in forged.items():
            response = api.client.get(path, headers=bearer(bad))
            assert response.status_code == 401, (path, name)
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), (path, name)
    # The same claims signed properly work: only the signature made the difference.
    assert (
        api.client.get(protected[0], headers=bearer(jwt.encode(claims, JWT_SECRET))).status_code
        == 200
    )

    api.clock.advance(seconds=api.services.settings.access_token_ttl_s + 1)
    for path in protected:
        assert api.client.get(path, headers=bearer(token)).status_code == 401, path
    api.clock.advance(seconds=-(api.services.settings.access_token_ttl_s + 1))
    assert api.client.get(protected[0], headers=bearer(token)).status_code == 200


def test_a_disabled_users_token_stops_working_at_once(world: World) -> None:
    api = world.api
    operator = world.headers[Role.OPERATOR]
    assert api.client.get("/api/v1/auth/me", headers=operator).status_code == 200
    me = api.client.get("/api/v1/auth/me", headers=operator).json()
    disabled = api.client.patch(
        f"/api/v1/users/{me['user_id']}", json={"enabled": False}, headers=world.headers[Role.ADMIN]
    )
    assert disabled.status_code == 200, disabled.text
    assert api.client.get("/api/v1/auth/me", headers=operator).status_code == 401
    assert api.client.get("/api/v1/alerts", headers=operator).status_code == 401


def test_the_stream_refuses_bad_tokens(world: World) -> None:
    token = world.headers[Role.SECURITY]["Authorization"].removeprefix("Bearer ")
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(token))}."
    for bad in (unsigned, "forged"):
        with world.api.client.websocket_connect(f"/api/v1/stream?token={bad}") as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == CloseCode.UNAUTHENTICATED
    with world.api.client.websocket_connect(f"/api/v1/stream?token={token}") as ws:
        assert ws.receive_json()["type"] == "ready"


# mass assignment ---------------------------------------------------------------------------


def test_an_admin_cannot_grant_themselves_roles_or_communities(world: World) -> None:
    api = world.api
    admin = world.headers[Role.ADMIN]
    me = api.client.get("/api/v1/auth/me", headers=admin).json()
    user = f"/api/v1/users/{me['user_id']}"
    for body, status in (
        ({"roles": ["admin", "privacy_officer"]}, 403),
        ({"roles": ["admin", "operator"]}, 403),
        ({"communities": [GS, GBG]}, 403),
        ({"all_communities": True}, 403),
    ):
        response = api.client.patch(user, json=body, headers=admin)
        assert response.status_code == status, (body, response.text)
    after = api.client.get("/api/v1/auth/me", headers=admin).json()
    assert (after["roles"], after["communities"]) == (["admin"], [GS])


def test_an_admin_cannot_create_or_promote_users_beyond_their_own_scope(world: World) -> None:
    api = world.api
    admin = world.headers[Role.ADMIN]
    base: dict[str, Any] = {"password": "a long enough pass phrase 42", "roles": ["security"]}
    refused: list[dict[str, Any]] = [
        {"username": "x1", "communities": [GBG]},
        {"username": "x2", "communities": [GS, GBG]},
        {"username": "x3", "all_communities": True},
        {"username": "x4", "communities": [GS], "roles": ["privacy_officer"]},
    ]
    for body in refused:
        response = api.client.post("/api/v1/users", json=base | body, headers=admin)
        assert response.status_code == 403, (body, response.text)
    guard = f"/api/v1/users/{world.ids[GS]['user_id']}"
    for body in ({"roles": ["privacy_officer"]}, {"communities": [GBG]}, {"all_communities": True}):
        response = api.client.patch(guard, json=body, headers=admin)
        assert response.status_code == 403, (body, response.text)
    # Within their own: a guard of their community, made an operator.
    created = api.client.post(
        "/api/v1/users", json=base | {"username": "x5", "communities": [GS]}, headers=admin
    )
    assert created.status_code == 201, created.text
    promoted = api.client.patch(guard, json={"roles": ["operator"]}, headers=admin)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["roles"] == ["operator"]
    # A platform-wide admin may make a privacy officer.
    hq = api.headers_for("hq")
    made = api.client.patch(guard, json={"roles": ["privacy_officer"]}, headers=hq)
    assert made.status_code == 200, made.text


def test_extra_fields_are_ignored_and_change_nothing(world: World) -> None:
    api = world.api
    admin = world.headers[Role.ADMIN]
    device = f"/api/v1/devices/{GS}/gs-gate"
    patched = api.client.patch(
        device,
        json={
            "name": "北门",
            "community": GBG,
            "id": "renamed",
            "device": "renamed",
            "enabled": False,
            "created_at": "2000-01-01T00:00:00Z",
        },
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["community"], body["device"], body["name"], body["enabled"]) == (
        GS,
        "gs-gate",
        "北门",
        True,
    )
    hq = api.headers_for("hq")
    assert api.client.get(f"/api/v1/devices/{GBG}/renamed", headers=hq).status_code == 404
    assert api.client.get(f"/api/v1/devices/{GS}/renamed", headers=hq).status_code == 404

    me = api.client.get("/api/v1/auth/me", headers=admin).json()
    extra = {
        "display_name": "管理员",
        "token_generation": 99,
        "password_hash": "x",
        "id": "u-root",
        "username": "root",
        "weak_password": True,
    }
    response = api.client.patch(f"/api/v1/users/{me['user_id']}", json=extra, headers=admin)
    assert response.status_code == 200, response.text
    out = response.json()
    assert (out["id"], out["username"], out["display_name"], out["weak_password"]) == (
        me["user_id"],
        "gs.admin",
        "管理员",
        False,
    )
    assert api.client.get("/api/v1/auth/me", headers=admin).status_code == 200  # same generation

    created = api.client.post(
        "/api/v1/users",
        json={
            "username": "x6",
            "password": "a long enough pass phrase 42",
            "roles": ["security"],
            "communities": [GS],
            "enabled": False,
            "id": "u-chosen",
            "token_generation": 5,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["enabled"] is True
    assert created.json()["id"] != "u-chosen"


def test_method_not_allowed_names_every_method_of_the_path(world: World) -> None:
    """Starlette's Allow named only the first matching route's methods (GET for a path that
    also has PATCH); found by schemathesis, fixed in hgj_api.http_errors."""
    client = world.api.client
    for path, allowed in (
        ("/api/v1/users", "GET, POST"),
        (f"/api/v1/users/{world.ids[GS]['user_id']}", "GET, PATCH"),
        (f"/api/v1/devices/{GS}/gs-gate", "GET, PATCH"),
        ("/metrics", "GET"),
    ):
        response = client.request("DELETE", path, headers=world.headers[Role.ADMIN])
        assert response.status_code == 405, path
        assert response.headers["Allow"] == allowed, path


def test_bodies_take_json_types_only(world: World) -> None:
    """Pydantic's lax mode took true for an integer and "yes" for a boolean: the OpenAPI
    description promises JSON types (found by schemathesis)."""
    admin = world.headers[Role.ADMIN]
    device = f"/api/v1/devices/{GS}/gs-gate"
    for body in ({"floor": True}, {"floor": "3"}, {"report_interval_s": True}):
        assert world.api.client.patch(device, json=body, headers=admin).status_code == 422, body
    assert world.api.client.patch(device, json={"floor": 3.0}, headers=admin).json()["floor"] == 3
    alerts = "/api/v1/alerts?until=0.5"
    assert world.api.client.get(alerts, headers=world.headers[Role.SECURITY]).status_code == 422
