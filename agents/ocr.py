"""A shared, lazily initialised RapidOCR reader for agents, with per-image caches.

RapidOCR (``rapidocr-onnxruntime``; its ONNX models ship in the wheel, so nothing is downloaded)
runs in two stages: a detector finds text boxes (one pass over the image, ~0.2 s for a 750x845
view on one CPU core) and a recogniser reads each box (~40 ms for a 48x540 px line). Reading
*everything* on a dense page costs seconds, so this wrapper exposes the two stages separately:
agents detect once, then read only the boxes they care about (e.g. the legible ones, or the row
and column labels of a table).

Results are cached by image content (a BLAKE2 hash of the pixels) and, for recognition, by box, so
an agent that sees the same view twice (the same page retrieved for two questions) pays once; a run
that splits its episodes over processes can share them through a folder
(:mod:`vrag_env.shared_ocr_cache`). The angle classifier is off: rendered and scanned documents are
upright.

Example:
    >>> import numpy as np
    >>> reader = get_reader()
    >>> boxes = reader.detect(np.full((64, 64, 3), 255, np.uint8))
    >>> boxes
    []
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vrag_env.corpora.ocr import REC_MIN_WIDTH, fix_digits
from vrag_env.corpora.onnx_arena import memory_arena
from vrag_env.shared_ocr_cache import load, store
from vrag_env.types import BBox

_DETECTIONS = "reader-boxes-v1"
_TEXTS_SPACED = "reader-texts-v1"
_TEXTS_RAW = "reader-texts-raw-v1"
# Namespaces of a run's shared folder (vrag_env.shared_ocr_cache): detections by (image, side),
# texts by (image, box), apart for readers that restore spaces and readers that do not.

INSTALL_HINT = 'the heuristic agent needs RapidOCR: `pip install "vrag-env[ingest]"`'


@dataclass(frozen=True)
class TextBox:
    """One recognised text box.

    Attributes:
        text: The recognised text (RapidOCR may drop spaces between tightly set words).
        box: ``(x1, y1, x2, y2)`` in pixels of the image that was read.
        score: Recognition confidence in ``[0, 1]``.
    """

    text: str
    box: BBox
    score: float

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.box[3] - self.box[1]


class _LRU:
    """A small least-recently-used cache."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        if key in self.data:
            self.data.move_to_end(key)
            return self.data[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        self.data[key] = value
        self.data.move_to_end(key)
        while len(self.data) > self.size:
            self.data.popitem(last=False)


def ocr_version() -> str | None:
    """The installed ``rapidocr-onnxruntime`` version (``None`` when it is missing)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("rapidocr-onnxruntime")
    except importlib.metadata.PackageNotFoundError:
        return None


def image_key(image: np.ndarray) -> str:
    """A content hash of an image array (shape and pixels)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(image.shape).encode())
    digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()


