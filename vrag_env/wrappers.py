"""Wrappers: discrete macro-actions and Box observations for stable-baselines3, and reading helpers.

:class:`MacroActionWrapper` turns ``VRAG-v0`` into an env SB3 can train on (SB3 supports neither text
actions nor text observations, see ``stable_baselines3/common/preprocessing.py``):

* **Actions**: ``Discrete(K)`` macro-actions, each translated into the env's own action string with
  ``env.unwrapped.action_set.format(...)``, so rewards, termination and ``info`` are exactly the
  underlying env's (``info`` is passed through unchanged).
* **Observations**: a flat ``Dict`` of ``Box`` spaces: a downscaled view image (``uint8``), features of
  the answer candidates, and a state vector.

How the wrapper "reads" (a documented modelling choice)
--------------------------------------------------------
A policy trained from pixels alone would need an OCR model inside it. Instead the wrapper reads the
page's **text layer** (``corpus.pages[pid].words``; for ingested image corpora that *is* OCR output)
restricted to the words inside the current view region that are **legible at the current view
scale**: a word counts only if its box height times the view scale reaches
:data:`vrag_env.rendering.LEGIBLE_PX`. This models reading: small print becomes readable only after
zooming in, exactly as for an agent that looks at the image. Nothing else is read from the corpus:
no gold answers, no evidence boxes, no page ids.

The same reading helpers (:func:`analyze_question`, :func:`segments_from_words`,
:func:`rank_candidates`) are used by the OCR heuristic agent on real OCR output, so the two baselines
share one answer-span extractor and differ in how they see (OCR vs. text layer) and decide (rules vs.
a learned policy).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from vrag_env.actions import Answer, Crop, Search
from vrag_env.rendering import LEGIBLE_PX
from vrag_env.types import BBox

# ---------------------------------------------------------------------------------------------
# Reading helpers: question analysis, segments, answer candidates
# ---------------------------------------------------------------------------------------------

STOPWORDS = frozenset(
    """a about above according after all also am an and any are as at be been before being below
    between both but by can could did do does doing down during each few for from further given had
    has have having he her here hers herself him his how i if in into is it its itself just me more
    most my no nor not now of off on once only or other our out over own same she should show shown
    so some such than that the their theirs them then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you
    your usd million many much""".split()
)
"""Words ignored when matching a question against page text."""

_QUARTERS = (("first", "q1"), ("second", "q2"), ("third", "q3"), ("fourth", "q4"))
_TOKEN = re.compile(r"[a-z]+\d+|[a-z]+|\d+(?:[.,]\d+)*")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_MONTHS = (
    "january february march april may june july august september october november december".split()
)
_MONTH_WORD = re.compile(r"\b(?:" + "|".join(_MONTHS) + r")\b")
_DATE = re.compile(r"\b\d{1,2}\s?(?:" + "|".join(m.capitalize() for m in _MONTHS) + r")\s?\d{4}\b")
_NUMBER = re.compile(
    r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?:\s?[-–]\s?\d[\d,]*(?:\.\d+)?)?%?(?![\w])"
)
_CODE = re.compile(r"\b[A-Z]{1,4}-[A-Z0-9][A-Z0-9-]*\b|\S+@\S+\.\w+")
_NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:&\s+|and\s+|of\s+)?[A-Z][\w'’.-]*)*")
_TRAILING = ".,;:)(]["
_ENUMERATOR = re.compile(r"(?:Table|Figure|Fig\.|Page|Note|Chart|Slide)\s*$|\bresults\s*$", re.I)
_SHORT_WORDS = 6
_LABEL_WORDS = 4
"""Row labels (a table's first column, a form's field names) have at most this many words."""
_NOT_ANSWERS = STOPWORDS | {"", "i", "our", "we", "usd", "page"}
_DOCUMENT_WORDS = frozenset({"annual", "report", "presentation", "result", "page", "accord"})
"""Words that name the document rather than the fact asked for; they count less."""
"""Segments of at most this many words take part in column (header/label) associations."""

ANSWER_KINDS = ("number", "date", "year", "name", "code", "text")
"""Kinds of candidate spans (and of the answer a question expects, plus ``"any"``)."""

_EXPECT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("year", re.compile(r"\bwhich year\b|\bwhat year\b|\bfounded\b")),
    ("date", re.compile(r"\bdate\b|\bwhen\b|\bwhat day\b")),
    ("name", re.compile(r"\bwho\b|\bname of\b|\bwhich firm\b|\bcontact person\b|\bline manager\b")),
    ("code", re.compile(r"\bid\b|\bclaim number\b|\basset tag\b|\bcost centre\b|\bemail\b")),
    (
        "name",
        re.compile(
            r"\bwhere\b|\bcity\b|\bdestination\b|\bwhich (?:region|segment|month|option)\b"
            r"|\bticker\b|\bselected\b|\bticked\b|\bcurrency\b|\bdepartment\b"
        ),
    ),
    (
        "number",
        re.compile(
            r"\bhow (?:many|much|high|large)\b|\bpercentage\b|\bshare\b|\bby how\b|\brate\b"
            r"|\bmargin\b|\brevenue\b|\bexpens|\bcost|\bspen[dt]\b|\bcash flow\b|\bscore\b"
            r"|\bdividend\b|\bgrowth\b|\bexpenditure\b|\bsample size\b|\bamount\b|\bheadcount\b"
            r"|\bfigure\b|\bnumber\b|\bextension\b|\btarget|\bvalue\b"
        ),
    ),
)
_HIGHEST = re.compile(r"\bhighest\b|\bpeak\b|\blargest\b|\bbiggest\b")
_LOWEST = re.compile(r"\blowest\b|\bsmallest\b|\btrough\b")


def stem(word: str) -> str:
    """A light suffix stripper, enough to match "headquartered" with "headquarters".

    Example:
        >>> [stem(w) for w in ("headquartered", "headquarters", "approved", "approve", "sites")]
        ['headquarter', 'headquarter', 'approv', 'approv', 'sit']
    """
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    elif len(word) > 4 and word.endswith("es"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


def _normalise_text(text: str) -> str:
    text = text.lower().replace("’", "'")
    text = re.sub(r"full[- ]year|fiscal year|financial year", " fy ", text)
    text = re.sub(r"prior[- ]year|previous[- ]year|a year earlier", " prior ", text)
    text = _MONTH_WORD.sub(lambda m: m.group(0)[:3], text)
    for word, quarter in _QUARTERS:
        text = re.sub(rf"\b{word} quarter\b", f" {quarter} ", text)
    return text


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed content tokens; ``FY 2022`` also yields the compound ``fy2022``.

    Example:
        >>> tokenize("What was the full-year 2022 revenue in the third quarter?")
        ['fy', 'fy2022', '2022', 'revenu', 'q3', 'fy', '2022']
    """
    raw = _TOKEN.findall(_normalise_text(text))
    out: list[str] = []
    for i, word in enumerate(raw):
        if word in STOPWORDS:
            continue
        out.append(stem(word) if word.isalpha() else word)
        if word == "fy" and i + 1 < len(raw) and _YEAR.match(raw[i + 1]):
            out.append(f"fy{raw[i + 1]}")
    for i, word in enumerate(out):
        # OCR may glue "FY" to the year; split it so both spellings match.
        if re.fullmatch(r"fy(?:19|20)\d\d", word) and (i == 0 or out[i - 1] != word[2:]):
            out += ["fy", word[2:]]
            break
    return out


