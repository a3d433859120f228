"""The ``vrag-rl`` preset against a reference of VRAG-RL's own image resize and crop mapping.

The reference functions below restate, in plain code, what VRAG-RL's rollout does
(Alibaba-NLP/VRAG, ``VRAG-RL/vrag_agent/generation.py``: ``process_image`` and the crop branch of
the observation processing), working on PIL images as it does. The env must show views of exactly
the size VRAG-RL shows and crop the same page region (within one page pixel), on pages of many
sizes and aspects.
"""

from __future__ import annotations

import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import vrag_env  # noqa: F401  (registers the ids)
from vrag_env.corpora.corpus import CorpusWriter
from vrag_env.types import Page, Query, Word

MAX_PIXELS = 512 * 28 * 28
MIN_PIXELS = 256 * 28 * 28

PAGE_SIZES = [
    (5334, 3000),  # a 16:9 slide rendered large
    (2480, 3508),  # portrait A4 at 300 dpi
    (1000, 1400),
    (612, 792),  # US letter at 72 dpi
    (300, 200),  # small: scaled up to the lower bound
    (4000, 600),  # a panorama
    (800, 3000),  # a long receipt
    (701, 701),
]


# ------------------------------------------------------------------------- reference (VRAG-RL)


def ref_process_image(image: Image.Image) -> Image.Image:
    """VRAG-RL's resize: shrink to at most MAX_PIXELS, then grow to at least MIN_PIXELS."""
    if image.width * image.height > MAX_PIXELS:
        factor = math.sqrt(MAX_PIXELS / (image.width * image.height))
        image = image.resize((int(image.width * factor), int(image.height * factor)))
    if image.width * image.height < MIN_PIXELS:
        factor = math.sqrt(MIN_PIXELS / (image.width * image.height))
        image = image.resize((int(image.width * factor), int(image.height * factor)))
    return image


def ref_crop_area(
    box: list[float], shown: Image.Image, raw: Image.Image, pad: int = 28
) -> list[int] | None:
    """VRAG-RL's crop area on the raw page for a bbox in pixels of the image last shown.

    Validation rollouts pad the box by 28 px in the shown frame; the box is then scaled by raw
    page size / shown image size (the shown image may itself be a crop), truncated to ints and
    clipped to the raw page. ``None`` where VRAG-RL's crop fails (nothing left to show).
    """
    x1, y1, x2, y2 = box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad
    area = [
        int(raw.width * x1 / shown.width),
        int(raw.height * y1 / shown.height),
        int(raw.width * x2 / shown.width),
        int(raw.height * y2 / shown.height),
    ]
    area = [max(0, area[0]), max(0, area[1]), min(raw.width, area[2]), min(raw.height, area[3])]
    if area[2] <= area[0] or area[3] <= area[1]:
        return None
    return area


# ------------------------------------------------------------------------- corpus and env


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vrag-rl") / "corpus"
    with CorpusWriter(out, name="sizes", build={"by": "tests/test_vrag_rl_preset.py"}) as writer:
        for i, (w, h) in enumerate(PAGE_SIZES):
            page_id = f"size{i}_1"
            words = (Word(f"pagetoken{i}", (10.0, 10.0, 120.0, 40.0)),)
            image = Image.new("RGB", (w, h), (200, 220, 240))
            writer.add_page(Page(page_id, f"size{i}", 1, w, h, "", words), image)
            writer.add_query(Query(f"q{i}", f"pagetoken{i}", ("x",), (page_id,), "test"))
    return out


@pytest.fixture(scope="module")
def env(corpus_dir: Path) -> gym.Env:
    return gym.make("VRAG-v0", preset="vrag-rl", corpus=str(corpus_dir), split="test")


def _show_page(env: gym.Env, i: int) -> dict:
    env.reset(seed=0, options={"question_id": f"q{i}"})
    obs, _, _, _, info = env.step(f"<search>pagetoken{i}</search>")
    assert env.unwrapped.real_page_id(info["current_page"]) == f"size{i}_1"
    return obs, info


def _content_size(info: dict) -> tuple[int, int]:
    x1, y1, x2, y2 = info["view"]["content_box"]
    assert (x1, y1) == (0, 0)  # top-left anchored
    return x2 - x1, y2 - y1


@pytest.mark.parametrize("i", range(len(PAGE_SIZES)), ids=[f"{w}x{h}" for w, h in PAGE_SIZES])
def test_page_view_has_vrag_rl_size(env: gym.Env, corpus_dir: Path, i: int) -> None:
    obs, info = _show_page(env, i)
    raw = Image.open(corpus_dir / env.unwrapped.corpus.pages[f"size{i}_1"].image)
    shown = ref_process_image(raw)
    assert _content_size(info) == shown.size
    image = obs["image"]
    height, width = env.unwrapped.view_size
    assert image.shape == (height, width, 3)
    # the page is drawn at the top left; the rest of the canvas is padding
    assert (image[: shown.height, : shown.width] > 100).all()
    assert not image[:, shown.width :].any() and not image[shown.height :, :].any()


