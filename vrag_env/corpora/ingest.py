"""Build a corpus folder from PDFs, page images and query files (``vrag ingest``).

Pipeline:

1. **Sources** list documents and their pages (:class:`FileSource` for PDFs, images and folders;
   :mod:`vrag_env.corpora.hub_formats` for local copies of published benchmarks). Every file is
   validated before any page is written: an unreadable, truncated or oversized file fails the run
   with a message naming it.
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
import io
import json
import logging
import os
import shutil
import time
import warnings
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

from vrag_env.corpora.corpus import IMAGES_DIR, MANIFEST, CorpusWriter, is_corpus, sha256_file
from vrag_env.corpora.queries import (
    HASH_SPLIT,
    DocPages,
    PageMapper,
    QueryError,
    RawQuery,
    attach_evidence,
    load_query_file,
    resolve_queries,
)
from vrag_env.types import Page, PageId, Query, Word

logger = logging.getLogger(__name__)

PDF_SUFFIXES = (".pdf",)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
MULTI_FRAME_SUFFIXES = (".tif", ".tiff")
"""Multi-page TIFFs (common for scans) become one page per frame; other images are one page."""

OCR_MODES = ("auto", "always", "never")
DEFAULT_DPI = 144
DPI_RANGE = (36, 600)


# ---------------------------------------------------------------------------------------------
# Images


def _bomb_message(label: str, exc: Exception) -> str:
    return (
        f"{label}: refusing to decode a possible decompression bomb ({exc}); downscale the "
        "image, or raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file"
    )


def open_image(data: Path | bytes, label: str) -> Image.Image:
    """Open an image lazily with Pillow's decompression-bomb guard turned into an error.

    Pillow warns above ``Image.MAX_IMAGE_PIXELS`` and raises above twice that; ingestion treats
    both as errors so a huge bitmap never gets decoded.

    Args:
        data: A file path or the encoded bytes.
        label: How to name the image in messages (its path, or dataset row).

    Raises:
        ValueError: If the data is empty, not a supported image, or too large.
    """
    if isinstance(data, Path):
        if data.stat().st_size == 0:
            raise ValueError(
                f"{label}: empty file (0 bytes); remove it or replace it with the page"
            )
        src: Any = data
    else:
        if not data:
            raise ValueError(f"{label}: empty image data")
        src = io.BytesIO(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(src)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ValueError(_bomb_message(label, exc)) from exc
        except OSError as exc:  # UnidentifiedImageError and truncated headers
            raise ValueError(f"{label}: not a readable image ({exc})") from exc


def image_frame_count(path: Path) -> int:
    """Validate an image file and return its number of pages (TIFF frames, else 1).

    Raises:
        ValueError: If the file is empty, not an image, corrupt, or too large.
    """
    with open_image(path, str(path)) as img:
        frames = (
            int(getattr(img, "n_frames", 1)) if path.suffix.lower() in MULTI_FRAME_SUFFIXES else 1
        )
        try:
            img.verify()
        except Exception as exc:  # Pillow raises SyntaxError, OSError, struct.error, ...
            raise ValueError(f"{path}: corrupt image ({exc})") from exc
    return frames


def load_image(data: Path | bytes, label: str, frame: int = 0) -> Image.Image:
    """Decode one frame of an image as RGB, guarded against decompression bombs.

    See :func:`open_image` for the guard.

    Raises:
        ValueError: If the image cannot be decoded; the message names ``label``.
    """
    img = open_image(data, label)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if frame:
                img.seek(frame)
            img.load()
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                # Transparent areas become white (paper), not black.
                rgba = img.convert("RGBA")
                page = Image.new("RGB", img.size, (255, 255, 255))
                page.paste(rgba, mask=rgba.getchannel("A"))
                return page
            return img.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(_bomb_message(label, exc)) from exc
    except (OSError, SyntaxError, EOFError) as exc:
        raise ValueError(f"{label}: corrupt or truncated image ({exc})") from exc
    finally:
        img.close()


# ---------------------------------------------------------------------------------------------
# Sources


@dataclass(frozen=True)
class SourceDoc(DocPages):
    """A document to ingest (see :class:`~vrag_env.corpora.queries.DocPages`).

    Attributes:
        kind: ``"pdf"``, ``"image"``, or a dataset-specific kind.
        path: The source file, when the document is one.
    """

    kind: str = ""
    path: Path | None = None


@dataclass
class PageInput:
    """One decoded page, as a source delivers it.

    Attributes:
        doc: The document stem.
        page: 1-based page number.
        image: The RGB page image.
        words: The source's own text layer in pixels of ``image``, or ``None`` if it has none
            (images always need OCR).
        kind: What the page shows, if the source knows.
        meta: JSON metadata stored with the page.
        file: A single-image source file whose bytes may be stored as the page image unchanged
            (a JPEG stays a JPEG: see :func:`keeps_encoding`), or ``None``.
    """

    doc: str
    page: int
    image: Image.Image
    words: tuple[Word, ...] | None
    kind: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    file: Path | None = None


class Source(ABC):
    """Documents (and, for benchmark formats, their queries) to build a corpus from."""

    format_name: str = "files"
    default_split: str = HASH_SPLIT
    """Split mode for queries without a split, when the user gives none."""

    @abstractmethod
    def input_files(self) -> list[Path]:
        """Every input file, in a fixed order (their checksums decide whether to rebuild)."""

    @abstractmethod
    def documents(self, dpi: int) -> list[SourceDoc]:
        """Validate the inputs and list the documents with their pages.

        Raises:
            ValueError: If an input is unreadable, corrupt, or too large; the message names it.
        """

    @abstractmethod
    def iter_pages(self, dpi: int) -> Iterator[PageInput]:
        """Decode every page of :meth:`documents`, in corpus order."""

    def raw_queries(self) -> list[RawQuery]:
        """Queries that come with the source (benchmark formats); empty for plain files."""
        return []

    def options(self) -> dict[str, Any]:
        """Format-specific parameters recorded in the manifest."""
        return {}

    @property
    def dropped_queries(self) -> list[tuple[str, str]]:
        """``(uid, reason)`` of dataset questions left out on purpose (e.g. unanswerable ones)."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (open datasets, files)."""


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def discover_files(
    paths: Sequence[str | os.PathLike[str]], exclude: Iterable[Path] = ()
) -> list[tuple[Path, str]]:
    """Expand SOURCES into ``(file, name relative to its SOURCES entry)`` pairs.

    Folders are searched recursively for PDFs and images (hidden files, and the ``exclude``
    folders, are skipped); files given explicitly must have a supported extension.

    Raises:
        FileNotFoundError: If a path does not exist.
        ValueError: If a file type is not supported, or nothing was found.
    """
    suffixes = PDF_SUFFIXES + IMAGE_SUFFIXES
    excluded = [Path(e).resolve() for e in exclude]
    found: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        if path.is_dir():
            root = path.resolve()
            for f in sorted(root.rglob("*")):
                if not f.is_file() or _is_hidden(f, root) or f.suffix.lower() not in suffixes:
                    continue
                if any(f.is_relative_to(e) for e in excluded):
                    continue
                found.append((f, f.relative_to(root).as_posix()))
        elif path.suffix.lower() in suffixes:
            found.append((path.resolve(), path.name))
        else:
            raise ValueError(
                f"{path}: unsupported file type {path.suffix or '(none)'!r}; SOURCES are PDFs, "
                f"images ({', '.join(IMAGE_SUFFIXES)}) or folders holding them"
            )
    if not found:
        raise ValueError(
            f"no PDFs or images found in {', '.join(map(str, paths))} "
            f"(looked for {', '.join(suffixes)})"
        )
    seen: set[Path] = set()
    unique = []
    for f, rel in found:
        if f not in seen:
            seen.add(f)
            unique.append((f, rel))
    return unique


