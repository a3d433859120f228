"""``vrag validity`` on the tiny benchmark: the report's measurements, saved as JSON and a PNG."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from vrag_env.cli import main


def test_validity_command_measures_and_saves(tmp_path: Path) -> None:
    out = tmp_path / "validity.json"
    args = ["validity", "--benchmark", "synth-tiny", "--limit", "4", "--quiet", "--out", str(out)]
    assert main(args) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["benchmark"] == "synth-tiny" and report["questions"] > 4
    assert 0.0 <= report["bm25"]["recall@1"] <= report["bm25"]["recall@5"] <= 1.0
    assert report["floors"]["metric"] == "rewards.accuracy"
    legibility = report["legibility"]
    assert legibility["questions"] == 4 and len(legibility["per_question"]) == 4
    # Every measured question is either read on the whole page or needs the crop (or neither).
    for page_reads, crop_reads in legibility["per_question"].values():
        assert page_reads in (0, 1) and crop_reads in (0, 1)
    assert 0.0 <= legibility["needs_zoom"] <= 1.0
    with Image.open(out.with_suffix(".png")) as png:
        assert png.width > 300 and png.height > 100
