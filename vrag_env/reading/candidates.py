"""Answer candidates: spans of the legible text ranked by how well they answer the question.

:func:`rank_candidates` scores numbers, dates, names and codes by how well their surroundings (the
span's own line, its row label, its column header, a heading above) match the question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from vrag_env.reading.text import (  # the package's own helpers, shared by its two modules
    _CODE,
    _DATE,
    _ENUMERATOR,
    _NAME,
    _NOT_ANSWERS,
    _NUMBER,
    _SHORT_WORDS,
    _TRAILING,
    QuestionAnalysis,
    Segment,
    _compatible,
    _is_label,
    _is_numeric,
    _raw_words,
    analyze_question,
    compact,
    group_rows,
    is_heading,
    matched_terms,
    span_kind,
)
from vrag_env.types import BBox


@dataclass(frozen=True)
class Candidate:
    """A possible answer span, scored against the question.

    Attributes:
        text: The span as printed.
        box: Its (approximate) box, in the segments' frame.
        kind: :func:`span_kind` of the text.
        score: Overall score (higher is more likely the answer).
        features: Named features (see :data:`CANDIDATE_FEATURES`), used by the PPO wrapper.
    """

    text: str
    box: BBox
    kind: str
    score: float
    features: dict[str, float] = field(default_factory=dict, compare=False)


CANDIDATE_FEATURES = (
    "score",
    "context",
    "row",
    "column",
    "inline",
    "type",
    "extreme",
    "label",
    "number",
    "name",
    "date",
)
"""Per-candidate features exposed by :func:`rank_candidates` (all roughly in ``[-1, 1]``)."""


def _spans(text: str) -> list[tuple[int, int]]:
    """Character spans of candidate answers inside a segment's text."""
    found: list[tuple[int, int]] = []
    taken: list[tuple[int, int]] = []

    def add(a: int, b: int, exclusive: bool = False) -> None:
        while b > a and text[b - 1] in _TRAILING:
            b -= 1
        while a < b and text[a] in _TRAILING:
            a += 1
        if b <= a or (a, b) in found:
            return
        if exclusive and any(a < tb and ta < b for ta, tb in taken):
            return
        found.append((a, b))

    for m in _DATE.finditer(text):
        add(m.start(), m.end())
        taken.append((m.start(), m.end()))
    for m in _CODE.finditer(text):
        add(m.start(), m.end(), exclusive=True)
        taken.append((m.start(), m.end()))
    for m in _NUMBER.finditer(text):
        if _ENUMERATOR.search(text[max(0, m.start() - 8) : m.start()]) or (
            text[m.start() - 1 : m.start()] == "(" and text[m.end() : m.end() + 1] == ")"
        ):
            continue  # "Table 1", "Page 3", "(2)": numbering, not content
        add(m.start(), m.end(), exclusive=True)
    for m in _NAME.finditer(text):
        add(m.start(), m.end(), exclusive=True)
    if len(text.split()) <= 5:
        add(0, len(text))
    return found


@dataclass
class _Layout:
    rows: list[list[Segment]]
    headings: list[bool]


def _overlap(a: BBox, b: BBox) -> bool:
    inter = min(a[2], b[2]) - max(a[0], b[0])
    return inter > 0.3 * max(1e-6, min(a[2] - a[0], b[2] - b[0]))


def _walk(layout: _Layout, row_index: int, box: BBox, step: int, max_gap: float) -> Segment | None:
    """The nearest label above (``step=-1``) or below (``+1``) in the column of ``box``.

    Walks row by row through numbers in the same column (table cells, value labels) and returns the
    first short non-numeric segment overlapping ``box`` horizontally (a column header, a chart
    category, a tile label); ``None`` past a vertical gap of ``max_gap`` or at a long text line.
    """
    ref = box[1] if step < 0 else box[3]
    i = row_index + step
    while 0 <= i < len(layout.rows):
        row = layout.rows[i]
        edge = max(s.box[3] for s in row) if step < 0 else min(s.box[1] for s in row)
        if abs(edge - ref) > max_gap:
            return None
        hits = [s for s in row if _overlap(s.box, box)]
        if hits:
            seg = hits[0]
            if not _is_numeric(seg.text):
                short = len(seg.text.split()) <= _SHORT_WORDS
                return seg if short and not layout.headings[i] else None
            ref = seg.box[1] if step < 0 else seg.box[3]
        i += step
    return None


