"""A small tracker and a vote over several frames before naming anyone.

One frame's match can be wrong (blur, a turned head, a look-alike); a gate that opens or an
alert that fires on it would be wrong too. A face box is followed from frame to frame by
overlap (IoU); each track collects its per-frame matches, and a decision is taken only when
``min_votes`` matches within ``window_s`` agree: the same person, or stranger. Each track is
decided once, so the camera publishes one face event per person passing, not one per frame.
"""

from collections import Counter, deque
from dataclasses import dataclass, field
from itertools import count

from hgj_contracts.events import FaceCategory
from hgj_edge.face.config import VoteSettings
from hgj_edge.face.detect import Box
from hgj_edge.face.gallery import Match


@dataclass(frozen=True, slots=True)
class Decision:
    track_id: str
    person_id: str | None
    category: FaceCategory
    score: float
    """Mean score of the agreeing votes (0 for strangers)."""
    frames: int
    """Frames the track was seen in up to the decision."""


@dataclass
class _Track:
    track_id: str
    box: Box
    last_seen: float
    frames: int = 0
    votes: deque[tuple[float, Match]] = field(default_factory=deque)
    decided: bool = False


class FaceTracker:
    def __init__(self, settings: VoteSettings | None = None, prefix: str = "t") -> None:
        self.settings = settings or VoteSettings()
        self._prefix = prefix
        self._ids = count(1)
        self._tracks: list[_Track] = []

    @property
    def open_tracks(self) -> int:
        return len(self._tracks)

    def assign(self, boxes: list[Box], now: float) -> list[str]:
        """Track ids for this frame's boxes: the best-overlapping open track, else a new one."""
        self._tracks = [t for t in self._tracks if now - t.last_seen <= self.settings.track_ttl_s]
        free = list(self._tracks)
        ids = []
        for box in boxes:
            best = max(free, key=lambda t: t.box.iou(box), default=None)
            if best is None or best.box.iou(box) < self.settings.min_iou:
                best = _Track(f"{self._prefix}{next(self._ids)}", box, now)
                self._tracks.append(best)
            else:
                free.remove(best)
            best.box, best.last_seen = box, now
            best.frames += 1
            ids.append(best.track_id)
        return ids

    def needs_match(self, track_id: str) -> bool:
        """False once a track is decided: its face need not be encoded again."""
        track = self._find(track_id)
        return track is not None and not track.decided

    def vote(self, track_id: str, match: Match, now: float) -> Decision | None:
        """Record one frame's match; returns the decision the first time the votes agree."""
        track = self._find(track_id)
        if track is None or track.decided:
            return None
        track.votes.append((now, match))
        while track.votes and now - track.votes[0][0] > self.settings.window_s:
            track.votes.popleft()
        tally = Counter(m.person_id for _, m in track.votes)
        winner, n = tally.most_common(1)[0]
        if n < self.settings.min_votes:
            return None
        agreeing = [m for _, m in track.votes if m.person_id == winner]
        track.decided = True
        score = sum(m.score for m in agreeing) / len(agreeing)
        return Decision(track_id, winner, agreeing[-1].category, score, track.frames)

    def _find(self, track_id: str) -> _Track | None:
        return next((t for t in self._tracks if t.track_id == track_id), None)
