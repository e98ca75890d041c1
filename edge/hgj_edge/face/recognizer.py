"""Frame in, decisions out: detection, tracking, matching and the vote, wired together.

Capture, the motion gate and threading belong to the camera agent; this is the part that turns
one RGB frame into zero or more decisions. A face is encoded only while its track is still
undecided, so a resident standing at the gate costs one encoding per frame for a few frames,
then detection only.
"""

import numpy as np

from hgj_edge.face.config import FaceSettings
from hgj_edge.face.detect import FaceEncoder, RgbFrame
from hgj_edge.face.gallery import Gallery
from hgj_edge.face.tracker import Decision, FaceTracker


class FaceRecognizer:
    def __init__(self, gallery: Gallery, settings: FaceSettings | None = None) -> None:
        self.settings = settings or FaceSettings()
        self.gallery = gallery
        self.encoder = FaceEncoder(self.settings.detection)
        self.tracker = FaceTracker(self.settings.vote)
        self.encodings_computed = 0
        """Faces encoded so far: what the once-per-track rule saves shows up here."""

    def process(self, frame: RgbFrame, now: float) -> list[Decision]:
        boxes = self.encoder.detect(frame)
        track_ids = self.tracker.assign(boxes, now)
        pending = [
            (tid, box)
            for tid, box in zip(track_ids, boxes, strict=True)
            if self.tracker.needs_match(tid)
        ]
        if not pending:
            return []
        encodings = self.encoder.encode(frame, [box for _, box in pending])
        self.encodings_computed += len(encodings)
        # All of this frame's faces against the whole gallery in one matrix product.
        matches = self.gallery.identify(np.stack(encodings), self.settings.match.threshold)
        decisions = []
        for (tid, _), match in zip(pending, matches, strict=True):
            decision = self.tracker.vote(tid, match, now)
            if decision is not None:
                decisions.append(decision)
        return decisions
