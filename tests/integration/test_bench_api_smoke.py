"""`make bench` keeps measuring the API: a tiny run (a real API process, Mosquitto and
WebSocket clients) produces every documented figure. No timing thresholds: figures only have
to exist and be positive."""

import json
from pathlib import Path

import pytest

from hgj_devstack import bench_api

pytestmark = pytest.mark.integration


def test_bench_writes_every_api_figure(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"other_bench_figure": 1.0}), encoding="utf-8")
    params = bench_api.ApiBenchParams(alerts=200, list_requests=5, clients=10, stream_alerts=3)
    bench_api.run(params, results_file=results)
    written = json.loads(results.read_text(encoding="utf-8"))
    assert set(written) == set(bench_api.FIGURE_KEYS) | {"other_bench_figure"}
    assert written["api_alerts_stored"] == 200
    assert written["api_stream_clients"] == 10
    assert written["api_stream_samples"] == 3
    assert all(value > 0 for value in written.values())
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for key in bench_api.FIGURE_KEYS:
        assert f"`{key}`" in readme, f"README does not document {key}"
