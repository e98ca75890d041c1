"""The face core on real photographs: enrolled people are identified, others are strangers,
a partial face is handled, thresholds are configurable."""

import face_recognition
import numpy as np
import pytest

from hgj_edge.face.config import DetectionSettings, MatchSettings
from hgj_edge.face.detect import FaceEncoder
from hgj_edge.face.gallery import Gallery, Template
from tests.face_photos import astronaut, faces, needs_shared_faces, only_encoding, photo

DEFAULT = MatchSettings().threshold


def _gallery(*names: str) -> Gallery:
    return Gallery(Template(f"p-{n}", "resident", only_encoding(n)) for n in names)


# --- the portrait bundled with scikit-image: runs everywhere ------------------------------


def test_bundled_portrait_has_one_face_with_a_128d_float32_encoding() -> None:
    (face,) = faces("astronaut")
    assert face.encoding.shape == (128,)
    assert face.encoding.dtype == np.float32
    # The face sits in the upper middle of the 512x512 portrait.
    assert 100 < face.box.left < face.box.right < 320
    assert 40 < face.box.top < face.box.bottom < 220


def test_bundled_portrait_mirrored_and_resized_is_identified() -> None:
    # A different "frame" of the same person: mirrored and shrunk, so the encoding differs.
    frame = astronaut()[:, ::-1][::2, ::2].copy()
    encoder = FaceEncoder(DetectionSettings(upsample=1))  # the face is small at 256x256
    (face,) = encoder.faces(frame)
    (match,) = _gallery("astronaut").identify(face.encoding[None, :], DEFAULT)
    assert match.person_id == "p-astronaut"
    assert match.category == "resident"
    assert 0 < match.distance < DEFAULT
    assert match.score == pytest.approx(1 - match.distance)


def test_frame_without_a_face_yields_nothing() -> None:
    blank = np.full((480, 640, 3), 127, dtype=np.uint8)
    assert FaceEncoder().faces(blank) == []


def test_detection_scales_boxes_back_to_the_original_frame() -> None:
    frame = astronaut()
    full = FaceEncoder(DetectionSettings(max_width=4096)).detect(frame)
    # At half size the ~87 px face shrinks to ~43 px, below HOG's 80 px window: upsampling
    # once finds it again. That is the trade the `upsample` setting makes.
    assert FaceEncoder(DetectionSettings(max_width=256, upsample=0)).detect(frame) == []
    small = FaceEncoder(DetectionSettings(max_width=256, upsample=1)).detect(frame)
    assert len(small) == len(full) == 1
    # Found at half size, reported in full-size pixels: the boxes overlap well.
    assert small[0].iou(full[0]) > 0.5


# --- ../shared/faces ------------------------------------------------------------------------


@needs_shared_faces
@pytest.mark.parametrize("name", ["obama2", "obama3"])
def test_enrolled_person_is_identified_in_other_photos(name: str) -> None:
    gallery = _gallery("obama", "astronaut")
    (match,) = gallery.identify(only_encoding(name)[None, :], DEFAULT)
    assert match.person_id == "p-obama"
    assert match.distance < 0.45  # 0.33-0.36 measured: well inside the default threshold


@needs_shared_faces
def test_a_different_person_is_a_stranger() -> None:
    gallery = _gallery("obama", "astronaut")
    (match,) = gallery.identify(only_encoding("biden")[None, :], DEFAULT)
    assert match.person_id is None
    assert match.category == "stranger"
    assert match.score == 0.0
    assert match.distance > DEFAULT


@needs_shared_faces
def test_partial_face_is_detected_and_identified() -> None:
    # The face is cut off at the left edge: dlib's box overhangs the image, is clipped to it,
    # and the encoding still matches the enrolled photo (0.24 measured). Identified, no crash.
    (face,) = faces("obama_partial_face")
    assert face.box.left == 0
    (match,) = _gallery("obama").identify(face.encoding[None, :], DEFAULT)
    assert match.person_id == "p-obama"


@needs_shared_faces
def test_a_strict_threshold_turns_a_match_into_a_stranger() -> None:
    gallery = _gallery("obama")
    query = only_encoding("obama2")[None, :]
    strict = MatchSettings(threshold=0.2).threshold
    assert gallery.identify(query, DEFAULT)[0].person_id == "p-obama"
    assert gallery.identify(query, strict)[0].person_id is None


@needs_shared_faces
def test_several_faces_are_matched_in_one_call() -> None:
    gallery = _gallery("obama")
    queries = np.stack([only_encoding("obama3"), only_encoding("biden")])
    matches = gallery.identify(queries, DEFAULT)
    assert [m.person_id for m in matches] == ["p-obama", None]


@needs_shared_faces
def test_photo_is_downscaled_for_detection_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = photo("obama3")  # 1434 px wide: detection must not run at full size
    seen: list[tuple[int, ...]] = []
    original = face_recognition.face_locations

    def spy(img: np.ndarray, **kwargs: object) -> object:
        seen.append(img.shape)
        return original(img, **kwargs)

    monkeypatch.setattr(face_recognition, "face_locations", spy)
    boxes = FaceEncoder().detect(frame)
    assert seen == [(round(2333 * 320 / 1434), 320, 3)]
    assert len(boxes) == 1
