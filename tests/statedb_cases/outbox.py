"""The outbox: every change stays pending per sink until ingest confirms its delivery."""

from datetime import timedelta

from hgj_contracts import utc_now
from hgj_statedb.alert_store import AlertStore
from tests.statedb_fixtures import signal


class OutboxCases:
    def test_changes_wait_for_each_sink_separately(self, store: AlertStore) -> None:
        raised = store.apply(signal("raise", 0))
        repeated = store.apply(signal("raise", 1))
        assert raised is not None
        assert repeated is not None

        pending = store.undelivered("mqtt")
        assert [e.event_id for e in pending] == [raised.event.event_id, repeated.event.event_id]
        # Each entry is the payload as first announced, not the alert's current picture.
        assert [e.payload for e in pending] == [raised.to_payload(), repeated.to_payload()]
        assert pending[0].payload.count == 1
        assert pending[0].topic_params == raised.topic_params

        store.mark_delivered("mqtt", [raised.event.event_id])
        assert [e.event_id for e in store.undelivered("mqtt")] == [repeated.event.event_id]
        assert len(store.undelivered("influx")) == 2  # InfluxDB down does not hold MQTT back
        store.mark_delivered("mqtt", [repeated.event.event_id, raised.event.event_id])
        store.mark_delivered("mqtt", [])
        assert store.undelivered("mqtt") == []

    def test_a_redelivered_signal_leaves_its_change_pending(self, store: AlertStore) -> None:
        # A worker committed the raise, then died before publishing; MQTT redelivers the message.
        raise_ = signal("raise", 0)
        store.apply(raise_)
        assert store.apply(raise_) is None
        (pending,) = store.undelivered("mqtt")
        assert pending.payload.change == "raised"

    def test_the_sweeper_can_leave_fresh_changes_to_the_live_path(self, store: AlertStore) -> None:
        store.apply(signal("raise", 0))
        now = utc_now()
        assert store.undelivered("mqtt", recorded_before=now - timedelta(hours=1)) == []
        assert len(store.undelivered("mqtt", recorded_before=now + timedelta(hours=1))) == 1
        assert len(store.undelivered("mqtt", limit=1)) == 1
