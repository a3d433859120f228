"""RapidOCR words of a view image, cached per image (the OCR reader of the macro-action wrapper).

The wrapper's default reader and the OCR-based baselines read the view image the env shows, never
a text layer; a view seen again (the same pixels) is read once per process, or once per run when
the run shares a folder of results between its processes (:mod:`vrag_env.shared_ocr_cache`).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from vrag_env.shared_ocr_cache import load, store
from vrag_env.types import BBox

OCR_CACHE_SIZE = 4096
"""View images whose OCR words are kept per process (a view image is OCR'd once)."""

_OCR_CACHE: OrderedDict[str, list[tuple[str, BBox]]] = OrderedDict()

_NAMESPACE = "view-words-v1"
"""Where view words go in a run's shared folder (:mod:`vrag_env.shared_ocr_cache`)."""


def ocr_view(image: np.ndarray) -> list[tuple[str, BBox]]:
    """RapidOCR words of a view image, ``(text, box)`` in view-image pixels, cached per image.

    Args:
        image: An RGB ``(H, W, 3)`` uint8 view image (the env's ``image`` observation).

    Returns:
        The words read, in reading order; a blank image gives none.
    """
    from PIL import Image

    from vrag_env.corpora.ocr import ocr_image

    array = np.ascontiguousarray(image, dtype=np.uint8)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(array.shape).encode())
    digest.update(array.tobytes())
    key = digest.hexdigest()
    cached = _OCR_CACHE.get(key)
    if cached is not None:
        _OCR_CACHE.move_to_end(key)
        return list(cached)
    shared = load(_NAMESPACE, key)
    if shared is not None:
        words: list[tuple[str, BBox]] = [(text, tuple(box)) for text, box in shared]
    elif array.min() == array.max():  # a blank view (before the first search): nothing to read
        words = []
    else:
        words = [(w.text, w.box) for w in ocr_image(Image.fromarray(array), max_side=None)]
        store(_NAMESPACE, key, words)
    _OCR_CACHE[key] = words
    while len(_OCR_CACHE) > OCR_CACHE_SIZE:
        _OCR_CACHE.popitem(last=False)
    return list(words)
