"""Face decisions as the contract's face event payloads.

Only ids, the category and scores leave the device: never an image or a template (the
contract has no field for either, and DESIGN.md's privacy rules forbid it). A snapshot, if
kept, stays on the edge and is named by reference.
"""

from datetime import datetime

from hgj_contracts.base import utc_now
from hgj_contracts.events import FaceEvent
from hgj_edge.face.tracker import Decision


def face_event(
    decision: Decision,
    seq: int,
    *,
    ts: datetime | None = None,
    snapshot_ref: str | None = None,
    watchlist: str | None = None,
) -> FaceEvent:
    """``watchlist`` names the list a watchlist hit came from, where the platform has several;
    the gallery itself only knows the category."""
    return FaceEvent(
        ts=ts or utc_now(),
        seq=seq,
        track_id=decision.track_id,
        category=decision.category,
        person_id=decision.person_id,
        score=round(decision.score, 4) if decision.person_id is not None else 0.0,
        frames=decision.frames,
        watchlist=watchlist if decision.category == "watchlist" else None,
        snapshot_ref=snapshot_ref,
    )
