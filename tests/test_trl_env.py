"""The TRL environment_factory adapter, driven directly against a real env (no TRL involved)."""

from __future__ import annotations

import inspect
import json
import math

import gymnasium as gym
import pytest
from PIL import Image

from agents.oracle import OracleAgent
from agents.vlm.trl_env import (
    ENDED_MESSAGE,
    VRAGToolEnv,
    build_prompt,
    environment_reward,
    question_rows,
    score_reward,
    tool_methods,
)
from vrag_env.rewards import get_reward_config

ENV_ID = "VRAG-Tiny-v0"
ENV_KWARGS = {"split": "train", "view_size": (112, 112), "max_view_pixels": 112 * 112}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return question_rows(ENV_ID, ENV_KWARGS, limit=4, seed=0)


@pytest.fixture
def tool_env() -> VRAGToolEnv:
    return VRAGToolEnv.factory(ENV_ID, ENV_KWARGS)()


def test_tools_are_the_public_methods_trl_collects(tool_env: VRAGToolEnv) -> None:
    # TRL collects plain functions of the class other than reset/get_reward and _private ones.
    collected = [
        name
        for name, _ in inspect.getmembers(type(tool_env), predicate=inspect.isfunction)
        if name not in ("reset", "get_reward") and not name.startswith("_")
    ]
    assert collected == ["answer", "crop", "search"]
    assert [f.__name__ for f in tool_methods(tool_env)] == collected
    transformers_utils = pytest.importorskip("transformers.utils")
    schemas = [transformers_utils.get_json_schema(f) for f in tool_methods(tool_env)]
    crop = next(s["function"] for s in schemas if s["function"]["name"] == "crop")
    assert crop["parameters"]["required"] == ["x1", "y1", "x2", "y2"]
    assert all(p["type"] == "number" for p in crop["parameters"]["properties"].values())


def test_rows_and_reset_with_a_dataset_row(tool_env: VRAGToolEnv, rows: list[dict]) -> None:
    row = rows[0]
    assert set(row) == {"prompt", "question_id"}
    assert row["prompt"][0]["role"] == "user" and "Question:" in row["prompt"][0]["content"]
    assert tool_env.reset(**row) is None  # the prompt already holds the question
    assert tool_env.info["question_id"] == row["question_id"]
    assert tool_env.question in row["prompt"][0]["content"]
    assert not tool_env.done and tool_env.get_reward() == 0.0
    # Without a prompt column the question comes back as text for the trainer to append.
    text = tool_env.reset(question_id=row["question_id"])
    assert text == build_prompt(tool_env.question)[0]["content"]


def test_search_crop_answer_and_reward_equal_the_env(
    tool_env: VRAGToolEnv, rows: list[dict]
) -> None:
    row = rows[1]
    tool_env.reset(**row)
    blocks = tool_env.search(tool_env.question)
    assert [b["type"] for b in blocks] == ["image", "text"]
    assert isinstance(blocks[0]["image"], Image.Image) and blocks[0]["image"].size == (112, 112)
    assert "Search result" in blocks[1]["text"]
    crop = tool_env.crop(0.1, 0.1, 0.6, 0.5)
    assert [b["type"] for b in crop] == ["image", "text"]
    assert tool_env.info["num_crops"] == 1
    message = tool_env.answer("42")
    assert message == "Answer submitted."
    assert tool_env.done

    # Replay the same actions on a plain env: the adapter's reward is exactly the env's return.
    env = gym.make(ENV_ID, dialect="tool", **ENV_KWARGS)
    env.reset(options={"question_id": row["question_id"]})
    total = 0.0
    for action in (
        {"name": "search", "arguments": {"query": tool_env.question}},
        {"name": "crop", "arguments": {"box": [0.1, 0.1, 0.6, 0.5]}},
        {"name": "answer", "arguments": {"answer": "42"}},
    ):
        _, reward, terminated, _, info = env.step(json.dumps(action))
        total += float(reward)
    assert terminated
    assert math.isclose(tool_env.get_reward(), total)
    assert tool_env.score == info["score"]
    # And the terminal reward is the one of vrag_env.rewards (no copy of the formula here).
    outcome = env.unwrapped.episode_outcome()
    assert math.isclose(total, get_reward_config("default").score(outcome)["reward"])
    # Calls after the end change nothing.
    assert tool_env.search("anything") == [{"type": "text", "text": ENDED_MESSAGE}]
    assert tool_env.get_reward() == total


