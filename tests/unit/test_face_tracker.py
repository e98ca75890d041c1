"""The decision over several frames: nobody is named on one frame's say-so."""

import numpy as np

from hgj_edge.face.config import VoteSettings
from hgj_edge.face.detect import Box
from hgj_edge.face.gallery import Match
from hgj_edge.face.tracker import FaceTracker

BOX = Box(top=100, right=200, bottom=200, left=100)
ALICE = Match("alice", "resident", 0.3)
BOB = Match("bob", "staff", 0.35)
STRANGER = Match(None, "stranger", 0.9)


def _shift(box: Box, dx: int) -> Box:
    return Box(box.top, box.right + dx, box.bottom, box.left + dx)


def test_named_only_after_n_consistent_matches() -> None:
    tracker = FaceTracker(VoteSettings(min_votes=3, window_s=2.0))
    decisions = []
    for i, t in enumerate((0.0, 0.1, 0.2)):
        (tid,) = tracker.assign([_shift(BOX, 5 * i)], t)  # the face moves a little
        decisions.append(tracker.vote(tid, ALICE, t))
    assert decisions[:2] == [None, None]
    final = decisions[2]
    assert final is not None
    assert (final.track_id, final.person_id, final.category, final.frames) == (
        "t1",
        "alice",
        "resident",
        3,
    )
    assert np.isclose(final.score, 0.7)


def test_disagreeing_frames_do_not_name_anyone() -> None:
    tracker = FaceTracker(VoteSettings(min_votes=3))
    results = []
    for t, m in ((0.0, ALICE), (0.1, BOB), (0.2, ALICE), (0.3, BOB)):
        (tid,) = tracker.assign([BOX], t)
        results.append(tracker.vote(tid, m, t))
    assert results == [None, None, None, None]
    (tid,) = tracker.assign([BOX], 0.4)
    decision = tracker.vote(tid, ALICE, 0.4)  # the third ALICE within the window
    assert decision is not None
    assert decision.person_id == "alice"


def test_votes_outside_the_window_expire() -> None:
    tracker = FaceTracker(VoteSettings(min_votes=2, window_s=1.0, track_ttl_s=10.0))
    (tid,) = tracker.assign([BOX], 0.0)
    assert tracker.vote(tid, ALICE, 0.0) is None
    tracker.assign([BOX], 5.0)
    assert tracker.vote(tid, ALICE, 5.0) is None  # the first vote is 5 s old: not consistent
    tracker.assign([BOX], 5.5)
    assert tracker.vote(tid, ALICE, 5.5) is not None


def test_strangers_are_decided_the_same_way_and_each_track_once() -> None:
    tracker = FaceTracker(VoteSettings(min_votes=2))
    (tid,) = tracker.assign([BOX], 0.0)
    assert tracker.vote(tid, STRANGER, 0.0) is None
    decision = tracker.vote(tid, STRANGER, 0.1)
    assert decision is not None
    assert (decision.person_id, decision.category, decision.score) == (None, "stranger", 0.0)
    assert not tracker.needs_match(tid)  # no further encoding for this face
    assert tracker.vote(tid, STRANGER, 0.2) is None


def test_separate_faces_get_separate_tracks_and_old_tracks_close() -> None:
    tracker = FaceTracker(VoteSettings(track_ttl_s=1.0))
    other = _shift(BOX, 400)
    assert tracker.assign([BOX, other], 0.0) == ["t1", "t2"]
    assert tracker.assign([other, BOX], 0.5) == ["t2", "t1"]  # matched by overlap, not order
    assert tracker.assign([BOX], 3.0) == ["t3"]  # unseen for longer than the TTL: a new track
    assert tracker.open_tracks == 1
