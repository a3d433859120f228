"""Crop views enlarged by OpenCV: the same picture as Pillow's bilinear, whole-pixel regions.

A crop step's cost is the resample of the crop region; enlarging crops are rendered with
``cv2.resize(INTER_LINEAR_EXACT)`` instead of Pillow. These tests compare with Pillow's own resize
(an independent implementation of the same interpolation), read both renders with OCR, and check the
env's crop regions are the whole page pixels the view claims to show.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from vrag_env.crop_regions import crop_region, whole_pixels
from vrag_env.rendering import PagePyramid, ViewTransform, fit_view, render_view


def _page(seed: int = 0) -> Image.Image:
    """A 1000x1400 page: smooth colour gradients, noise and text of several sizes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:1400, 0:1000]
    base = np.stack([(xx * 255) // 999, (yy * 255) // 1399, ((xx + yy) * 255) // 2398], axis=-1)
    noise = rng.integers(-20, 21, size=base.shape)
    page = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(page)
    draw.rectangle((80, 300, 920, 700), fill=(255, 255, 255))
    for i, size in enumerate((14, 18, 24, 32)):
        font = ImageFont.truetype("DejaVuSans.ttf", size)
        draw.text((100, 320 + 90 * i), f"Invoice 4{i}7-B total 1,2{i}8.50 EUR", fill=0, font=font)
    return page


def _pillow(page: Image.Image, transform: ViewTransform) -> np.ndarray:
    return np.asarray(
        page.resize(
            (transform.width, transform.height),
            resample=Image.Resampling.BILINEAR,
            box=transform.region,
        )
    )


@pytest.mark.parametrize(
    "region",
    [
        (100.0, 300.0, 500.0, 520.0),  # x1.6
        (90.0, 310.0, 330.0, 400.0),  # x2 (the zoom cap)
        (0.0, 0.0, 300.0, 700.0),  # touches the page's top-left corner
        (700.0, 1100.0, 1000.0, 1400.0),  # and its bottom-right corner
        (417.0, 333.0, 701.0, 491.0),  # odd sizes: non-integer factors on both axes
    ],
)
def test_enlarged_crop_matches_pillow_inside_two_grey_levels(region: tuple[float, ...]) -> None:
    page = _page()
    transform = fit_view(region, view_size=(845, 750))
    assert transform.width >= region[2] - region[0], "the case must enlarge"
    ours = render_view(PagePyramid(page), transform, (845, 750))
    view = ours[: transform.height, : transform.width].astype(int)
    reference = _pillow(page, transform).astype(int)
    diff = np.abs(view - reference)
    # Inside: the same two-tap interpolation; Pillow rounds to 8 bits after each of its two passes,
    # so the renders differ by one level per pass at most, and rarely at all.
    margin = int(np.ceil(transform.scale)) + 1
    inner = diff[margin:-margin, margin:-margin]
    assert inner.max() <= 2 and inner.mean() < 0.5
    # The outermost half page pixel repeats the region's edge (Pillow blends the pixel beyond):
    # never more different than neighbouring page pixels are.
    x1, y1, x2, y2 = (int(v) for v in region)
    src = np.asarray(page).astype(int)
    xs = slice(max(0, x1 - 1), min(page.width, x2 + 1))
    ys = slice(max(0, y1 - 1), min(page.height, y2 + 1))
    neighbour_step = max(
        np.abs(np.diff(src[ys, xs], axis=0)).max(), np.abs(np.diff(src[ys, xs], axis=1)).max()
    )
    assert diff.max() <= neighbour_step + 1
    # The canvas beyond the content is untouched letterbox.
    assert not ours[transform.height :].any() and not ours[:, transform.width :].any()


def test_enlarged_crop_is_the_same_bytes_on_any_thread_count() -> None:
    cv2 = pytest.importorskip("cv2")
    page = _page(1)
    transform = fit_view((123.0, 456.0, 480.0, 733.0), view_size=(845, 750))
    threads = cv2.getNumThreads()
    try:
        cv2.setNumThreads(1)
        single = render_view(page, transform, (845, 750))
        cv2.setNumThreads(max(2, threads))
        multi = render_view(page, transform, (845, 750))
    finally:
        cv2.setNumThreads(threads)
    assert np.array_equal(single, multi)


def test_reductions_and_fractional_regions_stay_with_pillow() -> None:
    page = _page(2)
    # A whole page reduced to scale ~0.54 (above 1/2: no pyramid halving) and a fractional region.
    for region in [(0.0, 0.0, 1000.0, 1400.0), (10.5, 20.25, 400.75, 600.0)]:
        transform = fit_view(region, view_size=(845, 750))
        assert transform.scale >= 0.5
        ours = render_view(page, transform, (845, 750))[: transform.height, : transform.width]
        assert np.array_equal(ours, _pillow(page, transform))


def test_ocr_reads_the_same_words_in_both_renders() -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    from vrag_env.view_ocr import ocr_view

    page = _page(3)
    transform = fit_view((90.0, 300.0, 560.0, 700.0), view_size=(845, 750))
    ours = render_view(page, transform, (845, 750))[: transform.height, : transform.width]
    reference = _pillow(page, transform)

    def read(pixels: np.ndarray) -> list[str]:
        return [re.sub(r"\W", "", text) for text, _ in ocr_view(pixels)]

    words = read(ours)
    assert "Invoice" in words and any("4" in w and "7B" in w for w in words)
    assert words == read(reference)


def test_crop_regions_are_whole_page_pixels_covering_the_box() -> None:
    view = fit_view((0.0, 0.0, 1000.0, 1400.0), view_size=(845, 750))
    rng = np.random.default_rng(0)
    for _ in range(200):
        x1, y1 = rng.uniform(0, view.width - 20), rng.uniform(0, view.height - 20)
        x2, y2 = rng.uniform(x1 + 5, view.width), rng.uniform(y1 + 5, view.height)
        region = crop_region((x1, y1, x2, y2), view, (845, 750), (1000, 1400), 0.0, 1)
        assert all(v == int(v) for v in region)
        exact = view.view_to_page((x1, y1, x2, y2))
        assert region[0] <= exact[0] + 1e-6 and region[1] <= exact[1] + 1e-6
        assert region[2] >= exact[2] - 1e-6 and region[3] >= exact[3] - 1e-6
        assert region[2] - region[0] < exact[2] - exact[0] + 2
        assert 0 <= region[0] and region[2] <= 1000 and region[3] <= 1400


def test_whole_pixels_ignores_float_noise() -> None:
    assert whole_pixels((100.0000000001, 9.9999999999, 300.00000001, 400.5), 1000, 1400) == (
        100.0,
        10.0,
        300.0,
        401.0,
    )
