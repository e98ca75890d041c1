"""An agent's YAML configuration: pydantic models that refuse unknown keys, and errors that
name the file and the key (``broker.port: ...``) so a fitter on site can fix the file.

Why YAML rather than the environment (as ingest does): an agent's config holds lists
(drivers, credentials) and is written once per box by hand.
"""

from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from hgj_contracts.ids import Identifier
from hgj_contracts.status import DeviceType
from hgj_edge.outbox import DEFAULT_REPLAY_WINDOW_S
from hgj_edge.outbox_schema import Synchronous
from hgj_edge.settings import TlsSettings


class ConfigError(ValueError):
    """The config file cannot be used; the message says where and why."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokerConfig(_Config):
    host: str = Field(min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    tls: TlsSettings | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    """Read at start; keeps the secret out of a file that is copied around for support."""
    keepalive_s: int = Field(default=30, ge=5)
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=1)
    reconnect_max_s: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _one_password_source(self) -> "BrokerConfig":
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        return self

    def resolved_password(self) -> SecretStr | None:
        if self.password_file is None:
            return self.password
        try:
            text = self.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"broker.password_file: cannot read {self.password_file}: {exc}"
            ) from None
        return SecretStr(text)


class OutboxConfig(_Config):
    path: Path
    max_messages: int = Field(default=100_000, ge=1)
    max_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    replay_window_s: float = Field(default=DEFAULT_REPLAY_WINDOW_S, ge=0)
    synchronous: Synchronous = "NORMAL"


class SimulatedGateConfig(_Config):
    kind: Literal["simulated_gate"]
    fail_with: Identifier | None = None
    """Every opening fails with this error code (a jammed barrier, for tests and drills)."""


class SimulatedSwitchConfig(_Config):
    kind: Literal["simulated_switch"]
    channels: int = Field(default=1, ge=1, le=16)
    fail_with: Identifier | None = None


DriverConfig = Annotated[SimulatedGateConfig | SimulatedSwitchConfig, Field(discriminator="kind")]

CredentialMethod = Literal["card", "qr", "pin"]
GateMethod = Literal["face", "card", "qr", "pin"]


class CredentialEntry(_Config):
    method: CredentialMethod
    secret: SecretStr = Field(description="card number, QR token or PIN")
    person_id: Identifier
    expires_at: AwareDatetime | None = None


class GateConfig(_Config):
    methods: list[GateMethod] = Field(min_length=1)
    """How people may open this gate locally (remote commands always may)."""
    credentials: list[CredentialEntry] = Field(default_factory=list)
    face_categories: tuple[Literal["resident", "staff"], ...] = ("resident", "staff")
    """Face categories the gate opens for; visitors, watchlist and strangers never."""
    hold_open_s: float = Field(default=5.0, gt=0, le=120)

    @model_validator(mode="after")
    def _never_face_only(self) -> "GateConfig":
        # DESIGN.md's privacy rules: face entry is never the only way in.
        if not set(self.methods) - {"face"}:
            raise ValueError("a gate must accept at least one non-face credential (card, qr, pin)")
        unused = {c.method for c in self.credentials} - set(self.methods)
        if unused:
            raise ValueError(
                f"credentials of methods {sorted(unused)} that the gate does not accept"
            )
        return self


class AgentConfig(_Config):
    root: Identifier = "hgj"
    """The topic root (deployments and tests use their own)."""
    community: Identifier
    device: Identifier
    device_type: DeviceType
    firmware: str = Field(default="hgj-edge", max_length=64)
    client_id: str | None = None
    """The MQTT client id; the device id when unset. Fixed: the broker keeps the session
    (and the commands queued while the agent was away) under it."""
    broker: BrokerConfig
    outbox: OutboxConfig
    drivers: list[DriverConfig] = Field(default_factory=list)
    gate: GateConfig | None = None
    telemetry_interval_s: float | None = Field(default=60.0, gt=0)
    """The agent's own health telemetry (uptime, outbox depth); None for none."""
    inflight_window: int = Field(default=100, ge=1, le=1000)

    @model_validator(mode="after")
    def _gate_needs_a_gate_driver(self) -> "AgentConfig":
        kinds = [d.kind for d in self.drivers]
        if len(set(kinds)) != len(kinds):
            raise ValueError("at most one driver of each kind")
        if self.gate is not None and "simulated_gate" not in kinds:
            raise ValueError("a gate section needs a gate driver")
        return self


def load_config(path: Path) -> AgentConfig:
    """Read and validate ``path``; ConfigError naming the file and each bad key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return parse_config(raw, source=str(path))


def parse_config(raw: dict[str, object], source: str = "config") -> AgentConfig:
    try:
        return AgentConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{source}: {exc.error_count()} error(s)"]
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            lines.append(f"  {where}: {error['msg']}")
        raise ConfigError("\n".join(lines)) from None


def is_expired(entry: CredentialEntry, now: datetime) -> bool:
    return entry.expires_at is not None and entry.expires_at <= now
