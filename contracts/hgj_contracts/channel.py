"""A channel: one topic family with its payload type, QoS, retain flag and publisher.

Topics are built, matched and turned into subscription filters only here, from the channel's
pattern, so that no other code formats a topic string by hand.
"""

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import TypeAdapter, ValidationError

from hgj_contracts.errors import ContractError
from hgj_contracts.ids import check_identifier

MAX_PAYLOAD_BYTES = 16 * 1024
"""Largest payload any channel accepts. Images never travel on MQTT, so this is generous."""


P = TypeVar("P")


class Publisher(StrEnum):
    DEVICE = "device"
    API = "api"
    INGEST = "ingest"
    SERVICE = "service"


@dataclass(frozen=True, slots=True)
class TopicMatch:
    channel: "Channel[Any]"
    params: dict[str, str]


@dataclass(frozen=True)
class Channel(Generic[P]):
    """One topic family. ``pattern`` segments in braces are ids; the others are literal words."""

    name: str
    pattern: str
    adapter: TypeAdapter[P]
    qos: Literal[0, 1, 2]
    retain: bool
    publisher: Publisher
    summary: str
    discriminator: str | None = None
    """A topic parameter that must equal the payload field of the same name (kind, action)."""
    segments: tuple[str, ...] = field(init=False)
    params: tuple[str, ...] = field(init=False)
    _literals: tuple[tuple[int, str], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        segments = tuple(self.pattern.split("/"))
        params = tuple(s[1:-1] for s in segments if s.startswith("{"))
        literals = tuple((i, s) for i, s in enumerate(segments) if not s.startswith("{"))
        object.__setattr__(self, "segments", segments)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "_literals", literals)

    def topic(self, **params: str) -> str:
        """The concrete topic for these ids; every parameter is required and validated."""
        missing = set(self.params) - params.keys()
        extra = params.keys() - set(self.params)
        if missing or extra:
            raise ValueError(f"{self.name} topic needs {self.params}; got {sorted(params)}")
        return "/".join(
            check_identifier(params[s[1:-1]], s[1:-1]) if s.startswith("{") else s
            for s in self.segments
        )

    def subscription(self, share_group: str | None = None, **params: str) -> str:
        """A subscription filter: given ids are fixed, the others become ``+``.

        ``share_group`` turns it into an MQTT 5 shared subscription so that several workers
        split the load.
        """
        extra = params.keys() - set(self.params)
        if extra:
            raise ValueError(f"{self.name} has no parameters {sorted(extra)}")
        parts = []
        for s in self.segments:
            if s.startswith("{"):
                name = s[1:-1]
                parts.append(check_identifier(params[name], name) if name in params else "+")
            else:
                parts.append(s)
        topic_filter = "/".join(parts)
        if share_group is not None:
            topic_filter = f"$share/{check_identifier(share_group, 'share group')}/{topic_filter}"
        return topic_filter

    def match(self, levels: list[str]) -> dict[str, str] | None:
        """The parameters of a topic split into levels, or None when it is not this channel."""
        if len(levels) != len(self.segments):
            return None
        for index, word in self._literals:
            if levels[index] != word:
                return None
        return {s[1:-1]: levels[i] for i, s in enumerate(self.segments) if s.startswith("{")}

    def encode(self, payload: P) -> bytes:
        """Compact JSON; fields left at None are omitted."""
        return self.adapter.dump_json(payload, exclude_none=True)

    def decode(self, data: bytes, params: dict[str, str] | None = None) -> P:
        """Validate a payload, raising ContractError with a reason code when it breaks the rules."""
        if len(data) > MAX_PAYLOAD_BYTES:
            raise ContractError("oversize", f"{len(data)} bytes > {MAX_PAYLOAD_BYTES}")
        try:
            payload = self.adapter.validate_json(data)
        except ValidationError as exc:
            raise _classify(data, exc) from None
        if self.discriminator is not None and params is not None:
            expected = params.get(self.discriminator)
            actual = getattr(payload, self.discriminator)
            if expected != actual:
                raise ContractError(
                    "topic_mismatch",
                    f"topic says {self.discriminator}={expected!r}, payload says {actual!r}",
                )
        return payload


def _classify(data: bytes, exc: ValidationError) -> ContractError:
    errors = exc.errors(include_url=False, include_input=False)
    types = {e["type"] for e in errors}
    if "json_invalid" in types:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as bad:
            return ContractError("invalid_utf8", str(bad))
        try:
            json.loads(text)
        except ValueError as bad:
            return ContractError("malformed_json", str(bad))
        return ContractError("malformed_json", errors[0]["msg"])
    if "finite_number" in types:
        return ContractError("non_finite", "NaN and infinities are not numbers here")
    details = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in errors[:5]
    )
    return ContractError("schema", details)
