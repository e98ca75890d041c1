"""Base models shared by every payload.

Every payload carries ``v`` (the payload version) and ``ts`` (UTC event time). Payloads sent by
devices also carry ``seq``: a counter per device and channel (telemetry, events, status,
results each count on their own) that starts at 1 when the device starts and lets consumers
detect gaps and duplicates.

Models are frozen (a decoded message is a fact, not a mutable object), strict (a string is not a
number; wrong types are rejected instead of coerced), reject NaN and infinities (InfluxDB cannot
store them), and ignore unknown fields so that newer devices can add fields without breaking
older consumers.
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

CONTRACT_VERSION: Literal[1] = 1

SeqNo = Annotated[int, Field(ge=0, le=2**63 - 1, description="per-device sequence number")]
ShortText = Annotated[str, Field(max_length=500)]


class WireModel(BaseModel):
    """A JSON payload on the wire."""

    model_config = ConfigDict(
        frozen=True,
        strict=True,
        extra="ignore",
        allow_inf_nan=False,
        ser_json_timedelta="float",
    )

    v: Literal[1] = Field(default=CONTRACT_VERSION, description="payload version")
    ts: AwareDatetime = Field(description="event time, ISO 8601 with a zone; stored as UTC")

    @field_validator("ts")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class DeviceMessage(WireModel):
    """A payload published by a device (or its edge agent)."""

    seq: SeqNo


def utc_now() -> datetime:
    """The current time in UTC, for building payloads."""
    return datetime.now(UTC)
