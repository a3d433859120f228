"""The heuristic's readers on rendered views, with real OCR: spaces, charts, small print."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rapidocr_onnxruntime")

from PIL import Image, ImageDraw

from agents.heuristic_charts import mark_tops
from agents.heuristic_small_print import small_print_blocks
from agents.heuristic_text import tidy_answer
from agents.ocr import OCRReader
from vrag_env.corpora.synthetic.fonts import get_font
from vrag_env.reading import analyze_question


def _agent():  # type: ignore[no-untyped-def]
    import gymnasium as gym

    from agents.registry import make_agent

    return make_agent("heuristic", gym.make("VRAG-Tiny-v0"))


@pytest.mark.parametrize("size", [20])
def test_spaces_dropped_in_bold_type_are_restored(size: int) -> None:
    image = Image.new("RGB", (845, 750), "white")
    draw = ImageDraw.Draw(image)
    font = get_font("serif-bold", size)
    draw.text((30, 40), "Segment performance", font=font, fill=(20, 20, 20))
    draw.text((30, 120), "Letter from the chief executive", font=font, fill=(20, 20, 20))
    view = np.asarray(image)
    glued = [t.text for t in OCRReader(restore_spaces=False).read(view)]
    spaced = [t.text for t in OCRReader().read(view)]
    # The recogniser alone glues one of the two headings at this size (read one line at a time,
    # padded to 96 px, it no longer glues the short heading at 12-16 px as it did padded to 320).
    assert any(" " not in t for t in glued)
    assert spaced == ["Segment performance", "Letter from the chief executive"]


def _bar_chart(values: dict[str, float], size: tuple[int, int] = (760, 420)) -> np.ndarray:
    """A bar chart as the synthetic reports draw one: title, coloured bars, category labels."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.text(
        (20, 10),
        "Operating margin by segment, 2021 (%)",
        font=get_font("serif-bold", 24),
        fill=(20, 20, 20),
    )
    base, spacing = 340, 160
    for i, (name, value) in enumerate(values.items()):
        cx = 120 + spacing * i
        draw.rectangle((cx - 45, base - int(value * 10), cx + 45, base), fill=(40, 80, 150))
        w = draw.textlength(name, font=get_font("sans", 12))
        draw.text((cx - w / 2, base + 10), name, font=get_font("sans", 12), fill=(40, 40, 40))
    draw.line((60, base, 740, base), fill=(40, 40, 40), width=2)
    return np.asarray(image)


def test_mark_tops_finds_the_top_of_each_coloured_bar() -> None:
    chart = _bar_chart({"Solar": 15.9, "Storage": 13.6, "Hydro": 10.5, "Wind": 20.0})
    tops = mark_tops(chart, [120.0, 280.0, 440.0, 600.0, 700.0], 40, 338)
    assert tops[:4] == [340.0 - 159, 340.0 - 136, 340.0 - 105, 340.0 - 200]
    assert tops[4] is None  # no bar there


def test_highest_and_lowest_category_from_bar_heights_without_data_labels() -> None:
    agent = _agent()
    chart = _bar_chart({"Solar": 15.9, "Storage": 13.6, "Hydro": 10.5, "Wind": 20.0})
    highest = analyze_question("Which segment of Aurora had the highest operating margin in 2021?")
    lowest = analyze_question("Which segment of Aurora had the lowest operating margin in 2021?")
    assert agent._chart_extreme(chart, highest) == "Wind"
    assert agent._chart_extreme(chart, lowest) == "Hydro"
    # A question that names a category gets that category's column.
    target = agent._chart_target(chart, analyze_question("What was the margin of Storage?"))
    assert target is not None
    axis, j, top = target
    assert axis[j].text == "Storage" and 30 < top < 60


def test_chart_column_value_reads_the_label_of_the_named_category() -> None:
    agent = _agent()
    image = Image.new("RGB", (300, 420), "white")
    draw = ImageDraw.Draw(image)
    font = get_font("sans", 18)
    draw.text((5, 60), "30", font=font, fill=(60, 60, 60))  # a value-axis tick at the edge
    draw.rectangle((100, 200, 200, 360), fill=(40, 80, 150))
    draw.text((128, 170), "6.4", font=font, fill=(60, 60, 60))
    draw.text((105, 375), "Adhesives", font=font, fill=(40, 40, 40))
    view = {"region": [0, 0, 300, 420], "scale": 1.0, "content_box": [0, 0, 300, 420]}
    qa = analyze_question("What operating margin did Juniper's Adhesives segment achieve in 2021?")
    assert agent._chart_column_value(np.asarray(image), qa, view) == "6.4"


def test_small_print_blocks_find_the_notes_and_skip_the_footer() -> None:
    image = Image.new("RGB", (845, 750), "white")
    draw = ImageDraw.Draw(image)
    draw.text((30, 40), "Annual Report 2022", font=get_font("serif-bold", 28), fill=(20, 20, 20))
    small = get_font("sans", 6)
    notes = [
        "(1) The consolidated financial statements for 2022 were audited by Hollis Grant LLP.",
        "(2) This report was approved by the board of directors on 17 March 2023.",
        "(3) Site numbers include leased facilities at 31 December 2022.",
    ]
    for i, line in enumerate(notes):
        draw.text((30, 560 + 10 * i), line, font=small, fill=(40, 40, 40))
    draw.text((30, 735), "This report contains forward-looking statements.", font=small, fill=0)
    view = np.asarray(image)
    detected = OCRReader().detect(view)
    blocks = small_print_blocks(view, detected, (0.0, 0.0, 845.0, 750.0), 16.0)
    assert len(blocks) == 1 and len(blocks[0]) == 3
    assert 555 <= blocks[0][0][1] and blocks[0][-1][3] <= 590


def test_dates_read_without_spaces_are_answered_with_them() -> None:
    assert tidy_answer("12February 2021") == "12 February 2021"
    assert tidy_answer("25 March2021") == "25 March 2021"
    assert tidy_answer("1,234.5") == "1,234.5"
