"""The gallery file: encrypted at rest, authenticated, and loud about a wrong key."""

import base64
import stat
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from hgj_edge.face.config import GallerySettings
from hgj_edge.face.gallery import Gallery, Template
from hgj_edge.face.vault import (
    KEY_ENV,
    GalleryDecryptError,
    GalleryKeyError,
    load_gallery,
    load_key,
    new_key,
    open_gallery,
    save_gallery,
)


def _gallery() -> Gallery:
    rng = np.random.default_rng(11)
    rows = rng.standard_normal((3, 128)).astype(np.float32)
    return Gallery(
        [
            Template("resident-0417", "resident", rows[0]),
            Template("guard-02", "staff", rows[1]),
            Template("wl-9", "watchlist", rows[2]),
        ],
        version=42,
    )


def test_round_trip_keeps_version_ids_categories_and_exact_templates(tmp_path: Path) -> None:
    key = load_key(new_key())
    path = tmp_path / "gallery.bin"
    original = _gallery()
    save_gallery(original, path, key)
    loaded = load_gallery(path, key)
    assert loaded.version == 42
    before, after = original.templates(), loaded.templates()
    assert [(t.person_id, t.category) for t in after] == [(t.person_id, t.category) for t in before]
    for x, y in zip(before, after, strict=True):
        np.testing.assert_array_equal(x.encoding, y.encoding)


def test_file_holds_no_plaintext_and_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "gallery.bin"
    gallery = _gallery()
    save_gallery(gallery, path, load_key(new_key()))
    blob = path.read_bytes()
    assert b"resident-0417" not in blob
    assert b"resident" not in blob
    assert gallery.templates()[0].encoding.tobytes()[:16] not in blob
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.with_name("gallery.bin.tmp").exists()


def test_wrong_key_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "gallery.bin"
    save_gallery(_gallery(), path, load_key(new_key()))
    with pytest.raises(GalleryDecryptError, match="wrong gallery key"):
        load_gallery(path, load_key(new_key()))


@pytest.mark.parametrize("offset", [20, 40, -1])  # nonce, ciphertext, last tag byte
def test_a_flipped_bit_is_detected(tmp_path: Path, offset: int) -> None:
    key = load_key(new_key())
    path = tmp_path / "gallery.bin"
    save_gallery(_gallery(), path, key)
    blob = bytearray(path.read_bytes())
    blob[offset] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(GalleryDecryptError, match="altered"):
        load_gallery(path, key)


def test_truncated_or_foreign_file_is_refused(tmp_path: Path) -> None:
    key = load_key(new_key())
    path = tmp_path / "gallery.bin"
    path.write_bytes(b'{"version": 1}')
    with pytest.raises(GalleryDecryptError, match="not an encrypted gallery"):
        load_gallery(path, key)


def test_each_save_uses_a_fresh_nonce(tmp_path: Path) -> None:
    key = load_key(new_key())
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    save_gallery(_gallery(), a, key)
    save_gallery(_gallery(), b, key)
    assert a.read_bytes() != b.read_bytes()


def test_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key()
    monkeypatch.setenv(KEY_ENV, key)
    assert load_key() == base64.b64decode(key)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(GalleryKeyError, match=KEY_ENV):
        load_key()


@pytest.mark.parametrize(
    ("value", "message"),
    [("not base64!", "not valid base64"), (base64.b64encode(b"short").decode(), "32 bytes")],
)
def test_malformed_keys_are_refused(value: str, message: str) -> None:
    with pytest.raises(GalleryKeyError, match=message):
        load_key(value)


def test_open_gallery_starts_empty_then_reads_what_was_saved(tmp_path: Path) -> None:
    settings = GallerySettings(path=tmp_path / "gallery.bin", key=SecretStr(new_key()))
    empty, key = open_gallery(settings)
    assert (len(empty), empty.version) == (0, 0)
    save_gallery(_gallery(), settings.path, key)
    loaded, _ = open_gallery(settings)
    assert (len(loaded), loaded.version) == (3, 42)


def test_open_gallery_without_a_key_fails_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(GalleryKeyError, match=KEY_ENV):
        open_gallery(GallerySettings(path=tmp_path / "gallery.bin"))


def test_empty_gallery_round_trips(tmp_path: Path) -> None:
    key = load_key(new_key())
    save_gallery(Gallery(version=3), tmp_path / "g.bin", key)
    loaded = load_gallery(tmp_path / "g.bin", key)
    assert (len(loaded), loaded.version) == (0, 3)


def test_settings_refuse_unknown_keys(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="extra"):
        GallerySettings.model_validate({"path": str(tmp_path), "keyy": "x"})


def test_a_deletion_survives_save_and_reload(tmp_path: Path) -> None:
    key = load_key(new_key())
    path = tmp_path / "gallery.bin"
    gallery = _gallery()
    save_gallery(gallery, path, key)
    removed = gallery.apply_update(43, upserts=[], deletions=["resident-0417"])
    save_gallery(gallery, path, key)
    reloaded = load_gallery(path, key)
    assert removed == {"resident-0417"}
    assert reloaded.version == 43
    assert reloaded.person_ids == {"guard-02", "wl-9"}