def rank_candidates(
    segments: Sequence[Segment], question: str | QuestionAnalysis, limit: int | None = 8
) -> list[Candidate]:
    """Answer candidates from the segments a reader sees, best first.

    Each span (numbers, dates, codes, capitalised names, short segments) is scored by how well its
    context matches the question: the words just before and after it, its row label (tables and
    forms), the nearest label above and below it in its column (table headers, chart categories,
    tile labels), the previous line and the section title; plus whether its kind fits the question
    ("how many" wants a number, "who" a name) and, for "highest/lowest" questions, whether its aligned
    value is the extreme. Spans that occur in the question are never answers and are dropped.

    Args:
        segments: What is read (text layer or OCR), in any single coordinate frame.
        question: The question, or its :func:`analyze_question`.
        limit: Keep the best ``limit`` candidates (``None``: all).

    Returns:
        Candidates sorted by descending score (ties: top-to-bottom, left-to-right).
    """
    qa = question if isinstance(question, QuestionAnalysis) else analyze_question(question)
    rows = group_rows(segments)
    layout = _Layout(rows, [is_heading(rows, i) for i in range(len(rows))])
    found: dict[str, Candidate] = {}
    aligned_values: list[tuple[Candidate, float]] = []
    for r, row in enumerate(rows):
        for s_index in range(len(row)):
            for cand, value in _segment_candidates(qa, layout, r, s_index):
                if value is not None:
                    aligned_values.append((cand, value))
                key = cand.text.strip().lower()
                if key not in found or found[key].score < cand.score:
                    found[key] = cand
    if qa.extreme and len(aligned_values) >= 2:
        target = (max if qa.extreme > 0 else min)(v for _, v in aligned_values)
        for cand, value in aligned_values:
            bonus = 1.0 if value == target else -0.5
            key = cand.text.strip().lower()
            if found.get(key) is cand:
                cand.features["extreme"] = bonus
                found[key] = Candidate(
                    cand.text, cand.box, cand.kind, cand.score + 0.6 * bonus, cand.features
                )
    ranked = sorted(found.values(), key=lambda c: (-c.score, c.box[1], c.box[0], c.text))
    out = []
    for cand in ranked[:limit] if limit is not None else ranked:
        cand.features["score"] = cand.score
        out.append(cand)
    return out


def _segment_context(layout: _Layout, r: int, s_index: int) -> tuple[str, str, str]:
    """The row label, the previous line and the section title of segment ``s_index`` of row ``r``."""
    rows = layout.rows
    row = rows[r]
    seg = row[s_index]
    label = row[0].text if s_index > 0 and _is_label(row[0].text) else ""
    above = rows[r - 1] if r > 0 and seg.box[1] - rows[r - 1][0].box[3] < 1.5 * seg.height else []
    prev_line = " ".join(s.text for s in above if _overlap(s.box, seg.box))
    section = next(
        (
            rows[i][0].text
            for i in range(r - 1, max(-1, r - 30), -1)
            if layout.headings[i] and seg.box[1] - rows[i][0].box[3] < 30 * seg.height
        ),
        "",
    )
    return label, prev_line, section


def _segment_candidates(
    qa: QuestionAnalysis, layout: _Layout, r: int, s_index: int
) -> list[tuple[Candidate, float | None]]:
    """Scored candidates of one segment, each with its aligned value (for extreme questions)."""
    row = layout.rows[r]
    seg = row[s_index]
    n = max(1, len(seg.text))
    x1, y1, x2, y2 = seg.box
    label, prev_line, section = _segment_context(layout, r, s_index)
    short = len(seg.text.split()) <= _SHORT_WORDS
    out: list[tuple[Candidate, float | None]] = []
    for a, b in _spans(seg.text):
        text = seg.text[a:b]
        if _raw_words(text) in qa.raw or compact(text) in _NOT_ANSWERS:
            continue  # an answer never occurs in its question
        kind = span_kind(text)
        box = (x1 + (x2 - x1) * a / n, y1, x1 + (x2 - x1) * b / n, y2)
        left = seg.text[max(0, a - 48) : a]
        if a == 0 and s_index > 0:
            left = row[s_index - 1].text + " " + left
        above = _walk(layout, r, box, -1, 4 * seg.height) if short else None
        below = _walk(layout, r, box, +1, 14 * seg.height) if short else None
        contexts = (
            ("inline", left, 1.0),
            ("inline", seg.text[b : b + 28], 0.9),
            ("row", label, 1.0),
            ("column", above.text if above is not None else "", 1.0),
            ("column", below.text if below is not None else "", 0.8),
            ("inline", prev_line, 0.5),
            ("section", section, 0.4),
        )
        best: dict[str, float] = {}
        parts = {"inline": 0.0, "row": 0.0, "column": 0.0}
        for name, ctx, weight in contexts:
            hits = matched_terms(qa, ctx)
            for t in hits:
                best[t] = max(best.get(t, 0.0), weight)
            if name in parts and hits:
                parts[name] = max(parts[name], sum(qa.terms[t] for t in hits) / qa.total_weight)
        context = sum(qa.terms[t] * w for t, w in best.items()) / qa.total_weight
        label_like = sum(qa.terms[t] for t in matched_terms(qa, text)) / qa.total_weight
        type_fit = _compatible(qa.expects, kind)
        score = context + 0.25 * type_fit - 0.5 * label_like - 0.05 * (len(text.split()) - 1)
        features = {
            "context": context,
            **parts,
            "type": type_fit,
            "extreme": 0.0,
            "label": label_like,
            "number": float(kind == "number"),
            "name": float(kind in ("name", "text")),
            "date": float(kind in ("date", "year")),
        }
        value = None
        if qa.extreme and kind in ("name", "text") and short:
            value = _walk_value(layout, r, box)
        out.append((Candidate(text, box, kind, score, features), value))
    return out


def _walk_value(layout: _Layout, row_index: int, box: BBox) -> float | None:
    """The number printed nearest above a label in its column (a bar's or point's value label)."""
    for i in range(row_index - 1, -1, -1):
        for seg in layout.rows[i]:
            if _overlap(seg.box, box) and _is_numeric(seg.text):
                try:
                    return float(seg.text.replace(",", "").rstrip("%"))
                except ValueError:
                    return None
    return None
