"""The ``heuristic`` agent: a deterministic OCR pipeline (RapidOCR) with no learned parts.

Per question (all from the observation image; nothing privileged):

1. **Search** with the question.
2. **Read the page view** with OCR, selectively: RapidOCR's detector finds every text box, and the
   recogniser reads all of them except the inner cells of tables (a table's header row and row labels
   are enough to locate a cell). If the page does not mention the question's year, or too few of its
   content words, **search again** (the env then shows the next result), up to ``max_searches``.
3. **Choose a region** whose words best match the question: for a table, the rectangle from the
   best-matching row label to the best-matching column header; when no legible line holds the
   question's specific words, the block of small print (notes) that the detector missed; after a
   heading (a chart or table title), the block below it; otherwise the best-matching line with its
   neighbours. **Crop** it. After a crop onto a chart, a highest/lowest question is answered from
   the heights of the coloured bars or markers, and a question naming a category crops once more,
   onto a narrow column around that category, whose data label is then legible
   (:mod:`agents.heuristic_charts`).
4. **Read the zoomed view** (the same two passes, with a larger budget) and **extract the answer
   span**: the shared extractor
   :func:`vrag_env.reading.rank_candidates` scores numbers, dates, names and codes by how well their
   context (row label, column header, the words around them, the section title) matches the question
   and whether their kind fits it ("how many" wants a number, "who" a name).
5. **Answer**. Questions about a change between two years (``... between 2021 and 2022``) are split
   into two look-ups, one per year, and answered with the difference.

Everything is deterministic: the same observations give the same actions.

:class:`NoZoomAgent` (``no-zoom``) is the ablation without step 3: it never crops, and reads the
whole-page view with the budget the heuristic spends on the zoomed view instead, with the same
table and chart readers the heuristic applies after a crop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from vrag_env.actions import ActionSet, Answer, Crop, Search
from vrag_env.agent_api import EnvDescription, describe_env
from vrag_env.reading import (
    Candidate,
    QuestionAnalysis,
    Segment,
    analyze_question,
    group_rows,
    match_score,
    matched_terms,
    rank_candidates,
)
from vrag_env.rendering import ViewTransform
from vrag_env.types import BBox

from .base import Agent
from .heuristic_charts import ChartReading
from .heuristic_small_print import SmallPrintReading
from .heuristic_text import (
    _YEAR,
    _clip,
    _header_row,
    _is_heading,
    _is_title,
    _overlaps,
    _pad,
    _segments,
    tidy_answer,
)
from .heuristic_text import _fix_table_ocr as _fix_table_ocr
from .heuristic_text import _fuzzy_score as _fuzzy_score
from .heuristic_text import difference as difference
from .heuristic_text import split_question as split_question
from .heuristic_views import TableChartReading
from .ocr import OCRReader, get_reader


@dataclass
class _Lookup:
    """One look-up: a (sub-)question, and what was read for it."""

    question: str
    qa: QuestionAnalysis
    searches: int = 0
    crops: int = 0
    answer: str | None = None
    chart_column: bool = False
    label: str | None = None


class HeuristicAgent(SmallPrintReading, TableChartReading, ChartReading, Agent):
    """Search, read, zoom, read again, extract: a classic OCR question-answering pipeline.

    Args:
        action_set: The env's action set (dialect and view size).
        max_searches: Searches per look-up before settling for the page shown.
        min_match: Weighted share of the question's specific words a page must show to be accepted.
        read_budget: How much of a page view to read, in short boxes (the recogniser reads a
            48x320 strip per short box; a long line counts as several).
        cells_per_view: Inner table cells read per view (those whose row and column labels match
            the question best).
        zoom_budget: Like ``read_budget``, for a zoomed view.
        zoom_detect_side: Detector resolution for zoomed views (see :meth:`OCRReader.detect`).
        reader: The OCR reader (default: the shared, cached one).
        zoom: Crop into the chosen region before extracting the answer. ``False`` never crops: the
            answer is extracted from the page view, read again with ``zoom_budget`` and
            ``zoom_detect_side`` (the ``no-zoom`` ablation).
        min_box_px: Detected boxes shorter than this (view pixels) are read last: at that size the
            recogniser rarely reads small print correctly, so legible text gets the budget.
        max_crops: Crops per look-up: the first onto a block (a table or chart under its title),
            a second onto the matching table row and column when the first view shows a table.
        chart_detect_side: Detector resolution for reading a chart's small labels in a zoomed view.
    """

    name = "heuristic"
    description = (
        "deterministic RapidOCR pipeline: search, read, crop onto the matching table, chart or block "
        "(and once more onto a table's row and column), read, extract; no learned parts"
    )

    def __init__(
        self,
        action_set: ActionSet,
        max_searches: int = 1,
        min_match: float = 0.5,
        read_budget: float = 24.0,
        cells_per_view: int = 4,
        zoom_budget: float = 40.0,
        zoom_detect_side: int = 736,
        reader: OCRReader | None = None,
        zoom: bool = True,
        min_box_px: float = 16.0,
        max_crops: int = 2,
        chart_detect_side: int = 1100,
    ) -> None:
        self.zoom = zoom
        self.min_box_px = min_box_px
        self.max_crops = max_crops
        self.chart_detect_side = chart_detect_side
        self.zoom_budget = zoom_budget
        self.zoom_detect_side = zoom_detect_side
        self.action_set = action_set
        self.read_budget = read_budget
        self.cells_per_view = cells_per_view
        self.max_searches = max_searches
        self.min_match = min_match
        self.reader = reader or get_reader()
        self._plan: list[_Lookup] = []
        self._step = 0
        self._fallback: list[Candidate] = []

    @classmethod
    def from_env(cls, description: EnvDescription, **options: Any) -> HeuristicAgent:
        """Use the action set of the env's public description."""
        return cls(describe_env(description).action_set, **options)

    def config(self) -> dict[str, Any]:
        """Search budget, page-acceptance threshold, dialect and OCR engine."""
        from .ocr import ocr_version

        return {
            "max_searches": self.max_searches,
            "min_match": self.min_match,
            "read_budget": self.read_budget,
            "cells_per_view": self.cells_per_view,
            "zoom_budget": self.zoom_budget,
            "zoom_detect_side": self.zoom_detect_side,
            "zoom": self.zoom,
            "min_box_px": self.min_box_px,
            "max_crops": self.max_crops,
            "chart_detect_side": self.chart_detect_side,
            "dialect": self.action_set.dialect,
            "ocr": f"rapidocr-onnxruntime {ocr_version()}",
        }

    def reset(self) -> None:
        """Forget the previous question."""
        self._plan = []
        self._step = 0
        self._fallback = []

    # ------------------------------------------------------------------ the pipeline

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """The next action of the pipeline (see the module docstring)."""
        if not self._plan:
            self._plan = [
                _Lookup(q, analyze_question(q)) for q in split_question(observation["question"])
            ]
        self._step += 1
        lookup = next((lk for lk in self._plan if lk.answer is None), None)
        if lookup is None:
            return self._format(Answer(self._final_answer()))
        kind = info.get("action_kind")
        image = np.asarray(observation["image"])
        if lookup.searches == 0 or not info.get("view"):
            return self._search(lookup)
        if kind == "invalid":  # the crop was refused: settle for what the page view showed
            lookup.answer = self._fallback[0].text if self._fallback else ""
            return self.act(observation, {**info, "action_kind": None, "view": None})
        if kind == "crop":
            action = self._after_crop(image, lookup, info["view"])
            if action is not None:
                return action
            return self.act(observation, {**info, "action_kind": None, "view": None})
        # A page view just came back from a search: check it, then zoom in.
        segments = self._read_page(image, lookup.qa)
        if not self._page_matches(segments, lookup) and lookup.searches < self.max_searches:
            return self._search(lookup)
        self._fallback = rank_candidates(segments, lookup.qa, limit=4)
        if not self.zoom:  # the ablation: read the page view as the heuristic reads a crop
            lookup.answer = (
                self._table_answer(image, lookup.qa)
                or self._chart_extreme(image, lookup.qa)
                or self._chart_answer(image, lookup.qa)
                or self._read_answer(image, lookup)
            )
            return self.act(observation, {**info, "action_kind": None, "view": None})
        region = self._table_region(image, segments, lookup.qa, info["view"])
        if region is None:
            region = self._small_print_region(image, segments, lookup.qa, info["view"])
        if region is None:
            region = self._choose_region(segments, lookup.qa, info["view"])
        if region is None:
            lookup.answer = self._fallback[0].text if self._fallback else ""
            return self.act(observation, {**info, "action_kind": None, "view": None})
        lookup.crops += 1
        return self._format(Crop(region))

    def _after_crop(self, image: np.ndarray, lookup: _Lookup, view: dict[str, Any]) -> str | None:
        """The next crop after a zoomed view, or ``None`` once ``lookup.answer`` is set."""
        if lookup.chart_column:  # a narrow crop onto one category of a chart
            if lookup.qa.extreme:
                lookup.answer = self._chart_column_label(image, view) or lookup.label
            else:
                lookup.answer = self._chart_column_value(
                    image, lookup.qa, view
                ) or self._read_answer(image, lookup)
            return None
        if lookup.crops == 1:
            cell = self._table_answer(image, lookup.qa)
            target = self._chart_target(image, lookup.qa) if cell is None else None
            if target is not None:
                axis, j, top = target
                lookup.label = axis[j].text
                if lookup.crops < self.max_crops:
                    # The chart's print is small here: zoom onto the category asked about.
                    lookup.crops += 1
                    lookup.chart_column = True
                    return self._format(Crop(self._chart_column_region(axis, j, top, view)))
                if lookup.qa.extreme:
                    cell = lookup.label
            cell = cell or self._chart_answer(image, lookup.qa)
            if cell is not None:
                lookup.answer = cell
                return None
        if lookup.crops < self.max_crops:
            # Still too coarse to read a table cell? Zoom onto the matching row and column.
            segments = self._read_view(
                image, lookup.qa, self.zoom_budget, side=self.zoom_detect_side
            )
            region = self._table_cell_region(image, segments, lookup.qa, view)
            if region is not None:
                lookup.crops += 1
                return self._format(Crop(region))
        lookup.answer = self._read_answer(image, lookup)
        return None

    def _search(self, lookup: _Lookup) -> str:
        lookup.searches += 1
        return self._format(Search(lookup.question[: self.action_set.max_query_chars]))

    def _format(self, action: Answer | Crop | Search) -> str:
        return self.action_set.format(action)

    def _final_answer(self) -> str:
        answers = [lk.answer or "" for lk in self._plan]
        if len(answers) == 1:
            return answers[0] or "unknown"
        return difference(answers[0], answers[1]) or answers[-1] or "unknown"

    # ------------------------------------------------------------------ reading

    def _read_view(
        self, image: np.ndarray, qa: QuestionAnalysis, budget: float | None, side: int = 736
    ) -> list[Segment]:
        """Read a view in two passes.

        Pass 1 reads every detected box except the inner cells of tables, short boxes (titles,
        headings, labels, values) first, long lines of running text while ``budget`` lasts. Pass 2
        reads only the few inner cells whose row label and column header (read in pass 1) match the
        question: a table's header row and row labels are enough to locate a cell.
        """
        boxes = self.reader.detect(image, side)
        rows = group_rows([Segment("", b) for b in boxes])
        outer: list[BBox] = []
        inner: list[tuple[BBox, BBox, BBox | None]] = []  # (cell, row label, header)
        header: list[Segment] = []
        for i, row in enumerate(rows):
            above = rows[i - 1] if i > 0 else []
            in_table = (
                len(row) >= 3
                and len(above) >= 3
                and row[0].box[1] - max(s.box[3] for s in above) < 1.2 * row[0].height
            )
            if len(row) >= 3 and not in_table:
                header = row
            if not in_table:
                outer += [s.box for s in row]
                continue
            outer.append(row[0].box)
            for seg in row[1:]:
                top = next((h.box for h in header if _overlaps(h.box, seg.box)), None)
                inner.append((seg.box, row[0].box, top))
        width = image.shape[1]
        # Legible text first (tall boxes: titles, headings, body lines; tiny print is read only
        # after a zoom), short boxes before long lines of running text, then top to bottom.
        outer.sort(
            key=lambda b: (
                b[3] - b[1] < self.min_box_px,
                b[2] - b[0] > 0.4 * width,
                b[1],
                b[0],
            )
        )
        chosen: list[BBox] = []
        cost = 0.0
        for box in outer:
            # The recogniser reads a 48x320 strip per box, longer for long lines.
            units = max(1.0, (box[2] - box[0]) / max(1.0, box[3] - box[1]) * 48 / 320)
            if budget is not None and cost + units > budget and chosen:
                break
            chosen.append(box)
            cost += units
        read = {t.box: t.text for t in self.reader.recognize(image, chosen)}
        potential: list[tuple[float, float, float, BBox]] = []
        for cell, label, top in inner:
            score = match_score(qa, read.get(label, "")) + (
                match_score(qa, read[top]) if top in read else 0.0
            )
            if score > 0:
                potential.append((-score, cell[1], cell[0], cell))
        cells = [c for *_, c in sorted(potential)[: self.cells_per_view]]
        texts = self.reader.recognize(image, chosen) + self.reader.recognize(image, cells)
        return _segments(texts)

    def _read_page(self, image: np.ndarray, qa: QuestionAnalysis) -> list[Segment]:
        """Read a page view (within the read budget)."""
        return self._read_view(image, qa, self.read_budget)

    def _read_answer(self, image: np.ndarray, lookup: _Lookup) -> str:
        """Read the zoomed view and return the best answer span."""
        segments = self._read_view(image, lookup.qa, self.zoom_budget, side=self.zoom_detect_side)
        ranked = rank_candidates(segments, lookup.qa, limit=4)
        best = ranked[0] if ranked else None
        fallback = self._fallback[0] if self._fallback else None
        if best is None or (fallback is not None and fallback.score > best.score + 0.3):
            best = fallback
        return tidy_answer(best.text) if best is not None else ""

    def _page_matches(self, segments: list[Segment], lookup: _Lookup) -> bool:
        """Whether the page shows the question's year(s) and enough of its specific words."""
        text = " ".join(s.text for s in segments)
        qa = lookup.qa
        years = [t for t in qa.terms if _YEAR.fullmatch(t)]
        if years and not any(y in text for y in years):
            return False
        specific = {t: w for t, w in qa.terms.items() if not _YEAR.fullmatch(t) and w >= 1.0}
        if not specific:
            return True
        found = matched_terms(qa, text)
        return (
            sum(w for t, w in specific.items() if t in found) / sum(specific.values())
            >= self.min_match
        )

    # ------------------------------------------------------------------ choosing where to zoom

    def _choose_region(
        self, segments: list[Segment], qa: QuestionAnalysis, view: dict[str, Any]
    ) -> BBox | None:
        """The view-pixel box to crop.

        A table cell's row and column, a block under a title, or the best-matching line with its
        neighbours.
        """
        if not segments:
            return None
        content = ViewTransform.from_info(view).content_box
        rows = group_rows(segments)
        scored = [
            (match_score(qa, seg.text), -seg.box[1], r, seg)
            for r, row in enumerate(rows)
            for seg in row
        ]
        score, _, r, best = max(scored, key=lambda t: (t[0], t[1]))
        if score <= 0:
            return None
        titles = [t for t in scored if t[0] > 0 and _is_heading(rows, t[2])]
        if titles:
            # A matching title (of a table, chart or section) beats a matching line of prose:
            # the block under it is where the values are.
            title = max(titles, key=lambda t: (t[0], t[1]))
            if title[0] >= 0.5 * score:
                score, _, r, best = title
        row = rows[r]
        h = best.height
        if len(row) >= 3 and row[0] is best:
            # A table row label: add the best-matching column header above it.
            header = _header_row(rows, r)
            col = max(header, key=lambda s: match_score(qa, s.text)) if header else None
            if col is not None and match_score(qa, col.text) > 0:
                box = (best.box[0], col.box[1], col.box[2], best.box[3])
            else:
                box = (best.box[0], best.box[1], row[-1].box[2], best.box[3])
            return _clip(_pad(box, 0.6 * h, 1.5 * h), content)
        below = rows[r + 1] if r + 1 < len(rows) else []
        in_paragraph = (
            len(below) == 1
            and below[0].box[1] - best.box[3] < 0.6 * h
            and below[0].box[2] - below[0].box[0] > 0.5 * (best.box[2] - best.box[0])
        )
        if len(row) == 1 and not in_paragraph and len(best.text.split()) <= 10:
            # A title: the block below it, down to the next heading.
            bottom = content[3]
            for i in range(r + 2, len(rows)):
                if (
                    len(rows[i]) == 1
                    and rows[i][0].height >= 0.9 * h
                    and _is_title(rows, i)
                    and len(re.findall(r"[^\W\d_]{3,}", rows[i][0].text)) >= 2
                ):
                    bottom = rows[i][0].box[1]
                    break
            box = (
                content[0],
                best.box[1] - 0.5 * h,
                content[2],
                min(bottom, best.box[1] + 0.6 * (content[3] - content[1])),
            )
            return _clip(box, content)
        # A line of text or a label: it, the line above and the lines below.
        x1 = min(s.box[0] for s in row)
        x2 = max(s.box[2] for s in row)
        return _clip(
            _pad((x1, best.box[1], x2, best.box[3]), 0.5 * h, 2.0 * h, below=4.0 * h), content
        )

    def _table_cell_region(
        self, image: np.ndarray, segments: list[Segment], qa: QuestionAnalysis, view: dict[str, Any]
    ) -> BBox | None:
        """A finer crop onto a table's matching column (and row) in a zoomed view, or ``None``.

        The table is found from the detector's boxes (rows of at least three boxes); the column
        from the read header that best matches the question, the row from the best-matching row
        label when one was read. ``None`` when the view shows no table, nothing matches, or the
        crop would zoom in less than 1.3x.
        """
        content = ViewTransform.from_info(view).content_box
        boxes = self.reader.detect(image, self.zoom_detect_side)
        table = [row for row in group_rows([Segment("", b) for b in boxes]) if len(row) >= 3]
        if len(table) < 2 or not segments:
            return None
        header = table[0]
        left = min(row[0].box[0] for row in table)
        bottom = max(s.box[3] for row in table for s in row)
        h = header[0].height

        def inside(seg: Segment, row: list[Segment]) -> bool:
            return abs(seg.cy - row[0].cy) < 0.5 * row[0].height

        heads = [s for s in segments if inside(s, header) and s.box[0] > header[0].box[2]]
        col = max(heads, key=lambda s: match_score(qa, s.text), default=None)
        if col is None or match_score(qa, col.text) <= 0:
            return None
        labels = [
            s for s in segments for row in table[1:] if inside(s, row) and s.box[0] <= left + h
        ]
        label = max(labels, key=lambda s: match_score(qa, s.text), default=None)
        if label is not None and match_score(qa, label.text) > 0:
            box = (left, col.box[1], col.box[2], label.box[3])
        else:
            box = (left, col.box[1], col.box[2], bottom)
        region = _clip(_pad(box, 0.6 * h, 1.0 * h), content)
        cw, ch = content[2] - content[0], content[3] - content[1]
        rw, rh = region[2] - region[0], region[3] - region[1]
        if min(cw / max(rw, 1.0), ch / max(rh, 1.0)) < 1.3:
            return None
        return region


class NoZoomAgent(HeuristicAgent):
    """The ``no-zoom`` ablation: the heuristic with crops disabled (``zoom=False``).

    It searches and reads exactly like :class:`HeuristicAgent` but answers from the whole-page view,
    read with the zoomed-view budget. Its accuracy on questions whose evidence OCR cannot read
    unzoomed (``zoom:needs-zoom``) measures how much the benchmark rewards zooming.

    Args:
        action_set: The env's action set.
        **options: :class:`HeuristicAgent` options (``zoom`` is always ``False``).
    """

    name = "no-zoom"
    description = "ablation: the heuristic without crops, answering from the whole-page view"

    def __init__(self, action_set: ActionSet, **options: Any) -> None:
        options.pop("zoom", None)
        super().__init__(action_set, zoom=False, **options)
