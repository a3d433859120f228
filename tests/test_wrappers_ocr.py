"""The wrapper's answer candidates come from OCR of the rendered view; the text layer is privileged."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import pytest

import vrag_env  # noqa: F401 - registers the ids
from vrag_env.wrappers import MacroActionWrapper

pytest.importorskip("rapidocr_onnxruntime")


def _blank_text_layers(env: gym.Env) -> dict:
    """Empty every page's text layer, leaving the page images as they are; returns the originals.

    Loaded corpora are shared between envs of one process, so callers restore them.
    """
    pages = env.unwrapped.corpus.pages
    originals = dict(pages)
    for pid, page in list(pages.items()):
        pages[pid] = dataclasses.replace(page, words=())
    return originals


def _search_and_crop(wrapped: MacroActionWrapper, qid: str) -> list[list[str]]:
    """Candidate texts after the search and after the crop-best-line macro-action."""
    names = [a.name for a in wrapped.actions]
    wrapped.reset(seed=0, options={"question_id": qid})
    seen = []
    for name in ("search", "crop_best"):
        wrapped.step(names.index(name))
        seen.append([c.text for c in wrapped._candidates])
    return seen


def test_ocr_candidates_come_from_the_view_not_the_text_layer() -> None:
    ocr = MacroActionWrapper(gym.make("VRAG-Tiny-v0", split="test"))
    layer = MacroActionWrapper(gym.make("VRAG-Tiny-v0", split="test"), candidates="text-layer")
    qid = ocr.env.unwrapped.questions[0].uid
    before = _search_and_crop(ocr, qid)
    saved = [(e, _blank_text_layers(e)) for e in (ocr.env, layer.env)]
    try:
        ocr_cands = _search_and_crop(ocr, qid)
        layer_cands = _search_and_crop(layer, qid)
    finally:
        for env, originals in reversed(saved):
            env.unwrapped.corpus.pages.update(originals)
    assert all(ocr_cands), ocr_cands  # the pixels still show text, so OCR still reads candidates
    assert ocr_cands == before  # and the same ones: the text layer never entered
    assert layer_cands == [[], []]  # the privileged reader had only the (now empty) text layer


def test_ocr_reads_small_print_only_after_zooming() -> None:
    wrapped = MacroActionWrapper(gym.make("VRAG-Tiny-v0", split="test"))
    u = wrapped.env.unwrapped
    query = next(q for q in u.questions if q.small_print and q.source_type == "table")
    names = [a.name for a in wrapped.actions]
    wrapped.reset(seed=0, options={"question_id": query.uid})
    wrapped.step(names.index("search"))
    page_words = " ".join(s.text for s in wrapped._segments).split()
    wrapped.step(names.index("crop_best"))
    zoomed_words = " ".join(s.text for s in wrapped._segments).split()
    assert len(zoomed_words) > 0
    assert set(zoomed_words) - set(page_words)  # the crop reads words the page view did not


def test_privileged_flag_and_bad_source() -> None:
    env = gym.make("VRAG-Tiny-v0", split="test")
    assert not MacroActionWrapper(env).privileged
    assert MacroActionWrapper(env, candidates="text-layer").privileged
    with pytest.raises(ValueError, match=r"'oracle'.*text-layer"):
        MacroActionWrapper(env, candidates="oracle")


def test_text_layer_agents_declare_themselves_privileged() -> None:
    pytest.importorskip("stable_baselines3")
    from benchmarks.runner import evaluate
    from benchmarks.specs import get_benchmark, with_limit
    from benchmarks.verify import is_privileged

    spec = with_limit(get_benchmark("synth-tiny"), 1).to_eval_spec()
    honest = evaluate("ppo", spec, {"untrained": True}, progress=False)
    layer = evaluate("ppo-text-layer", spec, {"untrained": True}, progress=False)
    assert honest["metadata"]["agent"]["config"]["candidates"] == "ocr"
    assert honest["metadata"]["privileged"] is False and not is_privileged(honest)
    assert layer["metadata"]["agent"]["config"]["candidates"] == "text-layer"
    assert layer["metadata"]["privileged"] is True and is_privileged(layer)
