"""Views: how a page region becomes the observation image, and back.

The agent sees a page (or a crop of it) rendered at a *resolution budget*: the region is scaled so
that it holds at most ``max_view_pixels`` pixels (VRAG-RL feeds its model ``512 * 28 * 28`` pixels
per image), aspect kept, and drawn at the **top-left corner** of a fixed canvas (the observation
image); the rest of the canvas is padding. Pixel coordinates in the observation image are therefore
coordinates in the view itself: there is no letterbox offset. The canvas is sized per env from the
budget and the corpus's page sizes (:func:`canvas_size`), so a whole-page view is limited by the
budget alone. Fine print that is legible on the full-resolution page is illegible in a whole-page
view, and becomes legible once the agent crops onto it. :class:`ViewTransform` maps boxes between
page pixels and view pixels, so the environment, the agents and the tests all use the same
arithmetic.

Two sizing rules (``geometry``): ``"default"`` (:func:`fit_view`: the largest scale within the budget,
the canvas and ``max_zoom``, sides rounded) and ``"vrag-rl"`` (:func:`vrag_rl_size`: VRAG-RL's own
resize, sides truncated to ints, a lower bound ``min_view_pixels`` and no zoom cap).

The crop frame, once for everyone: an agent's crop box is ``(x1, y1, x2, y2)`` in pixels of the
observation image (the ``tool`` dialect's fractions are converted by
:class:`~vrag_env.actions.ActionSet`). An agent rebuilds the current view's mapping from
``info["view"]`` with :meth:`ViewTransform.from_info` and maps boxes with
:meth:`~ViewTransform.page_to_view`, :meth:`~ViewTransform.view_to_page` and
:meth:`~ViewTransform.crop_box`. Every box, ``content_box`` included, is ``(x1, y1, x2, y2)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from vrag_env.types import BBox

DEFAULT_VIEW_SIZE: tuple[int, int] = (640, 640)
"""Default ``(height, width)`` of the observation image."""

DEFAULT_MAX_VIEW_PIXELS: int = 512 * 28 * 28
"""Default resolution budget of one view, as in VRAG-RL (``max_pixels=512*28*28``)."""

DEFAULT_MAX_ZOOM: float = 2.0
"""Default cap on the view scale (view pixels per page pixel) when a small crop is enlarged."""

LEGIBLE_PX: float = 10.0
"""Minimum word-box height, in view pixels, at which printed text counts as legible.