def compact(text: str) -> str:
    """Lower-case letters and digits only (OCR sometimes drops the spaces between words)."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _raw_words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


@dataclass(frozen=True)
class QuestionAnalysis:
    """What a question asks, as the extractor uses it.

    Attributes:
        question: The question.
        terms: Content terms and their weights (quarters and ``fy<year>`` count double, years half).
        expects: The kind of answer expected (one of :data:`ANSWER_KINDS` or ``"any"``).
        extreme: ``+1`` for "highest/peak", ``-1`` for "lowest", else ``0``.
        raw: The question's words, space-separated, for the answer-leak check.
    """

    question: str
    terms: dict[str, float]
    expects: str
    extreme: int
    raw: str

    @property
    def total_weight(self) -> float:
        """Sum of the term weights (at least 1)."""
        return max(1.0, sum(self.terms.values()))


def analyze_question(question: str) -> QuestionAnalysis:
    """Terms, expected answer kind and extreme direction of a question.

    Example:
        >>> qa = analyze_question("What was Aurora's revenue from Europe in the third quarter of 2022?")
        >>> sorted(qa.terms.items()), qa.expects
        ([('2022', 0.5), ('aurora', 1.0), ('europ', 1.0), ('q3', 2.0), ('revenu', 1.0)], 'number')
    """
    tokens = tokenize(question)
    terms: dict[str, float] = {}
    years = [t for t in tokens if _YEAR.match(t)]
    for tok in tokens:
        if tok in {"fy", "prior"} or (len(tok) == 1 and tok.isalpha()):
            continue
        if _YEAR.match(tok):
            weight = 0.5
        elif tok in _DOCUMENT_WORDS:
            weight = 0.3
        elif re.fullmatch(r"q[1-4]|fy\d{4}", tok):
            weight = 2.0
        else:
            weight = 1.0
        terms[tok] = max(terms.get(tok, 0.0), weight)
    if "prior" in tokens and years and not any(t.startswith("fy") and len(t) > 2 for t in tokens):
        terms[f"fy{int(years[-1]) - 1}"] = 2.0
    lowered = question.lower()
    expects = "any"
    for kind, pattern in _EXPECT_RULES:
        if pattern.search(lowered):
            expects = kind
            break
    extreme = 1 if _HIGHEST.search(lowered) else -1 if _LOWEST.search(lowered) else 0
    return QuestionAnalysis(question, terms, expects, extreme, _raw_words(question))


def matched_terms(qa: QuestionAnalysis, text: str) -> set[str]:
    """The question terms that occur in ``text`` (as tokens, or inside its compacted form)."""
    if not text:
        return set()
    tokens = set(tokenize(text))
    squashed = compact(text)
    return {t for t in qa.terms if t in tokens or (len(t) >= 4 and t in squashed)}


def match_score(qa: QuestionAnalysis, text: str) -> float:
    """Weighted fraction of the question's terms found in ``text`` (0..1)."""
    return sum(qa.terms[t] for t in matched_terms(qa, text)) / qa.total_weight


