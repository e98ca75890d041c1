"""Platform services: presence (retained, also the last will) and dead letters."""

from typing import Annotated, Literal

from pydantic import Field

from hgj_contracts.base import WireModel
from hgj_contracts.ids import Identifier

RejectReason = Literal[
    "oversize",
    "invalid_utf8",
    "malformed_json",
    "non_finite",
    "schema",
    "unknown_topic",
    "topic_mismatch",
    "ts_future",
    "ts_too_old",
    "unknown_device",
    "store_rejected",
]

MAX_DEAD_LETTER_SAMPLE = 4096


class ServiceStatus(WireModel):
    state: Literal["online", "offline"]
    instance: Identifier
    version: Annotated[str, Field(max_length=64)] | None = None
    counters: (
        Annotated[dict[Identifier, Annotated[int, Field(ge=0)]], Field(max_length=256)] | None
    ) = Field(default=None, description="running totals, e.g. received, stored, rejected_schema")


class DeadLetter(WireModel):
    """A message a service refused, with the reason; ``ts`` is when it was refused."""

    topic: Annotated[str, Field(max_length=1024)]
    reason: RejectReason
    detail: Annotated[str, Field(max_length=2000)]
    payload_size: Annotated[int, Field(ge=0)]
    payload_b64: Annotated[str, Field(max_length=MAX_DEAD_LETTER_SAMPLE * 4 // 3 + 4)] = Field(
        description=f"base64 of the first {MAX_DEAD_LETTER_SAMPLE} bytes of the payload"
    )
