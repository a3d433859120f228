"""MMLongBench-Doc (local copy) as a corpus source: ``vrag ingest --format mmlongbench FOLDER``."""

from __future__ import annotations

import ast
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from vrag_env.corpora.hub_formats import (
    MMLONGBENCH_COLUMNS,
    _not_a_folder,
    _one_folder,
    _parquet_files,
    _require_columns,
    _stream_parquet,
)
from vrag_env.corpora.queries import (
    QueryError,
    RawQuery,
    parse_pages,
)
from vrag_env.corpora.sources import (
    FileSource,
    PageInput,
    Source,
    SourceDoc,
    check_unique_docs,
)

logger = logging.getLogger(__name__)


def _literal_list(value: Any) -> list[Any]:
    """Parse list-valued strings such as ``"[3, 5]"`` or ``"['Chart', 'Table']"``."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if value is None:
        return []
    text = str(value).strip()
    if not text:
        return []
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return [text]
    return list(parsed) if isinstance(parsed, (list, tuple)) else [parsed]


class MMLongBenchSource(Source):
    """A local copy of MMLongBench-Doc: question parquet (or ``samples.json``) plus ``documents/``.

    Args:
        root: The dataset folder.
        keep_unanswerable: Keep questions without evidence pages (answer ``"Not answerable"``); they
            have no reference pages, so retrieval metrics skip them.
    """

    format_name = "mmlongbench"
    default_split = "test"

    @classmethod
    def from_options(cls, sources: Sequence[str | os.PathLike[str]], **options: Any) -> Source:
        """Build from ``vrag ingest --format mmlongbench FOLDER [--keep-unanswerable]``."""
        return cls(
            _one_folder(sources, "mmlongbench"),
            keep_unanswerable=options.get("keep_unanswerable", False),
        )

    def __init__(self, root: str | os.PathLike[str], keep_unanswerable: bool = False) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise _not_a_folder(self.root, "MMLongBench-Doc")
        self.keep_unanswerable = keep_unanswerable
        docs_dir = next(
            (d for d in (self.root / "documents", self.root / "data" / "documents") if d.is_dir()),
            None,
        )
        if docs_dir is None:
            raise ValueError(
                f"{self.root}: no documents/ folder with the PDFs; MMLongBench-Doc ships them "
                "separately from the question parquet (see docs/corpora.md)"
            )
        self.docs_dir = docs_dir
        self.question_files = _parquet_files(self.root, exclude=[docs_dir])
        if not self.question_files:
            samples = sorted(self.root.rglob("samples.json"))
            if not samples:
                raise ValueError(
                    f"{self.root}: no question file (data/train-*.parquet or data/samples.json)"
                )
            self.question_files = samples[:1]
        self.files = FileSource([docs_dir])
        self._dropped: list[tuple[str, str]] = []

    def input_files(self) -> list[Path]:
        """The PDFs and the question files."""
        return [*self.files.input_files(), *self.question_files]

    def options(self) -> dict[str, Any]:
        """Whether unanswerable questions are kept."""
        return {"keep_unanswerable": self.keep_unanswerable}

    @property
    def dropped_queries(self) -> list[tuple[str, str]]:
        """The unanswerable questions left out (after :meth:`raw_queries`)."""
        return list(self._dropped)

    def documents(self, dpi: int) -> list[SourceDoc]:
        """The PDFs in ``documents/``."""
        docs = self.files.documents(dpi)
        check_unique_docs(docs)
        return docs

    def iter_pages(self, dpi: int) -> Iterator[PageInput]:
        """Render the PDFs."""
        return self.files.iter_pages(dpi)

    def _rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for f in self.question_files:
            if f.suffix == ".json":
                data = json.loads(f.read_text(encoding="utf-8"))
                if not isinstance(data, list):
                    raise ValueError(f"{f}: expected a JSON list of questions")
                for i, row in enumerate(data):
                    yield f"{f} [{i}]", row
            else:
                _require_columns([f], MMLONGBENCH_COLUMNS, "MMLongBench-Doc")
                for i, row in enumerate(_stream_parquet([f])):
                    yield f"{f} row {i}", row

    def raw_queries(self) -> list[RawQuery]:
        """The questions; uids are ``mmlongbench-NNNN`` in file order."""
        out: list[RawQuery] = []
        self._dropped = []
        for index, (where, row) in enumerate(self._rows()):
            uid = f"mmlongbench-{index:04d}"
            missing = [c for c in MMLONGBENCH_COLUMNS if c not in row]
            if missing:
                raise QueryError(uid, f"{where}: question {uid!r} lacks fields {missing}")
            pages = parse_pages(_literal_list(row["evidence_pages"]), where, uid)
            if not pages and not self.keep_unanswerable:
                self._dropped.append((uid, f"{where}: question {uid!r} is unanswerable (no pages)"))
                continue
            sources = [str(s) for s in _literal_list(row.get("evidence_sources"))]
            out.append(
                RawQuery(
                    uid=uid,
                    question=str(row["question"]),
                    answers=(str(row["answer"]),),
                    file_name=str(row["doc_id"]),
                    reference_pages=pages,
                    source_type=", ".join(sources),
                    query_type="multi-hop" if len(pages) > 1 else "single-hop",
                    where=where,
                    meta={
                        "dataset": "mmlongbench-doc",
                        "doc_type": row.get("doc_type"),
                        "answer_format": row.get("answer_format"),
                        "evidence_sources": sources,
                    },
                )
            )
        return out


# ---------------------------------------------------------------------------------------------
