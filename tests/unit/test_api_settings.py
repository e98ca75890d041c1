"""Settings from the environment, and refusing insecure defaults outside development."""

import logging
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from hgj_api.app import create_app
from hgj_api.security.permissions import Role
from hgj_api.settings import DEVELOPMENT_JWT_SECRET, settings_from_env
from hgj_api.startup import InsecureConfigError
from tests.api_support import FAST_PASSWORDS, FakeClock, api_settings, start_api


@pytest.fixture(autouse=True)
def no_api_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The defaults are under test: no HGJ_API_* from the caller's shell."""
    for name in [n for n in os.environ if n.startswith("HGJ_API_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


def test_unknown_variables_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HGJ_API_JWT_SECRETT", "x")
    with pytest.raises(ValueError, match="HGJ_API_JWT_SECRETT"):
        settings_from_env()


def test_known_variables_are_read_and_production_is_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert settings_from_env().mode == "production"
    monkeypatch.setenv("HGJ_API_ACCESS_TOKEN_TTL_S", "300")
    monkeypatch.setenv("HGJ_API_MODE", "development")
    monkeypatch.setenv("HGJ_API_ANONYMOUS_ROLE", "security")
    settings = settings_from_env()
    assert (settings.access_token_ttl_s, settings.mode) == (300, "development")
    assert settings.anonymous_role is Role.SECURITY
    assert (settings.max_failed_logins, settings.lockout_s) == (5, 900)
    monkeypatch.setenv("HGJ_API_ANONYMOUS_ROLE", "superuser")
    with pytest.raises(ValueError, match="anonymous_role"):
        settings_from_env()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"jwt_secret": DEVELOPMENT_JWT_SECRET}, "built-in development key"),
        ({"jwt_secret": "too-short"}, "shorter than 32 bytes"),
        ({"anonymous_role": "operator"}, "HGJ_API_ANONYMOUS_ROLE"),
        (
            {"bootstrap_admin_username": "admin", "bootstrap_admin_password": "admin"},
            "BOOTSTRAP_ADMIN_PASSWORD is weak",
        ),
    ],
)
def test_production_refuses_insecure_defaults(
    db_url: str, overrides: dict[str, object], named: str
) -> None:
    with pytest.raises(InsecureConfigError, match=named):
        create_app(api_settings(db_url, **overrides))


def test_the_default_settings_refuse_to_start() -> None:
    with pytest.raises(InsecureConfigError, match="development key"):
        create_app()


def test_development_mode_starts_with_them_and_says_so(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = api_settings(
        db_url, mode="development", jwt_secret=DEVELOPMENT_JWT_SECRET, anonymous_role="operator"
    )
    with caplog.at_level(logging.WARNING, logger="hgj_api"):
        app = create_app(settings, passwords=FAST_PASSWORDS)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings[0].startswith("DEVELOPMENT MODE")
    assert any("development key" in w for w in warnings)
    assert any("ANONYMOUS_ROLE" in w for w in warnings)
    with TestClient(app) as client:
        me = client.get("/api/v1/auth/me")  # no token: the anonymous operator
        assert me.status_code == 200
        assert (me.json()["username"], me.json()["roles"]) == ("anonymous", ["operator"])
        assert (
            client.get("/api/v1/auth/me", headers={"Authorization": "Bearer x"}).status_code == 401
        )


def test_a_weak_admin_from_development_blocks_production(db_url: str) -> None:
    weak = {"bootstrap_admin_username": "admin", "bootstrap_admin_password": SecretStr("admin")}
    for api in start_api(api_settings(db_url, mode="development", **weak)):
        assert api.login("admin", "admin")["access_token"]
    app = create_app(api_settings(db_url), passwords=FAST_PASSWORDS)
    with (
        pytest.raises(InsecureConfigError, match="admin have passwords below the policy"),
        TestClient(app),
    ):
        pass


def test_the_bootstrap_admin_is_created_once(db_url: str) -> None:
    strong = "a strong bootstrap passphrase"
    settings = api_settings(
        db_url, bootstrap_admin_username="hq.admin", bootstrap_admin_password=strong
    )
    for api in start_api(settings):
        assert api.client.get(
            "/api/v1/auth/me", headers=api.headers_for("hq.admin", strong)
        ).json()["all_communities"]
    clock = FakeClock()
    for api in start_api(settings, clock):  # a restart finds it and changes nothing
        users = api.client.get("/api/v1/users", headers=api.headers_for("hq.admin", strong))
        assert [u["username"] for u in users.json()] == ["hq.admin"]
        audit = api.client.get(
            "/api/v1/audit",
            params={"action": "user.create"},
            headers=api.headers_for("hq.admin", strong),
        ).json()
        assert [i["actor_username"] for i in audit["items"]] == ["(bootstrap)"]


def test_half_a_bootstrap_admin_is_refused(db_url: str) -> None:
    with pytest.raises(ValueError, match="bootstrap_admin_password"):
        api_settings(db_url, bootstrap_admin_username="hq.admin")


def test_the_broker_connection_is_read_and_its_login_defaults_to_the_service_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert settings_from_env().mqtt_host is None  # no broker unless told: no live feed
    monkeypatch.setenv("HGJ_API_MQTT_HOST", "broker.internal")
    monkeypatch.setenv("HGJ_API_MQTT_PORT", "8883")
    monkeypatch.setenv("HGJ_API_MQTT_TLS", "true")
    monkeypatch.setenv("HGJ_API_INSTANCE", "api-2")
    settings = settings_from_env()
    assert (settings.mqtt_host, settings.mqtt_port, settings.mqtt_tls) == (
        "broker.internal",
        8883,
        True,
    )
    assert settings.mqtt_login is None  # neither name nor password: connect without
    monkeypatch.setenv("HGJ_API_MQTT_PASSWORD", "s3cret")
    assert settings_from_env().mqtt_login == ("svc.api-2", "s3cret")
    monkeypatch.setenv("HGJ_API_MQTT_USERNAME", "svc.custom")
    assert settings_from_env().mqtt_login == ("svc.custom", "s3cret")
    monkeypatch.setenv("HGJ_API_MQTT_HOSTNAME", "typo")
    with pytest.raises(ValueError, match="HGJ_API_MQTT_HOSTNAME"):
        settings_from_env()


def test_stream_and_summary_settings_are_checked(db_url: str) -> None:
    assert api_settings(db_url).stream_queue_size == 256
    with pytest.raises(ValueError, match="stream_queue_size"):
        api_settings(db_url, stream_queue_size=0)
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        api_settings(db_url, local_timezone="Mars/Olympus")
    assert str(api_settings(db_url, local_timezone="UTC").zone) == "UTC"