A word box spans ascender to descender, about 1.2x the font size, so this is roughly 8 px type: the
size below which both people and VLM patch encoders (14 px patches) stop reading text reliably.
"""

LETTERBOX_COLOR: tuple[int, int, int] = (0, 0, 0)


@dataclass(frozen=True)
class ViewTransform:
    """The mapping between a page region and where it sits in the view image.

    Attributes:
        region: The shown page region ``(x1, y1, x2, y2)`` in page pixels.
        scale: View pixels per page pixel.
        offset_x: Left edge of the content inside the view image (0: views are top-left anchored;
            kept so that a transform can describe any placement).
        offset_y: Top edge of the content inside the view image (0).
        width: Content width in view pixels.
        height: Content height in view pixels.
    """

    region: BBox
    scale: float
    offset_x: int
    offset_y: int
    width: int
    height: int

    @classmethod
    def from_info(cls, view: Mapping[str, Any]) -> ViewTransform:
        """Rebuild the transform from its JSON form, ``info["view"]`` (see :meth:`to_json`).

        Example:
            >>> t = ViewTransform.from_info(
            ...     {"region": [0, 0, 1000, 1400], "scale": 0.5, "content_box": [70, 0, 570, 700]}
            ... )
            >>> t.view_to_page((70, 0, 570, 700))
            (0.0, 0.0, 1000.0, 1400.0)

        Raises:
            ValueError: When a field is missing or malformed.
        """
        try:
            region = tuple(float(v) for v in view["region"])
            x1, y1, x2, y2 = (int(v) for v in view["content_box"])
            scale = float(view["scale"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f'info["view"] must hold "region", "scale" and "content_box", got {view!r} ({exc})'
            ) from None
        if len(region) != 4 or scale <= 0:
            raise ValueError(f'info["view"] has a malformed region or scale: {view!r}')
        return cls(region, scale, x1, y1, x2 - x1, y2 - y1)  # type: ignore[arg-type]

    @property
    def content_box(self) -> BBox:
        """The content rectangle ``(x1, y1, x2, y2)`` inside the view image, in view pixels."""
        return (
            float(self.offset_x),
            float(self.offset_y),
            float(self.offset_x + self.width),
            float(self.offset_y + self.height),
        )

    def page_to_view(self, box: BBox) -> BBox:
        """Map a box from page pixels to view pixels."""
        rx, ry = self.region[0], self.region[1]
        return (
            self.offset_x + (box[0] - rx) * self.scale,
            self.offset_y + (box[1] - ry) * self.scale,
            self.offset_x + (box[2] - rx) * self.scale,
            self.offset_y + (box[3] - ry) * self.scale,
        )

    def view_to_page(self, box: BBox) -> BBox:
        """Map a box from view pixels to page pixels (not clipped)."""
        rx, ry = self.region[0], self.region[1]
        return (
            rx + (box[0] - self.offset_x) / self.scale,
            ry + (box[1] - self.offset_y) / self.scale,
            rx + (box[2] - self.offset_x) / self.scale,
            ry + (box[3] - self.offset_y) / self.scale,
        )

    def crop_box(self, page_box: BBox) -> BBox:
        """The crop box, in view pixels, that shows ``page_box`` (page pixels) of this view.

        The mapped box is rounded outwards to whole pixels (so the region stays inside after any
        number formatting) and clipped to :attr:`content_box`.
        """
        vx1, vy1, vx2, vy2 = self.page_to_view(page_box)
        cx1, cy1, cx2, cy2 = self.content_box
        return (
            max(cx1, math.floor(vx1)),
            max(cy1, math.floor(vy1)),
            min(cx2, math.ceil(vx2)),
            min(cy2, math.ceil(vy2)),
        )

    def to_json(self) -> dict[str, object]:
        """JSON form used in ``info["view"]``: region, scale, and ``content_box`` as (x1, y1, x2, y2)."""
        return {
            "region": [round(v, 2) for v in self.region],
            "scale": round(self.scale, 6),
            "content_box": [
                self.offset_x,
                self.offset_y,
                self.offset_x + self.width,
                self.offset_y + self.height,
            ],
        }


def fit_view(
    region: BBox,
    view_size: tuple[int, int] = DEFAULT_VIEW_SIZE,
    max_view_pixels: int = DEFAULT_MAX_VIEW_PIXELS,
    max_zoom: float = DEFAULT_MAX_ZOOM,
) -> ViewTransform:
    """Compute how ``region`` (page pixels) is shown in a ``view_size`` observation.

    The scale is the largest that fits the canvas, respects the pixel budget and does not enlarge
    beyond ``max_zoom``; the content sits at the canvas's top-left corner.

    Example:
        >>> t = fit_view((0, 0, 1000, 1400), view_size=(640, 640), max_view_pixels=401408)
        >>> round(t.scale, 4), t.width, t.height
        (0.4571, 457, 640)
    """
    x1, y1, x2, y2 = region
    rw, rh = max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)
    vh, vw = view_size
    scale = min(vw / rw, vh / rh, math.sqrt(max_view_pixels / (rw * rh)), max_zoom)
    width = max(1, min(vw, round(rw * scale)))
    height = max(1, min(vh, round(rh * scale)))
    return ViewTransform(
        region=(float(x1), float(y1), float(x2), float(y2)),
        scale=scale,
        offset_x=0,
        offset_y=0,
        width=width,
        height=height,
    )


def vrag_rl_size(
    width: int, height: int, max_pixels: int = 512 * 28 * 28, min_pixels: int = 256 * 28 * 28
) -> tuple[int, int]:
    """The ``(width, height)`` VRAG-RL resizes an image of ``width x height`` pixels to.

    Its rule, applied to every image it shows (a retrieved page or a crop): when the area exceeds
    ``max_pixels``, both sides are scaled by ``sqrt(max_pixels / area)`` and truncated to ints; then,
    when the area is below ``min_pixels``, both sides are scaled up the same way. Aspect is kept.

    Example:
        >>> vrag_rl_size(2480, 3508)
        (532, 753)
        >>> vrag_rl_size(100, 50)
        (633, 316)
    """
    w, h = int(width), int(height)
    if w < 1 or h < 1:
        raise ValueError(f"an image needs a positive size, got {width}x{height}")
    if w * h > max_pixels:
        factor = math.sqrt(max_pixels / (w * h))
        w, h = int(w * factor), int(h * factor)
    if 0 < w * h < min_pixels:
        factor = math.sqrt(min_pixels / (w * h))
        w, h = int(w * factor), int(h * factor)
    return max(w, 1), max(h, 1)


def fit_view_vrag_rl(
    region: BBox,
    view_size: tuple[int, int],
    max_view_pixels: int = 512 * 28 * 28,
    min_view_pixels: int = 256 * 28 * 28,
) -> ViewTransform:
    """Show ``region`` (whole page pixels) at VRAG-RL's size (:func:`vrag_rl_size`), top-left anchored.

    A view larger than the canvas (only a very elongated crop) is shrunk to fit it, aspect kept.
    :attr:`ViewTransform.scale` is the horizontal scale ``width / region width``; the vertical one
    differs by the integer truncation only.
    """
    x1, y1, x2, y2 = region
    rw, rh = max(round(x2 - x1), 1), max(round(y2 - y1), 1)
    width, height = vrag_rl_size(rw, rh, max_view_pixels, min_view_pixels)
    vh, vw = view_size
    if width > vw or height > vh:
        shrink = min(vw / width, vh / height)
        width, height = max(1, min(vw, int(width * shrink))), max(1, min(vh, int(height * shrink)))
    return ViewTransform(
        region=(float(x1), float(y1), float(x2), float(y2)),
        scale=width / rw,
        offset_x=0,
        offset_y=0,
        width=width,
        height=height,
    )


def page_view_size(
    page_width: int,
    page_height: int,
    geometry: str = "default",
    max_view_pixels: int = DEFAULT_MAX_VIEW_PIXELS,
    max_zoom: float | None = DEFAULT_MAX_ZOOM,
    min_view_pixels: int | None = None,
) -> tuple[int, int]:
    """``(width, height)`` of a whole-page view before any canvas limit."""
    if geometry == "vrag-rl":
        return vrag_rl_size(page_width, page_height, max_view_pixels, min_view_pixels or 1)
    scale = math.sqrt(max_view_pixels / (page_width * page_height))
    if max_zoom is not None:
        scale = min(scale, max_zoom)
    return max(1, round(page_width * scale)), max(1, round(page_height * scale))


def view_transform(
    region: BBox,
    view_size: tuple[int, int],
    geometry: str = "default",
    max_view_pixels: int = DEFAULT_MAX_VIEW_PIXELS,
    max_zoom: float | None = DEFAULT_MAX_ZOOM,
    min_view_pixels: int | None = None,
) -> ViewTransform:
    """How the env shows ``region`` on a ``view_size`` canvas under a config's geometry.

    ``geometry="vrag-rl"`` uses :func:`fit_view_vrag_rl`, anything else :func:`fit_view`. The env
    and the episode viewer both call this, so a re-rendered view is the one the agent saw.
    """
    if geometry == "vrag-rl":
        return fit_view_vrag_rl(region, view_size, max_view_pixels, min_view_pixels or 1)
    zoom = math.inf if max_zoom is None else max_zoom
    return fit_view(region, view_size, max_view_pixels, zoom)


def canvas_size(
    page_sizes: Iterable[tuple[int, int]],
    geometry: str = "default",
    max_view_pixels: int = DEFAULT_MAX_VIEW_PIXELS,
    max_zoom: float | None = DEFAULT_MAX_ZOOM,
    min_view_pixels: int | None = None,
) -> tuple[int, int]:
    """The ``(height, width)`` of an observation canvas that holds every whole-page view.

    Each side is the largest of that side over the pages' views (:func:`page_view_size`), and at
    least the side of a square view of ``max_view_pixels`` (so crops of any page's proportions up to
    square fit too). A crop view larger than the canvas is shrunk to fit it.

    Example:
        >>> canvas_size([(2480, 3508), (5334, 3000)])
        (754, 845)
    """
    side = math.isqrt(max_view_pixels - 1) + 1
    height = width = side
    for pw, ph in page_sizes:
        w, h = page_view_size(pw, ph, geometry, max_view_pixels, max_zoom, min_view_pixels)
        width, height = max(width, w), max(height, h)
    return height, width


PYRAMID_MIN_SIDE = 400
"""A reduced pyramid level is built only while its shorter side keeps at least this many pixels."""

MAX_WHOLE_VIEWS = 4
"""Whole-page views a pyramid keeps (one per view size: env configs sharing a corpus)."""


class PagePyramid:
    """A decoded page and its pre-scaled levels, so that a step never resamples the full page twice.

    Two kinds of levels, each built on first use and then kept:

    - **Whole-page views**: the page resampled to a whole-page view's size, exactly as
      :func:`render_view` would render it; a search step shows one, so showing a page again (in
      any episode, any env of the process) is a copy. Pixels are identical to a fresh render.
    - **Halvings**: level ``k`` is the page box-filtered down ``2**k`` times
      (:meth:`PIL.Image.Image.reduce`), down to a shorter side of :data:`PYRAMID_MIN_SIDE`. A view
      at a scale of at most ``1 / 2**(k+1)`` is resampled from level ``k``, not the full page.

    Args:
        page: The full-resolution RGB page.
        min_side: Shorter side below which no further halving is built.
        on_grow: Called after a level is added (a cache re-counts the pyramid's bytes).
    """

    def __init__(
        self,
        page: Image.Image,
        min_side: int = PYRAMID_MIN_SIDE,
        on_grow: Callable[[], None] | None = None,
    ) -> None:
        self.levels: list[Image.Image] = [page]
        self.min_side = min_side
        self.on_grow = on_grow
        self._views: dict[tuple[int, int, int, bool], np.ndarray] = {}
        depth = 0
        side = min(page.size)
        while side // 2 >= min_side:
            side //= 2
            depth += 1
        self.depth = depth
        """Number of halvings this page allows (built or not)."""

    @property
    def page(self) -> Image.Image:
        """The full-resolution page (level 0)."""
        return self.levels[0]

    @property
    def nbytes(self) -> int:
        """Memory held by the page and every level built so far."""
        images = sum(im.width * im.height * len(im.getbands()) for im in self.levels)
        return images + sum(v.nbytes for v in self._views.values())

    def level_for(self, scale: float) -> int:
        """The coarsest halving a view at ``scale`` (view px per page px) is resampled from.

        Level ``k`` serves scales up to ``1 / 2**(k+1)``: the resample from it is still a reduction
        by 2x or more, the rule Pillow's own ``reducing_gap=2`` follows (which is what the view
        used before pyramids: Pillow reduced the region by ``int(1 / (2 * scale))`` first).
        """
        level = 0
        while level < self.depth and scale * 2 ** (level + 1) <= 0.5:
            level += 1
        return level

    def level(self, k: int) -> Image.Image:
        """Halving ``k`` (0: the page), built on first use."""
        if not 0 <= k <= self.depth:
            raise ValueError(f"pyramid level must be in 0..{self.depth}, got {k}")
        grew = False
        while len(self.levels) <= k:
            self.levels.append(self.levels[-1].reduce(2))
            grew = True
        if grew and self.on_grow is not None:
            self.on_grow()
        return self.levels[k]

    def whole_view(self, transform: ViewTransform) -> np.ndarray:
        """The ``(height, width, 3)`` pixels of a whole-page view, rendered once per size."""
        # Size, level and Pillow's reducing gap decide the pixels (the region is the whole page).
        key = (
            transform.width,
            transform.height,
            self.level_for(transform.scale),
            transform.scale < 0.5,
        )
        pixels = self._views.get(key)
        if pixels is None:
            pixels = np.asarray(_resample(self, transform))
            pixels.flags.writeable = False
            if len(self._views) >= MAX_WHOLE_VIEWS:
                self._views.pop(next(iter(self._views)))
            self._views[key] = pixels
            if self.on_grow is not None:
                self.on_grow()
        return pixels


def _resample(page: Image.Image | PagePyramid, transform: ViewTransform) -> Image.Image:
    """The transform's region resampled to its view size (from a halving when the scale allows)."""
    x1, y1, x2, y2 = transform.region
    scale = transform.scale
    if not isinstance(page, PagePyramid) and scale <= 0.25:
        page = PagePyramid(page)  # the same levels as a cached pyramid: the same pixels
    if isinstance(page, PagePyramid):
        k = page.level_for(scale)
        source = page.level(k)
        if k:
            factor = 2**k
            x1, y1, x2, y2 = x1 / factor, y1 / factor, x2 / factor, y2 / factor
            scale *= factor
    else:
        source = page
    content = source.resize(
        (transform.width, transform.height),
        resample=Image.Resampling.BILINEAR,
        box=(x1, y1, x2, y2),
        reducing_gap=None if scale >= 0.5 else 2.0,
    )
    return content if content.mode == "RGB" else content.convert("RGB")


