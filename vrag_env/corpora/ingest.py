"""Build a corpus folder from PDFs, page images and query files (``vrag ingest``).

Pipeline:

1. **Sources** (:mod:`vrag_env.corpora.sources`) list documents and their pages (:class:`FileSource`
   for PDFs, images and folders; :mod:`vrag_env.corpora.hub_formats` for local copies of published
   benchmarks). Every file is validated before any page is written: an unreadable, truncated or
   oversized file fails the run with a message naming it.
2. **Queries** are parsed and their reference pages mapped to page ids
   (:mod:`vrag_env.corpora.queries`).
3. **Pages** are rendered (PDFs, with PyMuPDF at ``dpi``) or decoded (images) and get a text layer:
   the PDF's own words, or OCR (:mod:`vrag_env.corpora.ocr`) for images and scanned pages.
4. Everything goes through :class:`~vrag_env.corpora.corpus.CorpusWriter`, which writes into a
   temporary folder and renames it at the end: a failed or interrupted ingest leaves nothing behind.

The manifest's ``build`` records the sources with their SHA-256, the options and tool versions;
re-running with the same request finds it and does nothing (``force`` rebuilds).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vrag_env.corpora.corpus import MANIFEST, CorpusWriter, is_corpus, sha256_file
from vrag_env.corpora.evidence import attach_evidence, explicit_evidence
from vrag_env.corpora.page_writer import write_pages
from vrag_env.corpora.queries import (
    HASH_SPLIT,
    PageMapper,
    QueryError,
    load_query_file,
    resolve_queries,
)
from vrag_env.corpora.sources import (
    IMAGE_SUFFIXES,
    PDF_SUFFIXES,
    FileSource,
    PageInput,
    Source,
    check_unique_docs,
)
from vrag_env.types import PageId, Query

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_DPI",
    "IMAGE_SUFFIXES",
    "OCR_MODES",
    "PDF_SUFFIXES",
    "FileSource",
    "IngestReport",
    "PageInput",
    "Source",
    "ingest",
]

OCR_MODES = ("auto", "always", "never")
DEFAULT_DPI = 144
DPI_RANGE = (36, 600)


# ---------------------------------------------------------------------------------------------
# The pipeline


@dataclass
class IngestReport:
    """What an ingest did.

    Attributes:
        out: The corpus folder.
        up_to_date: The corpus already matched the request; nothing was done.
        docs: Number of documents.
        pages: Number of pages.
        pages_ocr: Pages whose text layer comes from OCR.
        queries: Number of queries written.
        evidence: Queries with at least one evidence box (answer found in a text layer).
        skipped: ``(uid, reason)`` of queries left out (``skip_bad_queries`` / unanswerable).
        splits: Queries per split.
        seconds: Wall time.
        ocr_seconds: Time spent in OCR, summed over the worker threads.
    """

    out: Path
    up_to_date: bool = False
    docs: int = 0
    pages: int = 0
    pages_ocr: int = 0
    queries: int = 0
    evidence: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    ocr_seconds: float = 0.0

    def summary(self) -> str:
        """A one-paragraph human-readable summary."""
        if self.up_to_date:
            return (
                f"{self.out} is up to date ({self.docs} docs, {self.pages} pages, "
                f"{self.queries} queries); pass --force to rebuild"
            )
        rate = self.pages / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"ingested {self.docs} docs, {self.pages} pages ({self.pages_ocr} OCR'd), "
            f"{self.queries} queries into {self.out} in {self.seconds:.1f} s ({rate:.1f} pages/s)"
        ]
        if self.queries:
            splits = ", ".join(f"{k} {v}" for k, v in self.splits.items() if v)
            lines.append(
                f"  splits: {splits}; answer located in a text layer for "
                f"{self.evidence}/{self.queries} queries"
            )
        if self.pages_ocr:
            per_page = self.ocr_seconds / self.pages_ocr
            lines.append(f"  OCR: {per_page:.1f} s per page and worker thread")
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)} queries:")
            lines.extend(f"    {reason}" for _, reason in self.skipped[:20])
            if len(self.skipped) > 20:
                lines.append(f"    ... and {len(self.skipped) - 20} more (see the manifest)")
        return "\n".join(lines)


def tool_versions() -> dict[str, str | None]:
    """Versions of the tools whose output ends up in the corpus."""
    from vrag_env._version import __version__
    from vrag_env.corpora.ocr import ocr_version
    from vrag_env.corpora.pdf import pymupdf_version

    return {
        "vrag_env": __version__,
        "pymupdf": pymupdf_version(),
        "rapidocr_onnxruntime": ocr_version(),
        "pillow": importlib.metadata.version("pillow"),
    }


def _file_record(path: Path) -> dict[str, Any]:
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def _request(
    source: Source,
    query_files: Sequence[Path],
    *,
    ocr: str,
    dpi: int,
    split: str,
    skip_bad_queries: bool,
) -> dict[str, Any]:
    return {
        "tool": "vrag ingest",
        "format": source.format_name,
        "sources": [_file_record(p) for p in source.input_files()],
        "queries": [_file_record(p) for p in query_files],
        "options": {
            "dpi": dpi,
            "ocr": ocr,
            "split": split,
            "skip_bad_queries": skip_bad_queries,
            **source.options(),
        },
        "versions": tool_versions(),
    }


def _existing_request(out: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    build = manifest.get("build")
    if not isinstance(build, dict):
        return None
    return {k: v for k, v in build.items() if k != "result"}


def _check_options(ocr: str, dpi: int, split: str | None) -> None:
    if ocr not in OCR_MODES:
        raise ValueError(f"unknown OCR mode {ocr!r}; use one of {OCR_MODES}")
    if not DPI_RANGE[0] <= dpi <= DPI_RANGE[1]:
        raise ValueError(f"--dpi must be between {DPI_RANGE[0]} and {DPI_RANGE[1]}, got {dpi}")
    if split not in (None, HASH_SPLIT, "train", "val", "test"):
        raise ValueError(f"unknown split {split!r}; use 'hash', 'train', 'val' or 'test'")


def _check_out(out: Path, force: bool) -> None:
    ancestor = out.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise NotADirectoryError(f"cannot write {out}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {out}: no write permission in {ancestor}")
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder; choose another --out")
    if out.is_dir() and not is_corpus(out) and any(out.iterdir()):
        # Never replace a folder we did not write, even with --force.
        raise FileExistsError(
            f"{out} exists and is not a corpus folder; choose a new or empty --out folder"
        )
    if is_corpus(out) and not force:
        raise FileExistsError(
            f"{out} already holds a corpus built from other inputs or options; pass --force to "
            "replace it, or choose another --out"
        )


def ingest(
    source: Source,
    out: str | os.PathLike[str],
    *,
    queries: Sequence[str | os.PathLike[str]] = (),
    ocr: str = "auto",
    dpi: int = DEFAULT_DPI,
    split: str | None = None,
    skip_bad_queries: bool = False,
    force: bool = False,
    name: str | None = None,
    progress: bool = True,
    workers: int = 2,
) -> IngestReport:
    """Build (or confirm) a corpus folder from a source.

    Args:
        source: The documents (and queries, for benchmark formats).
        out: The corpus folder to write.
        queries: Query files (``rag_dataset.json`` layout or JSON Lines).
        ocr: ``"auto"`` (OCR images and PDF pages without a usable text layer), ``"always"``
            (OCR every page, ignoring PDF text) or ``"never"``.
        dpi: Rendering resolution of PDF pages.
        split: Split of queries that have none: ``"hash"`` (deterministic ~80/10/10 by uid) or a
            split name; ``None`` uses the source's default.
        skip_bad_queries: Report and leave out queries pointing to missing files or pages instead of
            failing.
        force: Rebuild even if ``out`` holds a corpus built from the same request; replace a corpus
            built from another one.
        name: Corpus name (default: the folder name).
        progress: Show a progress bar over pages.
        workers: Threads running OCR and encoding page PNGs.

    Returns:
        What was done; ``up_to_date`` when ``out`` already matched and nothing was written.

    Raises:
        ValueError: Bad inputs (unreadable files, bad queries, duplicate page ids, bad options); the
            message names the file or query uid.
        OSError: The output folder cannot be written, or exists and ``force`` is not set.
    """
    try:
        return _ingest(
            source,
            Path(out).expanduser(),
            query_files=[Path(q).expanduser().resolve() for q in queries],
            ocr=ocr,
            dpi=dpi,
            split=split,
            skip_bad_queries=skip_bad_queries,
            force=force,
            name=name,
            progress=progress,
            workers=workers,
        )
    finally:
        source.close()


# Long by design: the ingest steps in order (validate, resolve queries, write pages, attach
# evidence, record the build); splitting them would scatter one transaction over many functions.
def _ingest(
    source: Source,
    out_path: Path,
    *,
    query_files: list[Path],
    ocr: str,
    dpi: int,
    split: str | None,
    skip_bad_queries: bool,
    force: bool,
    name: str | None,
    progress: bool,
    workers: int,
) -> IngestReport:
    from vrag_env.corpora.ocr import INSTALL_HINT

    start = time.perf_counter()
    _check_options(ocr, dpi, split)
    split_mode = split or source.default_split
    for q in query_files:
        if not q.is_file():
            raise FileNotFoundError(f"{q}: no such query file")
    request = _request(
        source, query_files, ocr=ocr, dpi=dpi, split=split_mode, skip_bad_queries=skip_bad_queries
    )
    if not force and is_corpus(out_path) and _existing_request(out_path) == request:
        manifest = json.loads((out_path / MANIFEST).read_text(encoding="utf-8"))
        logger.debug("%s is up to date; nothing to do", out_path)
        return IngestReport(
            out=out_path,
            up_to_date=True,
            docs=int(manifest.get("num_docs", 0)),
            pages=int(manifest.get("num_pages", 0)),
            queries=int(manifest.get("num_queries", 0)),
            seconds=time.perf_counter() - start,
        )
    _check_out(out_path, force)

    # Validate everything before the first page is written.
    docs = source.documents(dpi)
    check_unique_docs(docs)
    raw = list(source.raw_queries())
    for q in query_files:
        raw.extend(load_query_file(q))
    resolved = resolve_queries(raw, PageMapper(docs), split=split_mode, skip_bad=skip_bad_queries)
    if ocr != "never" and importlib.util.find_spec("rapidocr_onnxruntime") is None:
        if ocr == "always" or any(d.kind != "pdf" for d in docs):
            raise ValueError(f"{INSTALL_HINT}; or pass --ocr never")

    skipped = [*source.dropped_queries, *resolved.skipped]
    report = IngestReport(out=out_path, docs=len(docs), skipped=skipped)
    build = dict(request)
    # An empty existing folder may be replaced; a corpus only with --force (checked above).
    overwrite = force or (out_path.is_dir() and not any(out_path.iterdir()))
    with CorpusWriter(
        out_path, name=name or out_path.name, build=build, overwrite=overwrite
    ) as writer:
        needed = {p for q in resolved.queries for p in q.reference_pages}
        pages = write_pages(
            writer,
            source,
            ocr=ocr,
            dpi=dpi,
            total=sum(len(d.pages) for d in docs),
            keep_words=needed,
            progress=progress,
            workers=workers,
        )
        report.pages, report.pages_ocr = pages.pages, pages.pages_ocr
        report.ocr_seconds = pages.ocr_seconds
        complete = _drop_missing(resolved.queries, pages.written, report, skip_bad_queries)
        found = attach_evidence(complete, lambda p: pages.words_of.get(p, ()))
        final = explicit_evidence(found, dpi)
        writer.add_queries(final)
        report.queries = len(final)
        report.evidence = sum(bool(q.evidence) for q in final)
        report.splits = {s: sum(q.split == s for q in final) for s in ("train", "val", "test")}
        build["result"] = {
            "pages_ocr": report.pages_ocr,
            "queries_with_evidence": report.evidence,
            "skipped_queries": [{"uid": u, "reason": r} for u, r in report.skipped],
        }
    report.seconds = time.perf_counter() - start
    return report


def _drop_missing(
    queries: Sequence[Query], written: set[PageId], report: IngestReport, skip_bad: bool
) -> list[Query]:
    """Queries whose reference pages were all written (a dataset may lack a listed page)."""
    kept = []
    for q in queries:
        gone = [p for p in q.reference_pages if p not in written]
        if not gone:
            kept.append(q)
            continue
        message = f"query {q.uid!r}: reference pages {gone} are missing from the source data"
        if not skip_bad:
            raise QueryError(q.uid, f"{message}; pass --skip-bad-queries to leave it out")
        report.skipped.append((q.uid, message))
    return kept
