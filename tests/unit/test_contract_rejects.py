"""Payloads that break the contract are refused with a stable reason code."""

import pytest

from hgj_contracts import EVENT, MAX_PAYLOAD_BYTES, TELEMETRY, ContractError

GOOD = (
    b'{"v":1,"ts":"2026-11-27T02:00:00Z","seq":1,'
    b'"metrics":{"temperature":{"value":21.5,"unit":"Cel"}}}'
)


def reason_for(data: bytes) -> str:
    with pytest.raises(ContractError) as err:
        TELEMETRY.decode(data)
    return err.value.reason


def test_good_payload_decodes() -> None:
    assert TELEMETRY.decode(GOOD).metrics["temperature"].value == 21.5


def test_integers_are_accepted_as_floats() -> None:
    assert TELEMETRY.decode(GOOD.replace(b"21.5", b"21")).metrics["temperature"].value == 21.0


def test_extra_fields_are_tolerated() -> None:
    assert TELEMETRY.decode(GOOD.replace(b'"seq":1', b'"seq":1,"fw":"2.0"')).seq == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"v":1,"ts":', "malformed_json"),
        (b"\xff\xfe\x00garbage", "invalid_utf8"),
        (GOOD.replace(b"21.5", b'"21.5"'), "schema"),
        (GOOD.replace(b'"seq":1', b'"seq":"1"'), "schema"),
        (GOOD.replace(b"21.5", b"NaN"), "non_finite"),
        (GOOD.replace(b"21.5", b"Infinity"), "non_finite"),
        (GOOD.replace(b'"seq":1,', b""), "schema"),
        (GOOD.replace(b'"v":1', b'"v":2'), "schema"),
        (GOOD.replace(b"Z", b""), "schema"),
        (GOOD.replace(b'"Cel"', b'"F"'), "schema"),
        (GOOD.replace(b"temperature", b"warpfield"), "schema"),
        (b"[1, 2, 3]", "schema"),
        (b" " * (MAX_PAYLOAD_BYTES + 1), "oversize"),
    ],
    ids=[
        "truncated",
        "utf8",
        "string-number",
        "string-seq",
        "nan",
        "inf",
        "missing-seq",
        "future-version",
        "naive-time",
        "wrong-unit",
        "unknown-metric",
        "not-an-object",
        "oversize",
    ],
)
def test_bad_payloads_are_rejected_with_their_reason(data: bytes, reason: str) -> None:
    assert reason_for(data) == reason


def test_event_kind_must_match_the_topic() -> None:
    data = b'{"v":1,"ts":"2026-11-27T02:00:00Z","seq":3,"kind":"smoke","active":true}'
    assert EVENT.decode(data, {"kind": "smoke"}).kind == "smoke"
    with pytest.raises(ContractError) as err:
        EVENT.decode(data, {"kind": "water_leak"})
    assert err.value.reason == "topic_mismatch"


def test_time_is_normalised_to_utc() -> None:
    decoded = TELEMETRY.decode(GOOD.replace(b"02:00:00Z", b"10:00:00+08:00"))
    assert decoded.ts.utcoffset() is not None
    assert decoded.ts.isoformat() == "2026-11-27T02:00:00+00:00"