def _enlarged(page: Image.Image | PagePyramid, transform: ViewTransform) -> np.ndarray | None:
    """A crop view that enlarges a whole-pixel region, by OpenCV's bit-exact bilinear; else None.

    ``cv2.resize`` with ``INTER_LINEAR_EXACT`` is OpenCV's integer bilinear, specified to give the
    same bytes on every CPU. It samples where Pillow's bilinear does (pixel centres), and when the
    view enlarges the region (scale >= 1 on both axes) both are the same two-tap interpolation:
    inside the region they differ by two grey levels at most (Pillow rounds to 8 bits between its
    two passes, OpenCV keeps more bits); on the outermost half page pixel OpenCV repeats the
    region's edge where Pillow blends in the pixel beyond it (``tests/test_render_enlarge.py``
    measures both). It is about 7x faster than Pillow's here, and that resample was most of the
    cost of a crop step.
    Reductions (and fractional regions) stay with Pillow's antialiased resample.
    """
    x1, y1, x2, y2 = transform.region
    if not all(float(v).is_integer() for v in (x1, y1, x2, y2)):
        return None
    source = page.page if isinstance(page, PagePyramid) else page
    box = (int(x1), int(y1), int(x2), int(y2))
    if box[0] < 0 or box[1] < 0 or box[2] > source.width or box[3] > source.height:
        return None
    if transform.width < box[2] - box[0] or transform.height < box[3] - box[1]:
        return None
    import cv2  # 0.2 s to import: only crop steps need it

    region = source.crop(box)
    pixels = np.asarray(region if region.mode == "RGB" else region.convert("RGB"))
    return cv2.resize(
        pixels, (transform.width, transform.height), interpolation=cv2.INTER_LINEAR_EXACT
    )


