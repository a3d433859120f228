"""String answer metrics: normalisation, edit distance, ANLS, exact match and token F1.

* :func:`anls`: Average Normalized Levenshtein Similarity, the DocVQA metric (Biten et al.,
  ICCV 2019, https://arxiv.org/abs/1905.13648; Mathew et al., WACV 2021,
  https://arxiv.org/abs/2007.00398), a partial-credit metric.
* :func:`exact_match` and :func:`token_f1`: the SQuAD metrics (Rajpurkar et al., EMNLP 2016,
  https://arxiv.org/abs/1606.05250) over :func:`normalize_answer`.

The headline 0/1 metric, which compares numbers as numbers, is in :mod:`vrag_env.answer_accuracy`;
:mod:`vrag_env.rewards` re-exports all of them. Standard library only.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence

__all__ = ["anls", "exact_match", "levenshtein", "normalize_answer", "token_f1"]

_ARTICLES = frozenset({"a", "an", "the"})
_MINUS_SIGNS = frozenset({"-", "\u2212"})  # hyphen-minus and the Unicode minus sign


def _as_golds(golds: Sequence[str] | str) -> Sequence[str]:
    # A bare string is one gold answer, not a sequence of one-character answers.
    return (golds,) if isinstance(golds, str) else golds


# --------------------------------------------------------------------------- answer metrics


def normalize_answer(text: str) -> str:
    """Normalise an answer for exact match and token F1.

    The SQuAD v1.1 evaluation rules (lowercase, drop punctuation, drop the articles *a*, *an*,
    *the*, collapse whitespace), adapted to the numbers that document questions ask for:

    * Text is NFKC-normalised first (full-width digits and letters become ASCII, ligatures split).
    * Punctuation and symbols (Unicode categories ``P*`` and ``S*``: ``,.;:!?'"()-/%$€``...) are
      deleted, not replaced by spaces, as SQuAD does: ``"U.S."`` -> ``"us"``. Thousands separators
      therefore vanish: ``"1,234"`` -> ``"1234"``.
    * Two exceptions keep numbers intact: a ``.`` between two digits is a decimal point and stays
      (``"12.4"`` does not become ``"124"``), and a minus sign directly before a digit and not
      after a letter or digit stays (``"-3.5"``; but ``"2020-2021"`` -> ``"20202021"``).
    * Numbers are not re-parsed: ``"12.40"`` and ``"12.4"`` stay different, and a decimal comma
      (``"12,4"``) reads as a thousands separator (``"124"``).

    Args:
        text: Any answer string.

    Returns:
        The normalised answer (possibly empty).

    Example:
        >>> normalize_answer("  The Aurora-Borealis Co.! ")
        'auroraborealis co'
        >>> normalize_answer("$1,234.5 million")
        '1234.5 million'
        >>> normalize_answer("(-3.5%)")
        '-3.5'
    """
    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        if ch.isspace():
            out.append(" ")
        elif unicodedata.category(ch)[0] in "PS":
            prev = text[i - 1] if i > 0 else ""
            nxt = text[i + 1] if i < last else ""
            if ch == "." and prev.isdigit() and nxt.isdigit():
                out.append(".")
            elif ch in _MINUS_SIGNS and nxt.isdigit() and not prev.isalnum():
                out.append("-")
        else:
            out.append(ch)
    return " ".join(tok for tok in "".join(out).split() if tok not in _ARTICLES)


def levenshtein(a: str, b: str) -> int:
    """Levenshtein edit distance (insertions, deletions, substitutions; unit costs).

    Bit-parallel dynamic programming (Myers, JACM 1999; Hyyrö's global-distance formulation,
    2001): one column of the DP table is held as bit vectors in Python integers, so the cost is
    ``len(longer) * len(shorter) / 64`` machine words and thousands of characters take milliseconds.

    Args:
        a: One string (compared by code points).
        b: The other.

    Returns:
        The edit distance.

    Example:
        >>> levenshtein("kitten", "sitting")
        3
    """
    if len(a) > len(b):
        a, b = b, a
    m = len(a)
    if m == 0:
        return len(b)
    # peq[c] has bit i set where a[i] == c.
    peq: dict[str, int] = {}
    for i, ch in enumerate(a):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask = (1 << m) - 1
    top = 1 << (m - 1)
    # pv/mv: vertical deltas +1/-1 of the current column; the first column is 0, 1, ..., m.
    pv, mv, dist = mask, 0, m
    for ch in b:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & top:
            dist += 1
        elif mh & top:
            dist -= 1
        # The top row of the table is 0, 1, 2, ... (global distance), so its horizontal delta is +1.
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return dist


def _anls_text(text: str) -> str:
    # DocVQA's evaluation compares lowercased answers without surrounding or repeated whitespace.
    return " ".join(text.lower().split())


def anls(prediction: str, golds: Sequence[str] | str, threshold: float = 0.5) -> float:
    """ANLS of one prediction: the DocVQA answer score.

    ``NL = levenshtein(p, g) / max(len(p), len(g))`` on lowercased, whitespace-collapsed strings;
    the score against one gold is ``1 - NL`` if ``NL < threshold`` and ``0`` otherwise, and the
    prediction gets its best score over the golds (Biten et al., 2019, eq. 1; threshold 0.5 as in
    DocVQA). Two empty strings score 1.

    Long predictions are cheap: the length difference is a lower bound of the edit distance, so a
    prediction much longer than every gold scores 0 without computing a distance, and otherwise
    :func:`levenshtein` is bit-parallel.

    Args:
        prediction: The predicted answer.
        golds: Accepted answers (a bare string is one answer); none gives 0.
        threshold: Largest normalised distance that still earns credit, exclusive, in ``(0, 1]``.

    Returns:
        A score in ``[0, 1]``.

    Raises:
        ValueError: ``threshold`` is outside ``(0, 1]``.

    Example:
        >>> anls("Aurora", ["aurora"])
        1.0
        >>> round(anls("Auror", ["Aurora"]), 4)  # one deletion in six characters
        0.8333
        >>> anls("Borealis", ["Aurora"])
        0.0
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    pred = _anls_text(prediction)
    best = 0.0
    for gold in _as_golds(golds):
        ref = _anls_text(gold)
        longest = max(len(pred), len(ref))
        if longest == 0:
            return 1.0
        if abs(len(pred) - len(ref)) / longest >= threshold:
            continue
        distance = levenshtein(pred, ref) / longest
        if distance < threshold:
            best = max(best, 1.0 - distance)
    return best


def exact_match(prediction: str, golds: Sequence[str] | str) -> float:
    """1.0 if the prediction equals a gold answer after :func:`normalize_answer`, else 0.0.

    Args:
        prediction: The predicted answer.
        golds: Accepted answers (a bare string is one answer); none gives 0.

    Returns:
        ``1.0`` or ``0.0``.

    Example:
        >>> exact_match("The 1,234.5 Million!", ["1234.5 million"])
        1.0
        >>> exact_match("12.4", ["124"])
        0.0
    """
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(gold) for gold in _as_golds(golds)))


def token_f1(prediction: str, golds: Sequence[str] | str) -> float:
    """SQuAD token F1: harmonic mean of token precision and recall, best over the golds.

    Tokens are the whitespace-separated words of :func:`normalize_answer`, counted with
    multiplicity. If either side has no tokens, the score is 1 when both have none and 0 otherwise
    (the SQuAD 2.0 convention).

    Args:
        prediction: The predicted answer.
        golds: Accepted answers (a bare string is one answer); none gives 0.

    Returns:
        A score in ``[0, 1]``.

    Example:
        >>> token_f1("revenue of 12.4 million", ["12.4 million"])  # P = 2/4, R = 2/2
        0.6666666666666666
    """
    pred = normalize_answer(prediction).split()
    best = 0.0
    for gold in _as_golds(golds):
        ref = normalize_answer(gold).split()
        if not pred or not ref:
            best = max(best, float(pred == ref))
            continue
        common = sum((Counter(pred) & Counter(ref)).values())
        if common:
            precision, recall = common / len(pred), common / len(ref)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best
