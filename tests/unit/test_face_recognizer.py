"""Frames of real photographs through detection, tracking, matching and the vote."""

from hgj_edge.face.config import FaceSettings, VoteSettings
from hgj_edge.face.detect import RgbFrame
from hgj_edge.face.gallery import Gallery, Template
from hgj_edge.face.recognizer import FaceRecognizer
from hgj_edge.face.tracker import Decision
from tests.face_photos import astronaut, needs_shared_faces, only_encoding, photo

SETTINGS = FaceSettings(vote=VoteSettings(min_votes=3, window_s=2.0))


def _run(recognizer: FaceRecognizer, frame_count: int, frame: RgbFrame) -> list[list[Decision]]:
    # The same photo as consecutive frames 0.1 s apart: a person standing still at a gate.
    return [recognizer.process(frame, now=0.1 * i) for i in range(frame_count)]


def test_bundled_portrait_is_named_after_three_frames_then_no_longer_encoded() -> None:
    gallery = Gallery([Template("collins", "staff", only_encoding("astronaut"))])
    recognizer = FaceRecognizer(gallery, SETTINGS)
    per_frame = _run(recognizer, 5, astronaut())
    assert [len(d) for d in per_frame] == [0, 0, 1, 0, 0]
    (decision,) = per_frame[2]
    assert (decision.person_id, decision.category, decision.frames) == ("collins", "staff", 3)
    assert decision.score > 0.9  # the enrolled photo itself
    # Frames 4 and 5 were detected and tracked but not encoded: the track was decided.
    assert recognizer.encodings_computed == 3


@needs_shared_faces
def test_enrolled_resident_and_a_stranger_over_several_frames() -> None:
    gallery = Gallery([Template("obama", "resident", only_encoding("obama"))])
    resident = [d for ds in _run(FaceRecognizer(gallery, SETTINGS), 3, photo("obama2")) for d in ds]
    stranger = [d for ds in _run(FaceRecognizer(gallery, SETTINGS), 3, photo("biden")) for d in ds]
    assert [(d.person_id, d.category) for d in resident] == [("obama", "resident")]
    assert [(d.person_id, d.category, d.score) for d in stranger] == [(None, "stranger", 0.0)]