def check_unique_docs(docs: Sequence[SourceDoc]) -> None:
    """Fail if two documents would produce the same page ids.

    Page ids are ``{file_stem}_{page}``; the page number after the last ``_`` is an integer, so
    two documents collide exactly when their stems are equal (compared ignoring case, since page
    images are files).

    Raises:
        ValueError: Naming both files.
    """
    first: dict[str, SourceDoc] = {}
    for d in docs:
        if not d.doc or any(c in d.doc for c in "/\\\0"):
            raise ValueError(f"{d.label}: {d.doc!r} cannot be used in page ids (file names)")
        # Page images are files `pages/{page_id}.png`: ids that differ only in case would
        # overwrite each other on case-insensitive file systems (macOS, Windows).
        key = d.doc.casefold()
        if key in first:
            other = first[key]
            raise ValueError(
                f"duplicate page ids: {other.label} and {d.label} both give page ids "
                f"'{d.doc}_{{page}}' (ignoring case); page ids are '{{file_stem}}_{{page}}', so "
                "rename one of them"
            )
        first[key] = d


class FileSource(Source):
    """PDF files, image files, and folders holding them (searched recursively).

    Args:
        paths: The SOURCES.
        exclude: Folders to skip while searching (the output folder, when it is inside a source).
    """

    format_name = "files"

    @classmethod
    def from_options(cls, sources: Sequence[str | os.PathLike[str]], **options: Any) -> Source:
        """Build from ``vrag ingest [--format files] SOURCES [--exclude ...]``."""
        return cls(sources, exclude=options.get("exclude", ()))

    def __init__(
        self, paths: Sequence[str | os.PathLike[str]], exclude: Iterable[Path] = ()
    ) -> None:
        self.files = discover_files(paths, exclude)
        self._docs: list[SourceDoc] | None = None

    def input_files(self) -> list[Path]:
        """The discovered files."""
        return [f for f, _ in self.files]

    def documents(self, dpi: int) -> list[SourceDoc]:
        """Validate every file and list its pages (a PDF's pages, a TIFF's frames, else one)."""
        from vrag_env.corpora.pdf import pdf_page_count

        if self._docs is None:
            docs = []
            for path, rel in self.files:
                if path.suffix.lower() in PDF_SUFFIXES:
                    kind, count = "pdf", pdf_page_count(path, dpi)
                else:
                    kind, count = "image", image_frame_count(path)
                names = tuple(dict.fromkeys((path.name, rel)))
                docs.append(
                    SourceDoc(
                        doc=path.stem,
                        pages=tuple(range(1, count + 1)),
                        names=names,
                        label=str(path),
                        kind=kind,
                        path=path,
                    )
                )
            check_unique_docs(docs)
            self._docs = docs
        return self._docs

    def iter_pages(self, dpi: int) -> Iterator[PageInput]:
        """Render PDFs at ``dpi`` (with their text layers) and decode images (no text layer)."""
        from vrag_env.corpora.pdf import render_pdf

        for d in self.documents(dpi):
            assert d.path is not None
            if d.kind == "pdf":
                for rp in render_pdf(d.path, dpi):
                    meta = {"source": d.path.name, "dpi": dpi}
                    yield PageInput(d.doc, rp.page, rp.image, rp.words, meta=meta)
            else:
                for page in d.pages:
                    image = load_image(d.path, str(d.path), frame=page - 1)
                    file = d.path if len(d.pages) == 1 else None
                    yield PageInput(
                        d.doc, page, image, None, meta={"source": d.path.name}, file=file
                    )


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


