"""The BM25 retriever: tokenisation, deterministic ranking, pickle-free persistence, the index
cache, and retrieval quality on the built-in corpus."""

from __future__ import annotations

import json
import logging
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vrag_env.corpora.corpus import Corpus, CorpusWriter
from vrag_env.retrieval.base import make_retriever
from vrag_env.retrieval.bm25 import META_FILE, BM25Retriever, s_stem, tokenize
from vrag_env.types import Page, Query, Word


def _corpus(root: Path, texts: list[str]) -> Corpus:
    with CorpusWriter(root, name="t", build={"by": "test"}) as writer:
        for i, text in enumerate(texts, start=1):
            words = tuple(Word(t, (0.0, 0.0, 1.0, 1.0)) for t in text.split())
            writer.add_page(Page(f"d_{i}", "d", i, 4, 4, "", words), Image.new("RGB", (4, 4)))
        writer.add_query(Query("q", "?", ("x",), ("d_1",), "test"))
    return Corpus(root)


def test_tokenize_keeps_numbers_and_drops_noise() -> None:
    assert tokenize("What was Aurora's Q3 revenue: 1,234.5 (up 12.4%) in 2022?") == [
        "aurora", "q3", "revenue", "1,234.5", "up", "12.4", "2022",
    ]  # fmt: skip
    assert tokenize("EUR/USD rate of 1.08.") == ["eur", "usd", "rate", "1.08"]
    assert tokenize("Companies' revenues", stem=False) == ["companies", "revenues"]
    assert [s_stem(t) for t in ("sites", "entries", "gas", "class", "2020s")] == [
        "site", "entry", "gas", "class", "2020s",
    ]  # fmt: skip


def test_registered_by_name() -> None:
    assert isinstance(make_retriever("bm25"), BM25Retriever)
    assert isinstance(make_retriever("bm25", k1=1.2), BM25Retriever)


def test_ranking_and_ties(tmp_path: Path) -> None:
    corpus = _corpus(
        tmp_path / "c",
        [
            "solar wind storage",
            "quarterly revenue table",
            "solar solar panels",
            "solar wind storage",
        ],
    )
    r = BM25Retriever()
    r.index(corpus)
    hits = r.search("solar panels", 4)
    assert [h.page_id for h in hits][:1] == ["d_3"]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # d_1 and d_4 have identical text: equal scores, corpus order.
    ties = r.search("wind storage", 2)
    assert [h.page_id for h in ties] == ["d_1", "d_4"] and ties[0].score == ties[1].score > 0
    # A query that matches nothing returns nothing (not pages in corpus order).
    for blank in ("", "   ", "the of ?!", "zzz unknownword"):
        assert r.search(blank, 3) == []
    # A partial match lists the matching pages first, then the others in corpus order.
    partial = r.search("storage", 4)
    assert [h.page_id for h in partial] == ["d_1", "d_4", "d_2", "d_3"]
    assert len(r.search("solar", 10)) == 4
    assert r.search("solar", 0) == []
    with pytest.raises(ValueError):
        r.search("solar", -1)
    with pytest.raises(RuntimeError, match="index"):
        BM25Retriever().search("solar", 1)


def test_save_load_round_trip_without_pickle(tiny_corpus: Corpus, tmp_path: Path) -> None:
    r = BM25Retriever(k1=1.2, b=0.7)
    r.index(tiny_corpus)
    r.save(tmp_path / "idx")
    files = sorted(p.name for p in (tmp_path / "idx").iterdir())
    assert all(name.endswith((".npy", ".json")) for name in files), files
    for npy in (tmp_path / "idx").glob("*.npy"):
        np.load(npy, allow_pickle=False)  # raises if anything was pickled
    loaded = BM25Retriever.load(tmp_path / "idx")
    assert loaded.config() == r.config()
    for q in tiny_corpus.split("all"):
        assert loaded.search(q.question, 10) == r.search(q.question, 10)


def _copy(corpus_path: Path, tmp_path: Path) -> Corpus:
    shutil.copytree(corpus_path, tmp_path / "corpus")
    return Corpus(tmp_path / "corpus")


def test_load_or_build_caches_and_rebuilds(
    tiny_corpus_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = _copy(tiny_corpus_path, tmp_path)
    folder = corpus.index_dir("bm25")
    question = corpus.split("test")[0].question
    built = BM25Retriever.load_or_build(corpus)
    reference = built.search(question, 5)
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["corpus_checksum"] == corpus.checksum
    assert meta["config"] == built.config()
    stamp = (folder / META_FILE).stat()

    # Fresh cache: loaded, not rebuilt.
    again = BM25Retriever.load_or_build(corpus)
    assert again.search(question, 5) == reference
    assert (folder / META_FILE).stat().st_mtime_ns == stamp.st_mtime_ns
    assert [p.name for p in folder.parent.iterdir()] == ["bm25"]  # no temp folders left

    # Stale: the corpus checksum no longer matches.
    meta["corpus_checksum"] = "0" * 64
    (folder / META_FILE).write_text(json.dumps(meta))
    with caplog.at_level(logging.INFO, logger="vrag_env.retrieval"):
        rebuilt = BM25Retriever.load_or_build(corpus)
    assert "stale" in caplog.text
    assert rebuilt.search(question, 5) == reference
    assert json.loads((folder / META_FILE).read_text())["corpus_checksum"] != "0" * 64

    # Other settings: a new index with the new config.
    other = BM25Retriever.load_or_build(corpus, k1=0.9)
    assert other.k1 == 0.9
    assert json.loads((folder / META_FILE).read_text())["config"]["k1"] == 0.9

    # Corrupt files: garbled arrays and a missing page list.
    for damage in ("garble", "delete"):
        caplog.clear()
        if damage == "garble":
            next(folder.glob("*.npy")).write_bytes(b"not an array")
        else:
            (folder / "page_ids.json").unlink()
        with caplog.at_level(logging.WARNING, logger="vrag_env.retrieval"):
            fixed = BM25Retriever.load_or_build(corpus, k1=0.9)
        assert "unreadable" in caplog.text, damage
        assert fixed.search(question, 5) == other.search(question, 5)
        assert BM25Retriever.load(folder).search(question, 5) == other.search(question, 5)


def test_import_does_not_pull_torch() -> None:
    code = "import sys, vrag_env.retrieval.bm25; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def _retrieval_metrics(corpus: Corpus, split: str, k: int = 5) -> tuple[float, float, float]:
    r = BM25Retriever.load_or_build(corpus)
    queries = corpus.split(split)
    r1 = r5 = ndcg = 0.0
    for q in queries:
        ranked = [h.page_id for h in r.search(q.question, k)]
        gold = set(q.reference_pages)
        r1 += ranked[0] in gold
        r5 += any(p in gold for p in ranked)
        dcg = sum(1 / math.log2(i + 2) for i, p in enumerate(ranked) if p in gold)
        ndcg += dcg / sum(1 / math.log2(i + 2) for i in range(min(len(gold), k)))
    n = len(queries)
    return r1 / n, r5 / n, ndcg / n


def test_search_matters_but_is_not_trivial(default_corpus: Corpus) -> None:
    recall1, recall5, ndcg5 = _retrieval_metrics(default_corpus, "test")
    print(
        f"\nBM25 on the default test split: recall@1 {recall1:.3f}, recall@5 {recall5:.3f}, nDCG@5 {ndcg5:.3f}"
    )
    assert recall5 >= 0.6
    assert recall1 <= 0.9
