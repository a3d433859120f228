"""Answer evidence: where on a page's words a gold answer is printed.

Ingestion attaches an :class:`~vrag_env.types.Evidence` box to each query's reference pages with
:func:`attach_evidence`; :func:`find_answer` and :func:`locate_answer` do the matching.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Callable, Sequence

from vrag_env.types import BBox, Evidence, PageId, Query, Word

__all__ = ["attach_evidence", "explicit_evidence", "find_answer", "find_evidence", "locate_answer"]


def _strip_edges(text: str) -> str:
    # Drop punctuation at both ends ("Centigrade." / "(12.5%)" / "$1,200"): inner punctuation
    # ("195-205", "1,200") is part of the token.
    start, end = 0, len(text)
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return text[start:end]


def _edge_key(text: str) -> str:
    """Case-folded NFKC text without punctuation at its ends."""
    return _strip_edges(unicodedata.normalize("NFKC", text).lower())


def _alnum_key(text: str) -> str:
    """Only the letters and digits (so ``"195-" "205"`` matches ``"195-205"``)."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).lower() if c.isalnum())


def _cased(text: str, key: str, alnum_only: bool) -> str:
    norm = unicodedata.normalize("NFKC", text)
    cased = "".join(c for c in norm if c.isalnum()) if alnum_only else _strip_edges(norm)
    return cased if len(cased) == len(key) else key


def _class_break(cased: str, k: int) -> bool:
    """Whether position ``k`` of a word is a plausible token boundary (OCR often drops spaces)."""
    a, b = cased[k - 1], cased[k]
    if not a.isalnum() or not b.isalnum():
        return True
    if a.isdigit() != b.isdigit():
        return True
    if a.islower() and b.isupper():
        return True
    # "PINEAPPLEworld": an all-caps run followed by lower case.
    return a.isupper() and b.islower() and k >= 2 and cased[k - 2].isupper()


_Match = tuple[int, int, float, float, str]
"""First word, last word, start fraction in the first word, end fraction in the last, text."""


def _match(answer: str, words: Sequence[Word], alnum_only: bool, strict: bool) -> _Match | None:
    keyfn = _alnum_key if alnum_only else _edge_key
    target = "".join(keyfn(t) for t in answer.split())
    if not target:
        return None
    keys = [keyfn(w.text) for w in words]
    cased = [_cased(w.text, k, alnum_only) for w, k in zip(words, keys, strict=True)]
    starts: list[int] = []
    offset = 0
    for k in keys:
        starts.append(offset)
        offset += len(k)
    text, text_cased = "".join(keys), "".join(cased)
    edges = {*starts, len(text)}
    owner = [i for i, k in enumerate(keys) for _ in k]
    pos = text.find(target)
    while pos >= 0:
        end = pos + len(target)
        if all(e in edges or (not strict and _class_break(text_cased, e)) for e in (pos, end)):
            first, last = owner[pos], owner[end - 1]
            a = (pos - starts[first]) / len(keys[first])
            b = (end - starts[last]) / len(keys[last])
            if strict:
                shown = " ".join(words[k].text for k in range(first, last + 1))
            else:
                shown = text_cased[pos:end]
            return first, last, a, b, shown
        pos = text.find(target, pos + 1)
    return None


def find_answer(answer: str, words: Sequence[Word]) -> tuple[int, int] | None:
    """Locate an answer as a run of whole words of a text layer.

    Words and answer are compared after NFKC normalisation and case folding, first with only the
    punctuation at word ends dropped, then with letters and digits alone (so ``"195-205"`` matches
    both one word and the OCR split ``"195-" "205"``); a run of words matches when its
    concatenation equals the answer's.

    Returns:
        ``(start, end)`` word indices (``end`` exclusive) of the first match, or ``None``.

    Example:
        >>> from vrag_env.types import Word
        >>> ws = [Word(t, (0, 0, 1, 1)) for t in ["Total:", "195-205", "Centigrade."]]
        >>> find_answer("195-205 centigrade", ws)
        (1, 3)
    """
    for alnum_only in (False, True):
        found = _match(answer, words, alnum_only, strict=True)
        if found is not None:
            return found[0], found[1] + 1
    return None


def _slice_box(box: BBox, a: float, b: float) -> BBox:
    """The part ``a..b`` (fractions) of a word box along its longer side."""
    x1, y1, x2, y2 = box
    if (y2 - y1) > 1.5 * (x2 - x1):
        return (x1, y1 + a * (y2 - y1), x2, y1 + b * (y2 - y1))
    return (x1 + a * (x2 - x1), y1, x1 + b * (x2 - x1), y2)


