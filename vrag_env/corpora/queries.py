"""Query files for ingestion: parsing, page-id mapping and split assignment.

Where each answer is printed on its pages is :mod:`vrag_env.corpora.evidence`.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vrag_env.types import SPLITS, PageId, Query

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
