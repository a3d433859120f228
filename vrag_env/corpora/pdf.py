"""PDF pages with PyMuPDF: validation, rendering, and the text layer with word boxes.

Word boxes come from ``page.get_text("words")``, which reports them in unrotated PDF points relative
to the crop box; they are mapped through ``page.rotation_matrix`` and scaled by ``dpi / 72`` so they
land in the pixel frame of the rendered page image.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from vrag_env.types import Word

INSTALL_HINT = (
    'PDF ingestion needs PyMuPDF: `pip install "vrag-env[ingest]"` (or `pip install pymupdf`)'
)

MIN_TEXT_WORDS = 3
"""A PDF page with fewer words holding a letter or digit counts as a scan (it needs OCR)."""

# The PDF spec puts `%%EOF` at the end; readers accept it within the last KiB (trailing junk).
_EOF_WINDOW = 1024


def _fitz() -> Any:
    try:
        import pymupdf
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(INSTALL_HINT) from exc
    return pymupdf


def pymupdf_version() -> str | None:
    """The installed PyMuPDF version, or ``None`` when it is missing."""
    try:
        return importlib.metadata.version("pymupdf")
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class RenderedPdfPage:
    """One rendered PDF page.

    Attributes:
        page: 1-based page number.
        image: The RGB rendering at the requested dpi.
        words: The PDF text layer in pixel coordinates of ``image`` (empty for scans).
    """

    page: int
    image: Image.Image
    words: tuple[Word, ...]


def has_usable_text(words: tuple[Word, ...] | list[Word]) -> bool:
    """Whether a text layer has at least :data:`MIN_TEXT_WORDS` words with a letter or digit."""
    return sum(any(c.isalnum() for c in w.text) for w in words) >= MIN_TEXT_WORDS


def _truncated(path: Path) -> bool:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - _EOF_WINDOW))
        return b"%%EOF" not in fh.read()


def open_pdf(path: str | os.PathLike[str]) -> Any:
    """Open and validate a PDF; return the PyMuPDF document.

    MuPDF silently repairs broken files, which turns a truncated PDF into a document whose last
    pages are blank. A repaired file without its ``%%EOF`` trailer is therefore rejected as
    truncated, and every page of a repaired file must load.

    Raises:
        ValueError: If the file is empty, not a PDF, encrypted, truncated, or has no pages. The
            message names the file.
    """
    fitz = _fitz()
    path = Path(path)
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file (0 bytes); remove it or replace it with a valid PDF")
    # MuPDF may print repair messages to stderr; the errors that matter are raised below instead.
    shown = fitz.TOOLS.mupdf_display_errors()
    fitz.TOOLS.mupdf_display_errors(False)
    try:
        doc = fitz.open(path, filetype="pdf")
    except Exception as exc:  # PyMuPDF raises FileDataError, RuntimeError, ...
        raise ValueError(
            f"{path}: not a readable PDF ({exc}); re-export or re-download it"
        ) from exc
    finally:
        fitz.TOOLS.mupdf_display_errors(shown)
    try:
        if doc.needs_pass:
            raise ValueError(
                f"{path}: the PDF is encrypted; decrypt it first (e.g. `qpdf --decrypt`)"
            )
        if doc.page_count == 0:
            raise ValueError(f"{path}: the PDF has no pages")
        if doc.is_repaired:
            if _truncated(path):
                raise ValueError(
                    f"{path}: the PDF is truncated or corrupt (no %%EOF trailer; MuPDF had to "
                    "repair it); re-download or re-export it"
                )
            for page in doc:
                page.get_text("words")
    except ValueError:
        doc.close()
        raise
    except Exception as exc:
        doc.close()
        raise ValueError(f"{path}: corrupt PDF ({exc}); re-export or re-download it") from exc
    return doc


def check_render_size(page: Any, dpi: int, label: str) -> None:
    """Refuse to render a page larger than Pillow's decompression-bomb limit at ``dpi``.

    Raises:
        ValueError: If the rendering would exceed ``PIL.Image.MAX_IMAGE_PIXELS``.
    """
    scale = dpi / 72.0
    pixels = page.rect.width * scale * page.rect.height * scale
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and pixels > limit:
        raise ValueError(
            f"{label} would render to {pixels:,.0f} pixels at {dpi} dpi, over Pillow's "
            f"decompression-bomb limit of {limit:,} pixels; use a lower --dpi"
        )


def pdf_page_count(path: str | os.PathLike[str], dpi: int | None = None) -> int:
    """Validate a PDF (see :func:`open_pdf`) and return its number of pages.

    With ``dpi``, also check that every page renders within Pillow's decompression-bomb limit.
    """
    doc = open_pdf(path)
    try:
        if dpi is not None:
            for index in range(doc.page_count):
                check_render_size(doc.load_page(index), dpi, f"{path}: page {index + 1}")
        return int(doc.page_count)
    finally:
        doc.close()


def page_words(page: Any, scale: float) -> tuple[Word, ...]:
    """The text layer of a PyMuPDF page in pixels of a rendering at ``scale`` pixels per point."""
    fitz = _fitz()
    m = page.rotation_matrix * fitz.Matrix(scale, scale)
    a, b, c, d, e, f = m.a, m.b, m.c, m.d, m.e, m.f
    words = []
    # The affine map is applied by hand: PyMuPDF's Rect * Matrix costs ~0.1 ms per word.
    for x0, y0, x1, y1, text, *_ in page.get_text("words", sort=False):
        text = text.replace("\ufffd", "").strip()
        if not text:
            continue
        xs = (a * x0 + c * y0 + e, a * x1 + c * y0 + e, a * x0 + c * y1 + e, a * x1 + c * y1 + e)
        ys = (b * x0 + d * y0 + f, b * x1 + d * y0 + f, b * x0 + d * y1 + f, b * x1 + d * y1 + f)
        box = (round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1))
        words.append(Word(text, box))
    return tuple(words)


def render_pdf(path: str | os.PathLike[str], dpi: int) -> Iterator[RenderedPdfPage]:
    """Render every page of a PDF at ``dpi`` with its text layer.

    Raises:
        ValueError: If the file is not a valid PDF, or a page fails to render (the message names the
            file and page).
    """
    fitz = _fitz()
    doc = open_pdf(path)
    scale = dpi / 72.0
    try:
        for index in range(doc.page_count):
            page = doc.load_page(index)
            check_render_size(page, dpi, f"{path}: page {index + 1}")
            try:
                pix = page.get_pixmap(
                    matrix=fitz.Matrix(scale, scale), alpha=False, colorspace="rgb"
                )
                image = Image.frombytes("RGB", (pix.width, pix.height), pix.samples_mv)
                words = page_words(page, scale)
            except Exception as exc:
                raise ValueError(f"{path}: page {index + 1} cannot be rendered ({exc})") from exc
            yield RenderedPdfPage(index + 1, image, words)
    finally:
        doc.close()
