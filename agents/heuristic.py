"""The ``heuristic`` agent: a deterministic OCR pipeline (RapidOCR) with no learned parts.

Per question (all from the observation image; nothing privileged):

1. **Search** with the question.
2. **Read the page view** with OCR, selectively: RapidOCR's detector finds every text box, and the
   recogniser reads all of them except the inner cells of tables (a table's header row and row labels
   are enough to locate a cell). If the page does not mention the question's year, or too few of its
   content words, **search again** (the env then shows the next result), up to ``max_searches``.
3. **Choose a region** whose words best match the question: for a table, the rectangle from the
   best-matching row label to the best-matching column header; after a heading (a chart or table
   title), the block below it; otherwise the best-matching line with its neighbours. **Crop** it.
4. **Read the zoomed view** (the same two passes, with a larger budget) and **extract the answer
   span**: the shared extractor
   :func:`vrag_env.reading.rank_candidates` scores numbers, dates, names and codes by how well their
   context (row label, column header, the words around them, the section title) matches the question
   and whether their kind fits it ("how many" wants a number, "who" a name).
5. **Answer**. Questions about a change between two years (``... between 2021 and 2022``) are split
   into two look-ups, one per year, and answered with the difference.

Everything is deterministic: the same observations give the same actions.

:class:`NoZoomAgent` (``no-zoom``) is the ablation without step 3: it never crops, and reads the
whole-page view with the budget the heuristic spends on the zoomed view instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher
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
from .ocr import OCRReader, TextBox, get_reader

_TWO_YEARS = re.compile(
    r"\bbetween (?P<a>(?:19|20)\d\d) and (?P<b>(?:19|20)\d\d)\b"
    r"|\bfrom (?:Q[1-4] )?(?P<c>(?:19|20)\d\d) to (?:Q[1-4] )?(?P<d>(?:19|20)\d\d)\b"
    r"|\bin (?P<e>(?:19|20)\d\d) than in (?P<f>(?:19|20)\d\d)\b"
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


@dataclass
class _Lookup:
    """One look-up: a (sub-)question, and what was read for it."""

    question: str
    qa: QuestionAnalysis
    searches: int = 0
    crops: int = 0
    answer: str | None = None


class HeuristicAgent(Agent):
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
            if lookup.crops == 1:
                cell = self._table_answer(image, lookup.qa) or self._chart_answer(image, lookup.qa)
                if cell is not None:
                    lookup.answer = cell
                    return self.act(observation, {**info, "action_kind": None, "view": None})
            if lookup.crops < self.max_crops:
                # Still too coarse to read a table cell? Zoom onto the matching row and column.
                segments = self._read_view(
                    image, lookup.qa, self.zoom_budget, side=self.zoom_detect_side
                )
                region = self._table_cell_region(image, segments, lookup.qa, info["view"])
                if region is not None:
                    lookup.crops += 1
                    return self._format(Crop(region))
            lookup.answer = self._read_answer(image, lookup)
            return self.act(observation, {**info, "action_kind": None, "view": None})
        # A page view just came back from a search: check it, then zoom in.
        segments = self._read_page(image, lookup.qa)
        if not self._page_matches(segments, lookup) and lookup.searches < self.max_searches:
            return self._search(lookup)
        self._fallback = rank_candidates(segments, lookup.qa, limit=4)
        if not self.zoom:  # the ablation: read the page view closely instead of cropping
            lookup.answer = self._read_answer(image, lookup)
            return self.act(observation, {**info, "action_kind": None, "view": None})
        region = self._table_region(image, segments, lookup.qa, info["view"])
        if region is None:
            region = self._choose_region(segments, lookup.qa, info["view"])
        if region is None:
            lookup.answer = self._fallback[0].text if self._fallback else ""
            return self.act(observation, {**info, "action_kind": None, "view": None})
        lookup.crops += 1
        return self._format(Crop(region))

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
        return best.text if best is not None else ""

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


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _category_score(qa: QuestionAnalysis, label: str) -> float:
    """How well a chart's category label matches the question (a month it names, or a phrase)."""
    low = label.lower().strip(" .")
    if low[:3] in _MONTHS:
        named = {m for m in _MONTHS if re.search(rf"\b{m}", qa.question.lower())}
        return 1.0 if low[:3] in named else 0.0
    return match_score(qa, label) + _fuzzy_score(qa, label)


def _cx(seg: Segment) -> float:
    return (seg.box[0] + seg.box[2]) / 2


def _to_float(text: str) -> float | None:
    m = _NUMBER.search(text.replace(" ", ""))
    try:
        return float(m.group().replace(",", "")) if m else None
    except ValueError:
        return None


def _fix_table_ocr(text: str) -> str:
    """Undo the recogniser's usual slips on small table headers (``PY 2022``, ``01`` for ``Q1``)."""
    text = re.sub(r"\b[PF][YV]\s?((?:19|20)\d\d)\b", r"FY \1", text.strip())
    return re.sub(r"^[0OQ]([1-4])$", r"Q\1", text)


