"""Turn contract messages into InfluxDB line protocol.

Schema (names in ``hgj_contracts.influx_schema``, which the readers share; described in the
README): one measurement per channel, tags only for low-cardinality ids (community, device,
kind, action, status and a few enumerations), everything else a field. A field name has one
type everywhere, which the contract guarantees (catalogue metrics are always floats) and tests
check for events, so InfluxDB never meets a field-type conflict.

Points are stamped with the device's event time, so a message delivered twice overwrites its
own point instead of adding one: this is what makes at-least-once delivery harmless.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision
from pydantic import BaseModel

from hgj_contracts import Alert, CommandResult, DeviceState, DeviceStatus, Telemetry, TopicMatch
from hgj_contracts.influx_schema import (
    ACTION_TAG,
    ALERT_MEASUREMENT,
    CHANGE_TAG,
    CHANNEL_TAG,
    CLOCK_SKEW_FIELD,
    CLOCK_SKEW_MEASUREMENT,
    COMMUNITY_TAG,
    DEVICE_TAG,
    EVENT_MEASUREMENT,
    EVENT_TAG_FIELDS,
    KIND_TAG,
    REASON_TAG,
    REJECT_MEASUREMENT,
    RESULT_MEASUREMENT,
    RULE_TAG,
    SEQ_FIELD,
    SEVERITY_TAG,
    STATE_MEASUREMENT,
    STATUS_MEASUREMENT,
    STATUS_TAG,
    TELEMETRY_MEASUREMENT,
)

WRITE_PRECISION = "u"
"""Precision of the timestamps in the lines we write (microseconds: the contract's resolution)."""

_EVENT_SKIP = {"v", "ts", "seq", "kind"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_TELEMETRY_SERIES = f"{TELEMETRY_MEASUREMENT},{COMMUNITY_TAG}="


def _point(measurement: str, ts: datetime, tags: dict[str, str]) -> Any:  # noqa: ANN401
    point = Point(measurement).time(ts, WritePrecision.US)  # type: ignore[no-untyped-call]
    for key, value in tags.items():
        point.tag(key, value)
    return point


def telemetry_lines(match: TopicMatch, msg: Telemetry) -> list[str]:
    """The hot path (most traffic is telemetry), formatted directly instead of through Point,
    which costs about 8 µs a message. No escaping is needed, by construction of the contract:
    tag values are ids (``[a-z0-9_-]``), field keys are catalogue metric names (``[a-z0-9_]``)
    and values are finite floats. A unit test checks this equals Point's serialisation."""
    params = match.params
    fields = ",".join(f"{name}={reading.value!r}" for name, reading in sorted(msg.metrics.items()))
    return [
        f"{_TELEMETRY_SERIES}{params['community']},{DEVICE_TAG}={params['device']} "
        f"{fields},{SEQ_FIELD}={msg.seq}i {(msg.ts - _EPOCH) // _MICROSECOND}"
    ]


def event_lines(match: TopicMatch, msg: BaseModel) -> list[str]:
    data = msg.model_dump(exclude=_EVENT_SKIP, exclude_none=True)
    tags = _device_tags(match) | {KIND_TAG: match.params["kind"]}
    tags |= {k: str(data.pop(k)) for k in EVENT_TAG_FIELDS & data.keys()}
    point = _point(EVENT_MEASUREMENT, msg.ts, tags)  # type: ignore[attr-defined]
    point.field(SEQ_FIELD, msg.seq)  # type: ignore[attr-defined]
    for key, value in data.items():
        point.field(key, value)
    return [point.to_line_protocol()]


def status_lines(match: TopicMatch, msg: DeviceStatus) -> list[str]:
    point = _point(STATUS_MEASUREMENT, msg.ts, _device_tags(match))
    point.field(SEQ_FIELD, msg.seq).field("online", msg.state == "online")
    for key in ("reason", "device_type", "firmware", "gateway"):
        value = getattr(msg, key)
        if value is not None:
            point.field(key, value)
    if msg.report_interval_s is not None:
        point.field("report_interval_s", float(msg.report_interval_s))
    return [point.to_line_protocol()]


def state_lines(match: TopicMatch, msg: DeviceState) -> list[str]:
    point = _point(STATE_MEASUREMENT, msg.ts, _device_tags(match))
    # State values vary in type from device to device; one JSON field avoids type conflicts.
    point.field(SEQ_FIELD, msg.seq).field("state_json", msg.model_dump_json(include={"state"}))
    if msg.command_id is not None:
        point.field("command_id", msg.command_id)
    return [point.to_line_protocol()]


def result_lines(match: TopicMatch, msg: CommandResult) -> list[str]:
    tags = _device_tags(match) | {ACTION_TAG: msg.action, STATUS_TAG: msg.status}
    point = _point(RESULT_MEASUREMENT, msg.ts, tags)
    point.field(SEQ_FIELD, msg.seq).field("command_id", msg.command_id)
    if msg.error_code is not None:
        point.field("error_code", msg.error_code)
    if msg.error is not None:
        point.field("error", msg.error)
    return [point.to_line_protocol()]


def telemetry_lines_via_point(match: TopicMatch, msg: Telemetry) -> list[str]:
    """Reference serialisation of telemetry through influxdb-client's Point (tests compare)."""
    point = _point(TELEMETRY_MEASUREMENT, msg.ts, _device_tags(match))
    for name, reading in msg.metrics.items():
        point.field(name, float(reading.value))
    point.field(SEQ_FIELD, msg.seq)
    return [point.to_line_protocol()]


def reject_line(
    received_at: datetime, reason: str, channel: str, topic: str, detail: str, size: int
) -> str:
    point = _point(REJECT_MEASUREMENT, received_at, {REASON_TAG: reason, CHANNEL_TAG: channel})
    point.field("topic", topic[:1024]).field("detail", detail[:2000]).field("payload_size", size)
    line: str = point.to_line_protocol()
    return line


def clock_skew_line(received_at: datetime, community: str, device: str, skew_s: float) -> str:
    """Flags a device whose clock runs ahead: its messages are refused until it is fixed."""
    tags = {COMMUNITY_TAG: community, DEVICE_TAG: device}
    point = _point(CLOCK_SKEW_MEASUREMENT, received_at, tags)
    line: str = point.field(CLOCK_SKEW_FIELD, float(skew_s)).to_line_protocol()
    return line


def alert_line(community: str, alert: Alert) -> str:
    """One alert change; stamped with the change's time, tagged so dashboards can count
    alerts by rule, severity and kind of change."""
    tags = {
        COMMUNITY_TAG: community,
        RULE_TAG: alert.rule,
        SEVERITY_TAG: alert.severity,
        CHANGE_TAG: alert.change,
    }
    point = _point(ALERT_MEASUREMENT, alert.ts, tags)
    point.field("alert_id", alert.alert_id).field("active", alert.state == "active")
    point.field("acknowledged", alert.acknowledged).field("count", alert.count)
    point.field("message", alert.message)
    if alert.device is not None:
        point.field("device", alert.device)
    line: str = point.to_line_protocol()
    return line


def _device_tags(match: TopicMatch) -> dict[str, str]:
    return {COMMUNITY_TAG: match.params["community"], DEVICE_TAG: match.params["device"]}


Converter = Callable[[TopicMatch, Any], list[str]]

CONVERTERS: dict[str, Converter] = {
    "telemetry": telemetry_lines,
    "event": event_lines,
    "device_status": status_lines,
    "device_state": state_lines,
    "command_result": result_lines,
}
"""Channels ingest stores, by channel name. Others under the device tree are passed over."""
