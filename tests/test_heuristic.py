"""The OCR heuristic agent: its pieces, a short real run, and determinism of its results."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("rapidocr_onnxruntime")

from agents.heuristic import difference, split_question
from agents.ocr import OCRReader
from benchmarks.runner import evaluate
from benchmarks.specs import get_benchmark, with_limit

EPISODES = 4


def test_split_question() -> None:
    assert split_question(
        "What was the change in Acme's Europe revenue from Q4 2021 to Q4 2023?"
    ) == [
        "What was the change in Acme's Europe revenue in 2021?",
        "What was the change in Acme's Europe revenue in 2023?",
    ]
    later_first = split_question("How much more cash did Acme generate in 2023 than in 2021?")
    assert later_first == [
        "How much more cash did Acme generate in 2021?",
        "How much more cash did Acme generate in 2023?",
    ]
    assert split_question("What was Acme's revenue in 2022?") == [
        "What was Acme's revenue in 2022?"
    ]


def test_difference() -> None:
    assert difference("1,204.5", "1,250.0") == "45.5"
    assert difference("12.5%", "10.1%") == "-2.4"
    assert difference("n/a", "3") is None


def test_ocr_reader_reads_rendered_text() -> None:
    from PIL import Image, ImageDraw

    from vrag_env.corpora.synthetic.fonts import get_font

    image = Image.new("RGB", (320, 64), "white")
    ImageDraw.Draw(image).text((10, 16), "Revenue 1,234.5", font=get_font("sans", 24), fill="black")
    reader = OCRReader()
    boxes = reader.detect(np.asarray(image))
    assert boxes
    text = " ".join(t.text for t in reader.read(np.asarray(image)))
    assert "1,234.5" in text
    calls = reader.stats["detect_calls"]
    assert reader.detect(np.asarray(image)) == boxes
    assert reader.stats["detect_calls"] == calls  # served from the cache


def test_heuristic_runs_and_is_deterministic() -> None:
    spec = with_limit(get_benchmark("synth-tiny"), EPISODES).to_eval_spec()
    first = evaluate("heuristic", spec, progress=False)
    # A fresh reader (no cache) must give the same actions and answers.
    again = evaluate("heuristic", spec, {"reader": OCRReader()}, progress=False)
    for key in ("summary", "episodes"):
        assert json.dumps(first[key], sort_keys=True) == json.dumps(again[key], sort_keys=True)
    kinds = [k for ep in first["episodes"] for k in ep["action_kinds"]]
    assert "invalid" not in kinds and {"search", "crop", "answer"} <= set(kinds)
    assert all(ep["terminated"] for ep in first["episodes"])


def test_misread_row_labels_match_the_phrase_they_spell() -> None:
    from agents.heuristic import _fix_table_ocr, _fuzzy_score
    from vrag_env.reading import analyze_question

    qa = analyze_question(
        "According to Fenwick's 2020 annual report, what was North America revenue in Q1?"
    )
    # Small print loses letters and spaces; the label spelling the question's region wins.
    assert _fuzzy_score(qa, "NarthAmmerice") > _fuzzy_score(qa, "Latinmerice")
    assert _fuzzy_score(qa, "MidleEet") == 0.0
    assert _fix_table_ocr("PY 2022") == "FY 2022" and _fix_table_ocr("01") == "Q1"


def _table_image(rows: list[list[str]]) -> np.ndarray:
    from PIL import Image, ImageDraw

    from vrag_env.corpora.synthetic.fonts import get_font

    font = get_font("sans", 18)
    image = Image.new("RGB", (760, 40 + 32 * len(rows)), "white")
    draw = ImageDraw.Draw(image)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            draw.text((20 if c == 0 else 200 + 90 * c, 20 + 32 * r), cell, font=font, fill="black")
    return np.asarray(image)


def test_table_answer_reads_the_cell_under_the_asked_column_and_row() -> None:
    import gymnasium as gym

    from agents.registry import make_agent
    from vrag_env.reading import analyze_question

    image = _table_image(
        [
            ["Region", "Q1", "Q2", "Q3", "Q4", "FY 2022"],
            ["North America", "58.0", "71.2", "64.5", "66.5", "260.2"],
            ["Latin America", "21.1", "24.3", "23.7", "23.6", "92.7"],
            ["Middle East", "73.7", "84.6", "79.0", "80.6", "317.9"],
            ["Africa", "46.0", "54.0", "48.1", "53.8", "201.9"],
        ]
    )
    agent = make_agent("heuristic", gym.make("VRAG-Tiny-v0"))
    ask = agent._table_answer
    assert ask(image, analyze_question("What was Africa revenue in Q2 2022?")) == "54.0"
    assert (
        ask(image, analyze_question("What was Latin America's full-year 2022 revenue?")) == "92.7"
    )
    assert (
        ask(image, analyze_question("What was Middle East revenue in the third quarter?")) == "79.0"
    )
    # A view without a table gives nothing.
    assert ask(np.full((200, 300, 3), 255, np.uint8), analyze_question("Q1 revenue?")) is None


def test_chart_answer_pairs_data_labels_with_the_category_axis() -> None:
    import gymnasium as gym
    from PIL import Image, ImageDraw

    from agents.registry import make_agent
    from vrag_env.corpora.synthetic.fonts import get_font
    from vrag_env.reading import analyze_question

    font = get_font("sans", 16)
    image = Image.new("RGB", (760, 320), "white")
    draw = ImageDraw.Draw(image)
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]
    values = ["577.4", "503.1", "628.6", "517.9", "551.9", "558.2"]
    for i, (month, value) in enumerate(zip(months, values, strict=True)):
        x = 80 + 110 * i
        y = 240 - int(float(value) - 450)  # higher values sit higher, like a line chart's labels
        draw.text((x, y), value, font=font, fill="black")
        draw.text((x + 8, 280), month, font=font, fill="black")
    agent = make_agent("heuristic", gym.make("VRAG-Tiny-v0"))
    ask = agent._chart_answer
    view = np.asarray(image)
    assert ask(view, analyze_question("In which month of 2022 did prescriptions peak?")) == "Mar"
    assert ask(view, analyze_question("What was the figure recorded for May 2022?")) == "551.9"
    assert ask(view, analyze_question("In which month were prescriptions lowest?")) == "Feb"
