"""Where and how the API reads InfluxDB: a small model the API's settings can embed."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class InfluxConfig(BaseModel):
    """Connection to InfluxDB's v1 query API (1.x itself, or 2.x/3.x through v1 compatibility).

    Credentials: ``username`` + ``password`` for InfluxDB 1.x (sent as HTTP Basic auth, which
    keeps them out of URLs and access logs), or ``token`` for 2.x/3.x (``Authorization: Token``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(default="http://127.0.0.1:8086", pattern=r"^https?://[^\s/@]+(/[^\s]*)?$")
    database: str = Field(default="hgj", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    retention_policy: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="sent as rp; on 2.x it selects the bucket mapping (DBRP)",
    )
    username: str | None = Field(default=None, min_length=1)
    password: SecretStr | None = None
    token: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0, description="the longest one query may take")
    connect_timeout_s: float = Field(
        default=2.0, gt=0, description="short, so a stopped InfluxDB is reported at once"
    )

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> Self:
        if self.token is not None and (self.username is not None or self.password is not None):
            raise ValueError("give either a token or a username and password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("a username needs a password and a password needs a username")
        return self
