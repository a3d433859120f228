"""Hostile agent output: the parser only ever raises its own error, episodes go on, results are written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vrag_env  # noqa: F401
from agents.base import Agent
from vrag_env.actions import MAX_JSON_DEPTH, ActionParseError, ActionSet, Answer, Search

VRAG = ActionSet("vrag")
TOOL = ActionSet("tool")

digits = st.integers(min_value=1, max_value=12000).map(lambda n: "9" * n)
nesting = st.integers(min_value=1, max_value=30000)
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)
surrogates = st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1)


def _parse_or_own_error(actions: ActionSet, text: str) -> Any:
    try:
        return actions.parse(text)
    except ActionParseError:
        return None


@settings(max_examples=150, deadline=None)
@given(number=digits, sign=st.sampled_from(["", "-"]), frac=st.sampled_from(["", ".5", "e999"]))
def test_huge_numbers_never_escape(number, sign, frac):
    literal = f"{sign}{number}{frac}"
    _parse_or_own_error(VRAG, f"<bbox>[{literal}, 1, 2, 3]</bbox>")
    _parse_or_own_error(TOOL, f'{{"name": "crop", "arguments": {{"box": [{literal}, 0, 1, 1]}}}}')


@settings(max_examples=60, deadline=None)
@given(depth=nesting, opener=st.sampled_from(["[", '{"a":']))
def test_deep_nesting_never_escapes(depth, opener):
    closer = "]" if opener == "[" else "}"
    blob = opener * depth + "1" + closer * depth
    _parse_or_own_error(TOOL, f'{{"name": "crop", "arguments": {blob}}}')
    _parse_or_own_error(TOOL, json.dumps({"name": "crop", "arguments": blob}))
    _parse_or_own_error(VRAG, f"<bbox>{blob}</bbox>")


def test_nesting_limit_is_exact():
    ok = "[" * (MAX_JSON_DEPTH - 2) + "1" + "]" * (MAX_JSON_DEPTH - 2)
    too_deep = "[" * (MAX_JSON_DEPTH + 1) + "1" + "]" * (MAX_JSON_DEPTH + 1)
    with pytest.raises(ActionParseError, match=r"must be an object|box"):
        TOOL.parse(f'{{"name": "crop", "arguments": {{"box": {ok}}}}}')
    with pytest.raises(ActionParseError, match="nested deeper"):
        TOOL.parse(f'{{"name": "crop", "arguments": {{"box": {too_deep}}}}}')


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=any_text)
def test_arbitrary_text_in_both_dialects(text):
    for actions in (VRAG, TOOL):
        for wrapped in (
            text,
            f"<search>{text}</search>",
            f"<answer>{text}</answer>",
            f"<bbox>{text}</bbox>",
            f'{{"name": "search", "arguments": {{"query": "{text}"}}}}',
            f"<tool_call>{text}</tool_call>",
        ):
            result = _parse_or_own_error(actions, wrapped)
            if isinstance(result, (Search, Answer)):
                text_out = result.query if isinstance(result, Search) else result.text
                text_out.encode("utf-8")  # always valid UTF-8


@settings(max_examples=100, deadline=None)
@given(bad=surrogates, good=st.text(max_size=20))
def test_lone_surrogates_are_replaced(bad, good):
    answer = VRAG.parse(f"<answer>x{bad}{good}</answer>")
    assert isinstance(answer, Answer)
    answer.text.encode("utf-8")
    assert "\ufffd" in answer.text
    call = json.dumps({"name": "search", "arguments": {"query": f"q{bad}"}})  # \udXXX escapes
    query = TOOL.parse(call)
    assert isinstance(query, Search) and query.query.encode("utf-8")


def test_the_guard_turns_any_other_exception_into_a_parse_error(monkeypatch):
    actions = ActionSet("vrag")

    def broken(text: str) -> Any:
        raise KeyError("internal slip")

    monkeypatch.setattr(actions, "_parse_vrag", broken)
    with pytest.raises(ActionParseError, match="could not be parsed"):
        actions.parse("<search>x</search>")


def test_hostile_steps_keep_the_episode_and_info_serialisable():
    env = gym.make("VRAG-Tiny-v0")
    env.reset(seed=0)
    for action in (
        "<bbox>[" + "1" * 5000 + ", 1, 2, 3]</bbox>",
        "<bbox>" + "[" * 100000 + "</bbox>",
        "<search>annual \ud800 report</search>",
        "<answer>\udc00 oops</answer>",
    ):
        obs, reward, terminated, _, info = env.step(action)
        assert env.observation_space.contains(obs)
        json.dumps(info, ensure_ascii=False).encode("utf-8")
    assert terminated and info["prediction"] == "\ufffd oops"


@pytest.mark.parametrize(
    "options",
    [{"question_id": ["x"]}, {"question_id": 3}, {"question_id": {"a": 1}}, {1: 2}, ["x"]],
)
def test_bad_reset_options_are_value_errors_naming_the_option(options):
    env = gym.make("VRAG-Tiny-v0")
    with pytest.raises(ValueError, match=r"question_id|reset option"):
        env.reset(options=options)


class SurrogateAgent(Agent):
    """Searches, then answers with lone surrogates (hostile output)."""

    name = "surrogate"

    def __init__(self) -> None:
        self.turn = 0

    @classmethod
    def from_env(cls, env: gym.Env[Any, Any], **options: Any) -> SurrogateAgent:
        """No options."""
        return cls()

    def reset(self) -> None:
        """New episode."""
        self.turn = 0

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Hostile strings."""
        self.turn += 1
        if self.turn == 1:
            return "<bbox>[" + "9" * 5000 + "\ud800" + "[" * 3000 + "</bbox>"
        if self.turn == 2:
            return "<search>annual \ud800\udfff report</search>"
        return "<answer>\ud800 \udbff 42</answer>"


def test_vrag_eval_always_writes_its_results(tmp_path: Path):
    from vrag_env.commands import main

    out = tmp_path / "results.json"
    code = main(
        [
            "eval",
            "--agent",
            "tests.test_hostile_actions:SurrogateAgent",
            "--env-id",
            "VRAG-Tiny-v0",
            "--episodes",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0, code
    results = json.loads(out.read_text(encoding="utf-8"))
    assert len(results["episodes"]) == 3
    assert all(e["prediction"] == "\ufffd \ufffd 42" for e in results["episodes"])


def test_a_ppo_policy_inside_a_corpus_folder_is_refused_before_it_is_opened():
    from agents.ppo_agent import PPOAgent

    env = gym.make("VRAG-Tiny-v0")
    inside = Path(env.unwrapped.corpus.root) / "index" / "policy.zip"
    with pytest.raises(ValueError, match="inside the corpus folder"):
        PPOAgent(env, policy=str(inside))  # refused whether or not the file exists
