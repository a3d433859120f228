"""Query files for ingestion: parsing, page-id mapping, split assignment and answer evidence.

Supported input, one example per question, in the VRAG-RL / ViDoSeek ``rag_dataset.json`` layout::

    {"examples": [
      {"uid": "q1", "query": "What ...?", "reference_answer": "195-205 Centigrade",
       "meta_info": {"file_name": "report.pdf", "reference_page": [10, 11],
                     "source_type": "Text", "query_type": "Multi-Hop"}}
    ]}

The same examples may come as a bare JSON list, or as JSON Lines (one example per line, ``.jsonl``).
``reference_page`` holds 1-based page numbers of ``file_name``; they become page ids
``{file_stem}_{page}``. An optional ``split`` (top level or in ``meta_info``) is kept; queries
without one get a split from :func:`assign_split`. ``reference_answer`` may be a string, a number,
or a list of accepted answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vrag_env.types import SPLITS, BBox, Evidence, PageId, Query, Word

logger = logging.getLogger(__name__)

SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
    "eval": "test",
}
"""Split names found in released datasets, mapped to the corpus splits."""

HASH_SPLIT = "hash"
"""Split mode: assign each query without a split by a hash of its uid (see :func:`assign_split`)."""

HASH_FRACTIONS = (("train", 80), ("val", 10), ("test", 10))
"""Percentages of the hash split, in order."""


class QueryError(ValueError):
    """A query cannot be used; the message names its uid (or file and line) and what to fix."""

    def __init__(self, uid: str, message: str) -> None:
        super().__init__(message)
        self.uid = uid


@dataclass(frozen=True)
class RawQuery:
    """A question as read from a query file, before its reference pages are mapped to page ids.

    Attributes:
        uid: Unique question id.
        question: The question text.
        answers: Accepted answers (the first is canonical).
        file_name: The document the reference pages belong to (a file name, path or stem).
        reference_pages: 1-based page numbers within ``file_name``.
        source_type: The dataset's evidence/source label, if any.
        query_type: The dataset's question type, if any.
        split: The dataset's own split, already normalised, or ``None``.
        where: File and line or row, for error messages.
        meta: Extra JSON metadata kept in the corpus.
    """

    uid: str
    question: str
    answers: tuple[str, ...]
    file_name: str
    reference_pages: tuple[int, ...]
    source_type: str = ""
    query_type: str = ""
    split: str | None = None
    where: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def normalize_split(value: Any, where: str = "") -> str:
    """Map a dataset split name (``"validation"``, ``"dev"``, ...) to ``train``/``val``/``test``.

    Raises:
        ValueError: For an unknown split name.
    """
    name = str(value).strip().lower()
    if name not in SPLIT_ALIASES:
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}unknown split {value!r}; use one of {SPLITS}")
    return SPLIT_ALIASES[name]


def assign_split(uid: str, mode: str = HASH_SPLIT) -> str:
    """The split of a query that has none: a fixed split, or a deterministic hash of its uid.

    The hash split puts about 80% of the uids in ``train``, 10% in ``val`` and 10% in ``test``; it
    depends only on the uid, so re-ingesting (or adding questions) never moves a question.

    Example:
        >>> assign_split("q1", "test")
        'test'
        >>> assign_split("q1") == assign_split("q1")
        True
    """
    if mode != HASH_SPLIT:
        return normalize_split(mode)
    bucket = int(hashlib.sha256(uid.encode("utf-8")).hexdigest()[:8], 16) % 100
    for split, percent in HASH_FRACTIONS:
        if bucket < percent:
            return split
        bucket -= percent
    return "test"


# ---------------------------------------------------------------------------------------------
# Parsing


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _answers(value: Any, where: str, uid: str) -> tuple[str, ...]:
    items = value if isinstance(value, (list, tuple)) else [value]
    answers = tuple(a for a in (_text(v) for v in items) if a)
    if not answers:
        raise QueryError(uid, f"{where}: query {uid!r} has no reference_answer")
    return answers


def parse_pages(value: Any, where: str, uid: str) -> tuple[int, ...]:
    """Parse a ``reference_page`` value: an int, a list of ints, or such a list as a string.

    Raises:
        QueryError: If the value is not a page number or a list of page numbers.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text else []
        except json.JSONDecodeError:
            value = [v for v in re.split(r"[,\s]+", text.strip("[]()")) if v]
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise QueryError(
            uid, f"{where}: query {uid!r}: reference_page must be a list of page numbers"
        )
    pages: list[int] = []
    for v in value:
        try:
            page = int(v)
            if isinstance(v, bool) or float(v) != page:
                raise ValueError
        except (TypeError, ValueError):
            raise QueryError(
                uid, f"{where}: query {uid!r}: reference_page {v!r} is not a page number"
            ) from None
        if page not in pages:
            pages.append(page)
    return tuple(pages)


