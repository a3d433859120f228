"""Where a crop action lands on the page: the page-pixel region the env shows next.

Two mappings, both from a box in pixels of the observation image:

- :func:`crop_region` (the default geometry): the box is clipped to the page content of the current
  view, mapped through that view to page pixels, padded by ``padding`` of its size on each side and
  grown to at least ``min_size`` page pixels (:func:`pad_box`) and rounded outwards to whole page
  pixels (:func:`whole_pixels`);
- :func:`vrag_rl_crop_region` (``geometry="vrag-rl"``): VRAG-RL's rollout mapping, from the size of
  the image last shown onto the last retrieved full page (see ``docs/vrag_rl.md``).

Both raise :class:`~vrag_env.actions.IllegalActionError` for a box that covers nothing of the page;
the env turns that into an invalid action.
"""

from __future__ import annotations

import math

from vrag_env.actions import IllegalActionError
from vrag_env.rendering import ViewTransform
from vrag_env.types import BBox


def crop_region(
    box: BBox,
    view: ViewTransform,
    view_size: tuple[int, int],
    page_size: tuple[int, int],
    padding: float,
    min_size: int,
) -> BBox:
    """The page region shown after cropping ``box`` (observation pixels) of ``view``.

    Args:
        box: ``(x1, y1, x2, y2)`` in pixels of the observation image.
        view: The current view.
        view_size: ``(height, width)`` of the observation image.
        page_size: ``(width, height)`` of the page in page pixels.
        padding: Padding per side, as a fraction of the box size.
        min_size: Smallest side of the region in page pixels.

    Raises:
        IllegalActionError: For a box outside the image or covering no page content.
    """
    height, width = view_size
    x1, y1, x2, y2 = box
    if x2 > width + 0.5 or y2 > height + 0.5:
        raise IllegalActionError(f"the box {list(box)} lies outside the {width}x{height} image")
    cx1, cy1, cx2, cy2 = view.content_box
    x1, y1, x2, y2 = max(x1, cx1), max(y1, cy1), min(x2, cx2), min(y2, cy2)
    if x2 - x1 < 1 or y2 - y1 < 1:
        raise IllegalActionError(
            f"the box {list(box)} covers no page content (the page occupies "
            f"{[cx1, cy1, cx2, cy2]} of the {width}x{height} image)"
        )
    region = pad_box(view.view_to_page((x1, y1, x2, y2)), padding, min_size, *page_size)
    return whole_pixels(region, *page_size)


def vrag_rl_crop_region(
    box: BBox,
    shown_size: tuple[int, int],
    page_size: tuple[int, int],
    pad_view_px: float,
    pad_page_px: float,
) -> BBox:
    """VRAG-RL's crop: the box, in pixels of the image last shown, onto the last full page.

    As VRAG-RL's rollout does: pad the box by ``pad_view_px`` in the shown image, scale it by
    (page size / shown image size) onto the last retrieved page (even when the image shown is itself
    a crop), pad by ``pad_page_px``, truncate to ints and clip to the page. A box partly outside is
    clipped; one that leaves nothing is illegal.

    Args:
        box: ``(x1, y1, x2, y2)`` in pixels of the image last shown.
        shown_size: ``(width, height)`` of the image last shown.
        page_size: ``(width, height)`` of the last retrieved page.
        pad_view_px: Padding in shown pixels (VRAG-RL's evaluation: 28).
        pad_page_px: Padding in page pixels (VRAG-RL's demo: 56).

    Raises:
        IllegalActionError: For a negative coordinate or a box that covers nothing of the page.
    """
    shown_w, shown_h = shown_size
    page_w, page_h = page_size
    if min(box) < 0:
        raise IllegalActionError(f"the box {list(box)} has a negative coordinate")
    x1, y1, x2, y2 = (
        box[0] - pad_view_px,
        box[1] - pad_view_px,
        box[2] + pad_view_px,
        box[3] + pad_view_px,
    )
    mapped = (
        int(page_w * x1 / shown_w - pad_page_px),
        int(page_h * y1 / shown_h - pad_page_px),
        int(page_w * x2 / shown_w + pad_page_px),
        int(page_h * y2 / shown_h + pad_page_px),
    )
    region = (
        float(max(0, mapped[0])),
        float(max(0, mapped[1])),
        float(min(page_w, mapped[2])),
        float(min(page_h, mapped[3])),
    )
    if region[2] - region[0] < 1 or region[3] - region[1] < 1:
        raise IllegalActionError(
            f"the box {list(box)} covers nothing of the page (the image shown is "
            f"{shown_w}x{shown_h} pixels)"
        )
    return region


def pad_box(box: BBox, padding: float, min_size: int, page_w: int, page_h: int) -> BBox:
    """Pad a page-pixel box, grow it to ``min_size`` around its centre, and clip it to the page."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    x1, x2 = x1 - padding * w, x2 + padding * w
    y1, y2 = y1 - padding * h, y2 + padding * h
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w = max(x2 - x1, min(min_size, page_w)) / 2
    half_h = max(y2 - y1, min(min_size, page_h)) / 2
    x1, x2 = cx - half_w, cx + half_w
    y1, y2 = cy - half_h, cy + half_h
    # Shift (not shrink) a box that sticks out of the page, then clip what is still outside.
    x1, x2 = x1 - min(0.0, x1) - max(0.0, x2 - page_w), x2 - min(0.0, x1) - max(0.0, x2 - page_w)
    y1, y2 = y1 - min(0.0, y1) - max(0.0, y2 - page_h), y2 - min(0.0, y1) - max(0.0, y2 - page_h)
    x1, y1 = max(0.0, x1), max(0.0, y1)
    x2, y2 = min(float(page_w), x2), min(float(page_h), y2)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):  # pragma: no cover - parser guards
        raise IllegalActionError("the crop box is not finite")
    return (x1, y1, x2, y2)


def whole_pixels(box: BBox, page_w: int, page_h: int) -> BBox:
    """Round a page-pixel box outwards to whole pixels, inside the page.

    A crop shows whole page pixels (as a crop of an image does), so its view is an exact resample of
    those pixels; values within 1e-6 of an integer count as that integer (float noise of the mapping).
    """
    eps = 1e-6
    x1, y1, x2, y2 = box
    return (
        float(max(0, math.floor(x1 + eps))),
        float(max(0, math.floor(y1 + eps))),
        float(min(page_w, math.ceil(x2 - eps))),
        float(min(page_h, math.ceil(y2 - eps))),
    )
