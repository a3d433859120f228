"""`vrag retrieval-eval` on an ingested corpus."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.ingest_fixtures import write_rag_json
from vrag_env.cli import main
from vrag_env.corpora.corpus import Corpus
from vrag_env.corpora.ingest import FileSource, ingest
from vrag_env.retrieval import base
from vrag_env.retrieval.base import Retriever, registered_retrievers
from vrag_env.types import ScoredPage

pymupdf = pytest.importorskip("pymupdf")

PAGES = {
    "fruit": ["Apples and pears grow in orchards.", "Bananas ripen in warm climates."],
    "tools": ["A hammer drives nails.", "A wrench turns bolts and nuts."],
    "space": ["Saturn has bright rings.", "Mars is the red planet."],
}
QUESTIONS = [
    ("q1", "Where do apples and pears grow?", "orchards", "fruit.pdf", [1], "test"),
    ("q2", "What turns bolts?", "wrench", "tools.pdf", [2], "test"),
    ("q3", "Which planet has rings?", "Saturn", "space.pdf", [1], "train"),
    ("q4", "Which planet is red, and what drives nails?", "Mars", "space.pdf", [2], "test"),
]


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reval")
    src = root / "src"
    src.mkdir()
    for name, lines in PAGES.items():
        doc = pymupdf.open()
        for line in lines:
            doc.new_page(width=400, height=300).insert_text((30, 60), line, fontsize=14)
        doc.save(src / f"{name}.pdf")
    examples = [
        {
            "uid": uid,
            "query": question,
            "reference_answer": answer,
            "meta_info": {"file_name": file_name, "reference_page": pages},
            "split": split,
        }
        for uid, question, answer, file_name, pages, split in QUESTIONS
    ]
    queries = write_rag_json(root / "q.json", examples)
    out = root / "corpus"
    ingest(FileSource([src]), out, queries=[queries], ocr="never", progress=False)
    return out


def test_bm25_retrieval_eval(
    corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results" / "bm25.json"
    args = ["retrieval-eval", "--corpus", str(corpus_dir), "--retriever", "bm25", "--k", "10"]
    assert main([*args, "--out", str(out)]) == 0
    assert "recall@1" in capsys.readouterr().out
    results = json.loads(out.read_text())
    summary = results["summary"]
    for key in ("recall@1", "recall@5", "recall@10", "ndcg@5", "mrr", "queries"):
        assert key in summary
    assert summary["queries"] == 4
    assert summary["recall@10"] == 1.0  # 6 pages: everything is retrieved
    assert summary["recall@1"] >= 0.75 and summary["mrr"] >= 0.75
    per_query = {r["uid"]: r for r in results["per_query"]}
    assert per_query["q1"]["ranks"] == {"fruit_1": 1}
    assert per_query["q1"]["first_relevant_rank"] == 1
    assert per_query["q2"]["retrieved"][0] == "tools_2"
    assert len(per_query["q3"]["retrieved"]) == 6
    meta = results["metadata"]
    assert meta["retriever"] == "bm25" and meta["k"] == 10 and meta["split"] == "all"
    assert meta["corpus_checksums"] == Corpus(corpus_dir).manifest["checksums"]
    # The index is built on first use and cached inside the corpus folder.
    assert (corpus_dir / "index" / "bm25").is_dir()


def test_split_and_small_k(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = ["--corpus", str(corpus_dir), "--k", "1", "--split", "test", "--out", str(out)]
    assert main(["retrieval-eval", *args]) == 0
    results = json.loads(out.read_text())
    assert results["summary"]["queries"] == 3
    assert {r["split"] for r in results["per_query"]} == {"test"}
    assert all(len(r["retrieved"]) == 1 for r in results["per_query"])
    assert "recall@10" in results["summary"]  # always scored on at least 10 retrieved pages


def test_bad_arguments(corpus_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retrieval-eval", "--corpus", str(corpus_dir), "--retriever", "nope"]) == 2
    assert "Available retrievers" in capsys.readouterr().err
    assert main(["retrieval-eval", "--corpus", str(corpus_dir), "--k", "0"]) == 2
    assert main(["retrieval-eval", "--corpus", str(corpus_dir), "--split", "dev"]) == 2
    assert main(["retrieval-eval", "--corpus", str(corpus_dir / "missing")]) == 2


class _ReverseRetriever(Retriever):
    """A deterministic stand-in backend: pages in reverse corpus order."""

    name = "test-reverse"

    def index(self, corpus: Corpus) -> None:
        self.page_ids = list(reversed(corpus.page_ids))

    def search(self, query: str, k: int) -> list[ScoredPage]:
        return [ScoredPage(p, -float(i)) for i, p in enumerate(self.page_ids[:k])]

    def save(self, path: str | os.PathLike[str]) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> _ReverseRetriever:
        raise NotImplementedError


def test_any_registered_retriever(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(base.RETRIEVERS, "test-reverse", _ReverseRetriever)
    assert "test-reverse" in registered_retrievers()
    out = tmp_path / "r.json"
    args = ["--corpus", str(corpus_dir), "--retriever", "test-reverse", "--out", str(out)]
    assert main(["retrieval-eval", *args]) == 0
    per_query = {r["uid"]: r for r in json.loads(out.read_text())["per_query"]}
    # Corpus order is fruit_1 fruit_2 space_1 space_2 tools_1 tools_2: reversed, fruit_1 is 6th.
    assert per_query["q1"]["ranks"] == {"fruit_1": 6}
    assert per_query["q2"]["first_relevant_rank"] == 1


def test_several_retrievers_side_by_side(
    corpus_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from benchmarks.retrieval_board import load_retrieval_rows, render_retrieval_board

    monkeypatch.setitem(base.RETRIEVERS, "test-reverse", _ReverseRetriever)
    out_dir = tmp_path / "retrieval"
    args = ["retrieval-eval", "--corpus", str(corpus_dir), "--out-dir", str(out_dir)]
    for name in ("bm25", "test-reverse", "hybrid:bm25+test-reverse"):
        args += ["--retriever", name]
    assert main(args) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed[2:]] == [
        "bm25",
        "test-reverse",
        "hybrid:bm25+test-reverse",
    ]
    files = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*.json"))
    assert files == [
        "corpus/bm25.json",
        "corpus/hybrid_bm25+test-reverse.json",
        "corpus/test-reverse.json",
    ]
    rows = load_retrieval_rows(out_dir)
    meta = json.loads((out_dir / "corpus" / "bm25.json").read_text())["metadata"]
    assert meta["retriever_config"]["tokenizer_version"] >= 3 and "git_sha" in meta
    board = render_retrieval_board(rows)
    table = [line for line in board.splitlines() if line.startswith("| `")]
    # Best nDCG@5 first: BM25 finds every page first; reversed corpus order is worst.
    assert table[0].startswith("| `bm25`") and table[-1].startswith("| `test-reverse`")
    assert "### Retrieval on `corpus`" in board
    # --out takes one retriever only.
    bad = ["retrieval-eval", "--corpus", str(corpus_dir), "--out", str(tmp_path / "x.json")]
    assert main([*bad, "--retriever", "bm25", "--retriever", "test-reverse"]) == 2
    assert "--out-dir" in capsys.readouterr().err
