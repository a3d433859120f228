"""OCR keeps words apart: space restoration on rendered bold and large text, O/0 repair, downscaling.

Real RapidOCR on images rendered with DejaVu fonts (matplotlib ships them). The test text runs words
together with tight spacing, as slide titles in bold capitals do; the words must come back apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

pytest.importorskip("rapidocr_onnxruntime")

from vrag_env.corpora.ocr import fix_digits, ink_gaps, ocr_image, split_at_gaps
from vrag_env.text import normalize


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    return ImageFont.truetype(str(path), size)


def _render(lines: list[str], font: ImageFont.FreeTypeFont, size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    y = 40
    for line in lines:
        draw.text((40, y), line, font=font, fill=(20, 20, 60))
        y += int(font.size * 1.6)
    return image


def _words(image: Image.Image, **kwargs: object) -> list[str]:
    return [normalize(w.text) for w in ocr_image(image, **kwargs)]  # type: ignore[arg-type]


def test_bold_capitals_come_back_as_words() -> None:
    image = _render(
        ["WILL POWER THE OUTBOUND", "TRAVEL MARKET IN APAC"],
        _font("DejaVuSans-Bold.ttf", 44),
        (900, 260),
    )
    words = _words(image)
    for expected in ("will", "power", "the", "outbound", "travel", "market", "in", "apac"):
        assert expected in words, words


def test_large_page_is_downscaled_and_boxes_stay_in_page_pixels() -> None:
    # A 4000x2250 page: lines are detected on a smaller copy, boxes come back in page pixels.
    image = _render(
        ["GROWTH ENGINE", "Households earning more"],
        _font("DejaVuSans-Bold.ttf", 150),
        (4000, 2250),
    )
    found = ocr_image(image)
    words = {normalize(w.text): w for w in found}
    assert {"growth", "engine", "households"} <= set(words), list(words)
    x1, y1, x2, y2 = words["engine"].box
    assert x1 > words["growth"].box[2] and x2 < 4000 and y2 < 2250
    assert 30 < y1 < 300  # the first line, drawn at y=40 with 150 px type


def test_fix_digits_only_inside_numbers() -> None:
    assert fix_digits("US$1O,OOO") == "US$10,000"
    assert fix_digits("7,5o0") == "7,500"
    assert fix_digits("2O19") == "2019"
    for word in ("ROOM", "Octo", "No1", "OO"):
        assert fix_digits(word) == word


def test_gap_rules() -> None:
    line = np.full((20, 70), 255, dtype=np.uint8)
    for start in (2, 12, 22, 40):  # three letters 2 px apart, then one 10 px later
        line[5:15, start : start + 8] = 0
    assert ink_gaps(line, min_width=4) == [(30, 40)]
    # Letter-spaced type: when every gap is wide, only a clearly wider one is a break.
    spaced = np.full((20, 90), 255, dtype=np.uint8)
    for start in (2, 16, 30, 60):  # gaps of 6, 6 and 22 px
        spaced[5:15, start : start + 8] = 0
    assert ink_gaps(spaced, min_width=4) == [(38, 60)]
    boxes = [(2, 10), (12, 20), (40, 48)]
    assert split_at_gaps("ABC", boxes, [(30, 40)]) == [("AB", 2, 20), ("C", 40, 48)]
    # Two CJK characters are never split, nor a number, whatever the gap.
    assert split_at_gaps("数据", [(2, 10), (30, 38)], [(10, 30)]) == [("数据", 2, 38)]
    assert split_at_gaps("1.5", [(2, 10), (30, 32), (40, 48)], [(10, 30)]) == [("1.5", 2, 48)]
