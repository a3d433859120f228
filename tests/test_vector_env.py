"""Gymnasium vector envs with default arguments, checked against the same episodes run one by one.

Both ``SyncVectorEnv`` and ``AsyncVectorEnv`` (default ``shared_memory=True`` and the default
next-step autoreset) run two ``VRAG-Tiny-v0`` sub-envs on scripted actions whose episodes end at
different steps, so infos from sub-envs at different points of their episodes are merged, and
autoresets happen. Every observation, reward, flag and info value must equal those of a single env
fed the same actions, with the autoreset replayed by hand.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AsyncVectorEnv, SyncVectorEnv
from gymnasium.vector.utils import (
    batch_space,
    create_shared_memory,
    read_from_shared_memory,
    write_to_shared_memory,
)

import vrag_env  # noqa: F401 - registers the env ids
from vrag_env.spaces import Unicode

ENV_ID = "VRAG-Tiny-v0"
SEEDS = [3, 11]
STEPS = 14
# Per sub-env action scripts (cycled): valid searches and crops, a malformed action, an illegal
# crop before any page, and answers at different steps so the sub-envs reset at different times.
SCRIPTS = [
    [
        "<bbox>[0, 0, 50, 50]</bbox>",
        "<search>annual revenue</search>",
        "<bbox>[10, 10, 300, 200]</bbox>",
        "<answer>-1.1</answer>",
    ],
    [
        "<search>chart of sales</search>",
        "not an action",
        "<search>headquarters</search>",
        "<bbox>[0, 0, 120, 90]</bbox>",
        "<search>auditor</search>",
        "<answer>Aurora Group</answer>",
    ],
]
INFO_KEYS = ("step", "action_kind", "action_error", "current_page", "num_searches", "prediction")


def _single_trajectory(index: int) -> list[dict[str, Any]]:
    """One sub-env's trajectory, run alone, with gymnasium's next-step autoreset replayed."""
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=SEEDS[index])
    records = [{"obs": obs, "info": info, "reward": 0.0, "terminated": False, "truncated": False}]
    done = False
    script = SCRIPTS[index]
    for t in range(STEPS):
        if done:  # the vector env resets this sub-env and ignores its action
            obs, info = env.reset()
            reward, terminated, truncated = 0.0, False, False
        else:
            obs, reward, terminated, truncated, info = env.step(script[t % len(script)])
        done = terminated or truncated
        records.append(
            {
                "obs": obs,
                "info": info,
                "reward": float(reward),
                "terminated": terminated,
                "truncated": truncated,
            }
        )
    env.close()
    return records


def _check(vector_obs, vector_info, rewards, terms, truncs, expected, t) -> None:
    for i, exp in enumerate(expected):
        want = exp[t]
        assert vector_obs["question"][i] == want["obs"]["question"], (t, i)
        assert vector_obs["feedback"][i] == want["obs"]["feedback"], (t, i)
        np.testing.assert_array_equal(vector_obs["image"][i], want["obs"]["image"])
        assert float(rewards[i]) == pytest.approx(want["reward"]), (t, i)
        assert bool(terms[i]) == want["terminated"] and bool(truncs[i]) == want["truncated"]
        for key in INFO_KEYS:
            assert vector_info[key][i] == want["info"][key], (t, i, key)
        assert list(vector_info["retrieved_pages"][i]) == want["info"]["retrieved_pages"]
        view = want["info"]["view"]
        if view:
            assert vector_info["view"]["scale"][i] == view["scale"], (t, i)
            assert list(vector_info["view"]["region"][i]) == view["region"], (t, i)
        score = want["info"]["score"]
        if score:
            assert vector_info["score"]["_reward"][i]
            assert vector_info["score"]["reward"][i] == pytest.approx(score["reward"])
            assert vector_info["score"]["accuracy"][i] == score["accuracy"]


@pytest.fixture(scope="module")
def expected() -> list[list[dict[str, Any]]]:
    return [_single_trajectory(i) for i in range(len(SCRIPTS))]


@pytest.mark.parametrize("vector_cls", [SyncVectorEnv, AsyncVectorEnv])
def test_vector_env_matches_single_env(vector_cls, expected) -> None:
    envs = vector_cls([lambda: gym.make(ENV_ID) for _ in SCRIPTS])  # default arguments
    try:
        obs, info = envs.reset(seed=SEEDS)
        zeros = np.zeros(len(SCRIPTS))
        _check(obs, info, zeros, zeros.astype(bool), zeros.astype(bool), expected, 0)
        resets = 0
        for t in range(STEPS):
            actions = tuple(script[t % len(script)] for script in SCRIPTS)
            obs, rewards, terms, truncs, info = envs.step(actions)
            _check(obs, info, rewards, terms, truncs, expected, t + 1)
            resets += int(np.sum(terms | truncs))
        assert resets >= 3  # both sub-envs finished episodes and were reset
    finally:
        envs.close()


def test_info_keys_and_types_are_the_same_on_every_step(expected) -> None:
    for trajectory in expected:
        first = trajectory[0]["info"]
        for record in trajectory:
            info = record["info"]
            assert list(info) == list(first)
            for key in ("view", "score"):
                assert isinstance(info[key], dict)
            for key in ("retrieved_pages", "answers", "reference_pages"):
                assert isinstance(info[key], list)


def test_unicode_shared_memory_round_trip() -> None:
    space = Unicode(12)
    memory = create_shared_memory(space, n=3)
    texts = ["", "r\u00e9sum\u00e9 \u2212 1", "twelve chars"]
    for i, text in enumerate(texts):
        write_to_shared_memory(space, i, text, memory)
    view = read_from_shared_memory(space, memory, n=3)
    assert view == tuple(texts) and copy.deepcopy(view) == tuple(texts)
    write_to_shared_memory(space, 0, "later", memory)
    assert view[0] == "later"  # a live view, as AsyncVectorEnv needs
    assert type(copy.deepcopy(view)) is tuple
    with pytest.raises(ValueError, match="at most 12 characters"):
        write_to_shared_memory(space, 0, "x" * 13, memory)
    batched = batch_space(space, 3)
    assert len(batched.spaces) == 3 and all(s == space for s in batched.spaces)
    assert batched.contains(tuple(texts))
