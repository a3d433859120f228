"""Views rendered through a :class:`PagePyramid`: exact where no halving is used, legible where one is.

Enlarged whole-pixel crops are OpenCV's bilinear, compared with Pillow's in
``tests/test_render_enlarge.py``; here they are checked to two grey levels.

The pixels a view had before pyramids are Pillow's bilinear resample of the page region with
``reducing_gap=2`` below scale 1/2, pasted at the top left of a black canvas; ``_direct`` below
renders exactly that, independently of :func:`render_view`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from vrag_env.loading import load_corpus
from vrag_env.rendering import PagePyramid, ViewTransform, fit_view, render_view


def _direct(page: Image.Image, t: ViewTransform, view_size: tuple[int, int]) -> np.ndarray:
    content = page.resize(
        (t.width, t.height),
        resample=Image.Resampling.BILINEAR,
        box=t.region,
        reducing_gap=None if t.scale >= 0.5 else 2.0,
    )
    canvas = Image.new("RGB", (view_size[1], view_size[0]), (0, 0, 0))
    canvas.paste(content, (0, 0))
    return np.asarray(canvas)


@pytest.fixture(scope="module")
def pages() -> list[Image.Image]:
    corpus = load_corpus(None)
    ids = list(corpus.pages)
    # A portrait and a landscape page of the built-in corpus.
    portrait = next(p for p in ids if corpus.pages[p].height > corpus.pages[p].width)
    landscape = next(p for p in ids if corpus.pages[p].width > corpus.pages[p].height)
    return [corpus.page_image(portrait), corpus.page_image(landscape)]


@pytest.mark.parametrize(
    "region_fraction", [(0, 0, 1, 1), (0.1, 0.2, 0.6, 0.5), (0.5, 0.5, 0.7, 0.6)]
)
@pytest.mark.parametrize("max_view_pixels", [512 * 28 * 28, 1024 * 28 * 28])
def test_views_above_quarter_scale_are_the_direct_resample(
    pages: list[Image.Image], region_fraction: Any, max_view_pixels: int
) -> None:
    view_size = (900, 900)
    for page in pages:
        w, h = page.size
        fx1, fy1, fx2, fy2 = region_fraction
        t = fit_view((fx1 * w, fy1 * h, fx2 * w, fy2 * h), view_size, max_view_pixels, 2.0)
        assert t.scale > 0.25
        pyramid = PagePyramid(page)
        expected = _direct(page, t, view_size)
        first = render_view(pyramid, t, view_size)
        again = render_view(pyramid, t, view_size)  # a whole page comes from the cached view
        assert np.array_equal(again, first)
        assert np.array_equal(render_view(page, t, view_size), first)
        x1, y1, x2, y2 = t.region
        if all(v == int(v) for v in t.region) and t.width >= x2 - x1 and t.height >= y2 - y1:
            # An enlarged whole-pixel crop is OpenCV's bilinear (tests/test_render_enlarge.py):
            # two grey levels from Pillow's at most inside the content (one per resampling pass).
            inner = (slice(3, t.height - 3), slice(3, t.width - 3))
            diff = np.abs(first[inner].astype(int) - expected[inner].astype(int))
            assert diff.max() <= 2 and diff.mean() < 0.5
        else:
            assert np.array_equal(first, expected)


def test_a_whole_page_view_is_resampled_once(
    pages: list[Image.Image], monkeypatch: pytest.MonkeyPatch
) -> None:
    page = pages[0]
    pyramid = PagePyramid(page)
    t = fit_view((0, 0, *page.size), (900, 900), 512 * 28 * 28, 2.0)
    calls = []
    original = Image.Image.resize

    def counting(self: Image.Image, *args: Any, **kwargs: Any) -> Image.Image:
        calls.append(self.size)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", counting)
    views = [render_view(pyramid, t, (900, 900)) for _ in range(3)]
    assert len(calls) == 1
    assert all(np.array_equal(v, views[0]) for v in views)
    views[0][0, 0] = (1, 2, 3)  # callers own their canvas; the cached view is not theirs
    assert not np.array_equal(render_view(pyramid, t, (900, 900)), views[0])


def test_pyramid_bytes_count_every_level(pages: list[Image.Image]) -> None:
    page = pages[0]
    pyramid = PagePyramid(page)
    grown = []
    pyramid.on_grow = lambda: grown.append(pyramid.nbytes)
    assert pyramid.nbytes == page.width * page.height * 3
    t = fit_view((0, 0, *page.size), (900, 900), int(0.2**2 * page.width * page.height), 2.0)
    view = render_view(pyramid, t, (900, 900))
    half = (page.width // 2) * (page.height // 2) * 3
    assert grown and grown[-1] == page.width * page.height * 3 + half + t.width * t.height * 3
    assert view.shape == (900, 900, 3)


def test_small_views_from_a_halving_read_the_same_under_ocr(pages: list[Image.Image]) -> None:
    """Below scale 1/4 the view comes from the half-size level: nearly the same pixels, same words."""
    ocr = pytest.importorskip("vrag_env.corpora.ocr")
    if ocr.ocr_version() is None:
        pytest.skip("OCR engine not installed (uv sync --extra ingest)")
    corpus = load_corpus(None)
    truth = {w.lower() for p in corpus.pages.values() for w in p.text.replace(",", " ").split()}
    read_before = read_after = 0
    for page in pages:
        w, h = page.size
        # A crop of the top half of the page (titles, headings, big numbers) at scale 0.24.
        t = fit_view((0, 0, w, h / 2), (1000, 1000), int(0.24**2 * w * h / 2), 2.0)
        assert t.scale <= 0.25 and PagePyramid(page).level_for(t.scale) == 1
        before = _direct(page, t, (1000, 1000))
        after = render_view(PagePyramid(page), t, (1000, 1000))
        diff = np.abs(before.astype(int) - after.astype(int))
        assert diff.mean() < 1.5, diff.mean()
        words_before = [x.text.lower() for x in ocr.ocr_image(Image.fromarray(before))]
        words_after = [x.text.lower() for x in ocr.ocr_image(Image.fromarray(after))]
        legible_before = {x for x in words_before if x in truth and len(x) >= 3}
        legible_after = {x for x in words_after if x in truth and len(x) >= 3}
        assert legible_before, "nothing legible at this scale: the check would prove nothing"
        assert legible_after == legible_before
        read_before += len(legible_before)
        read_after += len(legible_after)
    assert read_after == read_before


def test_the_cache_budget_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from vrag_env.corpora.page_cache import BUILTIN_CACHE_BYTES, PageCache, default_cache_bytes

    monkeypatch.delenv("VRAG_PAGE_CACHE_MB", raising=False)
    assert default_cache_bytes() == BUILTIN_CACHE_BYTES
    monkeypatch.setenv("VRAG_PAGE_CACHE_MB", "3")
    assert default_cache_bytes() == 3 << 20
    monkeypatch.setenv("VRAG_PAGE_CACHE_MB", "lots")
    with pytest.raises(
        ValueError, match="VRAG_PAGE_CACHE_MB must be a whole number of MiB >= 0, got 'lots'"
    ):
        default_cache_bytes()
    # A pyramid that grows (a whole-page view is added) is re-counted, and the budget still holds.
    page = Image.new("RGB", (1000, 1400), (255, 255, 255))
    cache: PageCache[PagePyramid] = PageCache(lambda pid: PagePyramid(page), max_bytes=9_000_000)
    pyramids = {}
    for pid in ("a", "b"):
        pyramids[pid] = cache.get(pid)
        pyramids[pid].on_grow = lambda pid=pid: cache.refresh(pid)
    assert cache.nbytes == 2 * 4_200_000 and len(cache) == 2
    t = fit_view((0, 0, 1000, 1400), (900, 900), 512 * 28 * 28, 2.0)
    render_view(pyramids["b"], t, (900, 900))  # b grows by its view: a is evicted
    assert list(cache._items) == ["b"]
    assert cache.nbytes == pyramids["b"].nbytes <= 9_000_000
    stats = cache.stats()
    assert (stats["hits"], stats["misses"], stats["items"]) == (0, 2, 1)
