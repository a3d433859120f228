"""The multi-vector page index: exact MaxSim, faiss candidates + rerank, persistence, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vrag_env.retrieval.multivector import (
    CONFIG_FILE,
    FAISS_FILE,
    OFFSETS_FILE,
    MultiVectorConfig,
    MultiVectorIndex,
)

DIM = 64
N_PAGES = 300


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _planted(seed: int = 0) -> tuple[list[str], list[np.ndarray], list[tuple[int, np.ndarray]]]:
    """Pages mixing a few "concepts" each (variable length), and queries planted on one page."""
    rng = np.random.default_rng(seed)
    concepts = _unit(rng.standard_normal((600, DIM)))
    pages = []
    for _ in range(N_PAGES):
        own = rng.choice(len(concepts), 8, replace=False)
        n = int(rng.integers(12, 36))
        pages.append(_unit(concepts[rng.choice(own, n)] + 0.08 * rng.standard_normal((n, DIM))))
    queries = []
    for _ in range(24):
        target = int(rng.integers(N_PAGES))
        rows = rng.choice(len(pages[target]), 6)
        queries.append((target, _unit(pages[target][rows] + 0.05 * rng.standard_normal((6, DIM)))))
    return [f"doc_{i + 1}" for i in range(N_PAGES)], pages, queries


@pytest.fixture(scope="module")
def data() -> tuple[list[str], list[np.ndarray], list[tuple[int, np.ndarray]]]:
    return _planted()


@pytest.fixture(scope="module")
def exact(data: tuple) -> MultiVectorIndex:
    ids, pages, _ = data
    return MultiVectorIndex.build(ids, pages, MultiVectorConfig(method="exact"))


def _brute_force(pages: list[np.ndarray], q: np.ndarray) -> np.ndarray:
    return np.array([(p.astype(np.float16).astype(np.float32) @ q.T).max(0).sum() for p in pages])


def test_exact_is_maxsim_and_finds_planted_pages(data: tuple, exact: MultiVectorIndex) -> None:
    ids, pages, queries = data
    assert exact.method == "exact" and exact.num_pages == N_PAGES and exact.dim == DIM
    assert exact.num_tokens == sum(len(p) for p in pages)
    for target, q in queries:
        np.testing.assert_allclose(exact.scores(q), _brute_force(pages, q), rtol=1e-5, atol=1e-5)
        hits = exact.search(q, 5)
        assert hits[0].page_id == ids[target]
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # Scoring a subset in any order gives the same numbers as scoring everything, with or without
    # the float32 cache (small blocks force several blocks and gathers).
    q = queries[0][1]
    subset = np.array([250, 3, 77, 0, 299])
    np.testing.assert_allclose(exact.scores_of(q, subset), exact.scores(q)[subset], rtol=1e-6)
    assert exact.memory_bytes()["float32_cache"] == 4 * exact.num_tokens * DIM
    config = MultiVectorConfig(method="exact", float32_cache_mb=0, block_tokens=100)
    uncached = MultiVectorIndex.build(ids, pages, config)
    np.testing.assert_allclose(uncached.scores(q), exact.scores(q), rtol=1e-6)
    np.testing.assert_allclose(uncached.scores_of(q, subset), exact.scores(q)[subset], rtol=1e-6)
    got, want = uncached.search(q, 10), exact.search(q, 10)
    assert [h.page_id for h in got] == [h.page_id for h in want]
    np.testing.assert_allclose([h.score for h in got], [h.score for h in want], rtol=1e-6)
    assert uncached.memory_bytes()["float32_cache"] == 0


@pytest.mark.parametrize("method", ["ivf", "ivfpq"])
def test_faiss_candidates_agree_with_exact(
    data: tuple, exact: MultiVectorIndex, method: str
) -> None:
    pytest.importorskip("faiss")
    ids, pages, queries = data
    config = MultiVectorConfig(method=method, pq_m=16, pq_bits=6)
    index = MultiVectorIndex.build(ids, pages, config)
    assert index.method == method and index.faiss_index is not None
    recalls = []
    for target, q in queries:
        want = exact.search(q, 10)
        got = index.search(q, 10)
        assert got[0].page_id == ids[target]
        recalls.append(len({h.page_id for h in want} & {h.page_id for h in got}) / 10)
        # Reranked scores are exact MaxSim, whichever pages were candidates.
        exact_scores = dict(want)
        for page_id, score in got:
            if page_id in exact_scores:
                assert score == pytest.approx(exact_scores[page_id], rel=1e-5)
        assert len(index.candidates(q)) < N_PAGES  # it really prunes
    assert float(np.mean(recalls)) >= 0.95


def test_save_load_round_trip(tmp_path: Path, data: tuple, exact: MultiVectorIndex) -> None:
    pytest.importorskip("faiss")
    ids, pages, queries = data
    ivf = MultiVectorIndex.build(ids, pages, MultiVectorConfig(method="ivf"))
    for name, index in (("exact", exact), ("ivf", ivf)):
        folder = tmp_path / name
        index.save(folder)
        assert (folder / FAISS_FILE).exists() == (name == "ivf")
        for mmap in (True, False):
            loaded = MultiVectorIndex.load(folder, mmap=mmap)
            assert loaded.method == index.method and loaded.page_ids == ids
            assert loaded.config == index.config
            np.testing.assert_array_equal(np.asarray(loaded.vectors), np.asarray(index.vectors))
            for _, q in queries[:8]:
                assert loaded.search(q, 10) == index.search(q, 10)
    # Search-time settings can be overridden on load.
    assert MultiVectorIndex.load(tmp_path / "ivf", nprobe=2).faiss_index.nprobe == 2


def test_load_rejects_inconsistent_files(tmp_path: Path, data: tuple) -> None:
    ids, pages, _ = data
    MultiVectorIndex.build(ids[:5], pages[:5], MultiVectorConfig(method="exact")).save(tmp_path)
    np.save(tmp_path / OFFSETS_FILE, np.array([0, 3], dtype=np.int64))
    with pytest.raises(ValueError, match="offsets"):
        MultiVectorIndex.load(tmp_path)
    record = json.loads((tmp_path / CONFIG_FILE).read_text())
    (tmp_path / CONFIG_FILE).write_text(json.dumps({**record, "format_version": 99}))
    with pytest.raises(ValueError, match="format"):
        MultiVectorIndex.load(tmp_path)


def test_deterministic_with_ties_in_corpus_order(data: tuple) -> None:
    pytest.importorskip("faiss")
    ids, pages, queries = data
    # Page 7 duplicated at the end of the corpus: identical scores, corpus order decides.
    dup_ids = [*ids, "dup_7"]
    dup_pages = [*pages, pages[7].copy()]
    q = _unit(pages[7][:4] + 0.05)
    for method in ("exact", "ivf"):
        config = MultiVectorConfig(method=method)
        a = MultiVectorIndex.build(dup_ids, dup_pages, config)
        b = MultiVectorIndex.build(dup_ids, dup_pages, config)
        hits = a.search(q, 3)
        assert [h.page_id for h in hits[:2]] == ["doc_8", "dup_7"]
        assert hits[0].score == hits[1].score
        for _, query in queries[:6]:
            first = a.search(query, 10)
            assert first == a.search(query, 10) == b.search(query, 10)


def test_auto_switch_and_fallback(data: tuple) -> None:
    pytest.importorskip("faiss")
    ids, pages, queries = data
    n_tokens = sum(len(p) for p in pages)
    small = MultiVectorIndex.build(ids, pages, MultiVectorConfig(exact_max_tokens=n_tokens))
    assert small.method == "exact" and small.faiss_index is None
    config = MultiVectorConfig(exact_max_tokens=n_tokens - 1, pq_m=16, pq_bits=6)
    large = MultiVectorIndex.build(ids, pages, config)
    assert large.method == "ivfpq" and large.faiss_index is not None
    assert MultiVectorConfig(method="exact", exact_max_tokens=1).resolve_method(10**9) == "exact"
    # Asking for more pages than the candidates cover falls back to exact scoring of every page.
    q = queries[0][1]
    everything = large.search(q, N_PAGES + 5)
    assert len(everything) == N_PAGES
    assert everything == small.search(q, N_PAGES)
    assert large.search(q, 0) == []


def test_validation(data: tuple, exact: MultiVectorIndex) -> None:
    ids, pages, _ = data
    with pytest.raises(ValueError, match="method"):
        MultiVectorConfig(method="hnsw")
    with pytest.raises(ValueError, match="without vectors"):
        MultiVectorIndex.build(ids[:2], [pages[0], np.zeros((0, DIM))])
    with pytest.raises(ValueError, match="dim"):
        MultiVectorIndex.build(ids[:2], [pages[0], np.ones((3, DIM + 1))])
    with pytest.raises(ValueError, match="NaN"):
        MultiVectorIndex.build(ids[:1], [np.full((2, DIM), np.nan)])
    with pytest.raises(ValueError, match="unique"):
        MultiVectorIndex.build(["a", "a"], pages[:2])
    with pytest.raises(ValueError, match="page ids"):
        MultiVectorIndex.build(ids[:3], pages[:2])
    with pytest.raises(ValueError, match="k must be"):
        exact.search(pages[0], -1)
    with pytest.raises(ValueError, match="shape"):
        exact.search(np.ones((2, DIM + 1)), 3)
    with pytest.raises(RuntimeError, match="faiss"):
        exact.candidates(pages[0])
