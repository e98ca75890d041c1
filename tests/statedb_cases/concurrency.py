"""Several workers on one database: each thread has its own store and engine, as separate ingest
worker processes would, and they work on the same device at the same time.

The assertions are on outcomes (counts, one alert), never on timing; a Barrier starts the
threads together so that their transactions really do interleave.
"""

import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

from hgj_statedb.alert_store import AlertStore
from hgj_statedb.escalation import EscalationPolicy, SeverityEscalation
from hgj_statedb.signals import AlertSignal
from hgj_statedb.views import AlertChange
from tests.statedb_fixtures import StoreFactory, at, signal

R = TypeVar("R")


def _in_parallel(
    stores: Sequence[AlertStore], work: Callable[[int, AlertStore], list[R]]
) -> list[list[R]]:
    """Run ``work(i, store)`` for each store in its own thread; exceptions propagate."""
    barrier = threading.Barrier(len(stores))

    def run(i: int) -> list[R]:
        barrier.wait()
        return work(i, stores[i])

    with ThreadPoolExecutor(len(stores)) as pool:
        return [f.result() for f in [pool.submit(run, i) for i in range(len(stores))]]


def _apply_all(
    signals: Sequence[Sequence[AlertSignal]],
) -> Callable[[int, AlertStore], list[AlertChange | None]]:
    return lambda i, store: [store.apply(s) for s in signals[i]]


class ConcurrencyCases:
    def test_interleaved_raises_from_two_workers_make_one_alert(
        self, store_factory: StoreFactory
    ) -> None:
        stores = [store_factory(), store_factory()]
        # Worker 0 gets the even seconds, worker 1 the odd ones: 200 raises of one device.
        signals = [[signal("raise", 2 * n + i) for n in range(100)] for i in range(2)]

        results = _in_parallel(stores, _apply_all(signals))

        changes = [c for worker in results for c in worker]
        assert all(c is not None for c in changes)
        assert sorted(c.change for c in changes if c is not None) == ["raised"] + ["repeated"] * 199
        (alert,) = stores[0].list_alerts()
        assert (alert.state, alert.count) == ("active", 200)
        assert (alert.raised_at, alert.last_raised_at) == (at(0), at(199))
        assert len(stores[1].timeline(alert.alert_id)) == 200

    def test_a_stream_delivered_to_both_workers_counts_once(
        self, store_factory: StoreFactory
    ) -> None:
        stores = [store_factory(), store_factory()]
        stream = [signal("raise", n) for n in range(100)]
        shuffled = random.Random(7).sample(stream, len(stream))

        results = _in_parallel(stores, _apply_all([stream, shuffled]))

        assert sum(c is not None for worker in results for c in worker) == 100
        (alert,) = stores[0].list_alerts()
        assert alert.count == 100

    def test_a_clear_racing_raises_keeps_event_time_order(
        self, store_factory: StoreFactory
    ) -> None:
        stores = [store_factory(), store_factory()]
        early = [signal("raise", n) for n in range(1, 101)]
        # The other worker sees the clear at t=1000, then raises after it.
        late = [signal("clear", 1000)] + [signal("raise", 1000 + n) for n in range(1, 101)]

        _in_parallel(stores, _apply_all([early, late]))

        (active,) = stores[0].list_alerts(state="active")
        assert (active.count, active.raised_at, active.last_raised_at) == (100, at(1001), at(1100))
        cleared = stores[0].list_alerts(state="cleared")
        assert len(cleared) <= 1  # early raises after the clear were stale, not a new alert
        assert all(a.cleared_at == at(1000) and a.count <= 100 for a in cleared)

    def test_concurrent_acknowledgements_record_one(self, store_factory: StoreFactory) -> None:
        stores = [store_factory(), store_factory()]
        raised = stores[0].apply(signal("raise", 0))
        assert raised is not None
        alert_id = raised.alert.alert_id

        results = _in_parallel(
            stores,
            lambda i, store: [
                store.acknowledge(alert_id, f"guard-{i}-{n}", at(n)) for n in range(1, 21)
            ],
        )

        assert sum(c is not None for worker in results for c in worker) == 1
        kinds = [e.kind for e in stores[0].timeline(alert_id)]
        assert kinds == ["raised", "acknowledged"]

    def test_two_escalation_tickers_fire_each_escalation_once(
        self, store_factory: StoreFactory
    ) -> None:
        stores = [store_factory(), store_factory()]
        policy = EscalationPolicy(
            severities={
                "critical": SeverityEscalation(
                    ack_window=timedelta(seconds=60),
                    reminder_interval=timedelta(seconds=60),
                    responders=("guard", "supervisor"),
                )
            }
        )
        for n in range(20):
            stores[0].apply(signal("raise", 0, device=f"d{n}"))

        results = _in_parallel(stores, lambda i, store: store.due_escalations(at(60), policy))

        escalated = [c.alert.alert_id for worker in results for c in worker]
        assert len(escalated) == len(set(escalated)) == 20