@dataclass(frozen=True)
class Segment:
    """A run of text read as one unit: a table cell, a label, a line of a paragraph.

    Attributes:
        text: The text.
        box: Its box ``(x1, y1, x2, y2)``; any frame, as long as all segments share it.
    """

    text: str
    box: BBox

    @property
    def height(self) -> float:
        """Box height."""
        return max(1e-6, self.box[3] - self.box[1])

    @property
    def cy(self) -> float:
        """Vertical centre."""
        return (self.box[1] + self.box[3]) / 2


def segments_from_words(words: Iterable[tuple[str, BBox]], gap: float = 0.6) -> list[Segment]:
    """Merge words (in reading order) into segments: same line, gap below ``gap`` x word height.

    Example:
        >>> words = [("North", (0, 0, 40, 10)), ("America", (44, 0, 100, 10)), ("45.6", (300, 0, 330, 10))]
        >>> [s.text for s in segments_from_words(words)]
        ['North America', '45.6']
    """
    segments: list[Segment] = []
    text, box = "", None
    for word, wbox in words:
        if box is not None:
            h = box[3] - box[1]
            same_line = abs((wbox[1] + wbox[3]) / 2 - (box[1] + box[3]) / 2) < 0.35 * h
            close = 0 <= wbox[0] - box[2] < gap * h and abs((wbox[3] - wbox[1]) - h) < 0.3 * h
            if same_line and close:
                text += " " + word
                box = (box[0], min(box[1], wbox[1]), wbox[2], max(box[3], wbox[3]))
                continue
            segments.append(Segment(text, box))
        text, box = word, wbox
    if box is not None:
        segments.append(Segment(text, box))
    return segments


def group_rows(segments: Sequence[Segment]) -> list[list[Segment]]:
    """Segments grouped into rows (vertically aligned), top to bottom, each left to right."""
    rows: list[list[Segment]] = []
    for seg in sorted(segments, key=lambda s: (s.cy, s.box[0])):
        if rows:
            row = rows[-1]
            ref = sum(s.cy for s in row) / len(row)
            h = min(min(s.height for s in row), seg.height)
            if abs(seg.cy - ref) < 0.45 * h:
                row.append(seg)
                continue
        rows.append([seg])
    for row in rows:
        row.sort(key=lambda s: s.box[0])
    return rows


