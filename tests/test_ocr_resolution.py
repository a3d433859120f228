"""OCR of large pages: lines detected on a small copy, read from the original pixels.

Real RapidOCR on pages rendered with DejaVu fonts (matplotlib ships them).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

pytest.importorskip("rapidocr_onnxruntime")

from vrag_env.corpora.ocr import DET_MAX_SIDE, ocr_image
from vrag_env.text import normalize


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    return ImageFont.truetype(str(path), size)


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area - inter)


def test_small_print_on_a_large_page_is_read_with_boxes_in_page_pixels() -> None:
    # A 5334x3000 slide with 48 px body text: about 9 px on the detector's 1024 px copy.
    page = Image.new("RGB", (5334, 3000), "white")
    draw = ImageDraw.Draw(page)
    body = _font("DejaVuSans.ttf", 48)
    drawn = {}
    x, y = 600, 1400
    for word in ("Remaining", "addresses", "19-Apr-2011", "2408:4005"):
        drawn[normalize(word)] = draw.textbbox((x, y), word, font=body)
        draw.text((x, y), word, font=body, fill=(30, 30, 30))
        x = drawn[normalize(word)][2] + 30
    draw.text((600, 300), "NETWORK EVOLUTION", font=_font("DejaVuSans-Bold.ttf", 160), fill="black")
    assert max(page.size) > 4 * DET_MAX_SIDE

    words = {normalize(w.text): w.box for w in ocr_image(page)}

    assert {"network", "evolution"} <= set(words), sorted(words)
    for word, true_box in drawn.items():
        assert word in words, (word, sorted(words))
        assert _iou(words[word], true_box) > 0.4, (word, words[word], true_box)


def test_detection_size_does_not_change_what_a_small_page_reads() -> None:
    # Pages already smaller than the detector's size are detected as they are.
    page = Image.new("RGB", (800, 300), "white")
    ImageDraw.Draw(page).text(
        (40, 100), "Outbound travel 2014", font=_font("DejaVuSans.ttf", 40), fill="black"
    )
    assert ocr_image(page) == ocr_image(page, max_side=None)
    assert [normalize(w.text) for w in ocr_image(page)] == ["outbound", "travel", "2014"]


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"max_side": 8}, "max_side=8"), ({"rec_min_width": 0}, "rec_min_width=0")],
)
def test_bad_sizes_are_refused_by_name(kwargs: dict[str, int], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        ocr_image(Image.new("RGB", (64, 64), "white"), **kwargs)  # type: ignore[arg-type]
