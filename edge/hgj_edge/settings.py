"""Configuration of the outbox and its MQTT publisher: pydantic models that refuse unknown keys,
so a misspelt option in an agent's config file fails at start instead of being ignored."""

import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from hgj_edge.outbox import DEFAULT_REPLAY_WINDOW_S, Clock, Outbox
from hgj_edge.outbox_schema import Synchronous


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsSettings(_Config):
    ca_file: Path
    """The CA that signed the broker's certificate."""
    cert_file: Path | None = None
    """The device's client certificate, where the broker authenticates devices by certificate."""
    key_file: Path | None = None


class OutboxSettings(_Config):
    path: Path
    max_messages: int = Field(default=100_000, ge=1)
    max_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    replay_window_s: float = Field(default=DEFAULT_REPLAY_WINDOW_S, ge=0)
    """Keep this above the broker's snapshot interval: a SIGKILLed Mosquitto forgets what it
    acknowledged since its last snapshot, and only a replay brings that back."""
    synchronous: Synchronous = "NORMAL"
    """NORMAL survives an agent crash; FULL also a power cut, with an fsync per message."""


class PublisherSettings(_Config):
    host: str
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: str = Field(min_length=1)
    """Fixed per agent: the broker keeps the session (and, later, queued commands) under it."""
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsSettings | None = None
    keepalive_s: int = Field(default=30, ge=5)
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=1)
    """Above zero, or paho's default Clean Start would drop the session on every reconnect."""
    inflight_window: int = Field(default=100, ge=1, le=1000)
    """QoS 1 messages awaiting PUBACK at once. Modest: raising paho's window from 20 to 1000
    halved QoS 1 throughput (DESIGN.md); the backlog stays on disk, never in paho."""
    reconnect_min_s: int = Field(default=1, ge=1)
    reconnect_max_s: int = Field(default=30, ge=1)
    purge_interval_s: float = Field(default=1.0, gt=0)


def open_outbox(settings: OutboxSettings, clock: Clock = time.time) -> Outbox:
    return Outbox(
        settings.path,
        max_messages=settings.max_messages,
        max_bytes=settings.max_bytes,
        replay_window_s=settings.replay_window_s,
        synchronous=settings.synchronous,
        clock=clock,
    )
