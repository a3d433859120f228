"""OCR for page images with RapidOCR (``rapidocr-onnxruntime``; its ONNX models ship in the wheel).

RapidOCR detects text *lines* and returns, for each, a quadrilateral and the recognised string. The
corpus text layer stores *words*, so each line is split at whitespace and every word gets a slice of
the line box proportional to its character offsets. That is approximate (proportional fonts), but it
is deterministic and good enough for lexical retrieval and for locating answers to crop on.

Engines are loaded lazily, on the first page that needs OCR, and reused for the life of the process:
one per thread that OCRs concurrently (ingestion's worker threads), each running single-threaded.
The results do not depend on which engine OCRs a page.
"""

from __future__ import annotations

import importlib.metadata
import logging
import queue
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from vrag_env.types import BBox, Word

logger = logging.getLogger(__name__)

INSTALL_HINT = 'OCR needs RapidOCR: `pip install "vrag-env[ingest]"` (or `uv sync --extra ingest`)'

# Idle engines, reused across calls and threads: one is created per concurrent caller, on first use.
_ENGINES: queue.SimpleQueue[Any] = queue.SimpleQueue()


class OCRUnavailableError(ImportError):
    """RapidOCR is not installed; the message says how to install it."""


def ocr_version() -> str | None:
    """The installed ``rapidocr-onnxruntime`` version, or ``None`` when it is missing."""
    try:
        return importlib.metadata.version("rapidocr-onnxruntime")
    except importlib.metadata.PackageNotFoundError:
        return None


def _new_engine() -> Any:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise OCRUnavailableError(INSTALL_HINT) from exc
    logger.debug("loading a RapidOCR engine")
    # One ONNX Runtime thread per engine: ingestion runs one engine per worker thread, and spinning
    # intra-op threads on a busy machine cost more than they gain (measured: ~2x slower).
    return RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)


def split_line(text: str, quad: Sequence[Sequence[float]]) -> list[Word]:
    """Split one OCR line into words with boxes proportional to their character offsets.

    Args:
        text: The recognised line text.
        quad: The line's quadrilateral ``[[x, y], ...]`` (4 points, any order) in page pixels.

    Returns:
        One :class:`~vrag_env.types.Word` per whitespace-separated token, in reading order.

    Example:
        >>> [(w.text, w.box) for w in split_line("ab cd", [[0, 0], [50, 0], [50, 10], [0, 10]])]
        [('ab', (0.0, 0.0, 20.0, 10.0)), ('cd', (30.0, 0.0, 50.0, 10.0))]
    """
    xs = [float(p[0]) for p in quad]
    ys = [float(p[1]) for p in quad]
    x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
    n = len(text)
    if n == 0:
        return []
    # Vertical lines (rotated text) are split along y instead of x.
    vertical = (y2 - y1) > 1.5 * (x2 - x1) and n > 1
    words: list[Word] = []
    start = None
    for i, ch in enumerate(text + " "):
        if ch.isspace():
            if start is not None:
                a, b = start / n, i / n
                box: BBox
                if vertical:
                    box = (x1, y1 + a * (y2 - y1), x2, y1 + b * (y2 - y1))
                else:
                    box = (x1 + a * (x2 - x1), y1, x1 + b * (x2 - x1), y2)
                words.append(Word(text[start:i], tuple(round(v, 1) for v in box)))  # type: ignore[arg-type]
                start = None
        elif start is None:
            start = i
    return words


def ocr_image(image: Image.Image) -> list[Word]:
    """OCR a page image into a word-level text layer (page pixel coordinates).

    Args:
        image: The page image (any mode; converted to RGB).

    Returns:
        The words in reading order (RapidOCR's line order: top to bottom, then left to right).

    Raises:
        OCRUnavailableError: If ``rapidocr-onnxruntime`` is not installed.
    """
    try:
        engine = _ENGINES.get_nowait()
    except queue.Empty:
        engine = _new_engine()
    rgb = np.asarray(image.convert("RGB"))
    try:
        # RapidOCR expects OpenCV's BGR channel order for arrays.
        result, _ = engine(np.ascontiguousarray(rgb[:, :, ::-1]))
    finally:
        _ENGINES.put(engine)
    words: list[Word] = []
    for quad, text, _score in result or []:
        words.extend(split_line(str(text), quad))
    return words