def _text_origin(ocr_used: bool, words: tuple[Word, ...]) -> str:
    if ocr_used:
        return "ocr"
    return "pdf" if words else "none"


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
        words_of, written = _write_pages(
            writer,
            source,
            report,
            ocr=ocr,
            dpi=dpi,
            total=sum(len(d.pages) for d in docs),
            keep_words=needed,
            progress=progress,
            workers=workers,
        )
        complete = _drop_missing(resolved.queries, written, report, skip_bad_queries)
        final = attach_evidence(complete, lambda p: words_of.get(p, ()))
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


@dataclass
class _Done:
    """A page processed by a worker: its text layer, saved image and OCR timing."""

    item: PageInput
    words: tuple[Word, ...]
    ocr_used: bool
    ocr_seconds: float
    suffix: str = ".png"


def storage_image(image: Image.Image) -> Image.Image:
    """The image to store as the page PNG: greyscale content as an ``L`` image.

    Most document pages are black on white; storing them as ``L`` makes the PNG encoding three
    times cheaper and the file smaller. Readers convert pages to RGB, so nothing else changes.
    """
    if image.mode != "RGB":
        return image
    red, green, blue = image.split()
    if ImageChops.difference(red, green).getbbox() or ImageChops.difference(green, blue).getbbox():
        return image
    return red