def locate_answer(answer: str, words: Sequence[Word]) -> tuple[BBox, str] | None:
    """The box and printed text of an answer on a page, or ``None``.

    Whole-word matches (see :func:`find_answer`) come first. Failing those, the answer may also
    start or end inside a word at a letter/digit, case or punctuation change, as OCR glues words
    together (``"PINEAPPLEworld"``, ``"12.5%to"``); the box is then the matching share of that word.

    Example:
        >>> from vrag_env.types import Word
        >>> locate_answer("pineapple", [Word("PINEAPPLEworld", (0, 0, 140, 10))])
        ((0.0, 0, 90.0, 10), 'PINEAPPLE')
    """
    for strict in (True, False):
        for alnum_only in (False, True):
            found = _match(answer, words, alnum_only, strict)
            if found is None:
                continue
            first, last, a, b = found[:4]
            boxes = []
            for k in range(first, last + 1):
                lo = a if k == first else 0.0
                hi = b if k == last else 1.0
                full = (lo, hi) == (0.0, 1.0)
                boxes.append(words[k].box if full else _slice_box(words[k].box, lo, hi))
            box = (
                min(x[0] for x in boxes),
                min(x[1] for x in boxes),
                max(x[2] for x in boxes),
                max(x[3] for x in boxes),
            )
            return box, found[4]
    return None


def find_evidence(
    answers: Sequence[str], page_id: PageId, words: Sequence[Word]
) -> Evidence | None:
    """Evidence for the first answer printed on a page: its box and text, or ``None``."""
    for answer in answers:
        found = locate_answer(answer, words)
        if found is not None:
            return Evidence(page_id, found[0], found[1])
    return None


def attach_evidence(
    queries: Sequence[Query], words_of: Callable[[PageId], Sequence[Word]]
) -> list[Query]:
    """Add :class:`~vrag_env.types.Evidence` where a reference page's text layer shows the answer.

    Every reference page that prints one of the answers contributes one evidence box; queries whose
    answers are not found keep empty evidence (``small_print`` stays ``None``).
    """
    out = []
    for q in queries:
        evidence = tuple(
            e
            for e in (find_evidence(q.answers, p, words_of(p)) for p in q.reference_pages)
            if e is not None
        )
        out.append(dataclasses.replace(q, evidence=evidence))
    return out


def explicit_evidence(queries: Sequence[Query], dpi: int) -> list[Query]:
    """Use the evidence boxes a query file gives (``meta.evidence``), in place of found ones.

    A query file may list, per question, ``"evidence": [{"page": 3, "box_pt": [x1, y1, x2, y2],
    "text": "12.5%"}]`` in ``meta_info``: the box in PDF points (origin top-left, as PyMuPDF's
    word boxes), or ``"box"`` in page pixels of the rendered page. ``page`` is the 1-based page
    number of the question's file. Boxes in points are scaled by ``dpi / 72``. A ``needs_zoom``
    or ``small_print`` boolean in ``meta_info`` is kept as the query's label.

    Raises:
        ValueError: For a malformed entry, naming the query and the field.
    """
    out = []
    for q in queries:
        meta = dict(q.meta)
        raw = meta.pop("evidence", None)
        labels = {k: meta.pop(k) for k in ("needs_zoom", "small_print") if k in meta}
        for key, value in labels.items():
            if not isinstance(value, bool):
                raise ValueError(
                    f"query {q.uid!r}: meta_info.{key} must be true or false, got {value!r}"
                )
        evidence = q.evidence
        if raw is not None:
            evidence = tuple(_explicit(q, e, i, dpi) for i, e in enumerate(_entries(q, raw)))
        out.append(
            dataclasses.replace(
                q,
                evidence=evidence,
                small_print=labels.get("small_print", q.small_print),
                needs_zoom=labels.get("needs_zoom", q.needs_zoom),
                meta=meta,
            )
        )
    return out


def _entries(q: Query, raw: object) -> list[dict[str, object]]:
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        raise ValueError(f"query {q.uid!r}: meta_info.evidence must be a list of objects")
    return raw


def _explicit(q: Query, entry: dict[str, object], i: int, dpi: int) -> Evidence:
    where = f"query {q.uid!r}: meta_info.evidence[{i}]"
    stem = str(q.meta.get("file_name", "")).rsplit(".", 1)[0]
    page = entry.get("page")
    if isinstance(page, bool) or not isinstance(page, int):
        raise ValueError(f"{where}.page must be a 1-based page number, got {page!r}")
    page_id = f"{stem}_{page}"
    if page_id not in q.reference_pages:
        raise ValueError(
            f"{where}: page {page} ({page_id}) is not one of the reference pages "
            f"{list(q.reference_pages)}; list it in reference_page"
        )
    scale, box = (dpi / 72.0, entry.get("box_pt")) if "box_pt" in entry else (1.0, entry.get("box"))
    if (
        not isinstance(box, list)
        or len(box) != 4
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)
        or not (box[0] < box[2] and box[1] < box[3])
    ):
        raise ValueError(
            f"{where}: needs 'box_pt' (PDF points) or 'box' (pixels) as [x1, y1, x2, y2] with x1 < x2, y1 < y2, got {box!r}"
        )
    x1, y1, x2, y2 = (float(v) * scale for v in box)
    return Evidence(page_id, (x1, y1, x2, y2), str(entry.get("text", "")))
