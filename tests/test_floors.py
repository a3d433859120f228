"""The blind floors: ``prior`` (train statistics) and ``no-search`` (the question alone)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import pytest

from agents.no_search import guess_from_question
from agents.prior import PriorAgent
from agents.registry import make_agent
from vrag_env.rewards import exact_match


@pytest.fixture(scope="module")
def env() -> Iterator[gym.Env[Any, Any]]:
    e = gym.make("VRAG-Tiny-v0", split="test")
    yield e
    e.close()


@pytest.mark.parametrize("name", ["prior", "no-search"])
def test_floor_answers_at_step_one_and_is_not_privileged(env: gym.Env[Any, Any], name: str) -> None:
    agent = make_agent(name, env)
    assert agent.config()["privileged"] is False
    obs, info = env.reset(seed=0)
    agent.reset()
    _, _, terminated, _, info = env.step(agent.act(obs, info))
    assert terminated
    assert info["action_kind"] == "answer"


def test_prior_reads_only_the_train_split(env: gym.Env[Any, Any]) -> None:
    agent = make_agent("prior", env)
    assert isinstance(agent, PriorAgent)
    corpus = env.unwrapped.corpus  # type: ignore[attr-defined]
    assert agent.config()["train_questions"] == len(corpus.split("train"))
    # A train question is answered from memory: the prior does learn what the train split says.
    train = corpus.split("train")
    memorised = sum(exact_match(agent.guess(q.question), q.answers) for q in train) / len(train)
    assert memorised > 0.2, memorised


def test_prior_learns_from_another_split_when_asked(env: gym.Env[Any, Any]) -> None:
    # The real-document track has no train split: the leaderboard lends the prior its tuning split.
    agent = make_agent("prior", env, train_split="val")
    assert isinstance(agent, PriorAgent)
    corpus = env.unwrapped.corpus  # type: ignore[attr-defined]
    val = corpus.split("val")
    assert agent.config()["train_split"] == "val"
    assert agent.config()["train_questions"] == len(val)
    memorised = sum(exact_match(agent.guess(q.question), q.answers) for q in val) / len(val)
    assert memorised > 0.2, memorised
    with pytest.raises(ValueError, match="no answered question in split 'nope'"):
        make_agent("prior", env, train_split="nope")


def test_floors_fail_on_test_companies(env: gym.Env[Any, Any]) -> None:
    # The split is by company: nothing learnt from train predicts a test answer.
    agent = make_agent("prior", env)
    assert isinstance(agent, PriorAgent)
    test = env.unwrapped.corpus.split("test")  # type: ignore[attr-defined]
    prior = sum(exact_match(agent.guess(q.question), q.answers) for q in test) / len(test)
    blind = sum(exact_match(guess_from_question(q.question), q.answers) for q in test) / len(test)
    assert prior <= 0.05, prior
    assert blind <= 0.03, blind
