"""OCR for page images with RapidOCR (``rapidocr-onnxruntime``; its ONNX models ship in the wheel).

RapidOCR detects text *lines* and returns, for each, a quadrilateral, the recognised string and (with
``return_word_box``) the recogniser's output column of each character (:func:`char_spans`). The corpus text layer stores *words*:

- **Spaces restored.** The recogniser often drops the spaces of large or bold type
  (``WILLPOWERTHEOUTBOUNDTRAVELMARKET``). For each horizontal line, the columns of the line image
  without ink are found; a blank run wider than :data:`SPACE_GAP` times the text height is a word
  break, placed between the two characters whose boxes it separates (:func:`split_at_gaps`).
  Each word's box spans its characters' boxes.
- **O/0 repaired in numbers.** ``O``/``o`` inside a token that is otherwise digits and separators
  becomes ``0`` (``US$1O,OOO`` -> ``US$10,000``, ``7,5o0`` -> ``7,500``; :func:`fix_digits`).
- **Detected small, read at full resolution.** Text lines are detected on a copy of the page whose
  longer side is at most :data:`DET_MAX_SIDE` pixels (detection cost grows with the pixel count)
  and each line is recognised from a crop of the *original* pixels, so small print on a large
  page stays legible. Boxes are in page pixels.
- **Short lines are not padded to 320 px.** RapidOCR pads every line image (48 px high) to at
  least 320 px wide; a label such as ``30万`` then costs as much as a line of text. Lines are
  padded to :data:`REC_MIN_WIDTH` instead, one line at a time, and no angle classifier runs
  (pages are upright). Chosen by measurement: ``docs/retrieval.md``, ``benchmarks/ocr_speed.py``.

Lines whose character positions are unusable (vertical text, a count mismatch) fall back to splitting
at the recognised spaces with boxes proportional to character offsets (:func:`split_line`).

Engines are loaded lazily, on the first page that needs OCR, and reused for the life of the process:
one per thread that OCRs concurrently (ingestion's worker threads), each running single-threaded.
The results do not depend on which engine OCRs a page.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import logging
import queue
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from vrag_env.corpora.onnx_arena import memory_arena
from vrag_env.text import is_cjk
from vrag_env.types import BBox, Word

logger = logging.getLogger(__name__)

INSTALL_HINT = 'OCR needs RapidOCR: `pip install "vrag-env[ingest]"` (or `uv sync --extra ingest`)'

DET_MAX_SIDE = 1024
"""Text lines are detected on a copy of the page at most this many pixels on its longer side."""

REC_MIN_WIDTH = 96
"""Line images (48 px high) are padded to at least this width for recognition."""

SPACE_GAP = 0.25
"""A blank run of columns at least this fraction of the text height is a word break."""

MIN_GAP_PX = 3.0
"""Blank runs narrower than this many pixels are never word breaks (small print)."""

LETTER_SPACING_FACTOR = 2.0
"""A word break is also at least this many times the line's median blank run."""

_INK_CONTRAST = 48
"""Grey-level distance from the line's background that counts as ink."""

_OTHERWISE_NUMERIC = re.compile(r"(?<![^\W\d_])[0-9Oo](?:[0-9Oo.,]*[0-9Oo])?(?![^\W\d_])")

# Idle engines by recognition padding width, reused across calls and threads: one is created per
# concurrent caller, on first use.
_ENGINES: dict[int, queue.SimpleQueue[Any]] = {}


class OCRUnavailableError(ImportError):
    """RapidOCR is not installed; the message says how to install it."""


def ocr_version() -> str | None:
    """The installed ``rapidocr-onnxruntime`` version, or ``None`` when it is missing."""
    try:
        return importlib.metadata.version("rapidocr-onnxruntime")
    except importlib.metadata.PackageNotFoundError:
        return None


def _new_engine(rec_min_width: int = REC_MIN_WIDTH) -> Any:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise OCRUnavailableError(INSTALL_HINT) from exc
    logger.debug("loading a RapidOCR engine")
    # One ONNX Runtime thread per engine: ingestion runs one engine per worker thread, and spinning
    # intra-op threads on a busy machine cost more than they gain (measured: ~2x slower).
    # rec_batch_num=1: batches pad every line to the widest of the batch; one line at a time is
    # about a third cheaper on slides with lines of mixed lengths (measured in docs/retrieval.md).
    # The detector gets the page at the size ocr_image chose (det_limit_type="max" with a limit
    # no page reaches: RapidOCR only rounds the sides to multiples of 32).
    with memory_arena():  # reused buffers: the same outputs, a faster detector
        return RapidOCR(
            intra_op_num_threads=1,
            inter_op_num_threads=1,
            rec_batch_num=1,
            rec_img_shape=[3, 48, rec_min_width],
            det_limit_type="max",
            det_limit_side_len=1_000_000,
        )


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


