"""The real-document track: sources ingested into the cache on first use, keyed by their bytes."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest
from ingest_fixtures import example, make_text_pdf, write_rag_json

import vrag_env  # noqa: F401
from vrag_env.corpora.corpus import Corpus
from vrag_env.corpora.realdocs import SOURCE_ENV, realdocs_corpus, source_dir, store_needs_zoom


@pytest.fixture()
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "realdocs"
    (folder / "pdf").mkdir(parents=True)
    make_text_pdf(folder / "pdf" / "manual.pdf")
    q = example("r1", "manual.pdf", [2], "Ultramarine 42", split="test",
                evidence=[{"page": 2, "box_pt": [72, 120, 260, 136], "text": "Ultramarine 42"}])  # fmt: skip
    write_rag_json(folder / "questions.json", [q])
    monkeypatch.setenv(SOURCE_ENV, str(folder))
    monkeypatch.setenv("VRAG_ENV_CACHE", str(tmp_path / "cache"))
    return folder


def test_first_use_ingests_and_later_uses_reuse(source: Path, tmp_path: Path) -> None:
    first = realdocs_corpus()
    assert first.parent == tmp_path / "cache"
    corpus = Corpus(first)
    (query,) = corpus.queries.values()
    assert query.reference_pages == ("manual_2",) and query.evidence[0].box[0] == pytest.approx(144)
    mtime = (first / "manifest.json").stat().st_mtime_ns
    assert realdocs_corpus() == first and (first / "manifest.json").stat().st_mtime_ns == mtime
    # Measured labels go into the source file, which gives a new corpus carrying them.
    store_needs_zoom({"r1": True})
    second = realdocs_corpus()
    assert second != first and Corpus(second).queries["r1"].needs_zoom is True
    env = gym.make("VRAG-v0", corpus="realdocs", split="test")
    obs, info = env.reset(seed=0)
    assert obs["question"] == "Question r1?"
    assert env.unwrapped.corpus.root == second.resolve()


def test_missing_sources_name_the_folder_and_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SOURCE_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=r"nowhere.*VRAG_REALDOCS"):
        source_dir()


SHIPPED = Path(__file__).resolve().parents[1] / "data" / "realdocs"


@pytest.fixture(scope="module")
def shipped_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The shipped track, ingested from scratch into a fresh cache."""
    if not (SHIPPED / "questions.json").is_file():
        pytest.skip("no data/realdocs in this checkout")
    cache = tmp_path_factory.mktemp("realdocs-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(SOURCE_ENV, raising=False)
        return Corpus(realdocs_corpus(cache))


def test_rebuilt_corpus_matches_the_specs(shipped_corpus: Corpus) -> None:
    from benchmarks.specs import get_benchmark
    from vrag_env.corpora.realdocs import source_key

    examples = json.loads((SHIPPED / "questions.json").read_text(encoding="utf-8"))["examples"]
    assert len(shipped_corpus.queries) == len(examples) >= 200
    assert shipped_corpus.root.name.endswith(source_key(SHIPPED))
    for name, split in (("docs-test", "test"), ("docs-dev", "val")):
        bench = get_benchmark(name)
        bench.check_fresh()  # the sources hash to the fingerprint the spec records
        assert sorted(bench.question_ids) == sorted(q.uid for q in shipped_corpus.split(split))


def test_licences_cover_every_document() -> None:
    if not (SHIPPED / "LICENSES.md").is_file():
        pytest.skip("no data/realdocs in this checkout")
    text = (SHIPPED / "LICENSES.md").read_text(encoding="utf-8")
    for pdf in sorted((SHIPPED / "pdf").glob("*.pdf")):
        section = text.split(f"### {pdf.name}", 1)
        assert len(section) == 2, f"{pdf.name} has no section in LICENSES.md"
        body = section[1].split("\n### ", 1)[0]
        assert "Licen" in body and "package" in body.lower(), pdf.name


def _core(text: str) -> str:
    """Letters, digits and decimal points only, lower case (OCR's quotes and spaces vary)."""
    return "".join(c for c in text.lower() if c.isalnum() or c == ".")


def test_sample_answers_are_inside_their_evidence_boxes_by_ocr(shipped_corpus: Corpus) -> None:
    """RapidOCR on a zoomed view of each sampled evidence box reads the printed text."""
    pytest.importorskip("rapidocr_onnxruntime")
    from vrag_env.corpora.legibility import rapidocr_lines, view_image

    ocr = rapidocr_lines()
    queries = sorted(shipped_corpus.queries.values(), key=lambda q: q.uid)[::25]
    missed = []
    for q in queries:
        for ev in q.evidence:
            x1, y1, x2, y2 = ev.box
            h = y2 - y1
            region = (x1 - 2 * h, y1 - h, x2 + 2 * h, y2 + h)
            lines = ocr(view_image(shipped_corpus.page_image(ev.page_id), region))
            if _core(ev.text or q.answers[0]) not in _core(" ".join(lines)):
                missed.append((q.uid, ev.text, lines))
    assert len(queries) >= 9 and len(missed) <= 1, missed


def test_shipped_sources_are_complete() -> None:
    """The repository's data/realdocs: every question's PDF exists and every box is on its page."""
    pymupdf = pytest.importorskip("pymupdf")
    folder = Path(__file__).resolve().parents[1] / "data" / "realdocs"
    if not (folder / "questions.json").is_file():
        pytest.skip("no data/realdocs in this checkout")
    examples = json.loads((folder / "questions.json").read_text(encoding="utf-8"))["examples"]
    assert len({e["uid"] for e in examples}) == len(examples)
    for e in examples:
        meta = e["meta_info"]
        with pymupdf.open(folder / "pdf" / meta["file_name"]) as doc:
            for ev in meta["evidence"]:
                page = doc[ev["page"] - 1]
                x1, y1, x2, y2 = ev["box_pt"]
                assert (
                    0 <= x1 < x2 <= page.rect.width + 1 and 0 <= y1 < y2 <= page.rect.height + 1
                ), e["uid"]
