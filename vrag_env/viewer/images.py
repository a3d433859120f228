"""Re-rendering an episode's images from the corpus, with the env's own view functions.

The zoomed view is rendered exactly as the env renders an observation (:func:`fit_view` and
:func:`render_view` with the run's view size and resolution budget), then trimmed to the transform's
content box, so it shows what the agent saw whatever the canvas layout. Page thumbnails are whole-page
views at a small size; the crop box is drawn with :func:`draw_box` where a picture needs it (GIFs),
or overlaid in the HTML report so one thumbnail per page serves every step that shows it.
"""

from __future__ import annotations

import base64
import io

from PIL import Image

from vrag_env.presets import VRAGConfig
from vrag_env.rendering import (
    PagePyramid,
    ViewTransform,
    draw_box,
    fit_view,
    render_view,
    view_transform,
)
from vrag_env.types import BBox

JPEG_QUALITY = 72
"""JPEG quality of report images: text stays readable at a fraction of PNG's size."""


def _render(
    page: Image.Image | PagePyramid, transform: ViewTransform, size: tuple[int, int]
) -> Image.Image:
    """Render ``transform`` of ``page`` into a ``size`` canvas and trim the canvas to its content."""
    canvas = Image.fromarray(render_view(page, transform, size))
    x1, y1, x2, y2 = transform.content_box
    return canvas.crop((int(x1), int(y1), int(x2), int(y2)))


def agent_view(
    page: Image.Image | PagePyramid, region: BBox, config: VRAGConfig, view_size: tuple[int, int]
) -> Image.Image:
    """The view the agent saw of ``region`` (content only), as the env rendered it.

    Args:
        page: The page image, or its cached pyramid (the same pixels, rendered faster).
        region: The region shown, in page pixels.
        config: The run's env config (geometry, resolution budget, zoom limit).
        view_size: The run's observation canvas ``(height, width)`` (:attr:`Run.view_size`).
    """
    transform = view_transform(
        region,
        view_size,
        config.geometry,
        config.max_view_pixels,
        config.max_zoom,
        config.min_view_pixels,
    )
    return _render(page, transform, view_size)


def page_thumbnail(
    page: Image.Image | PagePyramid, max_side: int, region: BBox | None = None
) -> Image.Image:
    """The whole page scaled to fit ``max_side``, with ``region`` outlined when given."""
    width, height = page.page.size if isinstance(page, PagePyramid) else page.size
    full: BBox = (0.0, 0.0, float(width), float(height))
    size = (max_side, max_side)
    transform = fit_view(full, size, max_view_pixels=max_side * max_side, max_zoom=1.0)
    thumb = _render(page, transform, size)
    if region is not None:
        ox, oy = transform.content_box[:2]
        x1, y1, x2, y2 = transform.page_to_view(region)
        draw_box(thumb, (x1 - ox, y1 - oy, x2 - ox, y2 - oy), width=max(2, max_side // 120))
    return thumb


def shrink(image: Image.Image, max_side: int) -> Image.Image:
    """``image`` scaled down (never up) so that its longer side is at most ``max_side``."""
    scale = max_side / max(image.width, image.height)
    if scale >= 1.0:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def jpeg_bytes(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    """``image`` encoded as a baseline JPEG."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    """A ``data:`` URI holding ``data``."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
