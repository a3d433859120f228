"""benchmarks/ocr_speed.py: located answers, reused rows and clear errors (real OCR, tiny pages)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from benchmarks.ocr_speed import located, main, make_variant


def test_located_accepts_any_listed_answer_and_glued_words() -> None:
    result = located(
        [["US$7,500"], ["6倍", "6"], ["12.5%"], ["NIS"], ["absent"]],
        ["US$7,5", "提升6倍", "12.5%to", "ANISE"],
    )
    assert result["6倍|6"] == {"located": True, "in_text": True}
    assert result["12.5%"] == {"located": True, "in_text": True}  # glued at a class change
    assert result["NIS"] == {"located": False, "in_text": True}  # inside a word: substring only
    assert result["US$7,500"] == {"located": False, "in_text": False}
    assert result["absent"] == {"located": False, "in_text": False}


@pytest.mark.parametrize("spec", ["nameless", "x=somewhere", "x=current:max_side"])
def test_bad_variant_specs_say_what_to_write(spec: str) -> None:
    with pytest.raises(SystemExit, match=r"NAME=|KEY=VALUE"):
        make_variant(spec)


def test_unknown_git_revision_is_named() -> None:
    with pytest.raises(SystemExit, match="no-such-rev"):
        make_variant("x=git:no-such-rev")


def test_run_records_located_answers_and_reuses_rows(tmp_path: Path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    import matplotlib

    font = ImageFont.truetype(
        str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), 40
    )
    images = tmp_path / "img"
    images.mkdir()
    page = Image.new("RGB", (700, 200), "white")
    ImageDraw.Draw(page).text((30, 70), "Revenue 13.0% in 2014", font=font, fill="black")
    page.save(images / "p1.jpg", quality=95)
    questions = tmp_path / "q.json"
    examples = [
        {"reference_answer": "13.0%", "meta_info": {"file_name": "p1.jpg"}},
        {"reference_answer": ["1999", "MCMXCIX"], "meta_info": {"file_name": "p1.jpg"}},
    ]
    questions.write_text(json.dumps({"examples": examples}), encoding="utf-8")
    out = tmp_path / "out.json"
    args = ["--images", str(images), "--questions", str(questions), "--out", str(out)]

    assert main([*args, "--variant", "a=current:max_side=none"]) == 0
    first = json.loads(out.read_text(encoding="utf-8"))
    (row,) = first["rows"]
    assert row["answers"]["13.0%"]["located"]
    assert not row["answers"]["1999|MCMXCIX"]["located"]
    summary = first["summary"][0]
    assert (summary["size"], summary["answers"], summary["located"]) == ("700x200", 2, 1)

    assert main([*args, "--variant", "a=current:max_side=none"]) == 0  # nothing re-run
    assert json.loads(out.read_text(encoding="utf-8"))["rows"][0]["cpu_s"] == row["cpu_s"]
