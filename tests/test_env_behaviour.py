"""Episode semantics: search, crop, answer, penalties, leakage, zoom."""

from __future__ import annotations

import json
import re

import gymnasium as gym
import numpy as np
import pytest

from agents.oracle import OracleAgent
from vrag_env.rendering import ViewTransform


@pytest.fixture(scope="module")
def env():
    e = gym.make("VRAG-Tiny-v0", split="test")
    yield e
    e.close()


def penalty(env):
    return env.unwrapped.reward_config.invalid_action_penalty


MALFORMED = [
    "",
    "<search>unclosed",
    "<answer>unclosed",
    "<bbox>[1, 2, 3, 4, 5]</bbox>",
    '{"name": "search"',
    "<bbox>[NaN, 1, 2, 3]</bbox>",
    "<bbox>[-1, 0, 20, 20]</bbox>",
    "<bbox>[300, 300, 100, 100]</bbox>",
    "<bbox>[0, 0, 5000, 5000]</bbox>",
    "x" * 100_000,
    "\udcff\udcfe<search>\x00\x01</sear",  # lone surrogates and control bytes, as from a bad decode
    "<answer></answer>",
    "<think>no action at all</think>",
]


@pytest.mark.parametrize("action", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_action_costs_penalty_and_episode_goes_on(env, action):
    env.reset(seed=0)
    env.step(
        "<search>annual report</search>"
    )  # so box errors are about the box, not a missing page
    obs, reward, terminated, truncated, info = env.step(action)
    assert reward == pytest.approx(-penalty(env))
    assert not terminated
    assert info["action_kind"] == "invalid"
    assert info["action_error"] in ("ActionParseError", "IllegalActionError")
    assert obs["feedback"].startswith(info["action_error"] + ":")
    assert len(obs["feedback"]) <= 2048
    assert env.observation_space.contains(obs)
    # the episode goes on: a valid action afterwards works
    obs, reward, terminated, truncated, info = env.step("<search>revenue</search>")
    assert info["action_kind"] == "search" and info["action_error"] is None


def test_crop_before_search_is_illegal(env):
    env.reset(seed=0)
    obs, reward, terminated, _, info = env.step("<bbox>[10, 10, 100, 100]</bbox>")
    assert info["action_error"] == "IllegalActionError" and "search first" in obs["feedback"]
    assert reward == pytest.approx(-penalty(env))


def test_views_are_top_left_anchored_and_canvas_padding_is_not_page(env):
    env.reset(seed=0)
    _, _, _, _, info = env.step("<search>annual report</search>")
    x1, y1, x2, y2 = info["view"]["content_box"]
    assert (x1, y1) == (0, 0)  # view pixels are observation pixels: no offset
    height, width = env.unwrapped.view_size
    assert x2 <= width and y2 <= height
    assert x2 < width - 2 or y2 < height - 2  # this page does not fill the canvas on one axis
    box = [x2 + 1, 0, width, 50] if x2 < width - 2 else [0, y2 + 1, 50, height]
    obs, _, _, _, info = env.step(f"<bbox>{box}</bbox>")
    assert info["action_error"] == "IllegalActionError" and "no page content" in obs["feedback"]


def test_search_budget_is_enforced():
    env = gym.make("VRAG-Tiny-v0", max_searches=1)
    env.reset(seed=0)
    env.step("<search>report</search>")
    obs, _, _, _, info = env.step("<search>chart</search>")
    assert info["action_error"] == "IllegalActionError" and "budget" in obs["feedback"]


def test_search_never_repeats_a_page(env):
    env.reset(seed=0)
    for _ in range(8):
        _, _, _, _, info = env.step("<search>annual report revenue</search>")
    pages = [env.unwrapped.real_page_id(p) for p in info["retrieved_pages"]]  # info's are opaque
    assert len(pages) == 8 and len(set(pages)) == 8
    ranking = [r.page_id for r in env.unwrapped.retriever.search("annual report revenue", 8)]
    assert pages == ranking  # best-ranked first, each new search the next unseen page


def test_crop_maps_view_pixels_to_page_and_pads(env):
    env.reset(seed=0)
    _, _, _, _, info = env.step("<search>annual report</search>")
    view = env.unwrapped.view
    x, y, x2, y2 = info["view"]["content_box"]
    assert ViewTransform.from_info(info["view"]).content_box == view.content_box
    w, h = x2 - x, y2 - y
    box = (x + w * 0.25, y + h * 0.25, x + w * 0.5, y + h * 0.5)
    expected = view.view_to_page(box)
    obs, _, _, _, info = env.step(f"<bbox>{[round(v) for v in box]}</bbox>")
    rx1, ry1, rx2, ry2 = info["view"]["region"]
    pad = env.unwrapped.config.crop_padding
    ew, eh = expected[2] - expected[0], expected[3] - expected[1]
    assert rx1 == pytest.approx(expected[0] - pad * ew, abs=2 / view.scale)
    assert ry2 == pytest.approx(expected[3] + pad * eh, abs=2 / view.scale)
    assert info["view"]["scale"] > view.scale  # zoomed in
    assert obs["image"].shape == env.observation_space["image"].shape


def test_tool_crop_uses_fractions_of_the_observation_image():
    env = gym.make("VRAG-Tiny-v0", dialect="tool")
    env.reset(seed=0)
    _, _, _, _, info = env.step(
        json.dumps({"name": "search", "arguments": {"query": "annual report"}})
    )
    view = env.unwrapped.view
    h, w = env.unwrapped.view_size
    box = [0.1, 0.15, 0.3, 0.35]
    cx1, cy1, cx2, cy2 = view.content_box
    assert box[2] * w <= cx2 and box[3] * h <= cy2  # inside the page content (no clipping)
    expected = view.view_to_page((box[0] * w, box[1] * h, box[2] * w, box[3] * h))
    _, _, _, _, info = env.step(json.dumps({"name": "crop", "arguments": {"box": box}}))
    x1, y1, x2, y2 = info["view"]["region"]
    pad = env.unwrapped.config.crop_padding
    ew, eh = expected[2] - expected[0], expected[3] - expected[1]
    assert x1 == pytest.approx(max(0, expected[0] - pad * ew), abs=1)
    assert y1 == pytest.approx(max(0, expected[1] - pad * eh), abs=1)
    # the same box in the vrag dialect, as view pixels, gives the same region
    env2 = gym.make("VRAG-Tiny-v0")
    env2.reset(seed=0)
    env2.step("<search>annual report</search>")
    pixels = [box[0] * w, box[1] * h, box[2] * w, box[3] * h]
    _, _, _, _, info2 = env2.step(f"<bbox>{pixels}</bbox>")
    assert info2["view"]["region"] == info["view"]["region"]


def test_tool_crop_clipped_to_the_page_content():
    env = gym.make("VRAG-Tiny-v0", dialect="tool")
    env.reset(seed=0)
    env.step(json.dumps({"name": "search", "arguments": {"query": "annual report"}}))
    page = env.unwrapped.corpus.pages[env.unwrapped._ep.page]
    _, _, _, _, info = env.step(
        json.dumps({"name": "crop", "arguments": {"box": [0.5, 0.5, 1.0, 1.0]}})
    )
    x1, y1, x2, y2 = info["view"]["region"]
    assert x2 == pytest.approx(page.width) and y2 == pytest.approx(page.height)


def test_answer_terminates_with_score_and_gold(env):
    obs, info = env.reset(seed=0)
    assert info["score"] == {} and info["prediction"] is None
    obs, reward, terminated, truncated, info = env.step("<answer>definitely wrong</answer>")
    assert terminated and not truncated
    assert set(info["score"]) >= {"anls", "exact_match", "f1", "ndcg", "format", "reward"}
    assert reward == pytest.approx(info["score"]["reward"])
    assert info["answers"] and info["reference_pages"]
    with pytest.raises(gym.error.ResetNeeded):
        env.unwrapped.step("<answer>again</answer>")


def test_no_leakage_of_gold_before_the_end():
    env = gym.make("VRAG-Tiny-v0", split="all")
    corpus = env.unwrapped.corpus
    for query in corpus.queries.values():
        for answer in query.answers:
            pattern = r"(?<![\w.,])" + re.escape(answer.lower()) + r"(?![\w])"
            assert not re.search(pattern, query.question.lower()), (query.uid, answer)
    oracle = OracleAgent.from_env(env)
    for seed in range(10):
        obs, info = env.reset(seed=seed)
        oracle.reset()
        query = corpus.queries[info["question_id"]]
        secrets = [a.lower() for a in query.answers] + list(query.reference_pages)
        done = False
        while not done:
            text = json.dumps(info).lower() + obs["question"].lower() + obs["feedback"].lower()
            for secret in query.answers:
                assert secret.lower() not in obs["feedback"].lower()
            assert info["answers"] == [] and info["reference_pages"] == [] and info["score"] == {}
            assert not any(
                f'"{s.lower()}"' in text for s in secrets if s not in info["retrieved_pages"]
            )
            obs, _, terminated, truncated, info = env.step(oracle.act(obs, info))
            done = terminated or truncated
        assert info["answers"] == list(query.answers)

        assert info["score"]["anls"] == 1.0


def test_observation_image_is_fixed_size_and_changes_on_crop(env):
    obs, _ = env.reset(seed=0)
    shape = env.observation_space["image"].shape
    assert obs["image"].shape == shape and obs["image"].dtype == np.uint8
    obs1, *_ = env.step("<search>annual report</search>")
    obs2, *_ = env.step("<bbox>[200, 200, 400, 400]</bbox>")
    assert obs1["image"].shape == obs2["image"].shape == shape
    assert not np.array_equal(obs1["image"], obs2["image"])
