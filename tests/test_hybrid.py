"""Hybrid retrieval: reciprocal-rank fusion through the registry, with BM25 and a tiny ColQwen2."""

from __future__ import annotations

import shutil

import pytest

from vrag_env.corpora.corpus import Corpus
from vrag_env.corpora.synthetic import builtin_corpus
from vrag_env.loading import load_retriever
from vrag_env.retrieval.bm25 import BM25Retriever
from vrag_env.retrieval.hybrid import HybridRetriever, parse_components, rrf_fuse


def test_rrf_fusion_ranks() -> None:
    order = ["a", "b", "c", "d"]
    # "c" is second in both lists, "a" and "d" first in one only: agreement wins; "a" and "d"
    # tie and keep corpus order; "b" (third in one list) comes last.
    fused = rrf_fuse([["a", "c", "b"], ["d", "c"]], [1.0, 1.0], order, rrf_k=60)
    assert [p for p, _ in fused] == ["c", "a", "d", "b"]
    # A heavy weight on the second list puts its first page on top.
    heavy = rrf_fuse([["a", "c", "b"], ["d", "c"]], [1.0, 3.0], order, rrf_k=0)
    assert [p for p, _ in heavy][:2] == ["d", "c"]
    # Equal fused scores keep corpus order.
    tie = rrf_fuse([["b"], ["a"]], [1.0, 1.0], order)
    assert [p for p, _ in tie] == ["a", "b"]
    with pytest.raises(ValueError, match="weights"):
        rrf_fuse([["a"]], [1.0, 2.0], order)


def test_parse_components() -> None:
    assert parse_components("bm25") == [("bm25", None, 1.0)]
    assert parse_components("2*bm25+colqwen2:/m/x+y") == [
        ("bm25", None, 2.0),
        ("colqwen2", "/m/x+y", 1.0),
    ]
    with pytest.raises(ValueError, match="unknown part 'nope'"):
        parse_components("nope+bm25")
    with pytest.raises(ValueError, match="hybrid"):
        parse_components("bm25+hybrid:bm25")
    with pytest.raises(ValueError, match="weights"):
        HybridRetriever("bm25+bm25", weights=[1.0])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    dst = tmp_path_factory.mktemp("corpora") / "tiny"
    shutil.copytree(builtin_corpus("tiny", progress=False), dst)
    return Corpus(dst)


def test_hybrid_of_one_retriever_keeps_its_ranking(corpus: Corpus) -> None:
    bm25 = BM25Retriever.load_or_build(corpus)
    hybrid = load_retriever("hybrid:bm25", corpus)
    assert isinstance(hybrid, HybridRetriever)
    for q in list(corpus.queries.values())[:5]:
        expected = [h.page_id for h in bm25.search(q.question, 5)]
        assert [h.page_id for h in hybrid.search(q.question, 5)] == expected
    assert hybrid.search("zzzqqq unknownword", 3) == []  # nothing matches anywhere


def test_hybrid_bm25_colqwen2(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("colpali_engine")
    from vrag_env.retrieval.colpali import ColQwen2Retriever
    from vrag_env.retrieval.tiny_colqwen import build_tiny_colqwen

    model = build_tiny_colqwen(tmp_path_factory.mktemp("models") / "tiny-colqwen2", seed=0)
    spec = f"hybrid:bm25+colqwen2:{model}"
    hybrid = load_retriever(spec, corpus)
    assert isinstance(hybrid, HybridRetriever)
    assert [c["name"] for c in hybrid.config()["components"]] == ["bm25", "colqwen2"]
    bm25 = BM25Retriever.load_or_build(corpus)
    visual = ColQwen2Retriever.load_or_build(corpus, model=str(model))
    n = len(corpus.pages)
    for q in list(corpus.queries.values())[:4]:
        lexical = [h.page_id for h in bm25.search(q.question, n)]
        seen = [h.page_id for h in visual.search(q.question, n)]
        expected = [p for p, _ in rrf_fuse([lexical, seen], [1.0, 1.0], corpus.page_ids)]
        got = hybrid.search(q.question, n)
        assert [h.page_id for h in got] == expected[:n]
        assert [h.score for h in got] == sorted((h.score for h in got), reverse=True)
    # Weights given in the string change the fusion.
    heavy = load_retriever(f"hybrid:50*bm25+colqwen2:{model}", corpus)
    q = next(iter(corpus.queries.values())).question
    assert heavy.search(q, 1)[0].page_id == bm25.search(q, 1)[0].page_id
