"""Face settings: pydantic models that refuse unknown keys, so a misspelt option in an agent's
config file fails at start instead of silently falling back to a default."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectionSettings(_Config):
    max_width: int = Field(default=320, ge=32)
    """Frames wider than this are downscaled before detection: HOG on a 640x480 frame costs
    22 ms without upsampling and 93 ms with one (DESIGN.md), and cost grows with pixels."""
    upsample: int = Field(default=0, ge=0, le=3)
    """HOG upsampling finds smaller faces at roughly 4x the cost per step."""
    min_face_px: int = Field(default=20, ge=1)
    """Boxes smaller than this (in the original frame) are too coarse to encode reliably."""
    num_jitters: int = Field(default=1, ge=1, le=100)
    """Re-sampled encodings averaged per face: more is steadier and proportionally slower."""


class MatchSettings(_Config):
    threshold: float = Field(default=0.6, gt=0.0, le=2.0)
    """Largest Euclidean distance between 128-d encodings still taken as the same person.
    0.6 is dlib's published operating point; lower is stricter (fewer false accepts)."""


class VoteSettings(_Config):
    min_votes: int = Field(default=3, ge=1)
    """Consistent frames needed before a track is named (or called a stranger)."""
    window_s: float = Field(default=2.0, gt=0)
    """Votes older than this no longer count: a person must be seen consistently, not once."""
    track_ttl_s: float = Field(default=1.5, gt=0)
    """A track unseen for this long is closed; the next sighting starts a new one."""
    min_iou: float = Field(default=0.3, gt=0, le=1)
    """Overlap needed to continue a track from one frame to the next."""


class GallerySettings(_Config):
    path: Path
    """The encrypted gallery file (``hgj_edge.face.vault``)."""
    key: SecretStr | None = None
    """Base64 of 32 bytes; when absent, the ``HGJ_EDGE_GALLERY_KEY`` environment variable.
    Prefer the variable: a key in the config file sits on the same disk as the gallery."""


class FaceSettings(_Config):
    detection: DetectionSettings = DetectionSettings()
    match: MatchSettings = MatchSettings()
    vote: VoteSettings = VoteSettings()
