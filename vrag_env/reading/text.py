"""Question analysis, text normalisation and segments (lines of words) of a page or a view.

Pure text and geometry: nothing here reads a corpus, an image or ground truth.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vrag_env.text import has_cjk
from vrag_env.text import tokenize as index_tokenize
from vrag_env.types import BBox

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
    # Bounded by anything but ASCII letters, digits and "_" (so CJK text around a number, as in
    # "诞生于2014年", does not hide it).
    r"(?<![A-Za-z0-9_.])[-+]?\d[\d,]*(?:\.\d+)?(?:\s?[-–]\s?\d[\d,]*(?:\.\d+)?)?%?(?![A-Za-z0-9_])"
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
    ("year", re.compile(r"\bwhich year\b|\bwhat year\b|\bfounded\b|哪一年|哪年|何年")),
    ("date", re.compile(r"\bdate\b|\bwhen\b|\bwhat day\b")),
    (
        "name",
        re.compile(r"谁|\bwho\b|\bname of\b|\bwhich firm\b|\bcontact person\b|\bline manager\b"),
    ),
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
            r"|\bfigure\b|\bnumber\b|\bextension\b|\btarget|\bvalue\b|多少|几"
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
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)  # full-width digits and letters, ligatures
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
    if has_cjk(text):
        # Chinese and Japanese have no spaces: their runs count as character bigrams (and a lone
        # character as itself), as the BM25 index splits them; function characters are dropped.
        out += [t for t in _cjk_terms(text) if not CJK_FUNCTION_CHARS & set(t)]
    return out


CJK_FUNCTION_CHARS = frozenset("的了是吗呢哪么什几")
"""CJK function and question characters: a bigram holding one is not matched against page text."""


def _cjk_terms(text: str) -> list[str]:
    """The CJK bigrams of ``text`` (a single-character run gives its character)."""
    terms = index_tokenize(text, stopwords=False, stem=False)
    cjk = [t for t in terms if has_cjk(t)]
    bigrams = [t for t in cjk if len(t) == 2]
    singles = {t for t in cjk if len(t) == 1}
    covered = {c for b in bigrams for c in b}
    return bigrams + sorted(singles - covered)


def compact(text: str) -> str:
    """Lower-case letters and digits only, CJK characters kept (OCR may drop the spaces)."""
    if text.isascii():
        return re.sub(r"[^a-z0-9]", "", text.lower())
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in text if ("a" <= c <= "z") or c.isdigit() or has_cjk(c))


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
