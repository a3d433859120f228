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
