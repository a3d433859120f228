"""A least-recently-used cache of decoded pages, bounded in bytes (and optionally in entries).

The budget is per corpus object (env instances of one process share it). It defaults to
:data:`DEFAULT_CACHE_BYTES`, or to ``VRAG_PAGE_CACHE_MB`` mebibytes when that environment variable
is set; ``Corpus(root, cache_bytes=...)`` sets it per corpus. :meth:`PageCache.stats` reports the
bytes held, the entries and the hit rate.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from PIL import Image

CACHE_ENV_VAR = "VRAG_PAGE_CACHE_MB"
"""Environment variable overriding the default page-cache budget, in MiB."""

BUILTIN_CACHE_BYTES = 2 << 30
"""Budget without ``VRAG_PAGE_CACHE_MB`` (2 GiB: about 380 of the built-in corpus's 408 pages, each
4.2 MB decoded plus 1.2 MB for its whole-page view; lower it when many env processes share a
machine)."""


def default_cache_bytes() -> int:
    """The page-cache budget: ``VRAG_PAGE_CACHE_MB`` MiB when set, else 2 GiB.

    Raises:
        ValueError: When ``VRAG_PAGE_CACHE_MB`` is not a non-negative integer.
    """
    raw = os.environ.get(CACHE_ENV_VAR)
    if raw is None or not raw.strip():
        return BUILTIN_CACHE_BYTES
    try:
        mb = int(raw)
    except ValueError:
        mb = -1
    if mb < 0:
        raise ValueError(
            f"{CACHE_ENV_VAR} must be a whole number of MiB >= 0, got {raw!r}; unset it for the "
            f"default of {BUILTIN_CACHE_BYTES >> 20} MiB"
        )
    return mb << 20


DEFAULT_CACHE_BYTES = default_cache_bytes()
"""Default budget of decoded pages kept in memory per corpus (read once, at import)."""

T = TypeVar("T")


def image_bytes(image: Image.Image) -> int:
    """Memory held by a decoded image (width x height x bands)."""
    return image.width * image.height * len(image.getbands())


def _nbytes(value: Any) -> int:
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    return image_bytes(value)


class PageCache(Generic[T]):
    """LRU cache of decoded pages holding at most ``max_bytes`` (and ``max_items`` when given).

    A value larger than the whole budget is returned but not kept.

    Args:
        load: Decodes the page of a page id (an image, or an object with an ``nbytes`` attribute
            such as :class:`vrag_env.rendering.PagePyramid`).
        max_bytes: Byte budget of the values kept.
        max_items: Most values kept (``None``: bounded by bytes only).
    """

    def __init__(
        self,
        load: Callable[[str], T],
        max_bytes: int = DEFAULT_CACHE_BYTES,
        max_items: int | None = None,
    ) -> None:
        self._load = load
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._items: OrderedDict[str, tuple[T, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def stats(self) -> dict[str, float]:
        """Bytes held, budget, entries, hits, misses and hit rate (for benchmarks and logs)."""
        total = self.hits + self.misses
        return {
            "bytes": self._bytes,
            "max_bytes": self.max_bytes,
            "items": len(self._items),
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hits / total if total else 0.0,
        }

    def get(self, page_id: str) -> T:
        """The decoded page of ``page_id`` (decoded on a miss)."""
        with self._lock:
            hit = self._items.get(page_id)
            if hit is not None:
                self._items.move_to_end(page_id)
                self.hits += 1
                return hit[0]
            self.misses += 1
        value = self._load(page_id)
        size = _nbytes(value)
        if size > self.max_bytes:
            return value
        with self._lock:
            if page_id not in self._items:
                self._items[page_id] = (value, size)
                self._bytes += size
            while self._items and (
                self._bytes > self.max_bytes
                or (self.max_items is not None and len(self._items) > self.max_items)
            ):
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped
        return value

    def refresh(self, page_id: str) -> None:
        """Re-count the bytes of a cached value that grew (a pyramid level built on use)."""
        with self._lock:
            hit = self._items.get(page_id)
            if hit is None:
                return
            size = _nbytes(hit[0])
            self._bytes += size - hit[1]
            self._items[page_id] = (hit[0], size)
            self._items.move_to_end(page_id)  # the page in use is the last one to drop
            while len(self._items) > 1 and self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        """Drop every cached value."""
        with self._lock:
            self._items.clear()
            self._bytes = 0
