"""Reading small print the detector missed: notes and captions found by their ink, then cropped.

:class:`SmallPrintReading` is a mixin of :class:`agents.heuristic.HeuristicAgent`: when no legible
line holds the question's specific words, the fact is in print too small to read, so the agent
crops onto the block of small print whose letters spell most of them.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from vrag_env.reading import QuestionAnalysis, Segment, compact, matched_terms, tokenize
from vrag_env.rendering import ViewTransform
from vrag_env.types import BBox

from .heuristic_text import _clip, _pad, index_runs
from .ocr import OCRReader

__all__ = ["SmallPrintReading", "small_print_blocks"]


class SmallPrintReading:
    """Mixin: a crop onto a block of small print.

    The agent class provides ``reader``, ``min_box_px`` and ``_chart_axis`` (from
    :class:`agents.heuristic_charts.ChartReading`).
    """

    reader: OCRReader
    min_box_px: float

    def _small_print_region(
        self, image: np.ndarray, segments: list[Segment], qa: QuestionAnalysis, view: dict[str, Any]
    ) -> BBox | None:
        """A crop onto a block of small print (notes, captions) when legible text cannot answer.

        The question's specific words are its content terms minus names (capitalised words:
        the company, a region) and minus years and document words. When no legible line (boxes
        at least ``min_box_px`` tall) holds a third of them and the view shows no chart, the fact
        is in print too small to read: the blocks of consecutive one- or two-box rows of small
        print are read roughly, and the one whose letters spell most specific words (then the
        longest) is cropped; the running footer at the very bottom is never chosen. ``None``
        otherwise.
        """
        content = ViewTransform.from_info(view).content_box
        words = re.findall(r"[A-Za-z][\w'’/-]*", qa.question)[1:]
        names = set(tokenize(" ".join(w for w in words if w[0].isupper())))
        specific = {
            t: w for t, w in qa.terms.items() if w >= 1.0 and t not in names and not t.isdigit()
        }
        if not specific:
            return None
        total = sum(specific.values())
        legible = [s for s in segments if s.height >= self.min_box_px]
        found = max(
            (sum(specific[t] for t in matched_terms(qa, s.text) if t in specific) for s in legible),
            default=0.0,
        )
        if found >= total / 3:
            return None
        blocks = small_print_blocks(image, self.reader.detect(image, 736), content, self.min_box_px)
        chart_axis = self._chart_axis  # type: ignore[attr-defined]
        if not blocks or chart_axis(image, qa) is not None:
            return None

        def spelled(block: list[BBox]) -> float:
            read = self.reader.recognize(image, block, 0.0)
            text = compact(" ".join(t.text for t in read))
            return sum(w for t, w in specific.items() if len(t) >= 4 and t in text)

        block = max(blocks, key=lambda b: (spelled(b), len(b)))
        h = max(b[3] - b[1] for b in block)
        box = (
            min(b[0] for b in block),
            min(b[1] for b in block),
            max(b[2] for b in block),
            max(b[3] for b in block),
        )
        return _clip(_pad(box, 2.0 * h, 1.0 * h), content)


def small_print_blocks(
    image: np.ndarray, detected: list[BBox], content: BBox, min_box_px: float
) -> list[list[BBox]]:
    """Blocks of lines of small print the detector missed, top to bottom (each a list of lines).

    Ink (dark pixels) outside every detected box is grouped into horizontal bands; a band shorter
    than ``min_box_px`` whose ink runs on without a column-sized gap is a line of small print
    (a table row of missed cells has wide gaps between its columns). Lines less than two line
    heights apart form a block; a block in the top or bottom 6% of the content (the running
    header and footer) is dropped.
    """
    x1, y1, x2, y2 = (int(v) for v in content)
    grey = np.asarray(image[y1:y2, x1:x2], dtype=np.int16).mean(axis=2)
    ink = grey < 170
    for b in detected:
        ink[
            max(0, int(b[1]) - y1 - 2) : max(0, int(b[3]) - y1 + 2),
            max(0, int(b[0]) - x1 - 2) : max(0, int(b[2]) - x1 + 2),
        ] = False
    rows = np.flatnonzero(ink.sum(axis=1) >= 3)
    bands = index_runs(rows, 2)
    width = x2 - x1
    lines: list[BBox] = []
    for top, bottom in bands:
        height = bottom - top + 1
        if not 3 <= height < min_box_px:
            continue
        cols = np.flatnonzero(ink[top : bottom + 1].any(axis=0))
        if len(cols) < 4 * height or np.diff(cols).max(initial=0) > 0.06 * width:
            continue
        lines.append((x1 + cols[0], y1 + top, x1 + cols[-1] + 1, y1 + bottom + 1))
    blocks: list[list[BBox]] = []
    for line in lines:
        if blocks and line[1] - blocks[-1][-1][3] < 2 * (line[3] - line[1]):
            blocks[-1].append(line)
        else:
            blocks.append([line])
    header, footer = y1 + 0.06 * (y2 - y1), y2 - 0.06 * (y2 - y1)
    return [b for b in blocks if header < b[0][1] < footer]