class OCRReader:
    """Two-stage RapidOCR with caches; the engine loads on first use.

    Args:
        cache_size: Images (detections) and boxes (recognitions) kept in the caches.
        text_score: Recognitions below this confidence are returned with empty text.
        restore_spaces: Put back the spaces the recogniser drops between words of large or bold
            type (``TariqMoreau``), from the blank columns of the box (:func:`restore_spaces`),
            and read ``O``/``o`` as ``0`` inside numbers (``US$7,5o0``;
            :func:`vrag_env.corpora.ocr.fix_digits`).
    """

    def __init__(
        self, cache_size: int = 2048, text_score: float = 0.5, restore_spaces: bool = True
    ) -> None:
        self.text_score = text_score
        self.restore_spaces = restore_spaces
        self._engine: Any = None
        self._lock = threading.Lock()
        self._detections = _LRU(cache_size)
        self._texts = _LRU(cache_size * 64)
        self.stats = {"detect_calls": 0, "detect_cached": 0, "boxes_read": 0, "boxes_cached": 0}

    @property
    def engine(self) -> Any:
        """The RapidOCR engine (created on first access)."""
        with self._lock:
            if self._engine is None:
                try:
                    from rapidocr_onnxruntime import RapidOCR
                except ImportError as exc:  # pragma: no cover - depends on the installation
                    raise ImportError(INSTALL_HINT) from exc
                # One thread per ONNX session: the models are small, and on a shared 2-core machine
                # a busy second thread makes every call several times slower (measured). Boxes are
                # read one at a time, padded to REC_MIN_WIDTH (96 px) rather than RapidOCR's 320 in
                # batches of 6 padded to the widest: the recogniser's cost grows with the padded
                # width, and this halves it on table cells and short labels (the same setting as
                # the ingestion OCR, vrag_env.corpora.ocr; measured in docs/baselines.md).
                with memory_arena():
                    self._engine = RapidOCR(
                        use_cls=False,
                        intra_op_num_threads=1,
                        inter_op_num_threads=1,
                        rec_batch_num=1,
                        rec_img_shape=[3, 48, REC_MIN_WIDTH],
                    )
            return self._engine

    def detect(self, image: np.ndarray, side: int = 736) -> list[BBox]:
        """Text boxes of an RGB ``(H, W, 3)`` uint8 image, in reading order (top to bottom).

        Args:
            image: The image.
            side: The detector works on the image resized so its shorter side is at least this
                long (RapidOCR's default 736; larger finds smaller text, at a higher cost).

        Returns:
            Axis-aligned ``(x1, y1, x2, y2)`` boxes in image pixels, rounded to 0.1 px.
        """
        key = (image_key(image), side)
        cached = self._detections.get(key)
        if cached is None:
            shared = load(_DETECTIONS, f"{key[0]}-{side}")
            if shared is not None:
                cached = tuple(tuple(box) for box in shared)
                self._detections.put(key, cached)
        if cached is not None:
            self.stats["detect_cached"] += 1
            return list(cached)
        self.stats["detect_calls"] += 1
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        engine = self.engine
        with self._lock:
            engine.text_det.limit_side_len = side
            quads, _ = engine(bgr, use_det=True, use_cls=False, use_rec=False)
        boxes: list[BBox] = []
        for quad in quads or []:
            xs = [float(p[0]) for p in quad]
            ys = [float(p[1]) for p in quad]
            boxes.append(
                (round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1))
            )
        boxes.sort(key=lambda b: (round((b[1] + b[3]) / 2), b[0]))
        self._detections.put(key, tuple(boxes))
        store(_DETECTIONS, f"{key[0]}-{side}", boxes)
        return boxes

    def recognize(
        self, image: np.ndarray, boxes: Sequence[BBox], min_score: float | None = None
    ) -> list[TextBox]:
        """Read the given boxes of an RGB image (one batch for all boxes not cached yet).

        Args:
            image: The image.
            boxes: Boxes to read, in image pixels.
            min_score: Texts read with a lower confidence come back empty (default: the reader's
                ``text_score``).
        """
        threshold = self.text_score if min_score is None else min_score
        key = image_key(image)
        out: list[TextBox | None] = [None] * len(boxes)
        todo: list[int] = []
        namespace = _TEXTS_SPACED if self.restore_spaces else _TEXTS_RAW
        for i, box in enumerate(boxes):
            cached = self._texts.get((key, box))
            if cached is None:
                shared = load(namespace, f"{key}-{box!r}")
                if shared is not None:
                    cached = TextBox(shared[0], box, shared[1])
                    self._texts.put((key, box), cached)
            if cached is None:
                todo.append(i)
            else:
                out[i] = cached
        self.stats["boxes_cached"] += len(boxes) - len(todo)
        if todo:
            self.stats["boxes_read"] += len(todo)
            height, width = image.shape[:2]
            crops = []
            for i in todo:
                x1, y1, x2, y2 = boxes[i]
                x1, y1 = max(0, int(x1)), max(0, int(y1))
                x2, y2 = min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2)))
                crop = image[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1), ::-1]
                crops.append(np.ascontiguousarray(crop))
            results, _ = self.engine.text_rec(crops, return_word_box=True)
            for i, crop, result in zip(todo, crops, results, strict=True):
                text, score = str(result[0]), float(result[1])
                if self.restore_spaces:
                    text = restore_spaces(crop, text, result[2] if len(result) > 2 else None)
                    text = " ".join(fix_digits(word) for word in text.split(" "))
                read = TextBox(text, boxes[i], round(score, 4))
                self._texts.put((key, boxes[i]), read)
                store(namespace, f"{key}-{boxes[i]!r}", [read.text, read.score])
                out[i] = read
        return [
            t if t.score >= threshold else TextBox("", t.box, t.score) for t in out if t is not None
        ]

    def read(self, image: np.ndarray, min_height: float = 0.0, side: int = 736) -> list[TextBox]:
        """Detect, then read every box at least ``min_height`` pixels tall (empty texts dropped)."""
        boxes = [b for b in self.detect(image, side) if b[3] - b[1] >= min_height]
        return [t for t in self.recognize(image, boxes) if t.text.strip()]


def restore_spaces(crop: np.ndarray, text: str, positions: Any) -> str:
    """Put back the word breaks of a recognised box from the blank columns of its image.

    The recogniser reads a box as one line and often drops the spaces between the words of
    tightly set type (``Segmentperformance``). Its decoder reports the column at which it emitted
    each character; a blank run of image columns (:func:`vrag_env.corpora.ocr.ink_gaps`: wider
    than a quarter of the text height and than twice the line's typical gap) that falls between
    two characters is a word break (:func:`vrag_env.corpora.ocr.split_at_gaps`; never inside a
    number, never between two CJK characters). Spaces already read are kept.

    Args:
        crop: The box's image (BGR or RGB, ``(H, W, 3)`` uint8), as given to the recogniser.
        text: The recognised text.
        positions: The recogniser's word-box output for the box (``[columns, words,
            word_columns, states, confidences]``), or ``None``.

    Returns:
        ``text`` with the restored spaces (unchanged when the positions are unusable).
    """
    from vrag_env.corpora.ocr import ink_gaps, split_at_gaps

    if not positions or len(positions) < 3 or not text.strip() or crop.size == 0:
        return text
    total, words, columns = positions[0], positions[1], positions[2]
    chars = [c for word in words for c in word]
    cols = [float(c) for word in columns for c in word]
    if not total or len(chars) != len(cols) or "".join(chars) != text.replace(" ", ""):
        return text
    width = crop.shape[1]
    xs = [min(width, (c + 0.5) / float(total) * width) for c in cols]
    grey = crop.astype(np.float32).mean(axis=2).astype(np.uint8)
    gaps = ink_gaps(grey)
    if not gaps:
        return text
    # Keep the spaces the recogniser did read: split them first, then each piece at the gaps.
    out: list[str] = []
    k = 0
    for piece in text.split(" "):
        if not piece:
            continue
        n = len(piece)
        spans = [(x, x) for x in xs[k : k + n]]
        out += [w for w, _, _ in split_at_gaps(list(piece), spans, gaps)]
        k += n
    return " ".join(out)


_READER: OCRReader | None = None
_READER_LOCK = threading.Lock()


def get_reader() -> OCRReader:
    """The process-wide reader (its engine and caches are shared by every agent instance)."""
    global _READER
    with _READER_LOCK:
        if _READER is None:
            _READER = OCRReader()
        return _READER
