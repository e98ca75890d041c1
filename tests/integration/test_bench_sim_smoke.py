"""`make bench` keeps measuring load mode: a tiny run produces every documented figure."""

import json
from pathlib import Path

import pytest

from hgj_devstack import bench_sim

pytestmark = pytest.mark.integration


def test_bench_writes_every_load_mode_figure(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"other_bench_figure": 1.0}), encoding="utf-8")
    bench_sim.run(total=2000, rounds=1, results_file=results)
    written = json.loads(results.read_text(encoding="utf-8"))
    assert set(written) == set(bench_sim.FIGURE_KEYS) | {"other_bench_figure"}
    assert written["sim_load_bench_messages"] == 2000
    assert all(value > 0 for value in written.values())
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for key in bench_sim.FIGURE_KEYS:
        assert f"`{key}`" in readme, f"README does not document {key}"
