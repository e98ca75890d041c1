"""What people do with alerts (the API's calls), and the queries the API needs."""

from typing import Any

import pytest

from hgj_statedb.alert_store import AlertNotFoundError, AlertStore
from hgj_statedb.views import AlertChange, AlertView
from tests.statedb_fixtures import at, signal


def _raised(store: AlertStore, seconds: float = 0, **options: Any) -> str:
    change = store.apply(signal("raise", seconds, **options))
    assert change is not None
    return change.alert.alert_id


def _change(change: AlertChange | None) -> AlertChange:
    assert change is not None, "expected a change"
    return change


class ActionCases:
    def test_acknowledge_once(self, store: AlertStore) -> None:
        alert_id = _raised(store)
        first = _change(store.acknowledge(alert_id, "guard-li", at(30), note="收到"))
        assert first.change == "acknowledged"
        assert first.alert.acknowledged
        assert (first.alert.acknowledged_by, first.alert.acknowledged_at) == ("guard-li", at(30))

        assert store.acknowledge(alert_id, "guard-li", at(31)) is None
        assert store.acknowledge(alert_id, "guard-zhang", at(32)) is None
        assert store.get(alert_id) == first.alert
        (_, ack) = store.timeline(alert_id)
        assert (ack.kind, ack.actor, ack.note, ack.at) == (
            "acknowledged",
            "guard-li",
            "收到",
            at(30),
        )

    def test_acknowledgement_survives_repeats_and_clear(self, store: AlertStore) -> None:
        alert_id = _raised(store)
        store.acknowledge(alert_id, "guard-li", at(1))
        assert _change(store.apply(signal("raise", 2))).alert.acknowledged
        cleared = _change(store.apply(signal("clear", 3))).alert
        assert (cleared.state, cleared.acknowledged) == ("cleared", True)

    def test_a_cleared_alert_can_still_be_acknowledged(self, store: AlertStore) -> None:
        alert_id = _raised(store)
        store.apply(signal("clear", 1))
        change = _change(store.acknowledge(alert_id, "guard-li", at(2)))
        assert (change.alert.state, change.alert.acknowledged) == ("cleared", True)

    def test_assign_and_notes_build_the_timeline(self, store: AlertStore) -> None:
        alert_id = _raised(store)
        assert _change(store.assign(alert_id, "guard-li", by="supervisor-wang", at=at(1)))
        assert store.assign(alert_id, "guard-li", by="supervisor-wang", at=at(2)) is None
        store.add_note(alert_id, "guard-li", "到达现场，未见明火", at=at(3))
        store.add_note(alert_id, "guard-li", "到达现场，未见明火", at=at(3))  # notes always append
        reassigned = _change(store.assign(alert_id, "guard-zhang", by="supervisor-wang", at=at(4)))
        assert reassigned.alert.assignee == "guard-zhang"
        assert (
            _change(store.assign(alert_id, None, by="supervisor-wang", at=at(5))).alert.assignee
            is None
        )

        timeline = [(e.kind, e.actor, e.note, e.at) for e in store.timeline(alert_id)]
        assert timeline == [
            ("raised", None, None, at(0)),
            ("assigned", "supervisor-wang", "guard-li", at(1)),
            ("noted", "guard-li", "到达现场，未见明火", at(3)),
            ("noted", "guard-li", "到达现场，未见明火", at(3)),
            ("assigned", "supervisor-wang", "guard-zhang", at(4)),
            ("assigned", "supervisor-wang", None, at(5)),
        ]

    def test_the_timeline_is_in_event_time_order(self, store: AlertStore) -> None:
        alert_id = _raised(store, 10)
        store.apply(signal("raise", 5))  # arrives late
        store.add_note(alert_id, "guard-li", "n", at=at(7))
        assert [e.at for e in store.timeline(alert_id)] == [at(5), at(7), at(10)]
        recorded = [e.event_id for e in store.timeline(alert_id)]
        assert recorded != sorted(recorded)

    def test_resolve_clears_by_hand_and_late_raises_stay_out(self, store: AlertStore) -> None:
        alert_id = _raised(store)
        change = _change(store.resolve(alert_id, "guard-li", at(60), note="误报"))
        assert (change.change, change.alert.state, change.alert.cleared_at) == (
            "cleared",
            "cleared",
            at(60),
        )
        assert store.resolve(alert_id, "guard-li", at(61)) is None
        assert store.apply(signal("raise", 30)) is None  # before the resolve: stale
        assert _change(store.apply(signal("raise", 90))).alert.alert_id != alert_id
        (_, resolved) = store.timeline(alert_id)
        assert (resolved.kind, resolved.actor, resolved.note) == ("cleared", "guard-li", "误报")

    def test_unknown_alerts_and_bad_input(self, store: AlertStore) -> None:
        assert store.get("a-missing") is None
        assert store.timeline("a-missing") == []
        with pytest.raises(AlertNotFoundError):
            store.acknowledge("a-missing", "guard-li", at(0))
        with pytest.raises(AlertNotFoundError):
            store.resolve("a-missing", "guard-li", at(0))
        alert_id = _raised(store)
        with pytest.raises(ValueError, match="user"):
            store.acknowledge(alert_id, "Guard Li", at(0))  # not an id: cannot go on the wire
        with pytest.raises(ValueError, match="time zone"):
            store.acknowledge(alert_id, "guard-li", at(0).replace(tzinfo=None))
        with pytest.raises(ValueError, match="device"):
            store.apply(signal("raise", 1, device="Building 1"))
        with pytest.raises(ValueError, match="signal_id"):
            store.apply(signal("raise", 1, signal_id="x" * 256))

    def test_list_alerts_filters_and_pages(self, store: AlertStore) -> None:
        smoke = _raised(store, 0)
        leak = _raised(store, 1, device="gs-b02-leak", rule="water_leak", severity="major")
        other = _raised(store, 2, community="guanbeigou", device="gb-gate", rule="door_forced")
        store.acknowledge(leak, "guard-li", at(3))
        store.apply(signal("clear", 4))  # clears the smoke alert

        def ids(alerts: list[AlertView]) -> list[str]:
            return [a.alert_id for a in alerts]

        list_alerts = store.list_alerts
        assert ids(list_alerts()) == [other, leak, smoke]  # newest raise first
        assert ids(list_alerts(community="guangsha")) == [leak, smoke]
        assert ids(list_alerts(state="active")) == [other, leak]
        assert ids(list_alerts(acknowledged=False)) == [other, smoke]
        assert ids(list_alerts(severity="major")) == [leak]
        assert ids(list_alerts(severity=["major", "critical"])) == [other, leak, smoke]
        assert ids(list_alerts(device="gs-b02-leak")) == [leak]
        assert ids(list_alerts(limit=2)) == [other, leak]
        assert ids(list_alerts(limit=2, offset=2)) == [smoke]
        with pytest.raises(ValueError, match="limit"):
            store.list_alerts(limit=0)
