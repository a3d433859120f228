"""Query files may give evidence boxes (PDF points or pixels) and labels; ingest keeps them."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest
from ingest_fixtures import example, make_text_pdf, write_rag_json

from vrag_env.corpora.corpus import Corpus
from vrag_env.corpora.ingest import FileSource, ingest


def _answer_box_pt(pdf: Path) -> list[float]:
    """The PDF-point box of the word 'Ultramarine' on page 2, read back with PyMuPDF."""
    with pymupdf.open(pdf) as doc:
        words = doc[1].get_text("words")
    x1, y1, x2, y2 = next(w[:4] for w in words if w[4] == "Ultramarine")
    return [x1, y1, x2, y2]


def test_box_pt_is_scaled_to_page_pixels_and_labels_are_kept(tmp_path: Path) -> None:
    pdf = make_text_pdf(tmp_path / "report.pdf")
    box = _answer_box_pt(pdf)
    q = example(
        "q1",
        "report.pdf",
        [2],
        "Ultramarine",
        evidence=[{"page": 2, "box_pt": box, "text": "Ultramarine"}],
        needs_zoom=True,
        small_print=False,
    )
    out = tmp_path / "corpus"
    ingest(FileSource([pdf]), out, queries=[write_rag_json(tmp_path / "q.json", [q])],
           ocr="never", dpi=144, progress=False, workers=1)  # fmt: skip
    corpus = Corpus(out)
    query = corpus.queries["q1"]
    assert query.needs_zoom is True and query.small_print is False
    (ev,) = query.evidence
    assert ev.page_id == "report_2" and ev.text == "Ultramarine"
    assert ev.box == pytest.approx([v * 2 for v in box], abs=0.06)  # 2 px per point, 0.1 px JSON
    # The scaled box lies on the rendered word: the page's own (pixel) text layer agrees.
    word = next(w for w in corpus.pages["report_2"].words if w.text == "Ultramarine")
    assert word.box == pytest.approx(ev.box, abs=2.0)


def test_bad_evidence_names_the_query_and_writes_nothing(tmp_path: Path) -> None:
    pdf = make_text_pdf(tmp_path / "report.pdf")
    q = example(
        "q9", "report.pdf", [2], "Ultramarine", evidence=[{"page": 3, "box_pt": [0, 0, 5, 5]}]
    )
    out = tmp_path / "corpus"
    with pytest.raises(ValueError, match=r"q9.*page 3.*not one of the reference pages"):
        ingest(FileSource([pdf]), out, queries=[write_rag_json(tmp_path / "q.json", [q])],
               ocr="never", progress=False, workers=1)  # fmt: skip
    assert not out.exists()
