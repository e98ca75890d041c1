"""Face decisions become contract face events carrying ids, category and scores only."""

import json
from datetime import UTC, datetime

from hgj_contracts.events import FaceEvent
from hgj_edge.face.events import face_event
from hgj_edge.face.tracker import Decision

TS = datetime(2026, 11, 27, 2, 8, tzinfo=UTC)


def test_resident_decision_becomes_a_face_event() -> None:
    event = face_event(Decision("t7", "resident-0417", "resident", 0.712345, 4), seq=9, ts=TS)
    assert event == FaceEvent(
        ts=TS,
        seq=9,
        track_id="t7",
        category="resident",
        person_id="resident-0417",
        score=0.7123,
        frames=4,
    )


def test_stranger_and_watchlist_events() -> None:
    stranger = face_event(Decision("t1", None, "stranger", 0.0, 3), seq=1, ts=TS)
    assert (stranger.person_id, stranger.category, stranger.score) == (None, "stranger", 0.0)
    hit = face_event(Decision("t2", "wl-9", "watchlist", 0.8, 3), seq=2, ts=TS, watchlist="theft")
    assert (hit.category, hit.watchlist, hit.person_id) == ("watchlist", "theft", "wl-9")
    # A list name on a non-watchlist decision is dropped, not published.
    resident = face_event(Decision("t3", "r1", "resident", 0.8, 3), seq=3, ts=TS, watchlist="x")
    assert resident.watchlist is None


def test_payload_carries_no_image_or_template() -> None:
    event = face_event(
        Decision("t7", "resident-0417", "resident", 0.7, 4), seq=9, ts=TS, snapshot_ref="s/1.jpg"
    )
    payload = json.loads(event.model_dump_json())
    assert set(payload) == {
        "v",
        "ts",
        "seq",
        "kind",
        "track_id",
        "category",
        "person_id",
        "score",
        "frames",
        "watchlist",
        "snapshot_ref",
    }
    # Every value is a scalar: nothing that could hold a 128-d vector or image bytes.
    assert all(not isinstance(v, list | dict) for v in payload.values())
