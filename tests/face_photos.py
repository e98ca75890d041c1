"""Real face photographs for the face-core tests, encoded once per session.

../shared/faces holds photos of two people (see its README); the project does not copy them
into the repository, so tests needing them skip where the folder is absent. scikit-image ships
a real portrait (``data.astronaut()``, Eileen Collins) inside its wheel, so a clone without
../shared still tests detection and identification on a real face.
"""

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from hgj_edge.face.detect import DetectedFace, Encoding, FaceEncoder, RgbFrame, load_rgb

SHARED_FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"

needs_shared_faces = pytest.mark.skipif(
    not (SHARED_FACES / "obama.jpg").is_file(),
    reason=f"{SHARED_FACES} is absent (the shared test photos sit beside the repository)",
)


@cache
def photo(name: str) -> RgbFrame:
    return load_rgb(str(SHARED_FACES / f"{name}.jpg"))


def astronaut() -> RgbFrame:
    # scikit-image ships py.typed but leaves its data loaders unannotated.
    frame: RgbFrame = np.ascontiguousarray(data.astronaut())  # type: ignore[no-untyped-call]
    return frame


@cache
def _faces(name: str) -> tuple[DetectedFace, ...]:
    frame = astronaut() if name == "astronaut" else photo(name)
    return tuple(FaceEncoder().faces(frame))


def faces(name: str) -> tuple[DetectedFace, ...]:
    """Faces found in a shared photo (by file stem) or in ``"astronaut"``, default settings."""
    return _faces(name)


def only_encoding(name: str) -> Encoding:
    found = faces(name)
    assert len(found) == 1, f"{name}: expected one face, found {len(found)}"
    return found[0].encoding
