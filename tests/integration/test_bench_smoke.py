"""`make bench` must keep working: a tiny run produces every documented figure."""

import json
from pathlib import Path

import pytest

from hgj_devstack import bench

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
    "ingest_bench_messages",
}


def test_bench_writes_every_documented_figure(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"other_bench_figure": 1.0}), encoding="utf-8")
    bench.run(total=2000, rounds=1, results_file=results)
    written = json.loads(results.read_text(encoding="utf-8"))
    assert set(written) == DOCUMENTED | {"other_bench_figure"}
    assert written["ingest_bench_messages"] == 2000
    assert all(value > 0 for value in written.values())
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for key in DOCUMENTED:
        assert f"`{key}`" in readme, f"README does not document {key}"
