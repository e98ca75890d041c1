"""Ingest settings, read from the environment (prefix ``HGJ_INGEST_``) or given by a caller."""

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hgj_contracts.ids import Identifier


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HGJ_INGEST_", extra="forbid", frozen=True)

    root: Identifier = "hgj"
    instance: Identifier = Field(
        default="ingest-1",
        description="this worker's id: its fixed MQTT client id and its _svc/{instance} topics",
    )

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_username: str | None = Field(
        default=None, description="defaults to svc.{instance} when a password is set"
    )
    mqtt_password: SecretStr | None = None
    mqtt_protocol: Literal["5", "3.1.1"] = Field(
        default="5", description="3.1.1 only for brokers without MQTT 5 (the embedded fallback)"
    )
    session_expiry_s: int = Field(
        default=7 * 24 * 3600, ge=60, description="how long the broker queues for us while down"
    )
    receive_maximum: int = Field(
        default=20000,
        ge=1,
        le=65535,
        description="unacknowledged QoS 1 messages in flight to us; bounds our memory, and must "
        "exceed batch_size or batches only ever flush on the timer",
    )
    share_group: Identifier | None = Field(
        default=None, description="MQTT 5 shared subscription group when several workers run"
    )

    store: Literal["influxdb", "sqlite"] = Field(
        default="influxdb", description="sqlite is the embedded fallback of `make run` only"
    )
    sqlite_path: str | None = None

    influx_url: str = "http://127.0.0.1:8086"
    influx_db: str = Field(default="hgj", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    influx_username: str | None = None
    influx_password: SecretStr | None = None
    influx_token: SecretStr | None = Field(
        default=None, description="InfluxDB 2.x/3.x token for the v1 compatibility API"
    )
    influx_timeout_s: float = Field(default=10.0, gt=0)

    batch_size: int = Field(default=5000, ge=1, le=50000)
    max_buffered: int = Field(
        default=100_000,
        ge=1,
        description="messages held while the store is slow; QoS 1 is bounded by receive_maximum "
        "already (the broker keeps the rest), QoS 0 beyond this is dropped and counted",
    )
    flush_interval_s: float = Field(default=0.5, gt=0, le=60)
    max_future_skew_s: float = Field(
        default=300.0,
        gt=0,
        description="event times further ahead than this are refused and the device flagged",
    )
    retention_days: float = Field(
        default=365.0,
        gt=0,
        description="the store's retention window: older event times are refused",
    )
    status_interval_s: float = Field(default=10.0, gt=0, description="how often counters publish")
    role: Literal["all", "store", "alerts"] = Field(
        default="all",
        description="all: store points and run the alert rules (one worker); store: points "
        "only, several workers on a share_group; alerts: the rules only, one worker that sees "
        "every message (no share_group), so each device's rule state lives in one place",
    )
    rules_path: str | None = Field(
        default=None, description="alert rule file; the shipped default_rules.yaml when unset"
    )
    state_db_url: str = Field(
        default="sqlite:///hgj-state.sqlite",
        description="the state database holding alerts (SQLite file, or postgresql+psycopg://)",
    )
    device_registry: Literal["off", "enforce"] = Field(
        default="off",
        description="enforce: quarantine messages from devices not enabled in the state "
        "database's registry (rejected as unknown_device and dead-lettered)",
    )
    registry_refresh_s: float = Field(
        default=10.0, gt=0, le=3600, description="how often the enabled devices are reloaded"
    )
    alert_tick_s: float = Field(
        default=1.0, gt=0, le=60, description="how often silence, auto-clears and escalation run"
    )
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="serve Prometheus /metrics on this port"
    )
    metrics_addr: str = "127.0.0.1"
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _alert_worker_sees_everything(self) -> "IngestSettings":
        if self.role == "alerts" and self.share_group is not None:
            raise ValueError(
                "role=alerts must see every message of every device, so it cannot use a "
                "share_group (put role=store workers on the share group instead)"
            )
        return self


def settings_from_env(environ: Mapping[str, str] | None = None) -> IngestSettings:
    """Settings from the environment, refusing unknown ``HGJ_INGEST_*`` variables.

    pydantic-settings ignores environment variables that match no field, so a typo such as
    ``HGJ_INGEST_BATCH_SIZ`` would silently leave the default in place.
    """
    env = os.environ if environ is None else environ
    prefix = IngestSettings.model_config.get("env_prefix", "")
    known = {prefix + name.upper() for name in IngestSettings.model_fields}
    unknown = sorted(k for k in env if k.upper().startswith(prefix) and k.upper() not in known)
    if unknown:
        raise ValueError(
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return IngestSettings()


def settings_to_env(settings: IngestSettings) -> dict[str, str]:
    """The ``HGJ_INGEST_*`` environment that configures ``python -m hgj_ingest`` as
    ``settings`` do (the inverse of settings_from_env; secrets are written in clear)."""
    prefix = IngestSettings.model_config.get("env_prefix", "")
    env = {}
    for name, value in settings.model_dump(exclude_none=True).items():
        secret = value.get_secret_value() if isinstance(value, SecretStr) else value
        env[f"{prefix}{name.upper()}"] = str(secret)
    return env
