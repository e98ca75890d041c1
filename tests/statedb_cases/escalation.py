"""Escalation of unacknowledged critical and major alerts, with the clock in the test's hands."""

from datetime import timedelta

from hgj_statedb.alert_store import AlertStore
from hgj_statedb.escalation import EscalationPolicy, SeverityEscalation
from tests.statedb_fixtures import at, signal

CHAIN = ("guard_on_duty", "security_supervisor", "property_manager")
POLICY = EscalationPolicy(
    severities={
        "critical": SeverityEscalation(
            ack_window=timedelta(seconds=60),
            reminder_interval=timedelta(seconds=120),
            responders=CHAIN,
        ),
        "major": SeverityEscalation(
            ack_window=timedelta(seconds=300),
            reminder_interval=timedelta(seconds=300),
            responders=CHAIN[:2],
        ),
    }
)


def _tick(store: AlertStore, seconds: float) -> list[tuple[str, str | None, int, str]]:
    """Run the escalation tick at ``at(seconds)``: (change, responder, level, event kind)."""
    return [
        (c.change, c.responder, c.alert.escalation_level, c.event.kind)
        for c in store.due_escalations(at(seconds), POLICY)
    ]


class EscalationCases:
    def test_reminders_step_up_the_chain_until_acknowledged(self, store: AlertStore) -> None:
        change = store.apply(signal("raise", 0))
        assert change is not None
        alert_id = change.alert.alert_id

        assert _tick(store, 59) == []  # within the acknowledgement window
        assert _tick(store, 60) == [("escalated", "security_supervisor", 1, "escalated")]
        assert _tick(store, 61) == []  # reminders wait a full interval
        assert _tick(store, 179) == []
        assert _tick(store, 180) == [("escalated", "property_manager", 2, "escalated")]
        assert _tick(store, 300) == [("escalated", "property_manager", 2, "reminded")]
        assert _tick(store, 420) == [("escalated", "property_manager", 2, "reminded")]
        assert store.get(alert_id).next_escalation_at == at(540)  # type: ignore[union-attr]

        store.acknowledge(alert_id, "supervisor-wang", at(450))
        assert _tick(store, 540) == []
        assert _tick(store, 10_000) == []
        assert store.get(alert_id).next_escalation_at is None  # type: ignore[union-attr]

        timeline = [(e.kind, e.actor, e.at) for e in store.timeline(alert_id)]
        assert timeline == [
            ("raised", None, at(0)),
            ("escalated", "security_supervisor", at(60)),
            ("escalated", "property_manager", at(180)),
            ("reminded", "property_manager", at(300)),
            ("reminded", "property_manager", at(420)),
            ("acknowledged", "supervisor-wang", at(450)),
        ]

    def test_an_acknowledged_alert_never_escalates(self, store: AlertStore) -> None:
        change = store.apply(signal("raise", 0))
        assert change is not None
        store.acknowledge(change.alert.alert_id, "guard-li", at(10))
        assert _tick(store, 3600) == []

    def test_a_cleared_alert_stops_escalating(self, store: AlertStore) -> None:
        store.apply(signal("raise", 0))
        assert len(_tick(store, 60)) == 1
        store.apply(signal("clear", 100))
        assert _tick(store, 180) == []

    def test_a_late_tick_fires_once(self, store: AlertStore) -> None:
        store.apply(signal("raise", 0))
        assert _tick(store, 3600) == [("escalated", "security_supervisor", 1, "escalated")]
        assert _tick(store, 3601) == []

    def test_only_severities_in_the_policy_escalate(self, store: AlertStore) -> None:
        store.apply(signal("raise", 0, device="d-minor", severity="minor"))
        store.apply(signal("raise", 0, device="d-major", severity="major"))
        assert _tick(store, 299) == []  # major's window is longer than critical's
        assert _tick(store, 300) == [("escalated", "security_supervisor", 1, "escalated")]
        # major's chain has two responders: from then on it reminds the second.
        assert _tick(store, 600) == [("escalated", "security_supervisor", 1, "reminded")]
        assert [c.alert.device for c in store.due_escalations(at(10_000), POLICY)] == ["d-major"]

    def test_escalation_payloads_announce_the_change(self, store: AlertStore) -> None:
        store.apply(signal("raise", 0))
        (change,) = store.due_escalations(at(60), POLICY)
        payload = change.to_payload()
        assert (payload.change, payload.ts, payload.state) == ("escalated", at(60), "active")
