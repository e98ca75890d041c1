"""Topic building and subscription filters come only from the channel patterns."""

import pytest

from hgj_contracts import DEAD_LETTER, EVENT, TELEMETRY


def test_build_topic() -> None:
    topic = EVENT.topic(root="hgj", community="guangsha", device="gs-b01-smoke-f05", kind="smoke")
    assert topic == "hgj/guangsha/dev/gs-b01-smoke-f05/event/smoke"


@pytest.mark.parametrize("bad", ["", "Guangsha", "_svc", "a/b", "+", "#", "x" * 65, "广厦"])
def test_ids_are_validated_when_building(bad: str) -> None:
    with pytest.raises(ValueError, match="not an id"):
        TELEMETRY.topic(root="hgj", community=bad, device="d1")


def test_missing_or_extra_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="needs"):
        TELEMETRY.topic(root="hgj", community="guangsha")
    with pytest.raises(ValueError, match="needs"):
        TELEMETRY.topic(root="hgj", community="guangsha", device="d1", kind="smoke")


def test_subscription_wildcards_unfixed_ids() -> None:
    assert TELEMETRY.subscription(root="hgj") == "hgj/+/dev/+/telemetry"
    assert EVENT.subscription(root="hgj", community="guanbeigou") == "hgj/guanbeigou/dev/+/event/+"


def test_shared_subscription() -> None:
    assert (
        TELEMETRY.subscription(share_group="ingest", root="hgj")
        == "$share/ingest/hgj/+/dev/+/telemetry"
    )


def test_service_namespace_cannot_collide_with_a_community() -> None:
    topic = DEAD_LETTER.topic(root="hgj", service="ingest")
    assert topic == "hgj/_svc/ingest/deadletter"
    with pytest.raises(ValueError, match="not an id"):
        TELEMETRY.topic(root="hgj", community="_svc", device="ingest")


def test_device_tree_subscription_covers_unknown_families() -> None:
    from hgj_contracts import device_tree_subscription

    assert device_tree_subscription("hgj") == "hgj/+/dev/+/#"
    assert device_tree_subscription("hgj", share_group="ingest") == "$share/ingest/hgj/+/dev/+/#"
