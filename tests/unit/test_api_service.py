"""The service around the routes: health, readiness, metrics, request ids, the OpenAPI
description."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from hgj_api.app import create_app
from hgj_api.security.permissions import Role
from hgj_statedb.db import alembic_config, make_engine, migrate
from tests.api_support import FAST_PASSWORDS, Api, api_settings, start_api


@pytest.fixture
def api_on_file(tmp_path: Path) -> Iterator[Api]:
    yield from start_api(api_settings(f"sqlite:///{tmp_path / 'state.db'}"))


def _samples(api: Api, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = api.client.get("/metrics").text
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_health_and_readiness(api_on_file: Api) -> None:
    assert api_on_file.client.get("/healthz").json() == {"status": "ok"}
    ready = api_on_file.client.get("/readyz")
    assert ready.status_code == 200
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    assert head >= "r0003_users_audit"
    assert ready.json() == {
        "status": "ready",
        "database": "ok",
        "schema_revision": head,
        "expected_revision": head,
    }


def test_not_ready_while_the_schema_is_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    migrate(engine, "r0002_devices")
    engine.dispose()
    app = create_app(api_settings(url, migrate_on_start=False), passwords=FAST_PASSWORDS)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert (ready.json()["database"], ready.json()["schema_revision"]) == (
            "not_migrated",
            "r0002_devices",
        )


def test_not_ready_while_the_database_is_unreachable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'state.db'}"
    app = create_app(api_settings(url, migrate_on_start=False), passwords=FAST_PASSWORDS)
    with TestClient(app) as client:
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()["database"]) == (503, "unreachable")


def test_metrics_count_requests_by_route_template_and_status(api_on_file: Api) -> None:
    api_on_file.seed_user("hq", [Role.ADMIN])
    headers = api_on_file.headers_for("hq")
    for user_id in ("u-one", "u-two"):
        assert (
            api_on_file.client.get(f"/api/v1/users/{user_id}", headers=headers).status_code == 404
        )
    api_on_file.client.get("/no/such/path")
    requests = _samples(api_on_file, "hgj_api_requests_total")
    one_route = (("method", "GET"), ("route", "/api/v1/users/{user_id}"), ("status", "404"))
    assert requests[one_route] == 2
    login = (("method", "POST"), ("route", "/api/v1/auth/token"), ("status", "200"))
    assert requests[login] == 1
    assert requests[(("method", "GET"), ("route", "<unmatched>"), ("status", "404"))] == 1
    assert not any("u-one" in str(labels) for labels in requests)
    latency = _samples(api_on_file, "hgj_api_request_duration_seconds_count")
    assert latency[(("method", "GET"), ("route", "/api/v1/users/{user_id}"))] == 2
    logins = _samples(api_on_file, "hgj_api_login_attempts_total")
    assert logins == {(("outcome", "success"),): 1.0}


def test_request_ids_are_kept_when_sane_and_made_otherwise(api_on_file: Api) -> None:
    client = api_on_file.client
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    forged = client.get("/healthz", headers={"X-Request-ID": "a\tb c" + "x" * 80})
    made = forged.headers["x-request-id"]
    assert len(made) == 32
    assert made.isalnum()


def test_the_openapi_description_is_complete(api_on_file: Api) -> None:
    response = api_on_file.client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    operations = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert operations >= {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/auth/logout"),
        ("GET", "/api/v1/auth/me"),
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/users/{user_id}"),
        ("PATCH", "/api/v1/users/{user_id}"),
        ("GET", "/api/v1/audit"),
    }
    scheme = spec["components"]["securitySchemes"]["OAuth2Password"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    me = spec["paths"]["/api/v1/auth/me"]["get"]
    assert me["security"] == [{"OAuth2Password": []}]
    assert set(me["responses"]) == {"200", "401"}
    assert {tag["name"] for tag in spec["tags"]} >= {"auth", "users", "audit", "health"}
    token_form = spec["paths"]["/api/v1/auth/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in token_form
    patch_user = spec["paths"]["/api/v1/users/{user_id}"]["patch"]
    # 400: a body that is not JSON at all (hgj_api.http_errors)
    assert set(patch_user["responses"]) == {"200", "400", "401", "403", "404", "409", "422"}
    unprocessable = patch_user["responses"]["422"]["content"]["application/json"]["schema"]
    assert unprocessable == {"$ref": "#/components/schemas/Unprocessable"}
    assert set(spec["paths"]["/api/v1/audit"]["get"]["responses"]) == {"200", "401", "403", "422"}


def test_every_route_knows_its_full_path(api_on_file: Api) -> None:
    """Metrics label requests by the matched route's own path: a router included with a
    prefix would be labelled without it (see hgj_api.routers)."""
    spec_paths = set(api_on_file.client.get("/openapi.json").json()["paths"])
    route_paths = {
        route.path for route in api_on_file.app.router.routes if isinstance(route, APIRoute)
    }
    for included in api_on_file.app.router.routes:
        inner = getattr(included, "original_router", None)
        if inner is not None:
            route_paths |= {r.path for r in inner.routes if isinstance(r, APIRoute)}
    assert route_paths == spec_paths
