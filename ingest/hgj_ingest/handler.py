"""Decide what one MQTT message becomes: points to store, a rejection, or nothing.

Pure logic (no I/O) so that every rule about bad input is unit-tested without a broker.
"""

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hgj_contracts import ContractError, DeadLetter, match_topic, utc_now
from hgj_contracts.service import MAX_DEAD_LETTER_SAMPLE, RejectReason
from hgj_ingest.points import CONVERTERS, reject_line
from hgj_ingest.settings import IngestSettings


@dataclass(frozen=True, slots=True)
class Accepted:
    channel: str
    lines: list[str]


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: RejectReason
    channel: str
    dead_letter: DeadLetter
    line: str
    """An ``ingest_reject`` point, so the refusal is counted in InfluxDB for dashboards."""


@dataclass(frozen=True, slots=True)
class Ignored:
    """A valid message on a channel ingest does not store (commands, for instance)."""

    channel: str


Outcome = Accepted | Rejected | Ignored


class MessageHandler:
    def __init__(self, settings: IngestSettings, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock
        self._max_skew = timedelta(seconds=settings.max_future_skew_s)
        self._max_age = timedelta(days=settings.max_age_days)

    def handle(self, topic: str, payload: bytes) -> Outcome:
        channel_name = "unknown"
        try:
            match = match_topic(topic)
            channel_name = match.channel.name
            converter = CONVERTERS.get(channel_name)
            if converter is None:
                return Ignored(channel_name)
            message = match.channel.decode(payload, match.params)
            self._check_time(message.ts)
            return Accepted(channel_name, converter(match, message))
        except ContractError as err:
            return self.reject(topic, payload, err.reason, err.detail, channel_name)

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
        return Rejected(reason, channel, letter, line)

    def _check_time(self, ts: datetime) -> None:
        now = self._clock()
        if ts > now + self._max_skew:
            raise ContractError("ts_out_of_range", f"event time {ts.isoformat()} is in the future")
        if ts < now - self._max_age:
            raise ContractError("ts_out_of_range", f"event time {ts.isoformat()} is too old")