def fix_digits(word: str) -> str:
    """Read ``O``/``o`` as ``0`` in a run that is otherwise digits and separators.

    Only runs with at least one digit, not touching letters, are changed.

    >>> [fix_digits(w) for w in ["US$1O,OOO", "7,5o0", "2O19", "ROOM", "No1", "O2O"]]
    ['US$10,000', '7,500', '2019', 'ROOM', 'No1', '020']
    """

    def repl(match: re.Match[str]) -> str:
        run = match.group()
        if not any(c.isdigit() for c in run):
            return run
        return run.replace("O", "0").replace("o", "0")

    return _OTHERWISE_NUMERIC.sub(repl, word)


def ink_gaps(line: np.ndarray, min_width: float | None = None) -> list[tuple[int, int]]:
    """Blank column runs of a greyscale line image that are word breaks.

    Ink is any pixel at least :data:`_INK_CONTRAST` grey levels from the line's background (the
    median of the box outline), so dark-on-light and light-on-dark text both work. A blank run between two inked
    columns is a break when it is at least ``min_width`` pixels wide (default: :data:`SPACE_GAP`
    times the height of the inked rows, the text height) and at least
    :data:`LETTER_SPACING_FACTOR` times the line's median blank run (letter-spaced type).

    Returns:
        ``(start, end)`` column ranges (``end`` exclusive), left to right.
    """
    if line.size == 0:
        return []
    # The background is what the box's outline mostly shows (bold type can cover more than half
    # of a tight box, so the median of the whole box would be ink).
    outline = np.concatenate([line[0], line[-1], line[:, 0], line[:, -1]])
    background = float(np.median(outline))
    inked_pixels = np.abs(line.astype(np.int16) - background) >= _INK_CONTRAST
    rows = np.flatnonzero(inked_pixels.any(axis=1))
    if len(rows) == 0:
        return []
    if min_width is None:
        min_width = max(SPACE_GAP * float(rows[-1] - rows[0] + 1), MIN_GAP_PX)
    # The middle band of the line box only: detection boxes are padded and may reach into the
    # descenders and ascenders of neighbouring lines.
    height = line.shape[0]
    band = inked_pixels[height // 10 : height - height // 10] if height >= 10 else inked_pixels
    inked = np.flatnonzero(band.any(axis=0))
    # Consecutive ink columns further apart than one pixel bound a blank run.
    runs = [(int(a) + 1, int(b)) for a, b in itertools.pairwise(inked) if b - a > 1]
    if not runs:
        return []
    # Letter-spaced type ("M O B I L E"): a word break is also clearly wider than a typical gap.
    threshold = max(min_width, LETTER_SPACING_FACTOR * float(np.median([b - a for a, b in runs])))
    return [(a, b) for a, b in runs if b - a >= threshold]


def _inside_number(left: str, right: str) -> bool:
    """Whether a break between ``left`` and ``right`` would split a number."""
    numeric = "0123456789.,:/"
    return left in numeric and right in numeric and (left.isdigit() or right.isdigit())


def split_at_gaps(
    chars: Sequence[str], boxes: Sequence[tuple[float, float]], gaps: Sequence[tuple[float, float]]
) -> list[tuple[str, float, float]]:
    """Group characters into words: a break wherever a gap lies between two characters' centres.

    Args:
        chars: The characters of a line, in order (spaces included or not).
        boxes: Each character's ``(x1, x2)`` span.
        gaps: Blank ``(start, end)`` spans of the line, in the same coordinates.

    Returns:
        ``(word, x1, x2)`` per word.

    Example:
        >>> split_at_gaps("ABCD", [(0, 8), (10, 18), (40, 48), (50, 58)], [(20, 38)])
        [('AB', 0, 18), ('CD', 40, 58)]
    """
    centres = [(a + b) / 2 for a, b in boxes]
    words: list[tuple[str, float, float]] = []
    current: list[int] = []
    gap_mids = sorted((g0 + g1) / 2 for g0, g1 in gaps)

    def flush() -> None:
        if current:
            text = "".join(chars[i] for i in current)
            words.append(
                (text, min(boxes[i][0] for i in current), max(boxes[i][1] for i in current))
            )
            current.clear()

    for i, ch in enumerate(chars):
        if ch.isspace():
            flush()
            continue
        prev = current[-1] if current else None
        # CJK is written without spaces: a gap between two CJK characters is layout, not a
        # break; nor is one inside a number ("1" has wide side bearings: "192.168.1.0/24").
        if (
            prev is not None
            and not (is_cjk(chars[prev]) and is_cjk(ch))
            and not _inside_number(chars[prev], ch)
            and any(centres[prev] < m < centres[i] for m in gap_mids)
        ):
            flush()
        current.append(i)
    flush()
    return words


def char_spans(
    info: Sequence[Any], x1: float, x2: float
) -> tuple[list[str], list[tuple[float, float]]]:
    """The characters of a recognised line and their ``(x1, x2)`` spans in page pixels.

    The recogniser reads a line image as ``columns`` output steps, left to right; each character
    is decoded at one of them. A character is centred on its step, mapped linearly onto the line
    box ``x1..x2``, and is as wide as the average step between neighbouring characters of the same
    kind (CJK or not) in the line's words (the line's width over its character count when no word
    has two characters). This is RapidOCR's own ``return_word_box`` geometry for horizontal lines,
    without its per-box polygon bookkeeping.

    Args:
        info: RapidOCR's word information of a line, ``(columns, words, word_columns, kinds, ...)``
            as its recogniser returns it with ``return_word_box=True``.
        x1: The line box's left edge in page pixels.
        x2: The line box's right edge.

    Returns:
        ``(chars, spans)``, the characters without spaces, in reading order.

    Example:
        >>> char_spans((10, [["a", "b"], ["c"]], [[1, 2], [6]], ["en", "en"]), 0.0, 100.0)
        (['a', 'b', 'c'], [(10.0, 20.0), (20.0, 30.0), (60.0, 70.0)])
    """
    columns, words, word_columns, kinds = info[0], info[1], info[2], info[3]
    count = sum(len(w) for w in words)
    if not columns or not count:
        return [], []
    cell = (x2 - x1) / float(columns)
    steps: dict[str, list[float]] = {}
    for cols, kind in zip(word_columns, kinds, strict=False):
        if len(cols) > 1:
            steps.setdefault(kind, []).append((cols[-1] - cols[0]) * cell / (len(cols) - 1))
    chars: list[str] = []
    spans: list[tuple[float, float]] = []
    for word, cols, kind in zip(words, word_columns, kinds, strict=False):
        width = float(np.mean(steps[kind])) if kind in steps else (x2 - x1) / count
        for ch, col in zip(word, cols, strict=False):
            centre = x1 + (col + 0.5) * cell
            chars.append(ch)
            spans.append((max(centre - width / 2, x1), min(centre + width / 2, x2)))
    return chars, spans


def _line_words(pixels: np.ndarray, quad: Any, text: str, info: Any) -> list[Word]:
    """Words of one OCR line (page pixels), split at the blank gaps of the line's pixels.

    ``pixels`` is the page's RGB rectangle from ``(int(x1), int(y1))`` of the line's box on.
    """
    xs = [float(p[0]) for p in quad]
    ys = [float(p[1]) for p in quad]
    x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
    if info is None or len(info) < 4 or (y2 - y1) > 1.5 * (x2 - x1):
        return split_line(text, quad)
    chars, spans = char_spans(info, x1, x2)
    usable = (
        chars
        and all(isinstance(c, str) and len(c) == 1 for c in chars)
        and "".join(chars) == text.replace(" ", "")
    )
    if not usable:
        return split_line(text, quad)
    top, left = max(int(y1), 0), max(int(x1), 0)
    crop = pixels[: max(round(y2) - top, 0), : max(round(x2) - left, 0)]
    grey = (
        np.asarray(Image.fromarray(np.ascontiguousarray(crop)).convert("L")) if crop.size else crop
    )
    gaps = [(a + left, b + left) for a, b in ink_gaps(grey)]
    return [
        Word(fix_digits(word), (round(a, 1), round(y1, 1), round(b, 1), round(y2, 1)))
        for word, a, b in split_at_gaps(chars, spans, gaps)
    ]


def _detector_copy(page: Image.Image, max_side: int | None) -> np.ndarray:
    """The page as the detector sees it, at most ``max_side`` pixels on its longer side (RGB)."""
    if max_side is None or max(page.size) <= max_side:
        return np.asarray(page)
    import cv2  # installed with rapidocr-onnxruntime

    scale = max(page.size) / max_side
    size = (max(round(page.width / scale), 1), max(round(page.height / scale), 1))
    # Box-average by the integer part of the scale first (fast, in PIL, without copying the full
    # page into numpy), then area-average to the exact size: thin strokes fade, never vanish.
    factor = int(scale)
    small = page.reduce(factor) if factor > 1 else page
    return cv2.resize(np.asarray(small), size, interpolation=cv2.INTER_AREA)


def ocr_image(
    image: Image.Image, max_side: int | None = DET_MAX_SIDE, rec_min_width: int = REC_MIN_WIDTH
) -> list[Word]:
    """OCR a page image into a word-level text layer (page pixel coordinates).

    Text lines are *detected* on a copy of the page whose longer side is at most ``max_side``
    pixels and *recognised* from crops of the original pixels, so small print stays legible
    while detection, whose cost grows with the pixel count, runs on a small image.

    Args:
        image: The page image (any mode; converted to RGB).
        max_side: The longer side, in pixels, of the copy that text lines are detected on
            (``None``: detect at full resolution). Pages already that small are used as they are.
        rec_min_width: Each line image (48 px high) is padded to at least this width before
            recognition (RapidOCR's default is 320; see :data:`REC_MIN_WIDTH`).

    Returns:
        The words in reading order (top to bottom, then left to right), boxes in page pixels.

    Raises:
        OCRUnavailableError: If ``rapidocr-onnxruntime`` is not installed.
        ValueError: If ``max_side`` or ``rec_min_width`` is not a positive number of pixels.
    """
    if max_side is not None and max_side < 32:
        raise ValueError(f"max_side={max_side!r}: pass at least 32 pixels, or None")
    if rec_min_width < 1:
        raise ValueError(f"rec_min_width={rec_min_width!r}: pass a positive number of pixels")
    page = image if image.mode == "RGB" else image.convert("RGB")
    detect_on = _detector_copy(page, max_side)
    sx, sy = page.width / detect_on.shape[1], page.height / detect_on.shape[0]
    engines = _ENGINES.setdefault(rec_min_width, queue.SimpleQueue())
    try:
        engine = engines.get_nowait()
    except queue.Empty:
        engine = _new_engine(rec_min_width)
    try:
        # RapidOCR expects OpenCV's BGR channel order (flipped on the small copies only).
        boxes, _ = engine.auto_text_det(np.ascontiguousarray(detect_on[:, :, ::-1]))
        if not boxes:
            return []
        quads, patches, crops = [], [], []
        for box in boxes:
            quad = np.clip(np.asarray(box, np.float32) * [sx, sy], 0, page.size).astype(np.float32)
            # Only the line's rectangle of the page is copied out of PIL, never the whole page.
            left, top = int(quad[:, 0].min()), int(quad[:, 1].min())
            right = max(int(np.ceil(quad[:, 0].max())), left + 1)
            bottom = max(int(np.ceil(quad[:, 1].max())), top + 1)
            patch = np.asarray(page.crop((left, top, right, bottom)))
            local = (quad - np.array([left, top], dtype=np.float32)).astype(np.float32)
            (line_image,) = engine.get_crop_img_list(patch, [local])
            quads.append(quad)
            patches.append(patch)
            # Line images cut from the original pixels; no angle classifier: pages are upright.
            crops.append(np.ascontiguousarray(line_image[:, :, ::-1]))
        lines, _ = engine.text_rec(crops, True)
        min_score = float(engine.text_score)
    finally:
        engines.put(engine)
    words: list[Word] = []
    for quad, patch, line in zip(quads, patches, lines, strict=True):
        text, score = str(line[0]), float(line[1])
        if score < min_score or not text.strip():  # RapidOCR's own filter (text_score)
            continue
        info = line[2] if len(line) > 2 else None
        words.extend(_line_words(patch, quad.tolist(), text, info))
    return words
