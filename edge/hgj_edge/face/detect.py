"""Face detection on a downscaled frame and one 128-d encoding per face.

Detection runs on a smaller copy of the frame because HOG cost grows with pixels; the encoding
is computed on the full-resolution frame (boxes scaled back) because the landmarks and the
descriptor are more accurate there, and it is done once per face, not per detector pass.
"""

from dataclasses import dataclass
from typing import Any

import face_recognition
import numpy as np
import numpy.typing as npt
from PIL import Image

from hgj_edge.face.config import DetectionSettings

Encoding = npt.NDArray[np.float32]
"""A 128-d face descriptor, float32 (the gallery's dtype: half the memory of float64)."""

RgbFrame = npt.NDArray[np.uint8]
"""An H x W x 3 RGB image (OpenCV delivers BGR: convert before calling)."""


@dataclass(frozen=True, slots=True)
class Box:
    """A face box in the original frame's pixels (dlib's order: top, right, bottom, left)."""

    top: int
    right: int
    bottom: int
    left: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def iou(self, other: "Box") -> float:
        inter_w = min(self.right, other.right) - max(self.left, other.left)
        inter_h = min(self.bottom, other.bottom) - max(self.top, other.top)
        if inter_w <= 0 or inter_h <= 0:
            return 0.0
        inter = inter_w * inter_h
        union = self.width * self.height + other.width * other.height - inter
        return inter / union


@dataclass(frozen=True, slots=True)
class DetectedFace:
    box: Box
    encoding: Encoding


def load_rgb(path: str) -> RgbFrame:
    """An image file as an RGB array (test photos, enrollment uploads)."""
    frame: RgbFrame = face_recognition.load_image_file(path, mode="RGB")
    return frame


class FaceEncoder:
    """Finds faces in a frame and encodes each one."""

    def __init__(self, settings: DetectionSettings | None = None) -> None:
        self.settings = settings or DetectionSettings()

    def detect(self, frame: RgbFrame) -> list[Box]:
        """Face boxes in ``frame``'s coordinates, found on a copy at most ``max_width`` wide."""
        frame = np.ascontiguousarray(frame)  # dlib and PIL want C order (a mirrored view isn't)
        height, width = frame.shape[:2]
        scale = min(1.0, self.settings.max_width / width)
        small = frame
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))
        raw: list[tuple[int, int, int, int]] = face_recognition.face_locations(
            small, number_of_times_to_upsample=self.settings.upsample, model="hog"
        )
        boxes = []
        for top, right, bottom, left in raw:
            # Back to full-resolution pixels, clipped: dlib may return boxes that overhang the
            # image edge (a partial face), and the encoder needs coordinates inside it.
            box = Box(
                top=max(0, round(top / scale)),
                right=min(width, round(right / scale)),
                bottom=min(height, round(bottom / scale)),
                left=max(0, round(left / scale)),
            )
            if min(box.width, box.height) >= self.settings.min_face_px:
                boxes.append(box)
        return boxes

    def encode(self, frame: RgbFrame, boxes: list[Box]) -> list[Encoding]:
        """One encoding per box, in the same order."""
        if not boxes:
            return []
        frame = np.ascontiguousarray(frame)
        locations = [(b.top, b.right, b.bottom, b.left) for b in boxes]
        raw: list[Any] = face_recognition.face_encodings(
            frame, known_face_locations=locations, num_jitters=self.settings.num_jitters
        )
        return [np.asarray(e, dtype=np.float32) for e in raw]

    def faces(self, frame: RgbFrame) -> list[DetectedFace]:
        """Detect then encode every face in ``frame``."""
        boxes = self.detect(frame)
        return [DetectedFace(b, e) for b, e in zip(boxes, self.encode(frame, boxes), strict=True)]
