"""The gallery's matching and synchronisation, on synthetic templates (no dlib needed)."""

import numpy as np
import numpy.typing as npt
import pytest

from hgj_edge.face import gallery as gallery_mod
from hgj_edge.face.gallery import Gallery, Template

F32 = npt.NDArray[np.float32]


def _unit(rng: np.random.Generator, n: int) -> F32:
    v = rng.standard_normal((n, 128)).astype(np.float32)
    out: F32 = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def test_identify_against_10000_is_one_matrix_product(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    enrolled = _unit(rng, 10_000)
    gallery = Gallery(Template(f"p{i}", "resident", e) for i, e in enumerate(enrolled))
    calls: list[tuple[tuple[int, ...], tuple[int, ...], np.dtype[np.float32]]] = []

    def recording_matmul(a: F32, b: F32) -> F32:
        calls.append((a.shape, b.shape, a.dtype))
        result: F32 = np.matmul(a, b)
        return result

    monkeypatch.setattr(gallery_mod, "_matmul", recording_matmul)
    probe = enrolled[4321] + 0.01 * _unit(rng, 1)[0]
    (match,) = gallery.identify(probe, threshold=0.6)
    # One (1x128)·(128x10000) float32 product for the whole gallery, not one call per template.
    assert calls == [((1, 128), (128, 10_000), np.dtype(np.float32))]
    assert match.person_id == "p4321"
    assert match.distance == pytest.approx(0.01, abs=2e-3)


def test_distances_equal_numpy_norms() -> None:
    rng = np.random.default_rng(1)
    enrolled, queries = _unit(rng, 50), _unit(rng, 3)
    gallery = Gallery(Template(f"p{i}", "staff", e) for i, e in enumerate(enrolled))
    expected = np.linalg.norm(queries[:, None, :] - enrolled[None, :, :], axis=2)
    np.testing.assert_allclose(gallery.distances(queries), expected, atol=1e-5)


def test_empty_gallery_sees_only_strangers() -> None:
    (match,) = Gallery().identify(np.zeros(128, dtype=np.float32), threshold=0.6)
    assert (match.person_id, match.category, match.score) == (None, "stranger", 0.0)


def test_best_of_several_templates_decides_and_category_travels() -> None:
    base = np.zeros(128, dtype=np.float32)
    near = base.copy()
    near[0] = 0.1
    far = base.copy()
    far[0] = 0.5
    gallery = Gallery([Template("w1", "watchlist", far), Template("r1", "resident", near)])
    (match,) = gallery.identify(base, threshold=0.6)
    assert (match.person_id, match.category) == ("r1", "resident")
    assert match.distance == pytest.approx(0.1, abs=1e-6)


def test_malformed_templates_are_refused() -> None:
    with pytest.raises(ValueError, match="128-d"):
        Gallery([Template("x", "resident", np.zeros(64, dtype=np.float32))])
    nan = np.full(128, np.nan, dtype=np.float32)
    with pytest.raises(ValueError, match="finite"):
        Gallery([Template("x", "resident", nan)])


def test_update_applies_deletions_and_replaces_upserted_people() -> None:
    rng = np.random.default_rng(3)
    a, b, a2, c = _unit(rng, 4)
    gallery = Gallery([Template("a", "resident", a), Template("b", "staff", b)], version=1)
    removed = gallery.apply_update(
        2, upserts=[Template("a", "resident", a2), Template("c", "visitor", c)], deletions=["b"]
    )
    assert removed == {"b"}
    assert gallery.version == 2
    assert sorted(t.person_id for t in gallery.templates()) == ["a", "c"]
    # The deleted person is no longer recognised, and a's old template is gone.
    assert gallery.identify(b, threshold=0.3)[0].person_id is None
    assert gallery.identify(a, threshold=0.3)[0].person_id is None
    assert gallery.identify(a2, threshold=0.3)[0].person_id == "a"


def test_an_update_that_is_not_newer_is_refused() -> None:
    gallery = Gallery(version=5)
    with pytest.raises(ValueError, match="not newer"):
        gallery.apply_update(5, upserts=[], deletions=[])
    assert gallery.version == 5


def test_deleting_an_unknown_person_reports_nothing_removed() -> None:
    gallery = Gallery([Template("a", "resident", np.ones(128, dtype=np.float32))])
    assert gallery.delete(["zzz"]) == set()
    assert len(gallery) == 1
