"""Text and geometry helpers of the ``heuristic`` agent: label matching, OCR fixes, boxes, questions.

Label matching tolerates OCR's misreadings of faint table labels (letter-wise similarity), column
headers are matched to a question's quarter or year, and questions about a change between two
years are split into two look-ups whose answers are subtracted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher

import numpy as np

from vrag_env.reading import (
    QuestionAnalysis,
    Segment,
    match_score,
)
from vrag_env.types import BBox

from .ocr import TextBox

_TWO_YEARS = re.compile(
    r"\bbetween (?P<a>(?:19|20)\d\d) and (?P<b>(?:19|20)\d\d)\b"
    r"|\bfrom (?:Q[1-4] )?(?P<c>(?:19|20)\d\d) to (?:Q[1-4] )?(?P<d>(?:19|20)\d\d)\b"
    r"|\bin (?P<e>(?:19|20)\d\d) than in (?P<f>(?:19|20)\d\d)\b"
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


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


def index_runs(indices: Iterable[int] | np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """Runs ``(first, last)`` of sorted integer indices, a run broken where the step exceeds ``max_gap``."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and i - runs[-1][1] <= max_gap:
            runs[-1] = (runs[-1][0], int(i))
        else:
            runs.append((int(i), int(i)))
    return runs


def _pad(box: BBox, dx: float, dy: float, below: float | None = None) -> BBox:
    return (box[0] - dx, box[1] - dy, box[2] + dx, box[3] + (dy if below is None else below))


def _clip(box: BBox, bounds: BBox) -> BBox:
    x1, y1 = max(bounds[0], box[0]), max(bounds[1], box[1])
    x2, y2 = min(bounds[2], box[2]), min(bounds[3], box[3])
    if x2 - x1 < 2 or y2 - y1 < 2:
        return bounds
    return (float(np.floor(x1)), float(np.floor(y1)), float(np.ceil(x2)), float(np.ceil(y2)))


# ---------------------------------------------------------------------- two-year questions


_GLUED_DATE = re.compile(r"(\d{1,2})\s?([A-Z][a-z]{2,8})\s?(\d{4})")


def tidy_answer(text: str) -> str:
    """An answer span as it would be written: a date read without its spaces gets them back.

    Example:
        >>> tidy_answer("12February 2021"), tidy_answer("25 March2021"), tidy_answer("1,234.5")
        ('12 February 2021', '25 March 2021', '1,234.5')
    """
    m = _GLUED_DATE.fullmatch(text.strip())
    return f"{m.group(1)} {m.group(2)} {m.group(3)}" if m else text.strip()


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
