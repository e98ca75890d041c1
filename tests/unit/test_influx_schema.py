"""What ingest writes to InfluxDB matches the shared schema names that readers query by."""

import re
from datetime import UTC, datetime

from hgj_contracts import CHANNELS_BY_NAME, METRICS, Alert, match_topic
from hgj_contracts.examples import EXAMPLES, T0, example_topic_params
from hgj_contracts.influx_schema import (
    CLOCK_SKEW_FIELD,
    CLOCK_SKEW_MEASUREMENT,
    MEASUREMENT_TAGS,
    SEQ_FIELD,
    TELEMETRY_MEASUREMENT,
)
from hgj_ingest.points import CONVERTERS, alert_line, clock_skew_line, reject_line

_UNESCAPED_SPACE = re.compile(r"(?<!\\) ")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


def parse(line: str) -> tuple[str, set[str], set[str]]:
    """Measurement, tag keys and field keys of one line of line protocol."""
    series, fields, _ts = _UNESCAPED_SPACE.split(line, maxsplit=2)
    measurement, *tags = _UNESCAPED_COMMA.split(series)
    field_keys = {pair.split("=", 1)[0] for pair in _UNESCAPED_COMMA.split(fields)}
    return measurement, {tag.split("=", 1)[0] for tag in tags}, field_keys


def ingest_lines() -> list[str]:
    lines: list[str] = []
    for channel_name, convert in CONVERTERS.items():
        channel = CHANNELS_BY_NAME[channel_name]
        for payload in EXAMPLES[channel_name]:
            params = example_topic_params(channel_name, payload)
            topic = channel.topic(**{k: v for k, v in params.items() if k in channel.params})
            lines += convert(match_topic(topic), payload)
    alert = next(p for p in EXAMPLES["alert"] if isinstance(p, Alert))
    now = datetime(2026, 11, 27, tzinfo=UTC)
    lines += [
        alert_line("guangsha", alert),
        reject_line(now, "schema", "telemetry", "hgj/x", "bad", 10),
        clock_skew_line(now, "guangsha", "gs-1", 301.5),
    ]
    return lines


def test_every_line_ingest_writes_uses_a_declared_measurement_and_its_tags() -> None:
    seen: set[str] = set()
    for line in ingest_lines():
        measurement, tags, _fields = parse(line)
        assert measurement in MEASUREMENT_TAGS, line
        assert tags <= set(MEASUREMENT_TAGS[measurement]), line
        seen.add(measurement)
    assert seen == set(MEASUREMENT_TAGS)  # and every declared measurement is written


def test_telemetry_fields_are_catalogue_metrics_and_seq() -> None:
    fields = {
        key
        for measurement, _tags, keys in map(parse, ingest_lines())
        if measurement == TELEMETRY_MEASUREMENT
        for key in keys
    }
    assert SEQ_FIELD in fields
    assert fields - {SEQ_FIELD} <= set(METRICS)


def test_clock_skew_is_written_under_its_declared_field() -> None:
    line = clock_skew_line(T0, "guangsha", "gs-1", 301.5)
    assert parse(line) == (CLOCK_SKEW_MEASUREMENT, {"community", "device"}, {CLOCK_SKEW_FIELD})
