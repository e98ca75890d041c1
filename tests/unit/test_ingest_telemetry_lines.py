"""The hand-formatted telemetry line equals influxdb-client's Point serialisation."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hgj_contracts import METRICS, TELEMETRY, Reading, Telemetry, match_topic
from hgj_ingest.points import telemetry_lines, telemetry_lines_via_point

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
readings = st.dictionaries(
    st.sampled_from(sorted(METRICS)), finite, min_size=1, max_size=len(METRICS)
)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=300)
@given(community=ids, device=ids, values=readings, seq=st.integers(0, 2**63 - 1), ts=times)
def test_fast_path_equals_point(
    community: str, device: str, values: dict[str, float], seq: int, ts: datetime
) -> None:
    match = match_topic(TELEMETRY.topic(root="hgj", community=community, device=device))
    msg = Telemetry(
        ts=ts,
        seq=seq,
        metrics={n: Reading(value=v, unit=METRICS[n].unit) for n, v in values.items()},
    )
    fast = telemetry_lines(match, msg)[0]
    reference = telemetry_lines_via_point(match, msg)[0]
    # Point writes 90.0 as "90" and we write "90.0": both are floats to InfluxDB, so compare
    # the parsed values rather than the spelling.
    fast_series, fast_fields, fast_ts = _parse(fast)
    ref_series, ref_fields, ref_ts = _parse(reference)
    assert (fast_series, fast_fields) == (ref_series, ref_fields)
    # Exact integer microseconds; Point goes through a float and may be 1 µs off.
    assert int(fast_ts) == (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert abs(int(fast_ts) - int(ref_ts)) <= 1


def _parse(line: str) -> tuple[str, dict[str, float | str], str]:
    series, fields, ts = line.split(" ")
    parsed: dict[str, float | str] = {}
    for pair in fields.split(","):
        key, value = pair.split("=")
        parsed[key] = value if value.endswith("i") else float(value)
    return series, parsed, ts