def parse_example(record: Any, where: str) -> RawQuery:
    """Parse one ``rag_dataset.json`` example (also accepts the ``meta_info`` fields at top level).

    Raises:
        QueryError: If a required field is missing or malformed; the message names ``where``/uid.
    """
    if not isinstance(record, dict):
        raise QueryError(
            "", f"{where}: an example must be a JSON object, got {type(record).__name__}"
        )
    uid = _text(record.get("uid", record.get("id")))
    if not uid:
        raise QueryError("", f"{where}: example has no 'uid'")
    meta_info = record.get("meta_info") or {}
    if not isinstance(meta_info, dict):
        raise QueryError(uid, f"{where}: query {uid!r}: 'meta_info' must be a JSON object")

    def get(key: str) -> Any:
        return meta_info.get(key, record.get(key))

    question = _text(record.get("query", record.get("question")))
    if not question:
        raise QueryError(uid, f"{where}: query {uid!r} has no 'query' text")
    answers = _answers(record.get("reference_answer", record.get("answer")), where, uid)
    file_name = _text(get("file_name"))
    if not file_name:
        raise QueryError(uid, f"{where}: query {uid!r} has no meta_info.file_name")
    pages_value = get("reference_page")
    if pages_value is None:
        raise QueryError(uid, f"{where}: query {uid!r} has no meta_info.reference_page")
    pages = parse_pages(pages_value, where, uid)
    split_value = record.get("split", meta_info.get("split"))
    split = normalize_split(split_value, f"{where}: query {uid!r}") if split_value else None
    known = {"uid", "id", "query", "question", "reference_answer", "answer", "meta_info", "split"}
    known_meta = {"file_name", "reference_page", "source_type", "query_type", "split"}
    extra = {k: v for k, v in meta_info.items() if k not in known_meta}
    extra.update({k: v for k, v in record.items() if k not in known and k not in known_meta})
    return RawQuery(
        uid=uid,
        question=question,
        answers=answers,
        file_name=file_name,
        reference_pages=pages,
        source_type=_text(get("source_type")),
        query_type=_text(get("query_type")),
        split=split,
        where=where,
        meta=extra,
    )


