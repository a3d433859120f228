"""Measured legibility: does OCR read a question's evidence on the whole page, or only after a crop?

A question *needs zoom* when RapidOCR, run on the whole-page view of each reference page (the view
an agent gets first), does not read the question's evidence, and does read it on the view of the
crop an oracle makes onto the evidence. This replaces any geometric threshold with a measurement.

**The "reads" rule.** The needles of a page are the printed texts of the question's evidence boxes
on that page (for single-hop questions: the answer). A needle is *read* in a view when its
normalised form (NFKC, lower case, all whitespace removed) occurs in the normalised text of one OCR
line of the view, and, if the needle starts or ends with a digit, the match is not glued to a
further digit, directly or across a ``,`` or ``.`` (so ``"234.5"`` is not read inside
``"1,234.5"``). Removing whitespace makes the rule
tolerant to the spacing OCR invents or drops (``"1, 234"``, ``"Ashby KerrLLP"``). A view reads a
question's evidence on a page when it reads every needle of that page; a question is read when all
of its reference pages are.

**The views.** :func:`view_image` is the one place that turns a page region into the pixels an
agent sees (the env's pixel budget and zoom cap, aspect kept, no letterbox). :func:`oracle_crop`
reproduces the crop the oracle agent makes (evidence box, widened leftwards to its row label,
120 x 60 page pixels of context) and the env's padding of a crop (10% per side, at least 32 px).
"""

from __future__ import annotations

import dataclasses
import queue
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from vrag_env.rendering import fit_view, render_view
from vrag_env.types import BBox, Page, PageId, Query

MAX_VIEW_PIXELS = 512 * 28 * 28
"""Pixel budget of one observation view (the env's default)."""

MAX_ZOOM = 2.0
"""Largest enlargement of a crop (the env's default)."""

CANVAS = (2048, 2048)
"""Observation canvas assumed while measuring: large enough never to limit a view."""

ORACLE_CONTEXT = 120.0
"""Page pixels of context the oracle keeps left and right of the evidence (half above/below)."""

CROP_PADDING = 0.1
"""The env pads a crop by this fraction of its size on each side."""

MIN_CROP = 32.0
"""The env grows a crop to at least this many page pixels per side."""

OcrFn = Callable[[np.ndarray], list[str]]
"""An OCR function: an ``(H, W, 3)`` uint8 RGB image to the text of each detected line."""


def view_image(page: Image.Image, region: BBox | None = None) -> np.ndarray:
    """The pixels an agent sees of ``region`` of ``page`` (the whole page when ``None``).

    Scale ``min(max_zoom, sqrt(max_view_pixels / area))``, aspect kept, content only (no letterbox).
    """
    if region is None:
        region = (0.0, 0.0, float(page.width), float(page.height))
    t = fit_view(region, view_size=CANVAS, max_view_pixels=MAX_VIEW_PIXELS, max_zoom=MAX_ZOOM)
    t = dataclasses.replace(t, offset_x=0, offset_y=0)
    return render_view(page, t, (t.height, t.width))


def _pad(box: BBox, width: int, height: int) -> BBox:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    x1, x2 = x1 - CROP_PADDING * w, x2 + CROP_PADDING * w
    y1, y2 = y1 - CROP_PADDING * h, y2 + CROP_PADDING * h
    if x2 - x1 < MIN_CROP:
        cx = (x1 + x2) / 2
        x1, x2 = cx - MIN_CROP / 2, cx + MIN_CROP / 2
    if y2 - y1 < MIN_CROP:
        cy = (y1 + y2) / 2
        y1, y2 = cy - MIN_CROP / 2, cy + MIN_CROP / 2
    return (max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2))


def oracle_crop(query: Query, page: Page) -> BBox | None:
    """The page region the oracle's crop shows for ``query`` on ``page`` (``None``: no evidence).

    The union of the evidence boxes on the page, widened leftwards to the first word of its printed
    line while the view stays wide enough to read it, plus the oracle's context, padded as the env
    pads a crop.
    """
    boxes = [e.box for e in query.evidence if e.page_id == page.page_id]
    if not boxes:
        return None
    x1, y1 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x2, y2 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    line = [w.box[0] for w in page.words if y1 <= (w.box[1] + w.box[3]) / 2 <= y2]
    max_width = 640 * (y2 - y1) / 15.0 - 2 * ORACLE_CONTEXT
    if line and max_width > x2 - x1:
        x1 = max(min(min(line), x1), x2 - max_width, 0.0)
    c = ORACLE_CONTEXT
    box = (
        max(0.0, x1 - c),
        max(0.0, y1 - c / 2),
        min(page.width, x2 + c),
        min(page.height, y2 + c / 2),
    )
    return _pad(box, page.width, page.height)


