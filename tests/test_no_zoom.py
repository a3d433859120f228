"""The ``no-zoom`` ablation: the heuristic with crops disabled never crops."""

from __future__ import annotations

import pytest

pytest.importorskip("rapidocr_onnxruntime")

from benchmarks.runner import evaluate
from benchmarks.specs import get_benchmark, with_limit


def test_no_zoom_never_crops_where_the_heuristic_does() -> None:
    spec = with_limit(get_benchmark("synth-tiny"), 4).to_eval_spec()
    no_zoom = evaluate("no-zoom", spec, progress=False)
    heuristic = evaluate("heuristic", spec, progress=False)
    kinds = [k for e in no_zoom["episodes"] for k in e["action_kinds"]]
    assert "crop" not in kinds and "answer" in kinds
    assert all(e["prediction"] for e in no_zoom["episodes"])
    # The same questions do make the full heuristic crop: the option is what removes the crops.
    assert "crop" in [k for e in heuristic["episodes"] for k in e["action_kinds"]]
    assert no_zoom["metadata"]["agent"]["name"] == "no-zoom"
    assert no_zoom["metadata"]["agent"]["config"]["zoom"] is False
    assert heuristic["metadata"]["agent"]["config"]["zoom"] is True


def test_zoom_option_cannot_be_switched_back_on() -> None:
    import gymnasium as gym

    from agents.registry import make_agent

    agent = make_agent("no-zoom", gym.make("VRAG-Tiny-v0"), zoom=True)
    assert agent.zoom is False and agent.name == "no-zoom"