def load_query_file(path: str | os.PathLike[str]) -> list[RawQuery]:
    """Read a query file: ``{"examples": [...]}`` JSON, a JSON list, or JSON Lines.

    Raises:
        ValueError: If the file is not valid JSON / JSON Lines or an example is malformed; the
            message names the file and the line or example index.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file ({exc.reason})") from exc
    records: list[tuple[str, Any]] = []
    stripped = text.lstrip()
    data: Any = None
    if path.suffix.lower() != ".jsonl" and stripped[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            if path.suffix.lower() == ".json":
                raise ValueError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from exc
    if isinstance(data, dict):
        if not isinstance(data.get("examples"), list):
            raise ValueError(
                f"{path}: expected {{'examples': [...]}} (the rag_dataset.json layout)"
            )
        records = [(f"{path} examples[{i}]", r) for i, r in enumerate(data["examples"])]
    elif isinstance(data, list):
        records = [(f"{path} [{i}]", r) for i, r in enumerate(data)]
    else:
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((f"{path}:{lineno}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON line ({exc.msg})") from exc
    if not records:
        raise ValueError(f"{path}: no queries found")
    return [parse_example(record, where) for where, record in records]


# ---------------------------------------------------------------------------------------------
# Mapping file names and page numbers to page ids


@dataclass(frozen=True)
class DocPages:
    """What the mapper needs to know about one ingested document.

    Attributes:
        doc: The document stem (page ids are ``{doc}_{page}``).
        pages: Its 1-based page numbers.
        names: Names a query's ``file_name`` may use for it (file name, relative path, ...).
        label: How to name the document in messages.
    """

    doc: str
    pages: tuple[int, ...]
    names: tuple[str, ...] = ()
    label: str = ""


class PageMapper:
    """Maps ``(file_name, page)`` pairs of query files to corpus page ids.

    ``file_name`` matches a document by its name, relative path, or stem (``report.pdf``,
    ``docs/report.pdf`` and ``report`` all find ``report``). Folders of page images named
    ``{stem}_{page}.png`` (as VRAG-RL's own corpora are stored) are found too: a reference to page
    ``p`` of ``stem.pdf`` maps to the single-image document ``{stem}_{p}``.
    """

    def __init__(self, docs: Iterable[DocPages]) -> None:
        self._docs: dict[str, DocPages] = {}
        self._names: dict[str, str] = {}
        for d in docs:
            self._docs[d.doc] = d
            for name in (d.doc, *d.names):
                self._names.setdefault(name.replace("\\", "/"), d.doc)

    def _lookup(self, file_name: str) -> DocPages | None:
        name = file_name.replace("\\", "/").strip()
        for key in (name, name.removeprefix("./"), Path(name).name, Path(name).stem):
            if key in self._names:
                return self._docs[self._names[key]]
        return None

    def page_id(self, query: RawQuery, page: int) -> PageId:
        """The page id of ``page`` of ``query.file_name``.

        Raises:
            QueryError: If the document is not in the corpus or has no such page; the message names
                the query uid.
        """
        where = f"{query.where}: " if query.where else ""
        doc = self._lookup(query.file_name)
        if doc is not None:
            if page in doc.pages:
                return f"{doc.doc}_{page}"
            count = len(doc.pages)
            raise QueryError(
                query.uid,
                f"{where}query {query.uid!r}: reference page {page} of {query.file_name!r} does "
                f"not exist ({doc.label or doc.doc} has {count} page{'s' if count != 1 else ''}, "
                "numbered from 1)",
            )
        image_doc = self._docs.get(f"{Path(query.file_name).stem}_{page}")
        if image_doc is not None and 1 in image_doc.pages:
            return f"{image_doc.doc}_1"
        raise QueryError(
            query.uid,
            f"{where}query {query.uid!r}: file {query.file_name!r} is not among the ingested "
            "sources; add it to SOURCES or fix meta_info.file_name",
        )


@dataclass
class ResolvedQueries:
    """The outcome of :func:`resolve_queries`.

    Attributes:
        queries: Queries with page ids and splits (evidence not yet attached).
        skipped: ``(uid, reason)`` of the queries left out with ``skip_bad``.
    """

    queries: list[Query]
    skipped: list[tuple[str, str]]


def resolve_queries(
    raw: Sequence[RawQuery],
    mapper: PageMapper,
    *,
    split: str = HASH_SPLIT,
    skip_bad: bool = False,
) -> ResolvedQueries:
    """Map reference pages to page ids and give each query a split.

    Args:
        raw: Parsed queries.
        mapper: The corpus documents.
        split: Split for queries without one: ``"hash"`` or a split name.
        skip_bad: Leave out (and report) queries that point to a missing file or page, or repeat a
            uid, instead of failing.

    Raises:
        QueryError: On the first bad query, unless ``skip_bad``.
    """
    queries: list[Query] = []
    skipped: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for rq in raw:
        try:
            if rq.uid in seen:
                raise QueryError(
                    rq.uid, f"{rq.where}: duplicate query uid {rq.uid!r} (first at {seen[rq.uid]})"
                )
            refs = tuple(mapper.page_id(rq, p) for p in rq.reference_pages)
        except QueryError as exc:
            if not skip_bad:
                raise
            skipped.append((rq.uid, str(exc)))
            continue
        seen[rq.uid] = rq.where
        meta = {"file_name": rq.file_name, **rq.meta}
        queries.append(
            Query(
                uid=rq.uid,
                question=rq.question,
                answers=rq.answers,
                reference_pages=refs,
                split=rq.split or assign_split(rq.uid, split),
                source_type=rq.source_type,
                query_type=rq.query_type,
                meta=meta,
            )
        )
    return ResolvedQueries(queries, skipped)


# ---------------------------------------------------------------------------------------------
# Evidence: where the answer is printed on a reference page


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
        out.append(
            Query(
                uid=q.uid,
                question=q.question,
                answers=q.answers,
                reference_pages=q.reference_pages,
                split=q.split,
                source_type=q.source_type,
                query_type=q.query_type,
                evidence=evidence,
                small_print=q.small_print,
                meta=q.meta,
            )
        )
    return out