def _is_whole_page(region: BBox, size: tuple[int, int]) -> bool:
    return region[0] == 0 and region[1] == 0 and region[2] == size[0] and region[3] == size[1]


def render_view(
    page: Image.Image | PagePyramid, transform: ViewTransform, view_size: tuple[int, int]
) -> np.ndarray:
    """Render the transform's region of ``page`` at the top left of a ``(H, W, 3)`` uint8 canvas.

    A view at a scale of at most 1/4 is resampled from the coarsest :class:`PagePyramid` halving
    that is still reduced 2x or more; its pixels differ from Pillow's own reduce-then-resample of
    the full page (the render before pyramids) by the reduction grid only
    (``tests/test_render_pyramid.py`` measures the difference and checks that OCR reads the same
    words). A plain image gets the same halvings built on the fly, so every caller (env, viewer,
    figures) renders the same pixels. Views at a larger scale (crops, and whole pages under the
    default budget) are a direct resample of the full page, except crops that enlarge a
    whole-pixel region (every crop the env makes is snapped to whole page pixels): those use
    OpenCV's bit-exact bilinear (:func:`_enlarged`). Given a pyramid, a whole-page view is rendered
    once and then copied.
    """
    vh, vw = view_size
    if isinstance(page, PagePyramid) and _is_whole_page(transform.region, page.page.size):
        pixels = page.whole_view(transform)
    else:
        pixels = _enlarged(page, transform)
        if pixels is None:
            pixels = np.asarray(_resample(page, transform))
    if LETTERBOX_COLOR == (0, 0, 0):
        canvas = np.zeros((vh, vw, 3), dtype=np.uint8)
    else:  # pragma: no cover - the letterbox is black
        canvas = np.full((vh, vw, 3), LETTERBOX_COLOR, dtype=np.uint8)
    ox, oy = transform.offset_x, transform.offset_y
    h = min(pixels.shape[0], vh - oy)
    w = min(pixels.shape[1], vw - ox)
    canvas[oy : oy + h, ox : ox + w] = pixels[:h, :w]
    return canvas


def box_height_in_view(box: BBox, transform: ViewTransform) -> float:
    """Height in view pixels of a page-pixel box (used to decide legibility)."""
    return (box[3] - box[1]) * transform.scale


def draw_box(
    image: Image.Image, box: BBox, color: tuple[int, int, int] = (230, 40, 40), width: int = 3
) -> None:
    """Draw a rectangle outline in place (used by ``render()`` and the README figure)."""
    ImageDraw.Draw(image).rectangle([box[0], box[1], box[2], box[3]], outline=color, width=width)