@pytest.mark.parametrize("i", range(len(PAGE_SIZES)), ids=[f"{w}x{h}" for w, h in PAGE_SIZES])
def test_crops_match_vrag_rl(env: gym.Env, corpus_dir: Path, i: int) -> None:
    rng = np.random.default_rng(i)
    raw = Image.open(corpus_dir / env.unwrapped.corpus.pages[f"size{i}_1"].image)
    height, width = env.unwrapped.view_size
    checked = 0
    for trial in range(12):
        _, info = _show_page(env, i)
        shown = ref_process_image(raw)
        for _depth in range(2):  # a crop, then a crop of the crop (mapped onto the full page)
            sw, sh = shown.size
            x1, x2 = sorted(rng.uniform(-0.1, 1.1, 2) * sw)
            y1, y2 = sorted(rng.uniform(-0.1, 1.1, 2) * sh)
            box = [max(0.0, round(v)) for v in (x1, y1, x2, y2)]
            expected = ref_crop_area(box, shown, raw)
            _, _, _, _, info = env.step(f"<bbox>{box}</bbox>")
            if box[2] <= box[0] or box[3] <= box[1]:
                # a deliberate difference: an empty box is invalid here (VRAG-RL pads it into a
                # 56-px square and crops that)
                assert info["action_kind"] == "invalid", (trial, box)
                break
            if expected is None:
                assert info["action_kind"] == "invalid", (trial, box)
                break
            assert info["action_kind"] == "crop" and info["action_error"] is None, (trial, box)
            assert info["view"]["region"] == pytest.approx(expected, abs=1.0)
            shown = ref_process_image(raw.crop(tuple(expected)))
            size = _content_size(info)
            if shown.width <= width and shown.height <= height:
                assert size == shown.size
                checked += 1
            else:  # a very elongated crop: shrunk into the canvas (docs/vrag_rl.md)
                assert size[0] <= width and size[1] <= height
                assert abs(size[0] / size[1] - shown.width / shown.height) < 0.05 * (
                    shown.width / shown.height
                )
                break  # the next box would be in pixels of the shrunk image
    assert checked >= 6


def test_box_outside_the_page_is_invalid_without_penalty(env: gym.Env) -> None:
    obs, info = _show_page(env, 2)
    sw, sh = _content_size(info)
    _, reward, terminated, _, info = env.step(f"<bbox>[{sw + 100}, 0, {sw + 300}, 50]</bbox>")
    assert info["action_kind"] == "invalid" and not terminated
    assert reward == 0.0  # VRAG-RL has no invalid-action penalty
    # partly outside: clipped, a valid crop
    _, _, _, _, info = env.step(f"<bbox>[{sw - 50}, 0, {sw + 300}, 80]</bbox>")
    assert info["action_kind"] == "crop"
    assert info["view"]["region"][2] == env.unwrapped.corpus.pages["size2_1"].width


def test_turn_limit_and_padding_variants(corpus_dir: Path) -> None:
    env = gym.make("VRAG-v0", preset="vrag-rl", corpus=str(corpus_dir), split="test")
    env.reset(seed=0, options={"question_id": "q2"})
    truncated = False
    steps = 0
    while not truncated:
        _, _, terminated, truncated, _ = env.step("<search>pagetoken2</search>")
        steps += 1
        assert not terminated
    assert steps == 5  # VRAG-RL's 4 turns plus the final one
    # training rollouts: no padding; the demo: 56 page pixels instead
    for kwargs, grow in (
        ({"crop_pad_view_px": 0}, 0),
        ({"crop_pad_view_px": 0, "crop_pad_page_px": 56}, 56),
    ):
        env = gym.make("VRAG-v0", preset="vrag-rl", corpus=str(corpus_dir), split="test", **kwargs)
        _, info = _show_page(env, 2)
        sw, sh = _content_size(info)
        page = env.unwrapped.corpus.pages["size2_1"]
        _, _, _, _, info = env.step("<bbox>[200, 200, 300, 300]</bbox>")
        expected = [int(page.width * 200 / sw) - grow, int(page.height * 200 / sh) - grow]
        assert info["view"]["region"][:2] == pytest.approx(expected, abs=1.0)


def test_sft_style_trajectory_runs_end_to_end_through_the_vlm_agent() -> None:
    """Replies in the style of VRAG-RL's SFT data: think, a newline, one tag; a sentence answer."""
    pytest.importorskip("transformers")
    from agents.vlm.agent import VLMAgent
    from agents.vlm.backends import Backend, GenerationSettings

    env = gym.make("VRAG-Tiny-v0", preset="vrag-rl", split="test", reward="vrag-rl-offline")
    obs, info = env.reset(seed=0)
    question = obs["question"]
    replies = iter(
        [
            f"<think>I need the page about this.</think>\n<search>{question}</search>",
            "<think>The figure is in the upper part; zoom in.</think>\n<bbox>[10, 10, 300, 200]</bbox>",
            "<think>Now I can read it.</think>\n<answer>The report states the value is 42.</answer>",
        ]
    )

    class Scripted(Backend):
        kind = "scripted"

        def __init__(self) -> None:
            super().__init__(GenerationSettings(max_new_tokens=64))

        def generate(self, messages, *, tools=None, seed=None) -> str:
            return next(replies)

    agent = VLMAgent.from_env(env, backend=Scripted())
    agent.reset()
    kinds, total, done = [], 0.0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
        kinds.append(info["action_kind"])
        total += float(reward)
        done = terminated or truncated
    assert kinds == ["search", "crop", "answer"] and terminated
    assert env.unwrapped.episode_outcome().prediction == "The report states the value is 42."
    assert total > 0  # searched and answered: the gate passes (format and retrieval terms)