def _fuzzy_score(qa: QuestionAnalysis, label: str) -> float:
    """How closely a (possibly misread) row label spells a phrase of the question, in ``[0, 1]``.

    Small print is read with dropped letters and spaces (``NarthAmmerice``): the label's letters are
    compared with every run of one to three words of the question, and the best ratio counts.
    """
    squashed = "".join(re.findall(r"[a-z]", label.lower()))
    if len(squashed) < 2:
        return 0.0
    words = re.findall(r"[a-z]+", qa.question.lower())
    best = 0.0
    for i in range(len(words)):
        for n in (1, 2, 3):
            span = words[i : i + n]
            if len(span) < n or all(w in _VAGUE for w in span):
                continue
            best = max(best, SequenceMatcher(None, squashed, "".join(span)).ratio())
    return best if best >= 0.5 else 0.0


_VAGUE = {
    "a",
    "an",
    "and",
    "the",
    "of",
    "in",
    "on",
    "for",
    "to",
    "by",
    "did",
    "was",
    "what",
    "were",
    "how",
    "much",
    "many",
    "which",
    "full",
    "year",
    "according",
    "report",
    "annual",
    "group",
    "revenue",
    "million",
    "usd",
    "expenses",
    "quarter",
    "first",
    "second",
    "third",
    "fourth",
    "from",
    "that",
    "this",
    "with",
    "its",
    "s",
    "q",
    "fy",
    "spend",
    "spent",
    "contribute",
}


def _column_score(qa: QuestionAnalysis, header: str) -> float:
    """How well a table column header fits the question: its quarter, else its year's full year."""
    score = match_score(qa, header)
    quarters = [t for t in qa.terms if re.fullmatch(r"q[1-4]", t)]
    if not quarters and re.match(r"FY", header):
        years = [t for t in qa.terms if _YEAR.fullmatch(t)]
        if any(y in header for y in years):
            score += 1.0
    return score


def _is_heading(rows: list[list[Segment]], i: int) -> bool:
    """Row ``i`` is a short line on its own, not followed by more lines of its paragraph."""
    row = rows[i]
    if len(row) != 1 or len(row[0].text.split()) > 10:
        return False
    seg = row[0]
    below = rows[i + 1] if i + 1 < len(rows) else []
    in_paragraph = (
        len(below) == 1
        and below[0].box[1] - seg.box[3] < 0.6 * seg.height
        and below[0].box[2] - below[0].box[0] > 0.5 * (seg.box[2] - seg.box[0])
    )
    return not in_paragraph


def _is_title(rows: list[list[Segment]], i: int) -> bool:
    """A one-segment row that starts a block: clearly separated from the row above it."""
    seg = rows[i][0]
    return seg.box[1] - max(s.box[3] for s in rows[i - 1]) > 0.5 * seg.height


def _overlaps(a: BBox, b: BBox) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > 0.3 * min(a[2] - a[0], b[2] - b[0])


def _segments(read: list[TextBox]) -> list[Segment]:
    return [Segment(t.text.strip(), t.box) for t in read if t.text.strip()]


def _header_row(rows: list[list[Segment]], r: int) -> list[Segment]:
    """The first multi-cell row of the table block that row ``r`` belongs to."""
    header = rows[r]
    for i in range(r - 1, -1, -1):
        row = rows[i]
        if len(row) < 3 or rows[i + 1][0].box[1] - max(s.box[3] for s in row) > 1.5 * row[0].height:
            break
        header = row
    return header[1:] if header is not rows[r] else []


def _pad(box: BBox, dx: float, dy: float, below: float | None = None) -> BBox:
    return (box[0] - dx, box[1] - dy, box[2] + dx, box[3] + (dy if below is None else below))


def _clip(box: BBox, bounds: BBox) -> BBox:
    x1, y1 = max(bounds[0], box[0]), max(bounds[1], box[1])
    x2, y2 = min(bounds[2], box[2]), min(bounds[3], box[3])
    if x2 - x1 < 2 or y2 - y1 < 2:
        return bounds
    return (float(np.floor(x1)), float(np.floor(y1)), float(np.ceil(x2)), float(np.ceil(y2)))


# ---------------------------------------------------------------------- two-year questions


def split_question(question: str) -> list[str]:
    """Split a question about a change between two years into one look-up per year.

    Example:
        >>> split_question("By how much did Aurora's free cash flow change from 2021 to 2023?")
        ["By how much did Aurora's free cash flow change in 2021?", "By how much did Aurora's free cash flow change in 2023?"]
        >>> split_question("What was Aurora's revenue in 2022?")
        ["What was Aurora's revenue in 2022?"]
    """
    m = _TWO_YEARS.search(question)
    if m is None:
        return [question]
    groups = [g for g in m.groups() if g]
    if len(groups) != 2:
        return [question]
    first, second = groups
    if m.group("e"):  # "... in 2023 than in 2021": the change is the first year minus the second
        first, second = second, first
    return [question[: m.start()] + f"in {year}" + question[m.end() :] for year in (first, second)]


def difference(before: str, after: str) -> str | None:
    """``after - before`` for two printed numbers, with the decimals of the inputs.

    Example:
        >>> difference("1,204.5", "1,250.0"), difference("12.5%", "10.1%")
        ('45.5', '-2.4')
    """
    a, b = _NUMBER.search(before.replace(" ", "")), _NUMBER.search(after.replace(" ", ""))
    if a is None or b is None:
        return None
    try:
        x, y = Decimal(a.group().replace(",", "")), Decimal(b.group().replace(",", ""))
    except InvalidOperation:
        return None
    places = max(-x.as_tuple().exponent, -y.as_tuple().exponent, 0)  # type: ignore[operator]
    value = y - x
    return f"{value:,.{places}f}"