def span_kind(text: str) -> str:
    """The kind of a candidate span: number, date, year, name, code or text.

    Example:
        >>> [span_kind(t) for t in ("1,234.5", "8-10%", "14 May 2023", "2021", "Kofi Osei", "EC-2021-9769")]
        ['number', 'number', 'date', 'year', 'name', 'code']
    """
    t = text.strip()
    if _DATE.fullmatch(t):
        return "date"
    if _YEAR.match(t):
        return "year"
    if _NUMBER.fullmatch(t) or re.fullmatch(r"(?:USD\s)?[-+]?\d[\d,.]*%?", t):
        return "number"
    if _CODE.fullmatch(t) or (re.search(r"\d", t) and re.search(r"[A-Za-z]", t)):
        return "code"
    if t[:1].isupper() and not re.search(r"\d", t):
        return "name"
    return "text"


def is_heading(rows: Sequence[Sequence[Segment]], i: int) -> bool:
    """Whether row ``i`` looks like a heading (or a bullet, or a paragraph's first line).

    That is: one segment of words, with a vertical gap of at least 0.8 of its height above it.
    """
    if len(rows[i]) != 1 or not _is_words(rows[i][0].text):
        return False
    if i == 0:
        return True
    seg = rows[i][0]
    gap = seg.box[1] - max(s.box[3] for s in rows[i - 1])
    return gap >= 0.8 * seg.height


def _is_words(text: str) -> bool:
    return len(re.findall(r"[A-Za-z]", text)) >= 3


def _is_label(text: str) -> bool:
    return not _is_numeric(text) and len(text.split()) <= _LABEL_WORDS


def _is_numeric(text: str) -> bool:
    return bool(re.fullmatch(r"[\s\d,.%+\-–()]+", text)) and any(c.isdigit() for c in text)


def _compatible(expects: str, kind: str) -> float:
    if expects == "any":
        return 0.0
    if expects == kind:
        return 1.0
    if (expects, kind) in {
        ("code", "number"),
        ("number", "code"),
        ("name", "text"),
        ("date", "year"),
    }:
        return 0.3
    return -1.0


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


# ---------------------------------------------------------------------------------------------
# The SB3 wrapper
# ---------------------------------------------------------------------------------------------

GRID = 2
"""The crop grid is ``GRID x GRID`` cells of the current view (a 2x2 cell of a report page or a
slide is shown at a scale where its small print is legible)."""

NUM_CANDIDATES = 8
"""Answer macro-actions: one per ranked candidate."""

IMAGE_SIZE = 64
"""Side of the downscaled view image in the observation."""

_KINDS = ("none", "search", "crop", "answer", "invalid")
_EXPECTS = ("any", *ANSWER_KINDS)


@dataclass(frozen=True)
class MacroAction:
    """One discrete macro-action.

    Attributes:
        kind: ``"search"``, ``"crop_cell"``, ``"crop_best"`` or ``"answer"``.
        index: Grid cell (row-major) for ``crop_cell``, candidate rank for ``answer``.
    """

    kind: str
    index: int = 0

    @property
    def name(self) -> str:
        """A short readable name (``"search"``, ``"crop_cell_4"``, ``"answer_0"``)."""
        return self.kind if self.kind in ("search", "crop_best") else f"{self.kind}_{self.index}"


def macro_actions(
    grid: int = GRID, num_candidates: int = NUM_CANDIDATES
) -> tuple[MacroAction, ...]:
    """The macro-action list: search, the grid crops, crop-best-line, then one answer per candidate."""
    return (
        MacroAction("search"),
        *(MacroAction("crop_cell", i) for i in range(grid * grid)),
        MacroAction("crop_best"),
        *(MacroAction("answer", k) for k in range(num_candidates)),
    )


