"""API settings, read from the environment (prefix ``HGJ_API_``) or given by a caller.

The defaults make a development server easy to start and are refused in production (the
default): see ``insecure_defaults``.
"""

import os
from collections.abc import Mapping
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hgj_api.security.passwords import USERNAME_PATTERN, password_problem
from hgj_api.security.permissions import Role
from hgj_api.telemetry.config import InfluxConfig
from hgj_contracts.ids import Identifier

DEVELOPMENT_JWT_SECRET: Final = "hgj-development-only-jwt-secret-do-not-deploy"  # noqa: S105
"""The default signing key: anyone who reads this file can mint tokens with it."""

MIN_JWT_SECRET_BYTES: Final = 32
"""HS256 keys shorter than the hash output (RFC 7518 section 3.2) are refused in production."""


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HGJ_API_", extra="forbid", frozen=True)

    mode: Literal["development", "production"] = Field(
        default="production",
        description="development accepts the insecure conveniences below, with a warning",
    )
    state_db_url: str = Field(
        default="sqlite:///hgj-state.sqlite",
        description="the state database (SQLite file, or postgresql+psycopg://)",
    )
    migrate_on_start: bool = Field(
        default=True, description="upgrade the state database to the latest schema at start"
    )

    jwt_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_JWT_SECRET),
        description=f"HS256 signing key, at least {MIN_JWT_SECRET_BYTES} bytes in production",
    )
    jwt_issuer: str = "hgj-api"
    access_token_ttl_s: int = Field(default=15 * 60, ge=60, le=3600)
    refresh_token_ttl_s: int = Field(
        default=12 * 3600,
        ge=300,
        le=30 * 24 * 3600,
        description="each refresh issues a new token with this lifetime (one guard shift)",
    )

    max_failed_logins: int = Field(
        default=5, ge=1, le=100, description="consecutive failures that lock an account"
    )
    lockout_s: int = Field(default=15 * 60, ge=1, description="how long a locked account waits")
    password_min_length: int = Field(default=12, ge=8, le=128)

    bootstrap_admin_username: str | None = Field(
        default=None,
        pattern=USERNAME_PATTERN,
        description="create this platform-wide admin at start when no user has that name",
    )
    bootstrap_admin_password: SecretStr | None = None
    anonymous_role: Role | None = Field(
        default=None,
        description="development only: requests without a token act with this role, "
        "in every community",
    )

    root: Identifier = Field(default="hgj", description="the MQTT topic root of the deployment")
    instance: Identifier = Field(
        default="api-1",
        description="this replica's id: its MQTT client ids start with it, and its broker "
        "account is svc.<instance> unless mqtt_username says otherwise",
    )
    mqtt_host: str | None = Field(
        default=None,
        description="the broker feeding the live stream and carrying alert changes made here; "
        "None: no live stream, and such changes reach MQTT through ingest's outbox sweep",
    )
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_username: str | None = Field(
        default=None, description="defaults to svc.<instance> when a password is set"
    )
    mqtt_password: SecretStr | None = None
    mqtt_tls: bool = Field(default=False, description="connect with TLS (port 8883 usually)")
    mqtt_ca_file: str | None = Field(
        default=None,
        description="CA bundle that signed the broker's certificate (TLS only); "
        "the system's CAs when unset",
    )
    stream_queue_size: int = Field(
        default=256,
        ge=1,
        le=100_000,
        description="messages a live-stream connection may fall behind before it is dropped",
    )
    stream_auth_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="time a new connection has to send its token"
    )
    stream_recheck_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="how often a live-stream connection re-reads its user (disabled, roles and "
        "communities changed)",
    )
    local_timezone: str = Field(
        default="Asia/Shanghai", description="where 'today' starts for the alert summary"
    )
    broker_control_password: SecretStr | None = Field(
        default=None,
        description="password of the broker's `broker-control` account, which creates and "
        "revokes device credentials (over HGJ_API_MQTT_HOST); without it devices are "
        "registered without credentials",
    )
    device_broker_url: str | None = Field(
        default=None,
        description="where devices connect (mqtts://iot.example.org:8883), returned with "
        "newly issued credentials",
    )

    influx_url: str = Field(
        default="http://127.0.0.1:8086", description="InfluxDB's v1 HTTP API, for telemetry"
    )
    influx_db: str = "hgj"
    influx_username: str | None = None
    influx_password: SecretStr | None = None
    influx_token: SecretStr | None = Field(
        default=None, description="InfluxDB 2.x/3.x token (instead of username and password)"
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="proxies whose X-Forwarded-For is trusted for the client address (uvicorn)",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("local_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.local_timezone)

    @property
    def mqtt_login(self) -> tuple[str, str | None] | None:
        """(username, password) for the broker, or None to connect without."""
        if self.mqtt_password is not None:
            username = self.mqtt_username or f"svc.{self.instance}"
            return username, self.mqtt_password.get_secret_value()
        if self.mqtt_username is not None:
            return self.mqtt_username, None
        return None

    @model_validator(mode="after")
    def _bootstrap_admin_is_complete(self) -> "ApiSettings":
        if (self.bootstrap_admin_username is None) != (self.bootstrap_admin_password is None):
            raise ValueError(
                "set both bootstrap_admin_username and bootstrap_admin_password, or neither"
            )
        return self


def insecure_defaults(settings: ApiSettings) -> list[str]:
    """What in ``settings`` is only acceptable in development, one sentence each."""
    problems = []
    secret = settings.jwt_secret.get_secret_value()
    if secret == DEVELOPMENT_JWT_SECRET:
        problems.append("HGJ_API_JWT_SECRET is the built-in development key")
    elif len(secret.encode()) < MIN_JWT_SECRET_BYTES:
        problems.append(f"HGJ_API_JWT_SECRET is shorter than {MIN_JWT_SECRET_BYTES} bytes")
    if settings.bootstrap_admin_password is not None:
        problem = password_problem(
            settings.bootstrap_admin_password.get_secret_value(),
            min_length=settings.password_min_length,
            username=settings.bootstrap_admin_username,
        )
        if problem is not None:
            problems.append(f"HGJ_API_BOOTSTRAP_ADMIN_PASSWORD is weak: {problem}")
    if settings.anonymous_role is not None:
        problems.append(
            f"HGJ_API_ANONYMOUS_ROLE lets anyone act as {settings.anonymous_role} without "
            "signing in"
        )
    return problems


def settings_from_env(environ: Mapping[str, str] | None = None) -> ApiSettings:
    """Settings from the environment, refusing unknown ``HGJ_API_*`` variables (a typo would
    otherwise leave a default, perhaps an insecure one, silently in place)."""
    env = os.environ if environ is None else environ
    prefix = ApiSettings.model_config.get("env_prefix", "")
    known = {prefix + name.upper() for name in ApiSettings.model_fields}
    unknown = sorted(k for k in env if k.upper().startswith(prefix) and k.upper() not in known)
    if unknown:
        raise ValueError(
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return ApiSettings()


def influx_config(settings: ApiSettings) -> InfluxConfig:
    return InfluxConfig(
        url=settings.influx_url,
        database=settings.influx_db,
        username=settings.influx_username,
        password=settings.influx_password,
        token=settings.influx_token,
    )
