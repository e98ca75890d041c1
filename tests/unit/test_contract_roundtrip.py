"""Every channel round-trips: topic → match → same channel and ids; payload → bytes → equal."""

import json

import pytest
from pydantic import BaseModel

from hgj_contracts import CHANNELS, CHANNELS_BY_NAME, ContractError, match_topic
from hgj_contracts.examples import EXAMPLES, example_topic_params

CASES = [
    pytest.param(
        name, payload, id=f"{name}-{getattr(payload, 'kind', getattr(payload, 'action', i))}"
    )
    for name, payloads in EXAMPLES.items()
    for i, payload in enumerate(payloads)
]


def test_every_channel_has_an_example() -> None:
    assert {c.name for c in CHANNELS} == set(EXAMPLES)


@pytest.mark.parametrize(("name", "payload"), CASES)
def test_topic_and_payload_round_trip(name: str, payload: BaseModel) -> None:
    channel = CHANNELS_BY_NAME[name]
    params = {k: v for k, v in example_topic_params(name, payload).items() if k in channel.params}
    topic = channel.topic(**params)

    matched = match_topic(topic)
    decoded = matched.channel.decode(channel.encode(payload), matched.params)

    assert matched.channel is channel
    assert matched.params == params
    assert decoded == payload


@pytest.mark.parametrize(("name", "payload"), CASES)
def test_payloads_carry_version_and_utc_time(name: str, payload: BaseModel) -> None:
    wire = json.loads(CHANNELS_BY_NAME[name].encode(payload))
    assert wire["v"] == 1
    assert wire["ts"].endswith("Z")
    if CHANNELS_BY_NAME[name].publisher.value == "device":
        assert isinstance(wire["seq"], int)


def test_topics_are_unique_per_channel() -> None:
    patterns = [c.pattern for c in CHANNELS]
    assert len(patterns) == len(set(patterns))


def test_unknown_topic_family_is_rejected() -> None:
    with pytest.raises(ContractError) as err:
        match_topic("hgj/guangsha/dev/gs-b01-th/firmware")
    assert err.value.reason == "unknown_topic"


def test_topic_ids_are_validated_when_matching() -> None:
    with pytest.raises(ContractError) as err:
        match_topic("hgj/Guangsha/dev/gs-b01-th/telemetry")
    assert err.value.reason == "unknown_topic"
