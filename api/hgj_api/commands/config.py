"""How the command dispatcher times things (``CommandConfig``) and where it connects
(``BrokerEndpoint``). The API builds both from its own settings (``command_config``,
``BrokerEndpoint.of``), so there is one set of MQTT settings per replica: HGJ_API_MQTT_*."""

from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from hgj_api.commands.interlocks import InterlockConfig
from hgj_contracts.ids import Identifier


class CommandConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    root: Identifier = "hgj"
    instance: Identifier = Field(
        default="api-1",
        description="this replica: its MQTT client id (one persistent session each) and the "
        "actor of the changes it makes",
    )
    share_group: Identifier | None = Field(
        default="api",
        description="MQTT 5 shared subscription for device results, so that replicas split "
        "them; None gives every replica every result (they are idempotent, so that is safe)",
    )
    session_expiry_s: int = Field(
        default=3600,
        ge=0,
        description="how long the broker keeps results for a replica that is restarting",
    )
    default_ttl_s: float = Field(default=30.0, gt=0, le=3600)
    max_ttl_s: float = Field(default=3600.0, gt=0, le=86400)
    ack_timeout_s: float = Field(
        default=10.0, gt=0, description="no answer from the device for this long: timeout"
    )
    result_grace_s: float = Field(
        default=2.0,
        ge=0,
        description="answers still in flight at expires_at count for this long after it",
    )
    sweep_interval_s: float | None = Field(
        default=1.0, gt=0, description="None: no sweeper thread (tests call tick() instead)"
    )
    redispatch_after_s: float = Field(
        default=5.0, gt=0, description="a queued command without a PUBACK is published again"
    )
    progress_retry_after_s: float = Field(
        default=5.0, gt=0, description="an announcement without a PUBACK is published again"
    )
    interlocks: InterlockConfig = InterlockConfig()

    @property
    def ack_timeout(self) -> timedelta:
        return timedelta(seconds=self.ack_timeout_s)

    @property
    def result_grace(self) -> timedelta:
        return timedelta(seconds=self.result_grace_s)

    @property
    def redispatch_after(self) -> timedelta:
        return timedelta(seconds=self.redispatch_after_s)

    @property
    def progress_retry_after(self) -> timedelta:
        return timedelta(seconds=self.progress_retry_after_s)


@dataclass(frozen=True, slots=True)
class BrokerEndpoint:
    """Where and as whom the dispatcher connects: the API's HGJ_API_MQTT_* settings."""

    host: str
    port: int = 1883
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    ca_file: str | None = None
