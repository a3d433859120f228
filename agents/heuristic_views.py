"""Reading tables and charts in a zoomed view: the part of the ``heuristic`` agent after a crop.

:class:`TableChartReading` is a mixin of :class:`agents.heuristic.HeuristicAgent`: it finds the tables
of a view from the detector's boxes, crops tightly onto the one under the matching title, reads a
cell by its column header and (faint) row label, and reads a chart's category and data labels.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from vrag_env.reading import (
    QuestionAnalysis,
    Segment,
    group_rows,
    match_score,
)
from vrag_env.rendering import ViewTransform
from vrag_env.types import BBox

from .heuristic_text import (
    _NUMBER,
    _category_score,
    _clip,
    _column_score,
    _cx,
    _fix_table_ocr,
    _fuzzy_score,
    _segments,
    _to_float,
)
from .ocr import OCRReader


class TableChartReading:
    """Table and chart reading for an agent with ``reader`` and the detector settings."""

    reader: OCRReader
    zoom_detect_side: int
    chart_detect_side: int

    def _table_blocks(self, image: np.ndarray, side: int) -> list[list[list[Segment]]]:
        """The tables of a view, from the detector's boxes: runs of rows of three or more boxes.

        Rows further apart than three row heights start a new table; tables of fewer than three
        rows are dropped. Each table is a list of rows, its header row first.
        """
        boxes = self.reader.detect(image, side)
        rows = [r for r in group_rows([Segment("", b) for b in boxes]) if len(r) >= 3]
        blocks: list[list[list[Segment]]] = []
        for row in rows:
            prev = blocks[-1][-1] if blocks else None
            gap = row[0].box[1] - max(s.box[3] for s in prev) if prev is not None else 0.0
            if prev is not None and gap < 3.0 * max(s.height for s in prev):
                blocks[-1].append(row)
            else:
                blocks.append([row])
        return [b for b in blocks if len(b) >= 3]

    def _table_region(
        self, image: np.ndarray, segments: list[Segment], qa: QuestionAnalysis, view: dict[str, Any]
    ) -> BBox | None:
        """A tight crop onto the table whose title matches the question best, or ``None``.

        Small-print tables are unreadable in the page view, but their titles are not: the crop
        holds just the table (header row to last row, full width), so the env renders it as large
        as the view allows. ``None`` when the view shows no table, or several and no title matches.
        """
        blocks = self._table_blocks(image, 736)
        if not blocks:
            return None
        best: tuple[float, int, float] | None = None
        for i, block in enumerate(blocks):
            top = min(s.box[1] for s in block[0])
            above = [s for s in segments if s.box[3] <= top + 1 and top - s.box[3] < 4 * s.height]
            title = max(above, key=lambda s: s.box[3], default=None)
            score = match_score(qa, title.text) if title is not None else 0.0
            if best is None or score > best[0]:
                best = (score, i, title.box[0] if title is not None else 1e9)
        assert best is not None
        if best[0] <= 0 and len(blocks) > 1:
            return None
        cells = [s.box for row in blocks[best[1]] for s in row]
        # Row labels are often too faint to be detected: the table starts where its title does.
        margin = min((s.box[0] for s in segments), default=1e9)
        left = min(min(c[0] for c in cells), best[2] if best[2] < 1e9 else margin)
        box = (
            left - 2,
            min(c[1] for c in cells) - 2,
            max(c[2] for c in cells) + 2,
            max(c[3] for c in cells) + 2,
        )
        return _clip(box, ViewTransform.from_info(view).content_box)

    def _table_answer(self, image: np.ndarray, qa: QuestionAnalysis) -> str | None:
        """Read the cell the question asks for from a view showing a table, or ``None``.

        The column is chosen by the header that best matches the question (the quarter it names,
        else the full-year column of its year), the row by the best-matching row label. Row labels
        are often small, light text the detector misses, so the strip left of the first value
        column is read instead of a detected box, and matched letter-wise.
        """
        blocks = self._table_blocks(image, self.zoom_detect_side)
        if not blocks:
            return None
        block = max(blocks, key=len)
        boxes = [s.box for row in block for s in row]
        left = min(b[0] for b in boxes)
        values = [b for b in boxes if b[0] > left + 3 * (b[3] - b[1])]
        if not values:
            return None
        xcut = min(b[0] for b in values) - 3
        header = [s for s in block[0] if s.box[0] > xcut]
        body = block[1:]
        strips = [(left, r[-1].box[1], xcut, r[-1].box[3]) for r in body]
        heads = self.reader.recognize(image, [s.box for s in header])
        labels = self.reader.recognize(image, strips, min_score=0.0)
        if not heads or not labels:
            return None
        col = max(heads, key=lambda t: _column_score(qa, _fix_table_ocr(t.text)))
        if _column_score(qa, _fix_table_ocr(col.text)) <= 0:
            return None
        scored = [
            (match_score(qa, t.text) + _fuzzy_score(qa, t.text), -i) for i, t in enumerate(labels)
        ]
        score, neg = max(scored)
        i = -neg
        if score <= 0:
            if not re.search(r"\btotal\b", qa.question, re.I):
                return None
            i = len(body) - 1
        row = [s for s in body[i] if s.box[0] > xcut]
        cx = (col.box[0] + col.box[2]) / 2
        cell = min(row, key=lambda s: abs((s.box[0] + s.box[2]) / 2 - cx), default=None)
        if cell is None:
            return None
        read = self.reader.recognize(image, [cell.box])
        found = _NUMBER.search(read[0].text.replace(" ", "")) if read else None
        return found.group() if found else None

    def _chart_answer(self, image: np.ndarray, qa: QuestionAnalysis) -> str | None:
        """Read a chart in a zoomed view: its category axis labels and its data labels.

        The category labels are the lowest row of three or more mostly alphabetic boxes; each data
        label (a number above that row, right of the value axis) belongs to the category nearest
        to it horizontally. A question naming a category (``in May``, ``of Diagnostics``) gets
        that category's value; one asking for the highest or lowest gets the category whose value
        is the largest or smallest. ``None`` when the view shows no such chart.
        """
        if len(self.reader.detect(image, self.zoom_detect_side)) > 40:
            return None  # a page of text, not a chart
        # Chart labels are small and light: detect them at a higher resolution.
        segs = _segments(self.reader.read(image, side=self.chart_detect_side))
        rows = group_rows(segs)
        axis = None
        for row in rows:
            words = [s for s in row if re.fullmatch(r"[A-Za-z][A-Za-z &.-]*", s.text)]
            if len(words) >= 3 and len(words) >= 0.7 * len(row):
                axis = words
        if axis is None:
            return None
        axis.sort(key=lambda s: s.box[0])
        top = min(s.box[1] for s in axis)
        spacing = (_cx(axis[-1]) - _cx(axis[0])) / max(1, len(axis) - 1)
        values: dict[int, list[Segment]] = {}
        for s in segs:
            m = _NUMBER.fullmatch(s.text.replace(" ", ""))
            if m is None or s.box[3] > top or _cx(s) < _cx(axis[0]) - 0.5 * spacing:
                continue
            k = min(range(len(axis)), key=lambda j: abs(_cx(axis[j]) - _cx(s)))
            if abs(_cx(axis[k]) - _cx(s)) < 0.5 * spacing:
                values.setdefault(k, []).append(s)
        if not values:
            return None
        # A category the question names: its value.
        named = [(_category_score(qa, a.text), j) for j, a in enumerate(axis)]
        score, j = max(named)
        if score > 0 and j in values and qa.extreme == 0:
            return min(values[j], key=lambda s: abs(_cx(s) - _cx(axis[j]))).text
        if qa.extreme != 0:
            number = {j: _to_float(vs[0].text) for j, vs in values.items()}
            number = {j: v for j, v in number.items() if v is not None}
            if number:
                pick = (max if qa.extreme > 0 else min)(number, key=lambda j: number[j])
                return axis[pick].text
        return None
