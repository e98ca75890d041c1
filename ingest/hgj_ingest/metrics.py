"""Prometheus metrics of an ingest worker.

The running totals live in ``Counters`` (also published in the retained service status);
this module exports them to Prometheus through a collector, so there is one source of truth,
and adds what only a histogram can say: batch write latency and how long messages wait
between arriving and being stored.
"""

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from hgj_ingest.counters import Counters

_REJECTED = "rejected_"

_HELP = {
    "received": "MQTT messages received",
    "acked": "MQTT messages acknowledged after their points were stored",
    "stored_messages": "messages whose points (or rejection record) were stored",
    "points_written": "points written to the store",
    "ignored": "valid messages on channels ingest does not store",
    "dead_lettered": "messages published on the dead-letter topic",
    "write_retries": "store writes retried after a connection error, 429 or 5xx",
    "write_errors": "unexpected errors while storing a batch (retried)",
    "disconnects": "unexpected disconnections from the broker",
    "connect_refused": "connection attempts the broker refused",
    "subscribe_refused": "subscriptions the broker refused",
    "dropped_backpressure": "QoS 0 messages dropped while the buffer was full",
}


class _CountersCollector(Collector):
    def __init__(self, counters: Counters) -> None:
        self._counters = counters

    def collect(self) -> Iterator[CounterMetricFamily]:
        snapshot = self._counters.snapshot()
        rejected = CounterMetricFamily(
            "hgj_ingest_rejected", "messages refused, by reason", labels=["reason"]
        )
        for name, value in sorted(snapshot.items()):
            if name.startswith(_REJECTED):
                rejected.add_metric([name.removeprefix(_REJECTED)], value)
            else:
                yield CounterMetricFamily(
                    f"hgj_ingest_{name}", _HELP.get(name, name.replace("_", " ")), value=value
                )
        yield rejected


class IngestMetrics:
    def __init__(self, counters: Counters) -> None:
        # A registry per worker: tests run several workers in one process.
        self.registry = CollectorRegistry()
        self.registry.register(_CountersCollector(counters))
        self.batch_seconds = Histogram(
            "hgj_ingest_batch_write_seconds",
            "time to store one batch, retries included",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.lag_seconds = Histogram(
            "hgj_ingest_store_lag_seconds",
            "from receiving a message to its batch being stored (the oldest message per batch)",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
            registry=self.registry,
        )
        self.buffered = Gauge(
            "hgj_ingest_buffered_messages",
            "messages received and not yet stored (bounded by the MQTT Receive Maximum)",
            registry=self.registry,
        )

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        """Expose /metrics over HTTP (a daemon thread)."""
        start_http_server(port, addr=addr, registry=self.registry)
