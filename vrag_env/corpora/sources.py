"""Where pages come from: page images, documents and the files a ``vrag ingest`` run reads.

:class:`Source` lists documents and their pages; :class:`FileSource` finds PDFs and images in files
and folders (:func:`discover_files`). Every file is validated before any page is written: an
unreadable, truncated or oversized file fails the run with a message naming it. Dataset formats
(:mod:`vrag_env.corpora.hub_formats`) are further sources. The pipeline that turns a source into a
corpus folder is :mod:`vrag_env.corpora.ingest`.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from vrag_env.corpora.queries import (
    HASH_SPLIT,
    DocPages,
    RawQuery,
)
from vrag_env.types import Word

logger = logging.getLogger(__name__)

PDF_SUFFIXES = (".pdf",)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
MULTI_FRAME_SUFFIXES = (".tif", ".tiff")
"""Multi-page TIFFs (common for scans) become one page per frame; other images are one page."""


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
            (a JPEG stays a JPEG: see :func:`~vrag_env.corpora.page_writer.keeps_encoding`), or
            ``None``.
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
