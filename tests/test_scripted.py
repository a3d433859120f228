"""The ``scripted`` control runs end to end through ``vrag eval`` and follows its fixed script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("rapidocr_onnxruntime")

from vrag_env.cli import main


def test_scripted_agent_through_vrag_eval(tmp_path: Path) -> None:
    out = tmp_path / "scripted.json"
    args = ["--agent", "scripted", "--env-id", "VRAG-Tiny-v0", "--episodes", "3"]
    code = main(["eval", *args, "--out", str(out), "--quiet"])
    assert code == 0
    results = json.loads(out.read_text())
    assert results["metadata"]["agent"]["name"] == "scripted"
    assert results["metadata"]["privileged"] is False
    assert results["metadata"]["agent"]["config"]["candidates"] == "ocr"
    assert len(results["episodes"]) == 3
    for episode in results["episodes"]:
        assert episode["action_kinds"][:3] == ["search", "crop", "answer"]
        assert episode["terminated"]
        assert episode["prediction"]
        assert (
            episode["actions"][0]
            == f"<search>{episode['question']}</search>"[: len(episode["actions"][0])]
        )
