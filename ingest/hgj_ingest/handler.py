"""Decide what one MQTT message becomes: points to store, a rejection, or nothing.

Pure logic (no I/O) so that every rule about bad input is unit-tested without a broker.
"""

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from hgj_contracts import ContractError, DeadLetter, match_topic, utc_now
from hgj_contracts.service import MAX_DEAD_LETTER_SAMPLE, RejectReason
from hgj_ingest.points import CONVERTERS, clock_skew_line, reject_line
from hgj_ingest.settings import IngestSettings


@dataclass(frozen=True, slots=True)
class Accepted:
    channel: str
    lines: list[str]
    params: dict[str, str] = field(default_factory=dict, compare=False)
    """The topic's ids (community, device, ...), for the rule engine."""
    message: object = field(default=None, compare=False)
    """The decoded contract payload, for the rule engine."""


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: RejectReason
    channel: str
    dead_letter: DeadLetter
    lines: tuple[str, ...]
    """An ``ingest_reject`` point, so the refusal is counted in InfluxDB for dashboards, and
    for a device whose clock runs ahead a ``device_clock_skew`` point that flags it."""


@dataclass(frozen=True, slots=True)
class Ignored:
    """A valid message on a channel ingest does not store (commands, for instance)."""

    channel: str


Outcome = Accepted | Rejected | Ignored


KnownDevice = Callable[[str, str], bool]
"""Whether (community, device) is in the registry; must not touch the network or a database."""


class MessageHandler:
    def __init__(
        self,
        settings: IngestSettings,
        clock: Callable[[], datetime] = utc_now,
        known_device: KnownDevice | None = None,
    ) -> None:
        """``known_device``: None accepts every device (``device_registry=off``)."""
        self._clock = clock
        self._known_device = known_device
        self._max_skew = timedelta(seconds=settings.max_future_skew_s)
        self._max_age = timedelta(days=settings.retention_days)

    def handle(self, topic: str, payload: bytes) -> Outcome:
        channel_name = "unknown"
        try:
            match = match_topic(topic)
            channel_name = match.channel.name
            converter = CONVERTERS.get(channel_name)
            if converter is None:
                return Ignored(channel_name)
            rejected = self._check_device(topic, payload, match.params, channel_name)
            if rejected is not None:
                return rejected
            message = match.channel.decode(payload, match.params)
        except ContractError as err:
            return self.reject(topic, payload, err.reason, err.detail, channel_name)
        now = self._clock()
        if message.ts > now + self._max_skew:
            skew_s = (message.ts - now).total_seconds()
            rejected = self.reject(
                topic,
                payload,
                "ts_future",
                f"event time {message.ts.isoformat()} is {skew_s:.0f} s ahead of ingest's clock",
                channel_name,
            )
            skew = clock_skew_line(now, match.params["community"], match.params["device"], skew_s)
            return replace(rejected, lines=(*rejected.lines, skew))
        if message.ts < now - self._max_age:
            detail = f"event time {message.ts.isoformat()} is older than the retention window"
            return self.reject(topic, payload, "ts_too_old", detail, channel_name)
        return Accepted(channel_name, converter(match, message), match.params, message)

    def _check_device(
        self, topic: str, payload: bytes, params: Mapping[str, str], channel: str
    ) -> Rejected | None:
        """Quarantine a message from a device the registry does not know (before decoding:
        whatever it sent, it is not ours to store or to alert on)."""
        if self._known_device is None:
            return None
        community, device = params["community"], params["device"]
        if self._known_device(community, device):
            return None
        detail = f"device {device!r} of community {community!r} is not in the registry"
        return self.reject(topic, payload, "unknown_device", detail, channel)

    def reject(
        self, topic: str, payload: bytes, reason: RejectReason, detail: str, channel: str
    ) -> Rejected:
        now = self._clock()
        letter = DeadLetter(
            ts=now,
            topic=topic[:1024],
            reason=reason,
            detail=detail[:2000],
            payload_size=len(payload),
            payload_b64=base64.b64encode(payload[:MAX_DEAD_LETTER_SAMPLE]).decode("ascii"),
        )
        line = reject_line(now, reason, channel, topic, detail, len(payload))
        return Rejected(reason, channel, letter, (line,))
