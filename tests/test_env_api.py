"""The Gymnasium test battery on every registered vrag_env id, plus the env's own contract."""

from __future__ import annotations

import json
import pickle
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import InvalidAction
from gymnasium.utils.env_checker import check_env, data_equivalence

import vrag_env

VRAG_IDS = sorted(
    env_id for env_id, spec in gym.registry.items() if str(spec.entry_point).startswith("vrag_env")
)
# The full battery runs on the tiny corpus; the default corpus is covered by a smaller set of checks.
FAST_KW = {"preset": "tiny"}

CHECK_ENV_IGNORE_WARNINGS = [
    # Unicode is a custom Space: Gymnasium cannot sample-check it like its own spaces.
    "is not a Gymnasium Space",
]


def make(env_id="VRAG-Tiny-v0", **kw):
    return gym.make(env_id, **kw)


def test_ids_registered():
    assert {"VRAG-v0", "VRAG-Tiny-v0", "VRAG-Tool-v0"} <= set(VRAG_IDS)
    assert gym.spec("VRAG-v0").max_episode_steps == vrag_env.MAX_EPISODE_STEPS


@pytest.mark.parametrize("env_id", VRAG_IDS)
def test_check_env(env_id):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gym.make(env_id, **FAST_KW).unwrapped
        check_env(env)
        env.close()
    unexpected = [
        str(w.message)
        for w in caught
        if not any(ok in str(w.message) for ok in CHECK_ENV_IGNORE_WARNINGS)
    ]
    assert unexpected == []


@pytest.mark.parametrize("env_id", VRAG_IDS)
def test_make_step_passive_checker_and_spec_json(env_id):
    env = gym.make(env_id, **FAST_KW)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)
    assert isinstance(reward, float)
    spec = json.loads(env.spec.to_json())
    assert spec["id"] == env_id
    assert gym.spec(env_id) is not None
    json.dumps(info)
    env.close()


def test_make_with_module_prefix():
    env = gym.make("vrag_env:VRAG-Tiny-v0")
    env.reset(seed=1)
    env.close()


def _rollout(env, actions, seed):
    out = [env.reset(seed=seed)]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        out.append((obs, reward, terminated, truncated, info))
        if terminated or truncated:
            break
    return out


@pytest.mark.parametrize("dialect", ["vrag", "tool"])
def test_same_seed_same_episode(dialect):
    env_a, env_b = make(dialect=dialect), make(dialect=dialect)
    env_a.action_space.seed(5)
    actions = [env_a.action_space.sample() for _ in range(12)]
    a = _rollout(env_a, actions, seed=42)
    b = _rollout(env_b, actions, seed=42)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert data_equivalence(x, y, exact=True)


@pytest.mark.parametrize("dialect", ["vrag", "tool"])
def test_oracle_episodes_are_deterministic(dialect):
    from agents.oracle import OracleAgent

    results = []
    for _ in range(2):
        env = make(dialect=dialect, split="test")
        agent = OracleAgent.from_env(env)
        trace = []
        for seed in range(3):
            obs, info = env.reset(seed=seed)
            agent.reset()
            done = False
            while not done:
                obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
                trace.append((obs, reward, terminated, truncated, info))
                done = terminated or truncated
            assert terminated and info["score"]["anls"] == 1.0
        results.append(trace)
    assert data_equivalence(results[0], results[1], exact=True)


def test_pickle_round_trip():
    env = make()
    obs, info = env.reset(seed=3)
    clone = pickle.loads(pickle.dumps(env))
    assert data_equivalence(clone.reset(seed=3), (obs, info), exact=True)
    action = "<search>annual report revenue</search>"
    assert data_equivalence(
        clone.step(action), (env.reset(seed=3), env.step(action))[1], exact=True
    )


@pytest.mark.parametrize("mode", ["rgb_array", "ansi"])
def test_render_modes(mode):
    env = make(render_mode=mode)
    env.reset(seed=0)
    first = env.render()
    env.step("<search>annual report</search>")
    frame = env.render()
    if mode == "rgb_array":
        h, w = env.unwrapped.view_size
        assert frame.shape == (h, 2 * w, 3) and frame.dtype == np.uint8
        assert not np.array_equal(frame, first)  # a page is shown now
        # the red view box is drawn on the page (left half)
        left = frame[:, :w]
        assert ((left[..., 0] > 200) & (left[..., 1] < 80) & (left[..., 2] < 80)).sum() > 100
    else:
        assert "question:" in frame and "page" in frame and isinstance(first, str)


def test_truncation_at_step_limit():
    env = make(max_episode_steps=3)
    env.reset(seed=0)
    for i in range(3):
        _, _, terminated, truncated, _ = env.step("<search>report</search>")
        assert not terminated
        assert truncated == (i == 2)
    assert env.unwrapped._get_info()["score"] == {}
    assert env.unwrapped.episode_score()["anls"] == 0.0


def test_non_string_action_raises_invalid_action():
    env = make()
    env.reset(seed=0)
    for bad in (None, 3, b"<search>x</search>", ["<answer>1</answer>"]):
        with pytest.raises(InvalidAction):
            env.step(bad)


def test_reset_options_pin_question_and_validate():
    env = make(split="test")
    uid = env.unwrapped.questions[1].uid
    _, info = env.reset(seed=0, options={"question_id": uid})
    assert info["question_id"] == uid
    with pytest.raises(ValueError, match="unknown question_id"):
        env.reset(options={"question_id": "nope"})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"question": "x"})


def test_bad_constructor_arguments_name_the_value():
    with pytest.raises(ValueError, match="dialect"):
        make(dialect="xml")
    with pytest.raises(ValueError, match="Valid arguments"):
        make(colour="red")
    with pytest.raises(ValueError, match="Available presets"):
        gym.make("VRAG-v0", preset="nope")
    with pytest.raises(ValueError, match="Available retrievers"):
        make(retriever="nope")
    with pytest.raises(FileNotFoundError, match="vrag ingest"):
        make(corpus="/does/not/exist")


def test_import_is_light():
    import subprocess

    code = (
        "import sys, vrag_env, gymnasium as gym; "
        "heavy = [m for m in ('torch', 'transformers', 'faiss', 'trl', 'colpali_engine') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_make_default_env_imports_no_heavy_modules():
    import subprocess

    code = (
        "import sys, vrag_env, gymnasium as gym; env = gym.make('VRAG-v0'); env.reset(seed=0); "
        "env.step('<search>revenue</search>'); "
        "print([m for m in ('torch', 'transformers', 'faiss') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
