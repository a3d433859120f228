"""Reading a chart in a zoomed view: the ``heuristic`` agent's chart steps after the first crop.

A chart's data labels are small print: in a view that shows the whole chart they are a few pixels
tall and the detector misses most of them, while its category axis (``Jan``, ``Feb``, ...,
``Solar``, ``Hydro``) is read reliably. So :class:`ChartReading`

* finds the category axis (:meth:`ChartReading._chart_axis`);
* answers a highest/lowest question from the chart's *geometry*: the top of the coloured mark
  (bar or line marker) above each category; a higher mark is a larger value, so no data label
  needs to be read (:func:`mark_tops`);
* for a question naming a category, crops a narrow column around that category, so the env
  renders its data label at up to its maximum zoom, and reads the number nearest to the column's
  centre (:meth:`ChartReading._chart_column_value`).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from vrag_env.reading import QuestionAnalysis, Segment, group_rows, match_score
from vrag_env.rendering import ViewTransform
from vrag_env.types import BBox

from .heuristic_text import _NUMBER, _category_score, _clip, _cx, _segments, index_runs
from .ocr import OCRReader

_CATEGORY = re.compile(r"[A-Za-z][A-Za-z &.-]*")

MIN_SATURATION = 60
"""A pixel whose channels differ by at least this much is part of a coloured mark (text and grid
lines are grey)."""


def mark_tops(image: np.ndarray, xs: list[float], top: float, bottom: float) -> list[float | None]:
    """The top edge of the coloured mark at each x between ``top`` and ``bottom``, or ``None``.

    Bars and line markers are drawn in a saturated colour; labels, ticks and grid lines are grey.
    The top of the coloured pixels in a 5-pixel column at a category's centre is the height of its
    value (smaller y: larger value).

    Args:
        image: An RGB view, ``(H, W, 3)`` uint8.
        xs: Column centres (view pixels).
        top: The plot's upper edge (view pixels), e.g. the bottom of the chart title.
        bottom: The plot's lower edge, e.g. the top of the category labels.

    Returns:
        One y (view pixels) per x; ``None`` where the column shows no colour.

    Example:
        >>> img = np.full((100, 50, 3), 255, np.uint8); img[40:90, 20:30] = (30, 80, 160)
        >>> mark_tops(img, [25.0, 5.0], 0, 95)
        [40.0, None]
    """
    h, w = image.shape[:2]
    y1, y2 = max(0, int(top)), min(h, int(bottom))
    rgb = image[y1:y2].astype(np.int16)
    colour = (rgb.max(axis=2) - rgb.min(axis=2)) >= MIN_SATURATION
    out: list[float | None] = []
    for x in xs:
        a, b = max(0, int(x) - 2), min(w, int(x) + 3)
        rows = np.flatnonzero(colour[:, a:b].any(axis=1))
        out.append(float(y1 + rows[0]) if len(rows) else None)
    return out


class ChartReading:
    """Chart reading for an agent with ``reader`` and ``chart_detect_side``."""

    reader: OCRReader
    chart_detect_side: int

    def _chart_axis(
        self, image: np.ndarray, qa: QuestionAnalysis
    ) -> tuple[list[Segment], float] | None:
        """A chart's category labels in a view, left to right, and the top of its plot area.

        An axis is a row of two or more mostly alphabetic boxes. Of several, the one under the
        chart title that matches the question best (then: holding a category the question names;
        then: the lowest). The plot's top is the bottom of that title (a line taller than the
        labels), else the view's top. Labels the detector missed are recovered from the bars:
        each coloured run just above the axis is a category, read from the strip below it
        (:meth:`_complete_axis`). ``None`` when the view shows no category axis or is a page of
        text.
        """
        if len(self.reader.detect(image, 736)) > 40:
            return None
        segs = _segments(self.reader.read(image, side=self.chart_detect_side))
        best: tuple[tuple[float, float, float], list[Segment], float] | None = None
        for row in group_rows(segs):
            words = sorted((s for s in row if _CATEGORY.fullmatch(s.text)), key=lambda s: s.box[0])
            if len(words) < 2 or len(words) < 0.7 * len(row):
                continue
            label_h = float(np.median([s.height for s in words]))
            titles = [
                s
                for s in segs
                if s.box[3] <= words[0].box[1] and s.height >= 1.4 * label_h and len(s.text) >= 8
            ]
            title = max(titles, key=lambda s: s.box[3], default=None)
            key = (
                match_score(qa, title.text) if title is not None else 0.0,
                max(_category_score(qa, s.text) for s in words),
                words[0].box[3],
            )
            if best is None or key > best[0]:
                best = (key, words, title.box[3] if title is not None else 0.0)
        if best is None:
            return None
        _, words, top = best
        axis = self._complete_axis(image, words, top)
        return (axis, top) if len(axis) >= 3 else None

    def _complete_axis(self, image: np.ndarray, words: list[Segment], top: float) -> list[Segment]:
        """The axis labels, with those under bars that the detector missed read from strips."""
        label_top = min(s.box[1] for s in words)
        label_bottom = max(s.box[3] for s in words)
        runs: list[tuple[int, int]] = []
        for y in range(int(label_top) - 14, int(label_top) - 1):
            if y <= top or y >= image.shape[0]:
                continue
            line = image[y].astype(np.int16)
            coloured = np.flatnonzero((line.max(axis=1) - line.min(axis=1)) >= MIN_SATURATION)
            found = [r for r in index_runs(coloured, 1) if r[1] - r[0] >= 4]
            if len(found) > len(runs):
                runs = found
        if len(runs) <= len(words):
            return words
        centres = [(a + b) / 2 for a, b in runs]
        spacing = (centres[-1] - centres[0]) / max(1, len(centres) - 1)
        axis: list[Segment] = []
        missing: list[tuple[float, float, float, float]] = []
        for cx in centres:
            hit = [s for s in words if abs(_cx(s) - cx) < 0.4 * spacing]
            if hit:
                axis.append(hit[0])
            else:
                missing.append(
                    (cx - 0.45 * spacing, label_top - 2, cx + 0.45 * spacing, label_bottom + 2)
                )
        read = self.reader.recognize(image, missing, min_score=0.0)
        axis += [
            Segment(t.text.strip(), t.box) for t in read if _CATEGORY.fullmatch(t.text.strip())
        ]
        return sorted(axis, key=lambda s: s.box[0])

    def _chart_target(
        self, image: np.ndarray, qa: QuestionAnalysis
    ) -> tuple[list[Segment], int, float] | None:
        """The chart category a question asks about: ``(axis labels, its index, plot top)``.

        For a highest/lowest question, the category with the highest (lowest) coloured mark
        (:func:`mark_tops`); otherwise the category label the question names. ``None`` when the
        view shows no chart axis or nothing fits.
        """
        found = self._chart_axis(image, qa)
        if found is None:
            return None
        axis, top = found
        if qa.extreme:
            bottom = min(s.box[1] for s in axis) - 2
            tops = mark_tops(image, [_cx(s) for s in axis], top, bottom)
            marked = [(y, j) for j, y in enumerate(tops) if y is not None]
            if len(marked) < 3 or len(marked) < 0.7 * len(axis):
                return None
            # Smaller y is a larger value.
            _, j = min(marked) if qa.extreme > 0 else max(marked)
            return axis, j, top
        scores = [_category_score(qa, s.text) for s in axis]
        j = int(np.argmax(scores))
        return (axis, j, top) if scores[j] > 0 else None

    def _chart_extreme(self, image: np.ndarray, qa: QuestionAnalysis) -> str | None:
        """For a highest/lowest question, the label of the category with the extreme mark."""
        target = self._chart_target(image, qa) if qa.extreme else None
        return target[0][target[1]].text if target is not None else None

    @staticmethod
    def _chart_column_region(axis: list[Segment], j: int, top: float, view: dict[str, Any]) -> BBox:
        """A narrow crop around category ``j``: from the plot's top down to its label."""
        spacing = (_cx(axis[-1]) - _cx(axis[0])) / max(1, len(axis) - 1)
        label = axis[j]
        half = max(0.7 * spacing, 0.6 * (label.box[2] - label.box[0]))
        box = (_cx(label) - half, top, _cx(label) + half, label.box[3] + 0.3 * label.height)
        return _clip(box, ViewTransform.from_info(view).content_box)

    def _chart_column_label(self, image: np.ndarray, view: dict[str, Any]) -> str | None:
        """The category label of a narrow chart column view: the short label nearest its centre."""
        content = ViewTransform.from_info(view).content_box
        cx, cy = (content[0] + content[2]) / 2, (content[1] + content[3]) / 2
        segs = _segments(self.reader.read(image, side=self.chart_detect_side))
        labels = [
            s
            for s in segs
            if _CATEGORY.fullmatch(s.text) and len(s.text.split()) <= 3 and s.cy > cy
        ]
        if not labels:
            return None
        return min(labels, key=lambda s: abs(_cx(s) - cx)).text

    def _chart_column_value(
        self, image: np.ndarray, qa: QuestionAnalysis, view: dict[str, Any]
    ) -> str | None:
        """The data label of the category shown in a narrow chart column view.

        The number above the category label (the named one when it was read, else the column's
        centre) that is nearest to it horizontally.
        """
        content = ViewTransform.from_info(view).content_box
        segs = _segments(self.reader.read(image, side=self.chart_detect_side))
        labels = [s for s in segs if _CATEGORY.fullmatch(s.text)]
        named = [s for s in labels if _category_score(qa, s.text) > 0]
        if named:
            label = max(named, key=lambda s: s.box[3])  # the axis label, not the title
            cx, floor = _cx(label), label.box[1]
        else:
            cx, floor = (content[0] + content[2]) / 2, content[3]
        numbers = [
            s for s in segs if _NUMBER.fullmatch(s.text.replace(" ", "")) and s.box[3] <= floor + 1
        ]
        if not numbers:
            return None
        best = min(numbers, key=lambda s: abs(_cx(s) - cx))
        width = content[2] - content[0]
        if abs(_cx(best) - cx) > 0.35 * width:
            return None
        return best.text.replace(" ", "")
