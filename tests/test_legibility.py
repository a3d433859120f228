"""Legibility measured with real OCR (RapidOCR) on real rendered views of the tiny corpus.

These replace tests that recomputed a geometric threshold: here the pixels are read.
"""

from __future__ import annotations

import pytest

from vrag_env.corpora.corpus import Corpus
from vrag_env.corpora.legibility import LegibilityMeter, oracle_crop, reads, view_image
from vrag_env.types import Query

pytest.importorskip("rapidocr_onnxruntime")


def test_reads_tolerates_spacing_and_refuses_glued_digits() -> None:
    assert reads("1,234.5", ["Revenue 1, 234.5 up"])
    assert reads("Ashby Kerr LLP", ["audited by AshbyKerr LLP."])
    assert not reads("234.5", ["1,234.5"])
    assert not reads("12.5", ["112.50"])
    assert reads("Q3", ["q3 revenue"])


def test_view_keeps_the_aspect_and_the_pixel_budget(tiny_corpus: Corpus) -> None:
    page_id = next(iter(tiny_corpus.pages))
    view = view_image(tiny_corpus.page_image(page_id))
    height, width, _ = view.shape
    assert height * width <= 512 * 28 * 28
    assert abs(width / height - 1000 / 1400) < 0.01


def _first(corpus: Corpus, template: str) -> Query:
    return next(
        q for q in corpus.queries.values() if q.meta["template"] == template and q.split == "test"
    )


@pytest.fixture(scope="module")
def meter(tiny_corpus: Corpus) -> LegibilityMeter:
    return LegibilityMeter(tiny_corpus.pages, tiny_corpus.page_image)


def test_table_cells_need_a_zoom(tiny_corpus: Corpus, meter: LegibilityMeter) -> None:
    # Four quarterly table cells of the test split: OCR reads every one on the oracle's crop, and
    # most of them not on the whole page (a short number may still be read, or printed elsewhere).
    sample = [
        q
        for q in tiny_corpus.split("test")
        if q.meta["template"] in ("table.revenue_quarter", "table.opex_quarter")
    ][:4]
    assert len(sample) == 4
    results = [meter.measure(q) for q in sample]
    assert all(r.crop_reads for r in results), results
    assert sum(r.needs_zoom for r in results) >= 3, results


def test_body_text_is_read_without_a_zoom(tiny_corpus: Corpus, meter: LegibilityMeter) -> None:
    q = _first(tiny_corpus, "text.founded")
    result = meter.measure(q)
    assert result.page_reads and not result.needs_zoom, (q.uid, q.answers)


def test_oracle_crop_contains_the_evidence(tiny_corpus: Corpus) -> None:
    q = _first(tiny_corpus, "table.revenue_quarter")
    page = tiny_corpus.pages[q.reference_pages[0]]
    region = oracle_crop(q, page)
    assert region is not None
    box = q.evidence[0].box
    assert region[0] <= box[0] and region[1] <= box[1]
    assert region[2] >= box[2] and region[3] >= box[3]
