"""A least-recently-used cache of decoded page images, bounded in bytes as well as in entries."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from PIL import Image

DEFAULT_CACHE_BYTES = 512 << 20
"""Default budget of decoded page images kept in memory per corpus (512 MiB)."""


def image_bytes(image: Image.Image) -> int:
    """Memory held by a decoded image (width x height x bands)."""
    return image.width * image.height * len(image.getbands())


class PageCache:
    """LRU cache of decoded page images holding at most ``max_bytes`` and ``max_items``.

    An image larger than the whole budget is returned but not kept.

    Args:
        load: Decodes the image of a page id.
        max_bytes: Byte budget of the decoded images kept.
        max_items: Most images kept.
    """

    def __init__(
        self,
        load: Callable[[str], Image.Image],
        max_bytes: int = DEFAULT_CACHE_BYTES,
        max_items: int = 16,
    ) -> None:
        self._load = load
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._items: OrderedDict[str, tuple[Image.Image, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def get(self, page_id: str) -> Image.Image:
        """The decoded image of ``page_id`` (decoded on a miss)."""
        with self._lock:
            hit = self._items.get(page_id)
            if hit is not None:
                self._items.move_to_end(page_id)
                return hit[0]
        image = self._load(page_id)
        size = image_bytes(image)
        if size > self.max_bytes:
            return image
        with self._lock:
            if page_id not in self._items:
                self._items[page_id] = (image, size)
                self._bytes += size
            while self._items and (
                self._bytes > self.max_bytes or len(self._items) > self.max_items
            ):
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped
        return image

    def clear(self) -> None:
        """Drop every cached image."""
        with self._lock:
            self._items.clear()
            self._bytes = 0
