"""Telemetry points exactly as ingest stores them, for tests that read InfluxDB."""

from datetime import datetime

from hgj_contracts import METRICS, TELEMETRY, Reading, Telemetry, match_topic
from hgj_ingest.points import telemetry_lines


def lines(community: str, device: str, ts: datetime, seq: int, **values: float) -> list[str]:
    """One telemetry message (``values`` by metric name) as ingest's line protocol."""
    match = match_topic(TELEMETRY.topic(root="hgj", community=community, device=device))
    message = Telemetry(
        ts=ts,
        seq=seq,
        metrics={name: Reading(value=v, unit=METRICS[name].unit) for name, v in values.items()},
    )
    return telemetry_lines(match, message)
