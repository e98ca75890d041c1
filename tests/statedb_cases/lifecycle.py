"""The alert lifecycle driven by signals: raise, repeat, clear, duplicates, event-time order."""

from hgj_contracts import ALERT, Alert
from hgj_contracts.ids import is_identifier
from hgj_statedb.alert_store import AlertStore
from hgj_statedb.views import AlertChange
from tests.statedb_fixtures import at, signal


def _change(change: AlertChange | None) -> AlertChange:
    assert change is not None, "expected a change"
    return change


class LifecycleCases:
    def test_raise_creates_an_active_alert(self, store: AlertStore) -> None:
        change = _change(store.apply(signal("raise", 0)))

        assert change.change == "raised"
        alert = change.alert
        assert is_identifier(alert.alert_id)
        assert alert.alert_id.startswith("a-")
        assert (alert.community, alert.device, alert.rule) == ("guangsha", "gs-b01-smoke", "smoke")
        assert (alert.state, alert.count, alert.acknowledged) == ("active", 1, False)
        assert alert.raised_at == alert.last_raised_at == alert.last_event_time == at(0)
        assert store.get(alert.alert_id) == alert

    def test_active_counts_per_community_and_severity(self, store: AlertStore) -> None:
        store.apply(signal("raise", 0))
        store.apply(signal("raise", 1))  # a repeat: still one alert
        store.apply(signal("raise", 2, device="gs-b02-smoke"))
        store.apply(
            signal(
                "raise",
                3,
                device="gbg-b01-leak",
                community="guanbeigou",
                rule="water_leak",
                severity="major",
            )
        )
        store.apply(signal("raise", 4, device="gs-b03-smoke"))
        store.apply(signal("clear", 5, device="gs-b03-smoke"))

        assert store.active_counts() == {
            ("guangsha", "critical"): 2,
            ("guanbeigou", "major"): 1,
        }

    def test_repeats_count_on_the_active_alert(self, store: AlertStore) -> None:
        first = _change(store.apply(signal("raise", 0)))
        second = _change(store.apply(signal("raise", 5, message="烟雾浓度上升")))
        third = _change(store.apply(signal("raise", 9)))

        assert [second.change, third.change] == ["repeated", "repeated"]
        assert third.alert.alert_id == first.alert.alert_id
        assert third.alert.count == 3
        assert third.alert.raised_at == at(0)
        assert third.alert.last_raised_at == at(9)
        assert second.alert.message == "烟雾浓度上升"
        assert len(store.list_alerts()) == 1

    def test_clear_then_raise_opens_a_new_alert(self, store: AlertStore) -> None:
        first = _change(store.apply(signal("raise", 0)))
        cleared = _change(store.apply(signal("clear", 10)))
        again = _change(store.apply(signal("raise", 20)))

        assert cleared.change == "cleared"
        assert cleared.alert.alert_id == first.alert.alert_id
        assert (cleared.alert.state, cleared.alert.cleared_at) == ("cleared", at(10))
        assert again.change == "raised"
        assert again.alert.alert_id != first.alert.alert_id
        assert again.alert.count == 1
        states = {a.alert_id: a.state for a in store.list_alerts()}
        assert states == {first.alert.alert_id: "cleared", again.alert.alert_id: "active"}

    def test_a_clear_with_nothing_active_changes_nothing(self, store: AlertStore) -> None:
        assert store.apply(signal("clear", 0)) is None
        assert store.list_alerts() == []

    def test_a_redelivered_signal_is_ignored(self, store: AlertStore) -> None:
        raised = signal("raise", 0)
        repeated = signal("raise", 1)
        cleared = signal("clear", 2)
        assert store.apply(raised) is not None
        assert store.apply(raised) is None
        assert store.apply(repeated) is not None
        assert store.apply(repeated) is None
        assert store.apply(raised) is None
        alert = _change(store.apply(cleared)).alert
        assert store.apply(cleared) is None
        assert store.apply(raised) is None

        assert store.get(alert.alert_id) == alert
        assert alert.count == 2
        kinds = [e.kind for e in store.timeline(alert.alert_id)]
        assert kinds == ["raised", "repeated", "cleared"]

    def test_signal_ids_are_scoped_to_the_rule(self, store: AlertStore) -> None:
        # One device message may drive several rules under the same signal_id.
        smoke = _change(store.apply(signal("raise", 0, rule="smoke", signal_id="gs/m/7")))
        heat = _change(store.apply(signal("raise", 0, rule="overheat", signal_id="gs/m/7")))
        assert smoke.alert.alert_id != heat.alert.alert_id

    def test_community_wide_alerts_have_no_device(self, store: AlertStore) -> None:
        first = _change(store.apply(signal("raise", 0, device=None, rule="gate_offline_many")))
        second = _change(store.apply(signal("raise", 1, device=None, rule="gate_offline_many")))
        assert first.alert.device is None
        assert second.change == "repeated"
        assert second.to_payload().device is None

    def test_alerts_are_per_device_and_rule(self, store: AlertStore) -> None:
        changes = [
            store.apply(signal("raise", 0, device="d1")),
            store.apply(signal("raise", 0, device="d2")),
            store.apply(signal("raise", 0, device="d1", rule="tamper")),
            store.apply(signal("raise", 0, device="d1", community="guanbeigou")),
        ]
        assert [_change(c).change for c in changes] == ["raised"] * 4
        assert len({_change(c).alert.alert_id for c in changes}) == 4