def normalise(text: str) -> str:
    """NFKC, lower case, whitespace removed."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).lower())


def _digit_at(text: str, i: int, step: int) -> bool:
    """Whether a digit continues the number at ``text[i]`` (directly, or after a ``,``/``.``)."""
    if not 0 <= i < len(text):
        return False
    if text[i].isdigit():
        return True
    j = i + step
    return text[i] in ",." and 0 <= j < len(text) and text[j].isdigit()


def reads(needle: str, lines: Iterable[str]) -> bool:
    """Whether an OCR result (its line texts) reads ``needle`` (see the module docstring)."""
    n = normalise(needle)
    if not n:
        return True
    for line in lines:
        text = normalise(line)
        start = text.find(n)
        while start >= 0:
            end = start + len(n)
            glued_left = n[0].isdigit() and _digit_at(text, start - 1, -1)
            glued_right = n[-1].isdigit() and _digit_at(text, end, 1)
            if not (glued_left or glued_right):
                return True
            start = text.find(n, start + 1)
    return False


def needles(query: Query, page_id: PageId) -> list[str]:
    """The texts that must be read on ``page_id`` (evidence texts, else the answers)."""
    texts = [e.text for e in query.evidence if e.page_id == page_id and e.text.strip()]
    if texts:
        return texts
    return [query.answers[0]] if len(query.reference_pages) == 1 and query.answers else []


_LEGIBILITY_ENGINES: queue.SimpleQueue[Any] = queue.SimpleQueue()
"""Idle RapidOCR engines of the legibility meter (its own: RapidOCR's default detector size and
recognition padding, the settings every committed validity report was measured with, independent
of the ingest OCR's speed settings in :mod:`vrag_env.corpora.ocr`)."""


def rapidocr_lines() -> OcrFn:
    """An :data:`OcrFn` backed by RapidOCR (raises ``OCRUnavailableError`` when missing)."""
    from vrag_env.corpora.ocr import INSTALL_HINT, OCRUnavailableError

    def run(image: np.ndarray) -> list[str]:
        try:
            engine = _LEGIBILITY_ENGINES.get_nowait()
        except queue.Empty:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:  # pragma: no cover - depends on the installation
                raise OCRUnavailableError(INSTALL_HINT) from exc
            from vrag_env.corpora.onnx_arena import memory_arena

            with memory_arena():  # the same outputs, a faster detector
                engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1, rec_batch_num=1)
        try:
            # No angle classifier: rendered pages have no rotated text, and it doubles the cost.
            result, _ = engine(np.ascontiguousarray(image[:, :, ::-1]), use_cls=False)
        finally:
            _LEGIBILITY_ENGINES.put(engine)
        return [str(r[1]) for r in result or []]

    return run


@dataclass(frozen=True)
class Legibility:
    """What OCR reads of one question.

    Attributes:
        uid: The question id.
        page_reads: OCR reads the evidence on the whole-page view of every reference page.
        crop_reads: OCR reads the evidence on the oracle's crop of every reference page.
    """

    uid: str
    page_reads: bool
    crop_reads: bool

    @property
    def needs_zoom(self) -> bool:
        """Unreadable on the whole page, readable on the crop."""
        return not self.page_reads and self.crop_reads


class LegibilityMeter:
    """Measures questions of one corpus, caching the OCR of whole-page views.

    Args:
        pages: The corpus pages by id.
        image: Loads a page image by id.
        ocr: The OCR function (default: RapidOCR).
    """

    def __init__(
        self,
        pages: dict[PageId, Page],
        image: Callable[[PageId], Image.Image],
        ocr: OcrFn | None = None,
    ) -> None:
        self.pages = pages
        self.image = image
        self.ocr = ocr or rapidocr_lines()
        self._page_lines: dict[PageId, list[str]] = {}

    def page_lines(self, page_id: PageId) -> list[str]:
        """OCR lines of the whole-page view (cached)."""
        if page_id not in self._page_lines:
            self._page_lines[page_id] = self.ocr(view_image(self.image(page_id)))
        return self._page_lines[page_id]

    def crop_lines(self, query: Query, page_id: PageId) -> list[str]:
        """OCR lines of the oracle's crop of ``query`` on ``page_id``."""
        region = oracle_crop(query, self.pages[page_id])
        return self.ocr(view_image(self.image(page_id), region)) if region else []

    def measure(self, query: Query) -> Legibility:
        """Measure one question (crops are OCRed only when the whole page does not read it)."""
        page_ok = crop_ok = True
        for pid in query.reference_pages:
            wanted = needles(query, pid)
            if all(reads(n, self.page_lines(pid)) for n in wanted):
                continue
            page_ok = False
            lines = self.crop_lines(query, pid)
            if not all(reads(n, lines) for n in wanted):
                crop_ok = False
        # A question read on the whole page counts as read on the crop (a larger view of it).
        return Legibility(query.uid, page_ok, crop_ok)

    def measure_all(
        self,
        queries: Sequence[Query],
        progress: bool = False,
        on_result: Callable[[list[Legibility]], None] | None = None,
    ) -> list[Legibility]:
        """Measure many questions (whole-page OCR is shared between questions of a page).

        Args:
            queries: The questions.
            progress: Show a progress bar and one line per question.
            on_result: Called with the results so far after each question (for checkpoints).
        """
        from tqdm.auto import tqdm

        results: list[Legibility] = []
        for q in tqdm(queries, disable=not progress, desc="legibility"):
            r = self.measure(q)
            results.append(r)
            if progress:
                tqdm.write(
                    f"{q.uid} {q.meta.get('template', '')} page={r.page_reads} crop={r.crop_reads}"
                )
            if on_result is not None:
                on_result(results)
        return results
