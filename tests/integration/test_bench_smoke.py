"""`make bench` must keep working: a tiny run produces every documented figure."""

import json
from pathlib import Path

import pytest

from hgj_devstack import bench
from hgj_devstack.bench_alerts import AlertBenchParams

pytestmark = pytest.mark.integration

DOCUMENTED = {
    "raw_pipe_qos1_msgs_per_s",
    "ingest_qos1_msgs_per_s",
    "ingest_qos1_points_per_s",
    "ingest_qos1_ratio_to_raw",
    "raw_pipe_qos0_msgs_per_s",
    "ingest_qos0_msgs_per_s",
    "ingest_qos0_points_per_s",
    "ingest_qos0_ratio_to_raw",
    "ingest_peak_memory_mb",
    "ingest_store_qos1_msgs_per_s",
    "ingest_store_qos1_ratio_to_raw",
    "ingest_store_qos0_msgs_per_s",
    "ingest_store_qos0_ratio_to_raw",
    "ingest_bench_messages",
    "alert_latency_p50_ms",
    "alert_latency_p99_ms",
    "alert_latency_samples",
    "alert_bench_telemetry_msgs_per_s",
    "mqtt_roundtrip_p50_ms",
    "mqtt_roundtrip_p99_ms",
}


def test_bench_writes_every_documented_figure(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"other_bench_figure": 1.0}), encoding="utf-8")
    # A second of alarms over a light background keeps the smoke run short; it still goes
    # through every step (ingest process, load process, alert and probe timing).
    alerts = AlertBenchParams(duration_s=1.0, telemetry_per_s=500.0, warmup_s=0.5)
    bench.run(total=2000, rounds=1, results_file=results, alerts=alerts)
    written = json.loads(results.read_text(encoding="utf-8"))
    assert set(written) == DOCUMENTED | {"other_bench_figure"}
    assert written["ingest_bench_messages"] == 2000
    assert written["alert_latency_samples"] == 10
    assert all(value > 0 for value in written.values())
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for key in DOCUMENTED:
        assert f"`{key}`" in readme, f"README does not document {key}"
