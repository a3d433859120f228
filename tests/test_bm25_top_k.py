"""BM25's partial top-k selection returns exactly what a full sort of every page returns."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from benchmarks.env_perf import _TextPages, synthetic_pages
from vrag_env.retrieval.bm25 import BM25Retriever


def _full_sort(retriever: BM25Retriever, query: str, k: int) -> list[tuple[str, float]]:
    """Score every page term by term and sort all of them (the ranking rule, spelled out slowly)."""
    n = len(retriever.page_ids)
    scores = [0.0] * n
    for term in retriever._tokens(query):
        tid = retriever._vocab.get(term)
        if tid is None:
            continue
        for j in range(retriever._indptr[tid], retriever._indptr[tid + 1]):
            scores[int(retriever._indices[j])] += float(retriever._data[j])
    ranked = sorted(
        (i for i in range(n) if retriever._searchable[i]), key=lambda i: (-scores[i], i)
    )
    return [(retriever.page_ids[i], scores[i]) for i in ranked[:k]]


@pytest.fixture(scope="module")
def retriever() -> BM25Retriever:
    texts = list(_texts())
    texts[7] = texts[8] = texts[9] = "zzduplicate page with the same words"  # exact score ties
    texts[10] = "the of and"  # stopwords only: never returned
    r = BM25Retriever()
    r.index(_TextPages(texts))  # type: ignore[arg-type]
    return r


@pytest.mark.parametrize("k", [1, 2, 3, 10, 50, 400, 2999, 3000, 5000])
def test_top_k_matches_a_full_sort(retriever: BM25Retriever, k: int) -> None:
    rng = np.random.default_rng(k)
    queries = ["zzduplicate page", "zzduplicate"]
    for _ in range(20):
        page = retriever.page_ids[int(rng.integers(len(retriever.page_ids)))]
        words = retriever_text(retriever, page)
        queries.append(" ".join(rng.choice(words, 2)))
    for query in queries:
        got = [(r.page_id, r.score) for r in retriever.search(query, k)]
        want = _full_sort(retriever, query, k)
        assert [p for p, _ in got] == [p for p, _ in want], query
        assert np.allclose([s for _, s in got], [s for _, s in want], rtol=1e-6), query
        assert "s10" not in {p for p, _ in got}


@functools.cache
def _texts() -> list[str]:
    return synthetic_pages(3000, seed=5, words_per_page=30)


def retriever_text(retriever: BM25Retriever, page_id: str) -> list[str]:
    """Words of one synthetic page (the retriever keeps no text)."""
    return _texts()[int(page_id[1:])].split()


def test_a_repeated_query_is_tokenised_once(
    retriever: BM25Retriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    original = retriever._tokens
    monkeypatch.setattr(retriever, "_tokens", lambda text: calls.append(text) or original(text))
    first = retriever.search("zzduplicate words qqnew", 5)
    assert retriever.search("zzduplicate words qqnew", 5) == first
    assert calls == ["zzduplicate words qqnew"]
