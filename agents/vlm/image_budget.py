"""Image budgets of VLM conversations: Qwen2/2.5-VL image sizes and token counts, and trimming.

:func:`qwen_resized_size` is the processors' resize rule (sides rounded to multiples of 28 within a
pixel range); :func:`trim_images` keeps the last ``K`` images of a conversation (and optionally a pixel
or token budget), replacing older ones with :data:`~agents.vlm.chat.IMAGE_PLACEHOLDER`.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .chat import (
    IMAGE_BLOCK_TYPES,
    IMAGE_PLACEHOLDER,
    ContentBlock,
    Message,
    iter_image_blocks,
    text_block,
    to_pil,
)

if TYPE_CHECKING:
    from transformers import ProcessorMixin

__all__ = [
    "processor_image_token_counter",
    "qwen_image_tokens",
    "qwen_resized_size",
    "trim_images",
]


def qwen_resized_size(
    height: int,
    width: int,
    *,
    min_pixels: int = 4 * 28 * 28,
    max_pixels: int = 64 * 28 * 28,
    factor: int = 28,
) -> tuple[int, int]:
    """Return the ``(height, width)`` a Qwen2-VL image processor resizes an image to.

    Both sides are rounded to multiples of ``factor`` (patch size x merge size), then scaled
    (keeping the aspect ratio) into ``[min_pixels, max_pixels]``. This is the rule of Qwen2-VL's
    ``smart_resize``, restated so that budgets can be computed without loading a processor.

    Args:
        height: Image height in pixels.
        width: Image width in pixels.
        min_pixels: Smallest area after resizing.
        max_pixels: Largest area after resizing.
        factor: Patch size times merge size (28 for Qwen2/2.5-VL).

    Returns:
        The resized ``(height, width)``.
    """
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio must be below 200, got {height}x{width}")
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def qwen_image_tokens(
    image: np.ndarray | Image.Image,
    *,
    min_pixels: int = 4 * 28 * 28,
    max_pixels: int = 64 * 28 * 28,
    patch_size: int = 14,
    merge_size: int = 2,
) -> int:
    """Return how many ``<|image_pad|>`` tokens a Qwen2/2.5-VL processor spends on ``image``.

    Equals ``image_grid_thw.prod() // merge_size**2`` for that image.

    Args:
        image: The image.
        min_pixels: The processor's smallest area (``size["shortest_edge"]``).
        max_pixels: The processor's largest area (``size["longest_edge"]``).
        patch_size: Vision patch size.
        merge_size: Spatial merge size.

    Returns:
        The number of image tokens.
    """
    width, height = image.size if isinstance(image, Image.Image) else image.shape[1::-1]
    factor = patch_size * merge_size
    h, w = qwen_resized_size(
        height, width, min_pixels=min_pixels, max_pixels=max_pixels, factor=factor
    )
    return (h // factor) * (w // factor)


def processor_image_token_counter(processor: ProcessorMixin) -> Callable[[Image.Image], int]:
    """Return a function that counts the image tokens ``processor`` spends on one image.

    Reads the pixel budget, patch size and merge size from ``processor.image_processor``.
    """
    image_processor: Any = processor.image_processor
    size: dict[str, Any] = dict(getattr(image_processor, "size", None) or {})
    min_pixels = int(size.get("shortest_edge", getattr(image_processor, "min_pixels", 56 * 56)))
    max_pixels = int(size.get("longest_edge", getattr(image_processor, "max_pixels", 1003520)))
    patch_size = int(getattr(image_processor, "patch_size", 14))
    merge_size = int(getattr(image_processor, "merge_size", 2))

    def count(image: Image.Image) -> int:
        return qwen_image_tokens(
            image, min_pixels=min_pixels, max_pixels=max_pixels, patch_size=patch_size,
            merge_size=merge_size,
        )  # fmt: skip

    return count


def _block_image(block: ContentBlock) -> Image.Image | None:
    """Return the PIL image of a block, decoding ``data:`` URLs; None when unknown."""
    payload = block.get("image")
    if payload is not None:
        return to_pil(payload)
    url = (block.get("image_url") or {}).get("url", "")
    if isinstance(url, str) and url.startswith("data:image/"):
        return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    return None


def trim_images(
    messages: Sequence[Message],
    keep_last: int | None = 3,
    *,
    max_pixels: int | None = None,
    max_image_tokens: int | None = None,
    token_counter: Callable[[Image.Image], int] | None = None,
    placeholder: str = IMAGE_PLACEHOLDER,
) -> list[Message]:
    """Keep the most recent images of a conversation and replace older ones with a placeholder.

    Images are kept from the newest backwards while all limits hold: at most ``keep_last``
    images, at most ``max_pixels`` pixels in total (the images' own sizes), at most
    ``max_image_tokens`` image tokens in total (counted by ``token_counter``). The newest image
    is always kept when ``keep_last >= 1``, even over budget, so the agent always sees its current
    view. Every dropped image becomes the text block ``placeholder``; text and message order are
    unchanged.

    Args:
        messages: One conversation (not modified).
        keep_last: Most images to keep; ``None`` for no count limit, ``0`` to drop all.
        max_pixels: Pixel budget over the kept images, or ``None``.
        max_image_tokens: Image-token budget over the kept images, or ``None``. Needs
            ``token_counter`` (see :func:`processor_image_token_counter`).
        token_counter: Image-token count of one image.
        placeholder: Replacement text for dropped images.

    Returns:
        A new list of messages (image payloads are shared, not copied).

    Example:
        >>> from agents.vlm.chat import image_block, message_text
        >>> img = Image.new("RGB", (8, 8))
        >>> msgs = [{"role": "user", "content": [image_block(img)]} for _ in range(3)]
        >>> [message_text(m) for m in trim_images(msgs, keep_last=1)]
        ['[earlier image omitted]', '[earlier image omitted]', '']
    """
    if keep_last is not None and keep_last < 0:
        raise ValueError(f"keep_last must be >= 0 or None, got {keep_last}")
    if max_image_tokens is not None and token_counter is None:
        raise ValueError("max_image_tokens needs a token_counter (processor_image_token_counter)")
    positions = list(iter_image_blocks(messages))
    keep: set[tuple[int, int]] = set()
    pixels = tokens = 0
    for rank, (i, j, block) in enumerate(reversed(positions)):
        if keep_last is not None and rank >= keep_last:
            break
        image = _block_image(block) if (max_pixels or max_image_tokens) else None
        cost_px = image.width * image.height if image is not None else 0
        cost_tok = token_counter(image) if (image is not None and token_counter) else 0
        over = (max_pixels is not None and pixels + cost_px > max_pixels) or (
            max_image_tokens is not None and tokens + cost_tok > max_image_tokens
        )
        if over and rank > 0:
            break
        keep.add((i, j))
        pixels += cost_px
        tokens += cost_tok

    out: list[Message] = []
    for i, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            out.append(dict(message))
            continue
        blocks = []
        for j, block in enumerate(content):
            dropped = block.get("type") in IMAGE_BLOCK_TYPES and (i, j) not in keep
            blocks.append(text_block(placeholder) if dropped else block)
        out.append({**message, "content": blocks})
    return out


# --------------------------------------------------------------------------------------------------
# OpenAI-compatible servers
# --------------------------------------------------------------------------------------------------
