"""Local copies of SlideVQA, ViDoSeek and MMLongBench-Doc, built in their published layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ingest_fixtures import make_mmlongbench, make_slidevqa, make_text_pdf, make_vidoseek
from vrag_env.cli import main
from vrag_env.corpora.corpus import Corpus
from vrag_env.corpora.hub_formats import SlideVQASource, ViDoSeekSource, make_source
from vrag_env.corpora.ingest import ingest
from vrag_env.corpora.mmlongbench import MMLongBenchSource

pytest.importorskip("datasets")
pytest.importorskip("pymupdf")

DECKS = {
    "deck-alpha": {
        "split": "test",
        "slides": {1: ["Welcome to ALPHA"], 3: ["Revenue 512 EUR"]},
        "questions": [
            (101, "What is the revenue?", "512 EUR", [3]),
            (102, "Which deck is this?", "ALPHA", [1, 3]),
        ],
    },
    "deck-beta": {
        "split": "test",
        "slides": {1: ["BETA"], 2: None},  # slide 2 is missing from the data
        "questions": [(103, "Name?", "BETA", [1]), (104, "Missing slide?", "gone", [2])],
    },
    "deck-gamma": {
        "split": "train",
        # A short deck (slides 6-20 missing) keeps the OCR test quick.
        "slides": {5: ["GAMMA RAY 7"], **{n: None for n in range(6, 21)}},
        "questions": [(201, "What ray?", "GAMMA RAY", [5])],
    },
}


@pytest.fixture(scope="module")
def slidevqa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_slidevqa(tmp_path_factory.mktemp("hub") / "SlideVQA", DECKS)


def _run(*args: str) -> int:
    return main(["ingest", *args, "--no-progress"])


def test_slidevqa_layout_is_the_hub_layout(slidevqa: Path) -> None:
    import pyarrow.parquet as pq

    files = sorted(p.name for p in (slidevqa / "data").iterdir())
    assert files == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet"]
    names = pq.read_schema(slidevqa / "data" / files[0]).names
    assert names[:3] == ["deck_name", "deck_url", "page_1"] and "page_20" in names
    assert names[-5:] == ["qa_id", "question", "answer", "arithmetic_expression", "evidence_pages"]


def test_slidevqa(slidevqa: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "svqa"
    args = ["--format", "slidevqa", str(slidevqa), "--subset", "test", "--out", str(out)]
    assert _run(*args, "--ocr", "never", "--skip-bad-queries") == 0
    assert "104" in capsys.readouterr().out  # reported as skipped
    corpus = Corpus(out)
    assert len(corpus.pages) == 39  # two decks of 20 slides, one slide missing
    assert "deck-beta_2" not in corpus.pages
    assert corpus.pages["deck-alpha_3"].kind == "slide"
    assert corpus.page_image("deck-alpha_3").size == (640, 480)
    q = corpus.queries
    assert sorted(q) == ["101", "102", "103"]
    assert q["101"].reference_pages == ("deck-alpha_3",) and q["101"].split == "test"
    assert q["102"].reference_pages == ("deck-alpha_1", "deck-alpha_3")
    assert q["102"].query_type == "multi-hop" and q["101"].query_type == "single-hop"
    assert q["101"].meta["deck_url"].endswith("deck-alpha")
    assert corpus.manifest["build"]["format"] == "slidevqa"
    assert corpus.manifest["build"]["options"]["splits"] == ["test"]
    # Without --skip-bad-queries the question pointing to the missing slide is an error.
    bad_out = tmp_path / "bad"
    assert _run("--format", "slidevqa", str(slidevqa), "--out", str(bad_out), "--ocr", "never") == 2
    err = capsys.readouterr().err
    assert "'104'" in err and "missing" in err and not bad_out.exists()


def test_slidevqa_ocr_and_dataset_splits(slidevqa: Path, tmp_path: Path) -> None:
    report = ingest(SlideVQASource(slidevqa, splits=["train"]), tmp_path / "c", progress=False)
    assert report.pages == 5 and report.pages_ocr == 5
    corpus = Corpus(tmp_path / "c")
    assert "GAMMA" in corpus.pages["deck-gamma_5"].text
    (query,) = corpus.queries.values()
    assert query.split == "train" and query.reference_pages == ("deck-gamma_5",)
    assert query.evidence and query.evidence[0].page_id == "deck-gamma_5"


def test_slidevqa_layout_errors(tmp_path: Path) -> None:
    from datasets import Dataset

    (tmp_path / "data").mkdir()
    Dataset.from_dict({"deck_name": ["d"], "question": ["q"]}).to_parquet(
        str(tmp_path / "data" / "test-00000-of-00001.parquet")
    )
    with pytest.raises(ValueError, match=r"not the SlideVQA layout: missing columns"):
        SlideVQASource(tmp_path).documents(144)
    (tmp_path / "data" / "test-00000-of-00001.parquet").rename(tmp_path / "data" / "odd.parquet")
    with pytest.raises(ValueError, match="cannot tell its split"):
        SlideVQASource(tmp_path)
    with pytest.raises(ValueError, match="expected the folder"):
        SlideVQASource(tmp_path / "nowhere")


MMLB_ROWS = [
    {
        "doc_id": "PH_2016.06.08_Economy-Final.pdf",
        "doc_type": "Research report / Introduction",
        "question": "Which colour was chosen?",
        "answer": "Ultramarine 42",
        "evidence_pages": "[2]",
        "evidence_sources": "['Pure-text (Plain-text)']",
        "answer_format": "Str",
    },
    {
        "doc_id": "annual.pdf",
        "doc_type": "Financial report",
        "question": "What does the report cover?",
        "answer": "quarterly report",
        "evidence_pages": "[1, 3]",
        "evidence_sources": "['Table', 'Chart']",
        "answer_format": "Str",
    },
    {
        "doc_id": "annual.pdf",
        "doc_type": "Financial report",
        "question": "Who is the CEO's cat?",
        "answer": "Not answerable",
        "evidence_pages": "[]",
        "evidence_sources": "[]",
        "answer_format": "None",
    },
]


@pytest.fixture(scope="module")
def mmlongbench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hub") / "MMLongBench-Doc"
    return make_mmlongbench(root, MMLB_ROWS, ["PH_2016.06.08_Economy-Final.pdf", "annual.pdf"])


def test_mmlongbench(mmlongbench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mmlb"
    assert _run("--format", "mmlongbench", str(mmlongbench), "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert "unanswerable" in printed and "mmlongbench-0002" in printed
    corpus = Corpus(out)
    assert sorted(corpus.pages) == [
        "PH_2016.06.08_Economy-Final_1", "PH_2016.06.08_Economy-Final_2",
        "PH_2016.06.08_Economy-Final_3", "annual_1", "annual_2", "annual_3",
    ]  # fmt: skip
    q = corpus.queries
    assert sorted(q) == ["mmlongbench-0000", "mmlongbench-0001"]
    first = q["mmlongbench-0000"]
    assert first.reference_pages == ("PH_2016.06.08_Economy-Final_2",)
    assert first.split == "test" and first.source_type == "Pure-text (Plain-text)"
    assert first.meta["doc_type"] == "Research report / Introduction"
    assert first.evidence and first.evidence[0].text.startswith("Ultramarine 42")
    second = q["mmlongbench-0001"]
    assert second.reference_pages == ("annual_1", "annual_3")
    assert second.meta["evidence_sources"] == ["Table", "Chart"]
    assert second.query_type == "multi-hop"


def test_mmlongbench_options_and_github_layout(mmlongbench: Path, tmp_path: Path) -> None:
    source = MMLongBenchSource(mmlongbench, keep_unanswerable=True)
    ingest(source, tmp_path / "all", split="hash", ocr="never", progress=False)
    q = Corpus(tmp_path / "all").queries
    assert q["mmlongbench-0002"].reference_pages == () and q["mmlongbench-0002"].answers == (
        "Not answerable",
    )
    # The GitHub release: data/samples.json (same fields, as a JSON list) + data/documents/.
    gh = tmp_path / "gh"
    (gh / "data" / "documents").mkdir(parents=True)
    for pdf in (mmlongbench / "documents").iterdir():
        (gh / "data" / "documents" / pdf.name).write_bytes(pdf.read_bytes())
    (gh / "data" / "samples.json").write_text(json.dumps(MMLB_ROWS), encoding="utf-8")
    ingest(MMLongBenchSource(gh), tmp_path / "gh-corpus", ocr="never", progress=False)
    assert sorted(Corpus(tmp_path / "gh-corpus").queries) == [
        "mmlongbench-0000",
        "mmlongbench-0001",
    ]
    with pytest.raises(ValueError, match="no documents/ folder"):
        MMLongBenchSource(tmp_path / "all")


def test_vidoseek(tmp_path: Path) -> None:
    root = make_vidoseek(tmp_path / "ViDoSeek")
    out = tmp_path / "vido"
    assert _run("--format", "vidoseek", str(root), "--out", str(out), "--ocr", "never") == 0
    corpus = Corpus(out)
    assert sorted(corpus.pages) == [
        "alpha_report_1", "alpha_report_2", "alpha_report_3", "beta_report_1", "beta_report_2",
    ]  # fmt: skip
    q = corpus.queries
    assert q["v1"].reference_pages == ("alpha_report_2",) and q["v1"].split == "test"
    assert q["v2"].reference_pages == ("beta_report_1", "beta_report_2")
    assert q["v2"].query_type == "Multi-Hop"
    names = {Path(s["path"]).name for s in corpus.manifest["build"]["sources"]}
    assert "vidoseek.json" in names


def test_vidoseek_errors(tmp_path: Path) -> None:
    zipped = tmp_path / "zipped"
    zipped.mkdir()
    (zipped / "vidoseek.json").write_text('{"examples": []}')
    (zipped / "vidoseek_pdf_document.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    with pytest.raises(ValueError, match="unpack them first"):
        ViDoSeekSource(zipped)
    bare = tmp_path / "bare"
    bare.mkdir()
    make_text_pdf(bare / "a.pdf", pages=1)
    with pytest.raises(ValueError, match=r"no vidoseek\.json"):
        ViDoSeekSource(bare)


def test_format_argument_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="exactly one SOURCE"):
        make_source("slidevqa", [tmp_path, tmp_path])
    pdf = make_text_pdf(tmp_path / "a.pdf", pages=1)
    assert _run(str(pdf), "--subset", "test", "--out", str(tmp_path / "x")) == 2
    assert "--subset only applies" in capsys.readouterr().err


def test_slidevqa_with_an_images_list_column(tmp_path: Path) -> None:
    # Some re-uploads store a deck's slides as one list-of-images column instead of page_1..20.
    from datasets import Dataset, Features, Value
    from datasets import Image as HFImage
    from datasets import Sequence as HFSequence

    from tests.ingest_fixtures import png_bytes, text_image

    slides = [{"bytes": png_bytes(text_image([f"Slide {n}"], (200, 100), 20)), "path": None}
              for n in (1, 2, 3)]  # fmt: skip
    features = Features(
        {
            "deck_name": Value("string"),
            "images": HFSequence(HFImage()),
            "qa_id": Value("int64"),
            "question": Value("string"),
            "answer": Value("string"),
            "evidence_pages": HFSequence(Value("int64")),
        }
    )
    rows = {
        "deck_name": ["tiny"],
        "images": [slides],
        "qa_id": [7],
        "question": ["Which slide?"],
        "answer": ["Slide 2"],
        "evidence_pages": [[2]],
    }
    (tmp_path / "data").mkdir()
    Dataset.from_dict(rows, features=features).to_parquet(
        str(tmp_path / "data" / "val-00000-of-00001.parquet")
    )
    ingest(SlideVQASource(tmp_path), tmp_path / "c", ocr="never", progress=False)
    corpus = Corpus(tmp_path / "c")
    assert sorted(corpus.pages) == ["tiny_1", "tiny_2", "tiny_3"]
    assert corpus.queries["7"].reference_pages == ("tiny_2",) and corpus.queries["7"].split == "val"