class OrderingCases:
    """Signals arriving out of event-time order (see hgj_statedb.ordering)."""

    def test_a_late_raise_does_not_reopen_a_cleared_alert(self, store: AlertStore) -> None:
        store.apply(signal("raise", 0))
        alert = _change(store.apply(signal("clear", 10))).alert
        assert store.apply(signal("raise", 5)) is None
        assert store.list_alerts(state="active") == []
        assert store.get(alert.alert_id) == alert

    def test_a_clear_arriving_before_its_raise_still_wins(self, store: AlertStore) -> None:
        assert store.apply(signal("clear", 10)) is None
        assert store.apply(signal("raise", 5)) is None
        assert store.list_alerts() == []
        assert _change(store.apply(signal("raise", 11))).change == "raised"

    def test_at_equal_times_the_clear_wins(self, store: AlertStore) -> None:
        store.apply(signal("raise", 0))
        store.apply(signal("clear", 10))
        assert store.apply(signal("raise", 10)) is None
        assert store.list_alerts(state="active") == []

    def test_a_clear_older_than_the_latest_raise_is_superseded(self, store: AlertStore) -> None:
        store.apply(signal("raise", 0))
        store.apply(signal("raise", 20))
        assert store.apply(signal("clear", 10)) is None
        (alert,) = store.list_alerts()
        assert (alert.state, alert.count) == ("active", 2)
        # ...and it does not make later-arriving raises between 10 and 20 stale.
        assert _change(store.apply(signal("raise", 15))).change == "repeated"

    def test_a_late_repeat_still_counts_and_can_move_the_start(self, store: AlertStore) -> None:
        store.apply(signal("raise", 10, message="newest"))
        late = _change(store.apply(signal("raise", 5, message="older")))
        assert late.change == "repeated"
        assert (late.alert.count, late.alert.raised_at) == (2, at(5))
        assert late.alert.last_raised_at == at(10)
        assert late.alert.message == "newest"  # the latest raise describes the alert

    def test_the_same_signals_in_any_order_end_in_the_same_state(self, store: AlertStore) -> None:
        signals = [signal("raise", 0), signal("raise", 3), signal("clear", 6), signal("raise", 9)]
        store.apply(signals[3])
        store.apply(signals[2])
        store.apply(signals[1])
        store.apply(signals[0])
        (active,) = store.list_alerts(state="active")
        assert active.last_raised_at == at(9)


class PayloadCases:
    def test_a_change_maps_to_the_contract_payload(self, store: AlertStore) -> None:
        store.apply(signal("raise", 0))
        change = _change(store.apply(signal("raise", 4, message="烟" * 600)))

        payload = change.to_payload()
        assert isinstance(payload, Alert)
        assert payload.change == "repeated"
        assert payload.ts == at(4)
        assert (payload.alert_id, payload.rule, payload.device) == (
            change.alert.alert_id,
            "smoke",
            "gs-b01-smoke",
        )
        assert (payload.severity, payload.state, payload.count) == ("critical", "active", 2)
        assert payload.raised_at == at(0)
        assert len(payload.message) == 500
        assert change.alert.message == "烟" * 600  # stored whole
        topic = ALERT.topic(root="hgj", **change.topic_params)
        assert topic == "hgj/guangsha/alert/smoke"
        assert ALERT.decode(ALERT.encode(payload), {"rule": "smoke"}) == payload

    def test_every_change_kind_maps_to_a_contract_change(self, store: AlertStore) -> None:
        alert_id = _change(store.apply(signal("raise", 0))).alert.alert_id
        changes = [
            store.assign(alert_id, "guard-li", by="supervisor-wang", at=at(1)),
            store.add_note(alert_id, "guard-li", "到达现场", at=at(2)),
            store.acknowledge(alert_id, "guard-li", at=at(3)),
            store.apply(signal("clear", 4)),
        ]
        payloads = [_change(c).to_payload() for c in changes]
        assert [p.change for p in payloads] == ["updated", "updated", "acknowledged", "cleared"]
        assert payloads[-1].acknowledged_by == "guard-li"
        assert payloads[-1].cleared_at == at(4)
