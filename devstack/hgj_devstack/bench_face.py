"""`make bench`, face part: the camera's face core at 640x480 on one core, beside raw numpy.

A 640x480 frame is built from the real portrait scikit-image ships (``data.astronaut()``, a
dev dependency) on a grey canvas, and the same canvas without it is the no-face frame. The
process is pinned to one CPU for the timing (edge cameras have modest CPUs, and the machines
here share their two cores), then unpinned.

- frames per second with no face and with one face in view, through ``FaceRecognizer`` in the
  steady state (the face's track decided, so detection only: one encoding per tracked face);
- one encoding (the per-track cost);
- identifying one face against 10,000 enrolled templates with ``Gallery.identify``, beside a
  raw baseline: the bare float32 product and argmin on a pre-built matrix, timed in the same
  run, so the ratio says what the gallery's bookkeeping costs.
"""

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table
from skimage import data

from hgj_devstack.bench import RESULTS_FILE, write_results
from hgj_edge.face.config import FaceSettings, VoteSettings
from hgj_edge.face.detect import FaceEncoder, RgbFrame
from hgj_edge.face.gallery import Gallery, Template
from hgj_edge.face.recognizer import FaceRecognizer

FIGURE_KEYS = (
    "face_fps_no_face",
    "face_fps_one_face",
    "face_encode_p50_ms",
    "face_identify_10k_p50_ms",
    "face_identify_raw_numpy_p50_ms",
    "face_identify_ratio_to_raw",
    "face_gallery_templates",
)


def frames() -> tuple[RgbFrame, RgbFrame]:
    """(no face, one face) at 640x480."""
    canvas = np.full((480, 640, 3), 120, dtype=np.uint8)
    portrait = data.astronaut()  # type: ignore[no-untyped-call]  # unannotated loader
    # The head and shoulders, enlarged: a face about 220 px tall, as at a gate camera, which
    # stays above HOG's 80 px window after the default downscale to 320 px wide.
    face = np.asarray(Image.fromarray(portrait[40:232, 126:318]).resize((480, 480)))
    with_face = canvas.copy()
    with_face[:, 80:560] = face
    return canvas, with_face


def _p50_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _fps(recognizer: FaceRecognizer, frame: RgbFrame, count: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        recognizer.process(frame, now=i / 25)  # timestamps as from a 25 fps camera
    return count / (time.perf_counter() - start)


def measure(
    fps_frames: int = 100, encode_repeats: int = 20, templates: int = 10_000, repeats: int = 1000
) -> dict[str, float]:
    no_face, one_face = frames()
    encoder = FaceEncoder()
    (box,) = encoder.detect(one_face)
    (encoding,) = encoder.encode(one_face, [box])

    rng = np.random.default_rng(0)
    noise = rng.standard_normal((templates, 128)).astype(np.float32) * 0.1
    enrolled = noise + encoding[None, :]  # plausible face-like templates around one face
    gallery = Gallery(Template(f"p{i}", "resident", row) for i, row in enumerate(enrolled))
    query = encoding[None, :]
    threshold = FaceSettings().match.threshold
    sq_norms = np.einsum("ij,ij->i", enrolled, enrolled)

    def raw() -> object:
        return int(np.argmin(sq_norms - 2.0 * (enrolled @ encoding)))

    settings = FaceSettings(vote=VoteSettings(min_votes=3, track_ttl_s=3600))
    warm = FaceRecognizer(gallery, settings)
    _fps(warm, one_face, 5)  # decides the track: later frames are detection + tracking only

    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        fps_no_face = _fps(FaceRecognizer(gallery, settings), no_face, fps_frames)
        fps_one_face = _fps(warm, one_face, fps_frames)
        encode_ms = _p50_ms(lambda: encoder.encode(one_face, [box]), encode_repeats)
        identify_ms = _p50_ms(lambda: gallery.identify(query, threshold), repeats)
        raw_ms = _p50_ms(raw, repeats)
    finally:
        os.sched_setaffinity(0, cpus)
    return {
        "face_fps_no_face": round(fps_no_face, 1),
        "face_fps_one_face": round(fps_one_face, 1),
        "face_encode_p50_ms": round(encode_ms, 2),
        "face_identify_10k_p50_ms": round(identify_ms, 4),
        "face_identify_raw_numpy_p50_ms": round(raw_ms, 4),
        "face_identify_ratio_to_raw": round(identify_ms / raw_ms, 2),
        "face_gallery_templates": float(templates),
    }


def run(results_file: Path = RESULTS_FILE, **params: int) -> dict[str, float]:
    console = Console()
    console.print("bench (face core): 640x480, one core …")
    figures = measure(**params)
    table = Table(title="face core at 640x480 on one core, identify beside raw numpy")
    for column in ("figure", "value"):
        table.add_column(column)
    for key, value in figures.items():
        table.add_row(key, f"{value:,.4f}" if value < 10 else f"{value:,.1f}")
    console.print(table)
    write_results(results_file, figures)
    console.print(f"figures written to {results_file}")
    return figures