KEPT_FORMATS = {"JPEG": ".jpg"}
"""Source encodings stored as they are (format -> page file suffix); everything else becomes PNG."""


def keeps_encoding(path: Path) -> str | None:
    """The page file suffix if ``path`` can be stored unchanged, else ``None`` (convert to PNG).

    A JPEG in RGB or greyscale is kept byte for byte: readers decode it to the same pixels the
    text layer was made from, and re-encoding it as PNG would triple its size. Other modes (CMYK,
    say) need a conversion.
    """
    try:
        with Image.open(path) as img:
            suffix = KEPT_FORMATS.get(img.format or "")
            return suffix if suffix and img.mode in ("RGB", "L") else None
    except (OSError, ValueError):
        return None


def _process_page(item: PageInput, ocr: str, png_path: Path) -> _Done:
    """Worker: give a page its text layer (OCR if needed) and save its PNG.

    Runs on a thread pool: ONNX Runtime and zlib release the GIL, so two workers use two cores.
    """
    from vrag_env.corpora.ocr import ocr_image
    from vrag_env.corpora.pdf import has_usable_text

    words = item.words
    ocr_used = ocr == "always" or (ocr == "auto" and (words is None or not has_usable_text(words)))
    seconds = 0.0
    if ocr_used:
        t0 = time.perf_counter()
        words = tuple(ocr_image(item.image))
        seconds = time.perf_counter() - t0
    suffix = keeps_encoding(item.file) if item.file is not None else None
    if suffix is not None and item.file is not None:
        shutil.copyfile(item.file, png_path.with_suffix(suffix))
        return _Done(item, words or (), ocr_used, seconds, suffix)
    storage_image(item.image).save(png_path, format="PNG", compress_level=1)
    return _Done(item, words or (), ocr_used, seconds)


def _write_pages(
    writer: CorpusWriter,
    source: Source,
    report: IngestReport,
    *,
    ocr: str,
    dpi: int,
    total: int,
    keep_words: set[PageId],
    progress: bool,
    workers: int,
) -> tuple[dict[PageId, tuple[Word, ...]], set[PageId]]:
    """Decode, text-layer and save every page.

    The source decodes pages in this thread; ``workers`` threads OCR them and encode the PNGs.
    Results are recorded in source order, with at most ``2 * workers`` pages in flight.

    Returns:
        The words of the ``keep_words`` pages, and the ids of all pages written.
    """
    from tqdm.auto import tqdm

    words_of: dict[PageId, tuple[Word, ...]] = {}
    written: set[PageId] = set()
    folder = writer.tmp_dir / IMAGES_DIR
    workers = max(1, workers)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vrag-ingest")
    pending: deque[Future[_Done]] = deque()

    def record(done: _Done) -> None:
        item = done.item
        page_id = f"{item.doc}_{item.page}"
        writer.add_page(
            Page(
                page_id=page_id,
                doc=item.doc,
                page=item.page,
                width=item.image.width,
                height=item.image.height,
                image="",
                words=done.words,
                kind=item.kind,
                meta={**item.meta, "text": _text_origin(done.ocr_used, done.words)},
            ),
            suffix=done.suffix,
        )
        written.add(page_id)
        if page_id in keep_words:
            words_of[page_id] = done.words
        report.pages += 1
        report.pages_ocr += done.ocr_used
        report.ocr_seconds += done.ocr_seconds
        bar.update(1)

    # disable=None: a bar on terminals only, so logs and CI output stay clean.
    bar = tqdm(total=total, unit="page", desc="ingest", disable=None if progress else True)
    try:
        for item in source.iter_pages(dpi):
            png_path = folder / f"{item.doc}_{item.page}.png"
            pending.append(pool.submit(_process_page, item, ocr, png_path))
            while len(pending) > 2 * workers:
                record(pending.popleft().result())
        while pending:
            record(pending.popleft().result())
    finally:
        bar.close()
        pool.shutdown(wait=True, cancel_futures=True)
    return words_of, written


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
