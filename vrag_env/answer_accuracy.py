"""Answer accuracy: a 0/1 matcher that compares numbers as numbers and text as normalised text.

:func:`accuracy` is the headline answer metric of the benchmark. Partial-credit string metrics such
as ANLS reward near misses: ``"1.1"`` against the gold ``"-1.1"`` earns ANLS 0.75 although the
sign, which is the whole point of the answer, is wrong. Here an answer is right or wrong.

**Numeric golds.** A gold answer is numeric when it is one number, optionally with a sign (``-``,
``+``, the Unicode minus, or accounting parentheses ``(1.1)``), a currency (``$ € £ ¥``, ``usd``,
``eur``, ``gbp``), thousands separators, decimals, a percent sign (or ``percent``), a scale word
(``thousand``/``k``, ``million``/``m``/``mn``, ``billion``/``bn``/``b``, ``trillion``/``tn``) and
up to three trailing unit words (``"134 million outbound trips"``, ``"-1.1 percentage points"``).
The prediction is read for number mentions of the same shape, and a mention matches the gold when:

* the values are equal as decimals: the sign must agree, separators and trailing zeros do not
  matter (``"1,234"`` = ``"1234"``, ``"1.10"`` = ``"1.1"``), and nothing is rounded: the
  prediction must state the gold's digits (``"1.13"`` is not ``"1.1"``, nor the reverse);
* scales are compared after scaling (``"3.2m"`` = ``"3.2 million"`` = ``"3,200,000"``), and a
  side that states no scale is compared by its digits with the other side's digits, because the
  question usually fixes the unit ("in $ millions"): ``"3.2"`` matches ``"$3.2 million"``,
  ``"134 million outbound trips"`` matches ``"134"``; two different stated scales never match;
* the same holds for percent: ``"12"`` matches ``"12%"``, but ``"0.12"`` does not (a fraction is a
  different number from the one printed, and accepting both would let one answer cover two);
* currencies, when both sides state one, must be the same.

**Sentences.** A prediction may be a sentence. If its number mentions hold one distinct value
(years such as ``2020`` are not counted unless the gold itself looks like a year), that value is
compared as above. If they hold several distinct values, the answer is credited only when the gold
has a qualifier (scale, percent, currency or unit word) exactly one distinct value among the
mentions that carry that qualifier matches, and the prediction has no alternatives marker (``or``,
``;``, ``/``, ``|``): ``"China is forecast to make 134 million outbound
trips in 2020."`` is right for ``"134 million"``, but ``"1.1 or -1.1"`` is wrong for ``"-1.1"``
and ``"-1.1 pp or 1.1 pp"`` is wrong for ``"-1.1 pp"``. A number glued to letters (``"FY2020"``,
``"Q3"``) is not a number mention.

Not handled, on purpose or for now: numbers written in words (``"three"``), and signs given by
words (``"down 1.1"`` is ``1.1``, wrong for ``"-1.1"``); a parenthesised number inside a sentence
is a remark, not an accounting negative.

**Text golds** (everything else, dates included: ``"2021-03-31"`` is compared as text) use
:func:`~vrag_env.answer_metrics.normalize_answer` (NFKC, case, punctuation, articles, whitespace) exact
match; a longer prediction also counts when it contains the normalised gold as whole words, is at
most ``4 * len(gold) + 12`` words long, and has no list markers (``or``, ``,``, ``;``, ``/``,
``|``) beyond those of the gold itself. Negation is not read: ``"not Deloitte"`` contains the gold.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from vrag_env.answer_metrics import normalize_answer

__all__ = ["NumberMention", "accuracy", "number_mentions", "parse_numeric_answer"]

_SCALES: dict[str, int] = {
    "thousand": 3,
    "k": 3,
    "million": 6,
    "mn": 6,
    "mln": 6,
    "m": 6,
    "billion": 9,
    "bn": 9,
    "bln": 9,
    "b": 9,
    "trillion": 12,
    "tn": 12,
}
_CURRENCIES: dict[str, str] = {
    "$": "usd",
    "us$": "usd",
    "usd": "usd",
    "€": "eur",
    "eur": "eur",
    "£": "gbp",
    "gbp": "gbp",
    "¥": "jpy",
    "jpy": "jpy",
}
_PERCENT_WORDS = ("percent", "per cent", "pct")
_UNIT_ALIASES = {"percentage": "pp", "ppt": "pp", "pts": "pp", "points": "pp"}

# One number mention in lowercased NFKC text. The digits may not touch a letter or a digit on
# either side (so "FY2020" and "Q3" are not mentions), nor follow a decimal point.
_MENTION = re.compile(
    r"""
    (?P<open>\()?
    (?P<sign1>[-+\u2212])?\s?
    (?P<cur>us\$|\$|€|£|¥|usd\s|eur\s|gbp\s|jpy\s)?\s?
    (?P<sign2>[-+\u2212])?
    (?<![\w.])
    (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
    (?!\d)
    (?P<pct>\s?%|\s(?:percent|per\scent|pct)\b)?
    (?P<scale>\s?(?:thousand|million|billion|trillion|mln|bln|mn|bn|tn|k|m|b)\b)?
    (?P<close>\))?
    """,
    re.VERBOSE,
)
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class NumberMention:
    """A number as stated in an answer.

    Attributes:
        digits: The stated number without its scale (sign applied): ``-1.1`` for ``"-1.1 bn"``.
        scale: Power of ten of the scale word (``6`` for million), or ``None`` without one.
        percent: Whether a percent sign or word follows.
        currency: ISO-like currency code (``"usd"``) or ``None``.
        unit: The first word after the number (aliases folded: ``"percentage"`` -> ``"pp"``), or
            ``None``.
    """

    digits: Decimal
    scale: int | None
    percent: bool
    currency: str | None
    unit: str | None

    @property
    def value(self) -> Decimal:
        """The number with its scale applied."""
        return self.digits.scaleb(self.scale or 0)

    @property
    def is_year(self) -> bool:
        """A bare four-digit integer between 1900 and 2100 (read as a year in sentences)."""
        return (
            self.scale is None
            and not self.percent
            and self.currency is None
            and self.digits == self.digits.to_integral_value()
            and 1900 <= self.digits <= 2100
        )


def _prepare(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2212", "-")
    return " ".join(text.split())


def _mention_from(match: re.Match[str], text: str, accounting: bool) -> NumberMention | None:
    try:
        digits = Decimal(match["num"].replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern only admits valid decimals
        return None
    negative = (match["sign1"] or match["sign2"] or "") == "-"
    if accounting and match["open"] and match["close"]:
        negative = True
    if negative:
        digits = -digits
    scale_word = (match["scale"] or "").strip()
    currency = (match["cur"] or "").strip() or None
    rest = _WORD.findall(text[match.end() :])
    unit = rest[0] if rest else None
    unit = _UNIT_ALIASES.get(unit, unit) if unit else None
    return NumberMention(
        digits=digits.normalize() if digits else Decimal(0),
        scale=_SCALES.get(scale_word) if scale_word else None,
        percent=bool(match["pct"]),
        currency=_CURRENCIES.get(currency) if currency else None,
        unit=unit,
    )


def number_mentions(text: str) -> list[NumberMention]:
    """Every number mention in ``text``, in order.

    Parentheses around a number make it negative (accounting style) only when they enclose the
    whole text: ``"(1.1)"`` is ``-1.1``, but in ``"revenue (1.1 million)"`` they are a remark.

    Example:
        >>> [float(m.value) for m in number_mentions("China: 134 million trips in 2020, up -3.5%")]
        [134000000.0, 2020.0, -3.5]
    """
    prepared = _prepare(text)
    whole = prepared.startswith("(") and prepared.endswith(")")
    mentions = []
    for match in _MENTION.finditer(prepared):
        accounting = whole and match.start() == 0 and match.end() == len(prepared)
        mention = _mention_from(match, prepared, accounting)
        if mention is not None:
            mentions.append(mention)
    return mentions


def parse_numeric_answer(gold: str) -> NumberMention | None:
    """The number a gold answer states, or ``None`` when the gold is not a numeric answer.

    A numeric gold is exactly one number mention followed by at most three unit words.

    Example:
        >>> parse_numeric_answer("$3.2 million").value
        Decimal('3.2E+6')
        >>> parse_numeric_answer("March 2021") is None
        True
    """
    prepared = _prepare(gold)
    match = _MENTION.match(prepared)
    if match is None:
        return None
    tail = prepared[match.end() :].strip().rstrip(".!?").strip()
    words = tail.split()
    if len(words) > 3 or any(not w.isalpha() for w in words):
        return None
    accounting = prepared.startswith("(") and prepared.endswith(")") and not tail
    return _mention_from(match, prepared, accounting)


def _same_number(gold: NumberMention, pred: NumberMention) -> bool:
    if gold.currency and pred.currency and gold.currency != pred.currency:
        return False
    if gold.scale is not None and pred.scale is not None:
        return gold.value == pred.value
    if gold.scale is None and pred.scale is None:
        return gold.digits == pred.digits
    # One side states no scale: compare the digits as written, or the full values.
    return gold.digits == pred.digits or gold.value == pred.value


def _qualified(gold: NumberMention, pred: NumberMention) -> bool:
    """Whether ``pred`` carries one of the gold's qualifiers (scale, percent, currency, unit)."""
    return (
        (gold.scale is not None and pred.scale == gold.scale)
        or (gold.percent and pred.percent)
        or (gold.currency is not None and pred.currency == gold.currency)
        or (gold.unit is not None and pred.unit == gold.unit)
    )


_HEDGES = re.compile(r"[;/|]|\bor\b")


def _numeric_accuracy(gold: NumberMention, prediction: str) -> bool:
    mentions = number_mentions(prediction)
    if not gold.is_year:
        mentions = [m for m in mentions if not m.is_year] or mentions
    distinct = {m.value for m in mentions}
    if not distinct:
        return False
    if len(distinct) == 1:
        return _same_number(gold, mentions[0])
    if _HEDGES.search(_prepare(prediction)):
        return False
    qualified = [m for m in mentions if _qualified(gold, m)]
    if len({m.value for m in qualified}) != 1:
        return False
    return _same_number(gold, qualified[0])


_LIST_MARKERS = re.compile(r"[,;/|]|\bor\b")


def _text_accuracy(gold: str, prediction: str) -> bool:
    ref = normalize_answer(gold).split()
    pred = normalize_answer(prediction).split()
    if pred == ref:
        return True
    if not ref or len(pred) > 4 * len(ref) + 12:
        return False
    n = len(ref)
    if not any(pred[i : i + n] == ref for i in range(len(pred) - n + 1)):
        return False
    gold_markers = len(_LIST_MARKERS.findall(_prepare(gold)))
    return len(_LIST_MARKERS.findall(_prepare(prediction))) <= gold_markers


def accuracy(prediction: str | None, answers: Sequence[str] | str) -> float:
    """1.0 if the prediction states a gold answer, else 0.0 (rules in the module docstring).

    Args:
        prediction: The agent's answer; ``None`` (no answer) scores 0.
        answers: The accepted gold answers (a bare string is one answer); the best match counts.

    Returns:
        ``1.0`` or ``0.0``.

    Example:
        >>> accuracy("1.1", ["-1.1"])
        0.0
        >>> accuracy("China is forecast to make 134 million outbound trips in 2020.", ["134 million"])
        1.0
        >>> accuracy("the aurora group", ["Aurora Group"])
        1.0
    """
    if prediction is None:
        return 0.0
    golds = (answers,) if isinstance(answers, str) else answers
    for gold in golds:
        number = parse_numeric_answer(gold)
        if number is not None:
            if _numeric_accuracy(number, prediction):
                return 1.0
        elif _text_accuracy(gold, prediction):
            return 1.0
    return 0.0
