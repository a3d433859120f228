"""`VRAG-v0` on an ingested corpus: PDFs with a text layer, a scan and photos (OCR), oracle episodes."""

from __future__ import annotations

import logging
from pathlib import Path

import gymnasium as gym
import pytest

import vrag_env  # noqa: F401
from benchmarks.runner import EvalSpec, evaluate
from tests.ingest_fixtures import example, make_image, make_scan_pdf, make_text_pdf, write_rag_json
from vrag_env.cli import main

pytest.importorskip("pymupdf")
pytest.importorskip("rapidocr_onnxruntime")

QUERIES = [
    example("q-pdf", "report.pdf", [2], "Ultramarine 42", split="test"),
    example("q-other", "annex.pdf", [2], "Ultramarine 42", split="test"),
    example("q-scan", "scan.pdf", [1], "ZEBRA", split="test"),
    example("q-png", "photo.png", [1], "PINEAPPLE", split="test"),
    example("q-jpg", "shot.jpg", [1], "MANGO", split="test"),
]


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ingested-env")
    src = root / "src"
    src.mkdir()
    make_text_pdf(src / "report.pdf", pages=3)
    make_text_pdf(
        src / "annex.pdf", pages=3
    )  # a near-duplicate document: search must pick the page
    make_scan_pdf(src / "scan.pdf", ["ZEBRA CROSSING", "Invoice 512 EUR"])
    make_image(src / "photo.png", ["PINEAPPLE", "Total 77"])
    make_image(src / "shot.jpg", ["MANGO SEASON"], fmt="JPEG")
    queries = write_rag_json(root / "rag_dataset.json", QUERIES)
    out = root / "corpus"
    assert (
        main(["ingest", str(src), "--queries", str(queries), "--out", str(out), "--no-progress"])
        == 0
    )
    return out


def test_oracle_solves_the_ingested_corpus(corpus_dir: Path) -> None:
    spec = EvalSpec(
        env_id="VRAG-v0", env_kwargs={"corpus": str(corpus_dir), "split": "test"}, episodes=5
    )
    results = evaluate("oracle", spec, progress=False)
    assert results["summary"]["anls"] >= 0.95
    assert results["summary"]["ndcg"] > 0.5
    assert {r["question_id"] for r in results["episodes"]} == {q["uid"] for q in QUERIES}
    # the oracle zoomed wherever the ingestion located the answer (text layer or OCR words)
    corpus = gym.make("VRAG-v0", corpus=str(corpus_dir), split="test").unwrapped.corpus
    located = {uid for uid, q in corpus.queries.items() if q.evidence}
    assert len(located) >= 4
    for record in results["episodes"]:
        assert ("crop" in record["action_kinds"]) == (record["question_id"] in located)


def test_index_is_cached_in_the_corpus_and_a_corrupt_one_is_rebuilt(
    corpus_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = gym.make("VRAG-v0", corpus=str(corpus_dir), split="test")
    env.reset(seed=0)
    index = corpus_dir / "index" / "bm25"
    assert (index / "meta.json").is_file()
    expected = env.unwrapped.retriever.search("mascot colour", 3)
    (index / "data.npy").write_bytes(b"garbage")
    from vrag_env import loading

    loading._RETRIEVERS.clear()  # a new process would load from disk
    with caplog.at_level(logging.WARNING, logger="vrag_env.retrieval.bm25"):
        env2 = gym.make("VRAG-v0", corpus=str(corpus_dir), split="test")
    assert "rebuilding" in caplog.text
    assert env2.unwrapped.retriever.search("mascot colour", 3) == expected


def test_eval_cli_on_an_ingested_corpus(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "oracle.json"
    code = main(
        [
            "eval",
            "--agent",
            "oracle",
            "--corpus",
            str(corpus_dir),
            "--episodes",
            "5",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0 and out.is_file()
