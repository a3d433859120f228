"""The SB3 macro-action wrapper and the shared answer-span extractor."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest

import vrag_env  # noqa: F401
from vrag_env.reading import Segment, analyze_question, rank_candidates, segments_from_words
from vrag_env.rendering import LEGIBLE_PX
from vrag_env.wrappers import MacroActionWrapper


@pytest.fixture(scope="module")
def wrapped() -> MacroActionWrapper:
    return MacroActionWrapper(gym.make("VRAG-Tiny-v0", split="test"))


def test_sb3_check_env_has_no_warnings(wrapped: MacroActionWrapper) -> None:
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(wrapped, warn=True)
    assert [str(w.message) for w in caught] == []


def test_spaces_are_flat_boxes(wrapped: MacroActionWrapper) -> None:
    assert isinstance(wrapped.action_space, gym.spaces.Discrete)
    assert wrapped.action_space.n == len(wrapped.actions)
    spaces = wrapped.observation_space.spaces
    assert set(spaces) == {"image", "candidates", "state"}
    assert all(isinstance(s, gym.spaces.Box) for s in spaces.values())
    assert spaces["image"].dtype == np.uint8 and spaces["image"].shape == (64, 64, 3)
    obs, _ = wrapped.reset(seed=0)
    assert wrapped.observation_space.contains(obs)


def test_actions_go_through_the_env_unchanged(wrapped: MacroActionWrapper) -> None:
    env = gym.make("VRAG-Tiny-v0", split="test")
    obs, info = wrapped.reset(seed=3)
    ref_obs, ref_info = env.reset(seed=3)
    assert info == ref_info
    names = [a.name for a in wrapped.actions]
    # Crop before any search: the env's invalid action (penalty, episode goes on).
    obs, reward, terminated, truncated, info = wrapped.step(names.index("crop_cell_0"))
    assert info["action_kind"] == "invalid" and float(reward) < 0 and not terminated
    text = wrapped.action_text(names.index("search"))
    assert text == f"<search>{ref_obs['question']}</search>"
    obs, reward, terminated, truncated, info = wrapped.step(names.index("search"))
    assert info["action_kind"] == "search" and len(info["retrieved_pages"]) == 1
    obs, reward, terminated, truncated, info = wrapped.step(names.index("crop_best"))
    assert info["action_kind"] == "crop" and info["num_crops"] == 1
    obs, reward, terminated, truncated, info = wrapped.step(names.index("answer_0"))
    assert terminated and "score" in info


def test_missing_candidate_is_an_invalid_answer(wrapped: MacroActionWrapper) -> None:
    wrapped.reset(seed=0)
    last = len(wrapped.actions) - 1
    _, reward, terminated, _, info = wrapped.step(last)  # no page read yet: no candidates
    assert info["action_kind"] == "invalid" and not terminated and float(reward) < 0


def test_small_print_is_read_only_after_zooming() -> None:
    # The text-layer reader's legibility model (the OCR reader's is the OCR itself).
    wrapped = MacroActionWrapper(gym.make("VRAG-Tiny-v0", split="test"), candidates="text-layer")
    u = wrapped.env.unwrapped
    query = next(q for q in u.questions if q.small_print and q.source_type == "table")
    wrapped.reset(seed=0, options={"question_id": query.uid})
    names = [a.name for a in wrapped.actions]
    _, _, _, _, info = wrapped.step(names.index("search"))
    scale = info["view"]["scale"]
    assert all(s.height * scale >= LEGIBLE_PX - 1e-6 for s in wrapped._segments)
    page = u.corpus.pages[u.real_page_id(info["current_page"])]
    small = [w for w in page.words if (w.box[3] - w.box[1]) * scale < LEGIBLE_PX]
    assert small and len(wrapped._illegible) == len(small)
    _, _, _, _, info = wrapped.step(names.index("crop_best"))
    assert info["view"]["scale"] > scale
    zoomed = " ".join(s.text for s in wrapped._segments).split()
    assert len(wrapped._illegible) < len(small)
    assert any(w.text in zoomed for w in small)


def test_wrapped_env_is_deterministic() -> None:
    a = MacroActionWrapper(gym.make("VRAG-Tiny-v0", split="test"))
    b = MacroActionWrapper(gym.make("VRAG-Tiny-v0", split="test"))
    oa, _ = a.reset(seed=11)
    ob, _ = b.reset(seed=11)
    for action in (0, len(a.actions) - len(a.actions) + 5, 0, len(a.actions) - 8):
        oa, ra, *_ = a.step(action)
        ob, rb, *_ = b.step(action)
        assert ra == rb
        for key in oa:
            np.testing.assert_array_equal(oa[key], ob[key])


def test_rank_candidates_reads_a_table_cell() -> None:
    # A tiny table: header row, two data rows (boxes in any frame).
    cells = [
        ("Region", 0), ("Q1", 200), ("Q2", 300), ("FY 2022", 400),
    ]  # fmt: skip
    segments = [Segment(t, (x, 0, x + 60, 10)) for t, x in cells]
    for y, (label, values) in enumerate(
        [("Europe", ["10.1", "12.2", "40.0"]), ("Africa", ["5.5", "6.6", "20.0"])], 1
    ):
        segments.append(Segment(label, (0, 20 * y, 80, 20 * y + 10)))
        segments += [
            Segment(v, (x, 20 * y, x + 60, 20 * y + 10))
            for v, x in zip(values, (200, 300, 400), strict=True)
        ]
    best = rank_candidates(
        segments, "What was Acme's revenue from Africa in the second quarter of 2022?"
    )
    assert best[0].text == "6.6"
    best = rank_candidates(segments, "What was Acme's full-year 2022 revenue in Europe?")
    assert best[0].text == "40.0"


def test_rank_candidates_reads_prose_and_drops_answers_in_the_question() -> None:
    words = "Acme Group is a logistics company headquartered in Lisbon . Founded in 1987 , it runs 12 sites".split()
    line = segments_from_words(
        [(w, (i * 60.0, 0.0, i * 60.0 + 50, 10.0)) for i, w in enumerate(words)], gap=2.0
    )
    assert rank_candidates(line, "Where is Acme headquartered?")[0].text == "Lisbon"
    assert rank_candidates(line, "In which year was Acme founded?")[0].text == "1987"
    assert all(c.text != "Acme Group" for c in rank_candidates(line, "Where is Acme Group based?"))


def test_question_analysis() -> None:
    qa = analyze_question(
        "What prior-year revenue from Europe is given in Acme's 2022 annual report?"
    )
    assert qa.terms["fy2021"] == 2.0 and qa.expects == "number"
    assert analyze_question("Who audited Acme's 2021 accounts?").expects == "name"
    assert analyze_question("On what date was the report approved?").expects == "date"
    assert analyze_question("Which month saw the lowest volume?").extreme == -1