@pytest.mark.parametrize(
    ("searched", "call", "error"),
    [
        (False, lambda e: e.crop(0.2, 0.2, 0.6, 0.6), "IllegalActionError"),  # nothing to crop
        (True, lambda e: e.crop(0.6, 0.2, 0.1, 0.5), "ActionParseError"),  # x2 < x1
        (True, lambda e: e.crop(0.1, 0.1, 1.5, 0.5), "ActionParseError"),  # not a fraction
        (True, lambda e: e.crop("a", 0.1, 0.5, 0.5), "ActionParseError"),  # not a number
        (False, lambda e: e.search(""), "ActionParseError"),  # empty query
        (False, lambda e: e.search(None), "ActionParseError"),  # wrong type
        (False, lambda e: e.answer(""), "ActionParseError"),  # empty answer
    ],
)
def test_bad_arguments_return_the_env_error_as_text(
    tool_env: VRAGToolEnv, rows: list[dict], searched: bool, call, error: str
) -> None:
    tool_env.reset(**rows[2])
    if searched:
        tool_env.search(tool_env.question)
    before = tool_env.get_reward()
    result = call(tool_env)  # never raises
    if isinstance(result, str):
        text = result
    else:
        assert [b["type"] for b in result] == ["text"]  # no image for a failed call
        text = result[0]["text"]
    assert text.startswith(error), text
    assert tool_env.info["action_error"] == error
    assert not tool_env.done
    assert tool_env.get_reward() == pytest.approx(before - 0.1)  # the env's invalid-action penalty


def test_reward_adapters_read_the_environments(tool_env: VRAGToolEnv, rows: list[dict]) -> None:
    env = gym.make(ENV_ID, dialect="tool", **ENV_KWARGS)
    oracle = OracleAgent.from_env(env)
    tool_env.reset(**rows[3])
    oracle.reset()
    while not tool_env.done:
        action = env.unwrapped.action_set.parse(oracle.act({}, tool_env.info))
        if type(action).__name__ == "Search":
            tool_env.search(action.query)
        elif type(action).__name__ == "Crop":
            # the action set's own fractions (a parsed crop is in observation-image pixels)
            tool_env.crop(*json.loads(env.unwrapped.action_set.format(action))["arguments"]["box"])
        else:
            tool_env.answer(action.text)
    idle = VRAGToolEnv.factory(ENV_ID, ENV_KWARGS)()
    idle.reset(**rows[0])
    rewards = environment_reward([[], [], []], environments=[tool_env, idle, object()])
    assert rewards[0] == pytest.approx(tool_env.get_reward()) and rewards[0] > 0.9
    assert rewards[1] == 0.0 and rewards[2] is None
    anls = score_reward("anls")
    assert anls.__name__ == "anls"
    assert anls([[], []], environments=[tool_env, idle]) == [1.0, 0.0]
    assert environment_reward([[]]) == [None]


def test_sft_targets_are_fractions_of_the_crop_pixels() -> None:
    from agents.vlm.sft_data import action_to_call
    from vrag_env.actions import Crop

    # a parsed crop is in observation pixels; the SFT target is its fractions, rounded outwards
    name, args = action_to_call(Crop((64.0, 128.0, 193.0, 256.0)), 2, view_size=(640, 640))
    assert name == "crop" and args == {"x1": 0.1, "y1": 0.2, "x2": 0.31, "y2": 0.4}