class MacroActionWrapper(gym.Wrapper[dict[str, np.ndarray], np.int64, dict[str, Any], str]):
    """``VRAG`` with ``Discrete`` macro-actions and a flat ``Dict`` of ``Box`` observations (for SB3).

    ## Action Space

    ``Discrete(2 + grid**2 + num_candidates)``; with the defaults (``grid=2``, 8 candidates), 14:

    | action | macro | env action |
    |---|---|---|
    | 0 | search | ``<search>{question}</search>``: the retriever's best page not shown yet, so repeating it shows the next result |
    | 1..4 | crop grid cell ``i`` | ``<bbox>`` of cell ``i`` (row-major) of a 2x2 grid over the current view |
    | 5 | crop around the best line | a band below the legible line that best matches the question: the full view width, from one line above it down by ``best_band`` x the width (a table or chart under its title, a paragraph); the cell with the most small print when nothing legible matches |
    | 6..13 | answer candidate ``k`` | ``<answer>{candidate k}</answer>``; an empty (invalid) answer when there are fewer candidates |

    Actions that cannot apply (crop before any search, a missing candidate) are passed on as the
    env's invalid actions, so they cost the env's penalty and the episode goes on.

    ## Observation Space

    | key | space | content |
    |---|---|---|
    | ``image`` | ``Box(0, 255, (64, 64, 3), uint8)`` | the view image, downscaled |
    | ``candidates`` | ``Box(-1, 1, (num_candidates * 11,), float32)`` | per candidate: the features of :data:`CANDIDATE_FEATURES`, zeros for missing ones |
    | ``state`` | ``Box(-1, 1, (state_size,), float32)`` | step fraction, page shown, searches, crops, zoom, the expected answer kind (one-hot), the best line's match, the question terms found in the view, legible/small-print amounts, per grid cell its best match and small-print density, the last action kind (one-hot) |

    Candidates come from :func:`rank_candidates` over the **legible** words of the current view (see
    the module docstring).

    ## Info

    The env's ``info``, unchanged.

    Args:
        env: A ``VRAG`` env (``gym.make("VRAG-v0")``, any dialect).
        grid: Crop grid size.
        num_candidates: Answer macro-actions.
        image_size: Side of the observation image.
        best_band: Height of the crop-best-line band, as a fraction of the view region's width.
        max_steps: Step budget used for the step fraction (default: the env's ``TimeLimit``, else 10).
    """

    def __init__(
        self,
        env: gym.Env[dict[str, Any], str],
        grid: int = GRID,
        num_candidates: int = NUM_CANDIDATES,
        image_size: int = IMAGE_SIZE,
        best_band: float = 0.6,
        max_steps: int | None = None,
    ) -> None:
        # gymnasium annotates ``Wrapper.__init__``'s env with the wrapper's own (outer) types.
        super().__init__(env)  # type: ignore[arg-type]
        if grid < 1 or num_candidates < 1 or image_size < 36:
            raise ValueError(
                f"need grid >= 1, num_candidates >= 1 and image_size >= 36 (SB3's CNN minimum); got "
                f"grid={grid}, num_candidates={num_candidates}, image_size={image_size}"
            )
        self.grid = grid
        self.num_candidates = num_candidates
        self.image_size = image_size
        self.best_band = best_band
        spec_steps = env.spec.max_episode_steps if env.spec is not None else None
        self.max_steps = int(max_steps or spec_steps or 10)
        self.actions = macro_actions(grid, num_candidates)
        self.state_size = 5 + len(_EXPECTS) + 5 + 2 * grid * grid + len(_KINDS)
        self.action_space = spaces.Discrete(len(self.actions))
        self.observation_space = spaces.Dict(  # type: ignore[assignment]
            {
                "image": spaces.Box(0, 255, (image_size, image_size, 3), np.uint8),
                "candidates": spaces.Box(
                    -1.0, 1.0, (num_candidates * len(CANDIDATE_FEATURES),), np.float32
                ),
                "state": spaces.Box(-1.0, 1.0, (self.state_size,), np.float32),
            }
        )
        self._qa: QuestionAnalysis | None = None
        self._question = ""
        self._candidates: list[Candidate] = []
        self._segments: list[Segment] = []
        self._illegible: list[BBox] = []
        self._last_info: dict[str, Any] = {}

    # ------------------------------------------------------------------ Gym API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset the env and read the (blank) first view."""
        obs, info = self.env.reset(seed=seed, options=options)
        self.start_episode(str(obs["question"]))
        return self.observe(obs, info), info

    def step(
        self, action: np.int64 | int
    ) -> tuple[dict[str, np.ndarray], SupportsFloat, bool, bool, dict[str, Any]]:
        """Translate the macro-action into an env action string and step the env."""
        text = self.action_text(int(action))
        obs, reward, terminated, truncated, info = self.env.step(text)  # type: ignore[arg-type]
        return self.observe(obs, info), reward, terminated, truncated, info

    # ------------------------------------------------------------------ for agents that step the env

    def start_episode(self, question: str) -> None:
        """Start reading for a new question.

        ``reset`` calls it; so do agents that drive the underlying env themselves and use this
        wrapper only to observe and translate.
        """
        self._question = question
        self._qa = analyze_question(question)
        self._candidates = []

    # ------------------------------------------------------------------ translation

    def action_text(self, action: int) -> str:
        """The env action string for macro-action ``action`` in the current state."""
        if not 0 <= action < len(self.actions):
            raise gym.error.InvalidAction(
                f"macro-action must be in [0, {len(self.actions)}), got {action}"
            )
        macro = self.actions[action]
        action_set = self.env.unwrapped.action_set  # type: ignore[attr-defined]
        if macro.kind == "search":
            return str(action_set.format(Search(self._question[: action_set.max_query_chars])))
        if macro.kind == "answer":
            k = macro.index
            answer = self._candidates[k].text if k < len(self._candidates) else ""
            return str(action_set.format(Answer(answer)))
        view = self.env.unwrapped.view  # type: ignore[attr-defined]
        if view is None:
            # Nothing to crop yet: the env rejects this crop (an invalid action, with its penalty).
            return str(action_set.format(self._view_crop((0.0, 0.0, 1.0, 1.0), None)))
        region = self._crop_region(macro, view.region)
        return str(action_set.format(self._view_crop(region, view)))

    def _crop_region(self, macro: MacroAction, region: BBox) -> BBox:
        """The page-pixel region a crop macro-action asks for."""
        x1, y1, x2, y2 = region
        w, h = x2 - x1, y2 - y1
        if macro.kind == "crop_best":
            best = self._best_segment()
            if best is not None:
                return self._band_below(best[0], region)
            cell = (
                int(np.argmax(self._cell_density()))
                if self._illegible
                else (self.grid * self.grid) // 2
            )
        else:
            cell = macro.index
        row, col = divmod(cell, self.grid)
        return (
            x1 + w * col / self.grid,
            y1 + h * row / self.grid,
            x1 + w * (col + 1) / self.grid,
            y1 + h * (row + 1) / self.grid,
        )

    def _band_below(self, seg: Segment, region: BBox) -> BBox:
        """The crop-best-line region below ``seg``.

        The view's full width, from one line above ``seg`` down by ``best_band`` times the view's
        width (a table or chart under its title, a paragraph with its notes). With the width
        fixed, the band's height barely changes the zoom, so it is generous.
        """
        x1, y1, x2, y2 = region
        top = max(y1, seg.box[1] - seg.height)
        bottom = min(y2, top + self.best_band * (x2 - x1))
        return (x1, top, x2, bottom)

    def _view_crop(self, region: BBox, view: Any) -> Crop:
        """A :class:`Crop` in the env dialect's frame for a page-pixel region of the current view."""
        action_set = self.env.unwrapped.action_set  # type: ignore[attr-defined]
        if view is None:
            if action_set.dialect == "tool":
                return Crop((0.0, 0.0, 1.0, 1.0), "normalized")
            height, width = action_set.view_size
            return Crop((0.0, 0.0, float(width), float(height)), "view")
        vx1, vy1, vx2, vy2 = view.page_to_view(region)
        cx1, cy1, cx2, cy2 = view.content_box
        box = (
            max(cx1, math.floor(vx1)),
            max(cy1, math.floor(vy1)),
            min(cx2, math.ceil(vx2)),
            min(cy2, math.ceil(vy2)),
        )
        if action_set.dialect == "tool":  # fractions of the observation image
            height, width = action_set.view_size
            x1, y1, x2, y2 = box
            return Crop((x1 / width, y1 / height, x2 / width, y2 / height), "normalized")
        return Crop(box, "view")

    # ------------------------------------------------------------------ reading

    def _read_view(self, info: dict[str, Any]) -> None:
        """Legible segments and small-print boxes of the current view (page pixels)."""
        self._segments, self._illegible = [], []
        view = self.env.unwrapped.view  # type: ignore[attr-defined]
        page_id = info.get("current_page")
        if view is None or page_id is None:
            return
        # Privileged: the generator's text layer (perfect OCR); OCR candidates are planned (issue 9).
        page = self.env.unwrapped.corpus.pages[page_id]  # type: ignore[attr-defined]
        rx1, ry1, rx2, ry2 = view.region
        legible: list[tuple[str, BBox]] = []
        for word in page.words:
            bx1, by1, bx2, by2 = word.box
            cx, cy = (bx1 + bx2) / 2, (by1 + by2) / 2
            if not (rx1 <= cx <= rx2 and ry1 <= cy <= ry2):
                continue
            if (by2 - by1) * view.scale >= LEGIBLE_PX:
                legible.append((word.text, word.box))
            else:
                self._illegible.append(word.box)
        self._segments = segments_from_words(legible)

    def _best_segment(self) -> tuple[Segment, float] | None:
        if self._qa is None or not self._segments:
            return None
        scored = [(seg, match_score(self._qa, seg.text)) for seg in self._segments]
        seg, score = max(scored, key=lambda p: (p[1], -p[0].box[1]))
        return (seg, score) if score > 0 else None

    def _cells(self) -> list[BBox]:
        view = self.env.unwrapped.view  # type: ignore[attr-defined]
        if view is None:
            return []
        x1, y1, x2, y2 = view.region
        w, h = (x2 - x1) / self.grid, (y2 - y1) / self.grid
        return [
            (x1 + c * w, y1 + r * h, x1 + (c + 1) * w, y1 + (r + 1) * h)
            for r in range(self.grid)
            for c in range(self.grid)
        ]

    def _cell_density(self) -> np.ndarray:
        cells = self._cells()
        counts = np.zeros(self.grid * self.grid, np.float32)
        for bx1, by1, bx2, by2 in self._illegible:
            cx, cy = (bx1 + bx2) / 2, (by1 + by2) / 2
            for i, (x1, y1, x2, y2) in enumerate(cells):
                if x1 <= cx < x2 and y1 <= cy < y2:
                    counts[i] += 1
                    break
        return counts

    def observe(self, obs: dict[str, Any], info: dict[str, Any]) -> dict[str, np.ndarray]:
        """The wrapper's observation for an env observation and info.

        Also ranks the answer candidates that :meth:`action_text` answers with.
        """
        self._read_view(info)
        qa = self._qa
        assert qa is not None
        self._candidates = rank_candidates(self._segments, qa, self.num_candidates)
        feats = np.zeros((self.num_candidates, len(CANDIDATE_FEATURES)), np.float32)
        for k, cand in enumerate(self._candidates):
            feats[k] = [cand.features.get(name, 0.0) for name in CANDIDATE_FEATURES]
        image = _downscale(obs["image"], self.image_size)
        return {
            "image": image,
            "candidates": np.clip(feats.reshape(-1), -1.0, 1.0),
            "state": np.clip(self._state(info), -1.0, 1.0),
        }

    def _state(self, info: dict[str, Any]) -> np.ndarray:
        qa = self._qa
        assert qa is not None
        view = self.env.unwrapped.view  # type: ignore[attr-defined]
        best = self._best_segment()
        text = " ".join(s.text for s in self._segments)
        kind = info.get("action_kind") or "none"
        cells = self._cells()
        cell_match = np.zeros(self.grid * self.grid, np.float32)
        for seg in self._segments:
            cx, cy = (seg.box[0] + seg.box[2]) / 2, seg.cy
            for i, (x1, y1, x2, y2) in enumerate(cells):
                if x1 <= cx < x2 and y1 <= cy < y2:
                    cell_match[i] = max(cell_match[i], match_score(qa, seg.text))
                    break
        density = self._cell_density()
        density = density / max(1.0, float(density.sum()))
        values = [
            info.get("step", 0) / self.max_steps,
            float(info.get("current_page") is not None),
            min(1.0, info.get("num_searches", 0) / 4),
            min(1.0, info.get("num_crops", 0) / 4),
            0.0 if view is None else float(np.clip(math.log2(max(view.scale, 1e-3)) / 2, -1, 1)),
            *(float(qa.expects == e) for e in _EXPECTS),
            0.0 if best is None else best[1],
            match_score(qa, text),
            min(1.0, len(self._segments) / 60),
            min(1.0, len(self._illegible) / 200),
            float(bool(self._candidates)),
            *cell_match,
            *density,
            *(float(kind == k) for k in _KINDS),
        ]
        return np.asarray(values, np.float32)


def _downscale(image: np.ndarray, size: int) -> np.ndarray:
    """Box-filter a ``(H, W, 3)`` uint8 image down to ``(size, size, 3)``."""
    from PIL import Image

    pil = Image.fromarray(image)
    h, w = image.shape[:2]
    if h % size == 0 and w % size == 0 and h // size == w // size:
        return np.asarray(pil.reduce(h // size), np.uint8)
    return np.asarray(pil.resize((size, size), Image.Resampling.BOX), np.uint8)
