"""`make bench` keeps measuring the face core: a tiny run produces every documented figure."""

import json
from pathlib import Path

from hgj_devstack import bench_face


def test_bench_writes_every_face_figure(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"other_bench_figure": 1.0}), encoding="utf-8")
    bench_face.run(results_file=results, fps_frames=3, encode_repeats=2, templates=500, repeats=5)
    written = json.loads(results.read_text(encoding="utf-8"))
    assert set(written) == set(bench_face.FIGURE_KEYS) | {"other_bench_figure"}
    assert written["face_gallery_templates"] == 500
    assert all(value > 0 for value in written.values())
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for key in bench_face.FIGURE_KEYS:
        assert f"`{key}`" in readme, f"README does not document {key}"
