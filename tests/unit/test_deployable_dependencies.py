"""Each deployable's dependency closure, as installed: the edge never pulls FastAPI, the API
never pulls dlib (DESIGN.md), and nothing asks pip to build dlib from source."""

import importlib
import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(dist: str) -> set[str]:
    """Installed distributions ``dist`` needs, transitively (extras and markers skipped)."""
    seen: set[str] = set()
    todo = [dist]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo.extend(_name(r) for r in requires if "extra ==" not in r)
    return seen


def test_edge_pulls_no_web_framework_and_its_face_stack() -> None:
    closure = _closure("hgj-edge")
    assert not closure & {"fastapi", "starlette", "uvicorn"}
    assert {"dlib-bin", "face-recognition-models", "numpy", "cryptography"} <= closure
    # Declaring face_recognition would make pip build dlib from source (it requires "dlib").
    assert "face-recognition" not in closure
    assert "dlib" not in closure


def test_api_pulls_no_face_stack() -> None:
    closure = _closure("hgj-api")
    assert "fastapi" in closure  # the walk does reach the API's own dependencies
    assert not closure & {"dlib", "dlib-bin", "face-recognition", "face-recognition-models"}


@pytest.mark.parametrize("module", ["dlib", "face_recognition", "face_recognition_models"])
def test_face_stack_imports(module: str) -> None:
    # face_recognition comes from requirements-face.txt, installed by setup.sh with --no-deps.
    assert importlib.import_module(module).__name__ == module


def test_opencv_is_a_4x_release_that_ships_haar_cascades() -> None:
    import cv2

    cascade = Path(cv2.__file__).parent / "data" / "haarcascade_frontalface_default.xml"
    assert metadata.version("opencv-python-headless").startswith("4.")
    assert cascade.is_file()
