"""The gallery encrypted at rest (AES-256-GCM).

Templates are biometric data: the file on the device is never plaintext. Layout:
``MAGIC | 12-byte nonce | AES-GCM(ciphertext + tag)`` with the magic as associated data, so a
file from another format version, a flipped bit or the wrong key all fail authentication
instead of loading garbage. The key comes from configuration or the environment (base64 of 32
bytes), never from the file system next to the gallery.
"""

import base64
import binascii
import json
import os
import secrets
from pathlib import Path
from typing import Final

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hgj_edge.face.config import GallerySettings
from hgj_edge.face.gallery import ENCODING_DIM, EnrolledCategory, Gallery, Template

MAGIC: Final = b"HGJ-GALLERY-1\n"
KEY_ENV: Final = "HGJ_EDGE_GALLERY_KEY"
_NONCE_LEN: Final = 12
_CATEGORIES: Final[frozenset[str]] = frozenset({"resident", "staff", "visitor", "watchlist"})


class GalleryKeyError(ValueError):
    """The key is missing or is not base64 of 32 bytes."""


class GalleryDecryptError(ValueError):
    """The file does not authenticate: wrong key, tampered or truncated, or not a gallery."""


def new_key() -> str:
    """A fresh key in the form ``load_key`` accepts (for provisioning a device)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def load_key(value: str | None = None) -> bytes:
    """The key from ``value`` or, when None, from the ``HGJ_EDGE_GALLERY_KEY`` variable."""
    text = value if value is not None else os.environ.get(KEY_ENV)
    if not text:
        raise GalleryKeyError(f"no gallery key: set {KEY_ENV} (base64 of 32 bytes)")
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise GalleryKeyError("the gallery key is not valid base64") from exc
    if len(key) != 32:
        raise GalleryKeyError(f"the gallery key must be 32 bytes, got {len(key)}")
    return key


def _serialise(gallery: Gallery) -> bytes:
    templates = gallery.templates()
    matrix = np.stack([t.encoding for t in templates]) if templates else np.empty((0, 128))
    doc = {
        "version": gallery.version,
        "people": [[t.person_id, t.category] for t in templates],
        "templates": base64.b64encode(matrix.astype("<f4").tobytes()).decode(),
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _deserialise(data: bytes) -> Gallery:
    doc = json.loads(data)
    people: list[list[str]] = doc["people"]
    flat = np.frombuffer(base64.b64decode(doc["templates"]), dtype="<f4")
    matrix = flat.reshape(-1, ENCODING_DIM).astype(np.float32)
    if len(matrix) != len(people):
        raise GalleryDecryptError("gallery file is inconsistent: ids and templates differ")
    templates = []
    for (person_id, category), row in zip(people, matrix, strict=True):
        if category not in _CATEGORIES:
            raise GalleryDecryptError(f"gallery file has an unknown category {category!r}")
        cat: EnrolledCategory = category  # type: ignore[assignment]  # checked just above
        templates.append(Template(person_id, cat, row))
    return Gallery(templates, version=int(doc["version"]))


def save_gallery(gallery: Gallery, path: Path, key: bytes) -> None:
    """Encrypt and write atomically (temp file + rename), owner-only, so a crash mid-write
    leaves the previous gallery rather than a torn file."""
    nonce = secrets.token_bytes(_NONCE_LEN)  # fresh per write: GCM must never reuse a nonce
    blob = MAGIC + nonce + AESGCM(key).encrypt(nonce, _serialise(gallery), MAGIC)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(blob)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_gallery(path: Path, key: bytes) -> Gallery:
    """Decrypt and load; raises ``GalleryDecryptError`` for a wrong key or a damaged file."""
    blob = path.read_bytes()
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + _NONCE_LEN + 16:
        raise GalleryDecryptError(f"{path} is not an encrypted gallery file")
    nonce = blob[len(MAGIC) : len(MAGIC) + _NONCE_LEN]
    try:
        plain = AESGCM(key).decrypt(nonce, blob[len(MAGIC) + _NONCE_LEN :], MAGIC)
    except InvalidTag as exc:
        raise GalleryDecryptError(
            f"{path} does not decrypt: wrong gallery key, or the file was altered"
        ) from exc
    return _deserialise(plain)


def open_gallery(settings: GallerySettings) -> tuple[Gallery, bytes]:
    """The device's gallery and its key; an empty gallery (version 0) before the first
    synchronisation. The key is checked first, so a device without one fails at start."""
    key = load_key(settings.key.get_secret_value() if settings.key is not None else None)
    if not settings.path.exists():
        return Gallery(), key
    return load_gallery(settings.path, key), key
