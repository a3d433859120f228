"""BM25 over corpora whose pages (some or all) have no text layer (issue 16, item 1)."""

from __future__ import annotations

import logging
from pathlib import Path

import gymnasium as gym
import pytest
from PIL import Image

import vrag_env  # noqa: F401 - registers the env ids
from vrag_env.corpora.corpus import Corpus, CorpusWriter
from vrag_env.retrieval.bm25 import BM25Retriever
from vrag_env.types import Page, Query, Word


def _corpus(root: Path, texts: list[str]) -> Path:
    """A corpus of blank 200x100 pages; page i carries ``texts[i]`` as its words ("" = none)."""
    out = root / "corpus"
    with CorpusWriter(out, name="no-text", build={"by": "test"}) as writer:
        for i, text in enumerate(texts, start=1):
            words = tuple(
                Word(w, (10.0 * j, 10.0, 10.0 * j + 8, 20.0)) for j, w in enumerate(text.split())
            )
            page = Page(f"doc_{i}", "doc", i, 200, 100, "", words=words)
            writer.add_page(page, Image.new("RGB", (200, 100), "white"))
        writer.add_query(Query("q1", "What is the total revenue?", ("42",), ("doc_1",), "test"))
    return out


def test_corpus_without_any_text_builds_an_index_that_matches_nothing(tmp_path: Path) -> None:
    corpus = Corpus(_corpus(tmp_path, ["", "", ""]))
    retriever = BM25Retriever.load_or_build(corpus)
    assert retriever.search("total revenue", 3) == []
    assert retriever.pages_without_text == ["doc_1", "doc_2", "doc_3"]
    warning = retriever.coverage_warning()
    assert warning is not None and warning.startswith("3 of 3 pages have no text")
    assert "--ocr auto" in warning
    # The saved index loads back with the same behaviour.
    again = BM25Retriever.load_or_build(corpus)
    assert again.search("total revenue", 3) == []


def test_text_less_pages_never_match(tmp_path: Path) -> None:
    corpus = Corpus(_corpus(tmp_path, ["total revenue 42", "", "staff costs", ""]))
    retriever = BM25Retriever.load_or_build(corpus)
    assert retriever.pages_without_text == ["doc_2", "doc_4"]
    hits = [r.page_id for r in retriever.search("revenue", 4)]
    assert hits == ["doc_1", "doc_3"]  # the match first; text-less pages are never returned
    assert retriever.search("unrelated words", 4) == []  # no match anywhere: nothing


def test_gym_make_warns_once_and_a_search_reports_no_page(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _corpus(tmp_path, ["", ""])
    with caplog.at_level(logging.WARNING, logger="vrag_env"):
        env = gym.make("VRAG-v0", corpus=str(folder), split="test")
        env2 = gym.make("VRAG-v0", corpus=str(folder), split="test")
    warnings = [r.getMessage() for r in caplog.records if "have no text" in r.getMessage()]
    assert len(warnings) == 1
    assert "2 of 2 pages have no text" in warnings[0]
    env.reset(seed=0)
    obs, _, terminated, _, info = env.step("<search>total revenue</search>")
    assert not terminated
    assert info["action_error"]
    assert "no page" in obs["feedback"]
    env.close()
    env2.close()
