"""The InfluxDB schema: the measurement, tag and field names ingest writes and readers query.

Ingest is the only writer (``hgj_ingest.points``); the API and the dashboards read. The names
live here, beside the metric catalogue that names telemetry's fields, so that writer and readers
share one source of truth without the API importing ingest (which pulls MQTT and the InfluxDB
client library). Constants only, no I/O, like the rest of the contract.

Telemetry's fields are the metric catalogue's names (``hgj_contracts.metrics``), each a float in
its catalogue unit, plus the integer ``seq``.
"""

from types import MappingProxyType

TELEMETRY_MEASUREMENT = "telemetry"
EVENT_MEASUREMENT = "device_event"
STATUS_MEASUREMENT = "device_status"
STATE_MEASUREMENT = "device_state"
RESULT_MEASUREMENT = "command_result"
REJECT_MEASUREMENT = "ingest_reject"
CLOCK_SKEW_MEASUREMENT = "device_clock_skew"
ALERT_MEASUREMENT = "alerts"

COMMUNITY_TAG = "community"
DEVICE_TAG = "device"
KIND_TAG = "kind"
ACTION_TAG = "action"
STATUS_TAG = "status"
REASON_TAG = "reason"
CHANNEL_TAG = "channel"
RULE_TAG = "rule"
SEVERITY_TAG = "severity"
CHANGE_TAG = "change"

EVENT_TAG_FIELDS = frozenset({"category", "method"})
"""Event fields small enough in cardinality to be tags, so dashboards can GROUP BY them."""

SEQ_FIELD = "seq"
"""The device's sequence number (integer), stored with every device message's point."""

CLOCK_SKEW_FIELD = "skew_s"
"""How far ahead of ingest's clock a refused message's event time was (float)."""
CLOCK_SKEW_UNIT = "s"

DEVICE_TAGS = (COMMUNITY_TAG, DEVICE_TAG)
"""The series identity of every point that comes from one device."""

MEASUREMENT_TAGS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        TELEMETRY_MEASUREMENT: DEVICE_TAGS,
        EVENT_MEASUREMENT: (*DEVICE_TAGS, KIND_TAG, *sorted(EVENT_TAG_FIELDS)),
        STATUS_MEASUREMENT: DEVICE_TAGS,
        STATE_MEASUREMENT: DEVICE_TAGS,
        RESULT_MEASUREMENT: (*DEVICE_TAGS, ACTION_TAG, STATUS_TAG),
        REJECT_MEASUREMENT: (REASON_TAG, CHANNEL_TAG),
        CLOCK_SKEW_MEASUREMENT: DEVICE_TAGS,
        ALERT_MEASUREMENT: (COMMUNITY_TAG, RULE_TAG, SEVERITY_TAG, CHANGE_TAG),
    }
)
"""Every measurement ingest writes, with the tag keys its points may carry (a unit test checks
what ingest really writes against this)."""
