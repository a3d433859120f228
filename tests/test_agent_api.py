"""Agents see only what an agent may see: the env's public description, never the env.

A snooping agent walks everything :func:`agents.registry.make_agent` hands it (attributes,
``__dict__``, ``__slots__``, ``vars``, class attributes through ``type(x).__mro__``, properties,
closures and defaults of methods, container items) and must find no env, corpus, retriever,
question record, gold answer or corpus page id. The oracle, which is privileged, still solves the
tiny corpus through its channel; ``info`` shows opaque page ids, and results files keep the real ones.
"""

from __future__ import annotations

import dataclasses
import re
import types
from collections import deque
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest

import vrag_env  # noqa: F401 - registers the env ids
from agents.base import Agent
from agents.oracle import OracleAgent
from agents.prior import PriorAgent
from agents.registry import make_agent
from benchmarks.runner import EvalSpec, evaluate
from vrag_env.agent_api import EnvDescription, PrivilegedChannel, describe_env
from vrag_env.corpora.corpus import Corpus
from vrag_env.retrieval.base import Retriever
from vrag_env.types import Query

ENV_ID = "VRAG-Tiny-v0"
OPAQUE = re.compile(r"^p[0-9a-f]{10}$")
# Routes the walk does not take: ``__globals__`` and modules lead to every loaded module
# (``sys.modules``), and so to anything in the process; in-process Python cannot be sealed
# against an agent that imports the env's modules on purpose (docs/agents.md says so).
_SKIP_NAMES = frozenset({"__globals__", "__builtins__", "__subclasses__", "__base__", "__bases__"})


def _make(**kwargs: Any) -> gym.Env[Any, Any]:
    return gym.make(ENV_ID, split="test", **kwargs)


def _reachable(roots: list[Any], limit: int = 200_000) -> list[Any]:
    """Every object reachable from ``roots`` by the routes an agent has without gc or imports."""
    seen: set[int] = set()
    out: list[Any] = []
    queue: deque[Any] = deque(roots)
    while queue and len(out) < limit:
        obj = queue.popleft()
        if id(obj) in seen or isinstance(obj, types.ModuleType):
            continue
        seen.add(id(obj))
        out.append(obj)  # kept alive, so ids are not reused during the walk
        queue.extend(c for c in _children(obj) if id(c) not in seen)
    assert len(out) < limit, "the walk did not finish; raise the limit"
    return out


def _children(obj: Any) -> list[Any]:
    """What one step from ``obj`` reaches.

    Instance state (``vars``, ``__slots__``, properties), container items, the object's class and
    the attributes along ``type(x).__mro__`` (builtins' own classes aside), and the closures,
    defaults and ``__wrapped__`` of every function and method.
    """
    if isinstance(obj, (str, bytes, int, float, bool, type(None), np.ndarray, np.generic)):
        return []
    if isinstance(obj, dict | types.MappingProxyType):
        return list(obj.keys()) + list(obj.values())
    if isinstance(obj, list | tuple | set | frozenset | deque):
        return list(obj)
    if isinstance(obj, types.MethodType):
        return [obj.__self__, obj.__func__]
    if isinstance(obj, types.FunctionType):
        cells = [c.cell_contents for c in obj.__closure__ or () if _filled(c)]
        defaults = list(obj.__defaults__ or ()) + list((obj.__kwdefaults__ or {}).values())
        return [*cells, *defaults, getattr(obj, "__wrapped__", None)]
    if isinstance(obj, property | classmethod | staticmethod):
        return [getattr(obj, n, None) for n in ("fget", "fset", "fdel", "__func__")]
    if isinstance(obj, type):
        return [
            v
            for klass in obj.__mro__
            if klass.__module__ != "builtins"
            for k, v in vars(klass).items()
            if k not in _SKIP_NAMES
        ]
    if type(obj).__module__ == "builtins":
        return []
    children: list[Any] = [type(obj)]
    try:
        children += list(vars(obj).values())
    except TypeError:
        pass
    for klass in type(obj).__mro__:
        for slot in getattr(klass, "__slots__", ()):
            if isinstance(slot, str) and hasattr(obj, slot):
                children.append(getattr(obj, slot))
        for name, attr in vars(klass).items():
            if isinstance(attr, property):  # what the object computes on request
                children.append(_get(obj, name))
    return children


def _get(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name)
    except Exception:  # a property that needs state the object lacks is no route
        return None


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


class SnoopingAgent(Agent):
    """Tries every route it has from what it was given to the env or its corpus."""

    name = "snooper"
    received: ClassVar[list[Any]] = []

    @classmethod
    def from_env(cls, description: EnvDescription, **options: Any) -> SnoopingAgent:
        """Record what the harness handed over."""
        cls.received[:] = [description, options]
        return cls()

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Answer at once."""
        return "<answer>unknown</answer>"


class OldApiAgent(Agent):
    """An agent written against the old API: its ``from_env`` reads ``env.unwrapped``."""

    name = "old"

    def __init__(self, action_set: Any) -> None:
        self.action_set = action_set

    @classmethod
    def from_env(cls, env: Any, **options: Any) -> OldApiAgent:
        """The old way: read the action set off the env."""
        return cls(env.unwrapped.action_set)

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Answer at once."""
        return "<answer>x</answer>"


@pytest.fixture(scope="module")
def env() -> gym.Env[Any, Any]:
    return _make()


def test_snooping_agent_reaches_no_env_corpus_or_gold_data(env: gym.Env[Any, Any]) -> None:
    u: Any = env.unwrapped
    make_agent(SnoopingAgent, env, seed=3)
    description, options = SnoopingAgent.received
    assert isinstance(description, EnvDescription) and options == {"seed": 3}

    reached = _reachable([description, options, SnoopingAgent])
    assert len(reached) > 200  # the walk did go somewhere: spaces, action set, classes, methods
    forbidden = (gym.Env, gym.Wrapper, Corpus, Retriever, Query, PrivilegedChannel)
    leaks = [type(o).__name__ for o in reached if isinstance(o, forbidden)]
    assert leaks == []
    strings = {o for o in reached if isinstance(o, str)}
    secrets = {a for q in u.corpus.queries.values() for a in q.answers if len(a) >= 4}
    secrets |= set(u.corpus.pages) | {str(u.corpus.root)}
    assert secrets and not strings & secrets
    assert not any(o is u.retriever or o is u.action_set for o in reached)


def test_the_walk_finds_a_corpus_behind_a_closure(env: gym.Env[Any, Any]) -> None:
    """The walk is able to find a leak: one hidden in a method's closure."""

    def hide(e: Any) -> Any:
        return lambda: e

    class Leaky:
        peek = staticmethod(hide(env))

    reached = _reachable([Leaky()])
    assert any(isinstance(o, Corpus) for o in reached)


@pytest.mark.parametrize(
    "route", ["env", "unwrapped", "corpus", "retriever", "questions", "_env", "spec", "query"]
)
def test_description_has_no_route_to_the_env(env: gym.Env[Any, Any], route: str) -> None:
    description = describe_env(env)
    for obj in (description, description.action_set, description.action_space):
        assert not hasattr(obj, route), (type(obj).__name__, route)
    with pytest.raises(TypeError):
        vars(description)
    assert not hasattr(description, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        description.env_id = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        description.config["corpus"] = "x"  # type: ignore[index]
    assert set(vars(description.action_set)) <= {
        "dialect",
        "strict",
        "view_size",
        "max_query_chars",
        "max_answer_chars",
    }
    assert {"corpus", "synthetic", "retriever_options"}.isdisjoint(description.config)


def test_description_mirrors_the_env(env: gym.Env[Any, Any]) -> None:
    u: Any = env.unwrapped
    description = describe_env(env)
    assert description.env_id == ENV_ID and description.max_steps == env.spec.max_episode_steps
    assert description.view_size == u.view_size and description.dialect == u.action_set.dialect
    assert description.describe() == u.action_set.describe()
    assert description.observation_space == u.observation_space
    assert description.action_set is not u.action_set
    # The description's action set parses exactly what the env's does.
    rng = np.random.default_rng(0)
    for _ in range(50):
        text = description.action_set.sample(rng)
        try:
            mine = description.action_set.parse(text)
        except ValueError as exc:
            with pytest.raises(type(exc)):
                u.action_set.parse(text)
        else:
            assert u.action_set.parse(text) == mine


def test_privileged_agents_alone_get_the_channel(env: gym.Env[Any, Any]) -> None:
    oracle = make_agent("oracle", env)
    assert isinstance(oracle, OracleAgent) and isinstance(oracle.channel, PrivilegedChannel)
    with pytest.raises(TypeError, match="privileged"):
        OracleAgent.from_env(describe_env(env))
    with pytest.raises(TypeError, match="not a privileged agent"):
        SnoopingAgent.from_privileged(describe_env(env), PrivilegedChannel(env))


def test_old_api_agent_gets_a_clear_error(env: gym.Env[Any, Any]) -> None:
    with pytest.raises(TypeError, match=r"EnvDescription.*docs/agents.md"):
        make_agent(OldApiAgent, env)


def test_prior_gets_train_split_answers_only(env: gym.Env[Any, Any]) -> None:
    u: Any = env.unwrapped
    prior = make_agent("prior", env)
    assert isinstance(prior, PriorAgent) and not prior.privileged
    train = {q.question for q in u.corpus.split("train")}
    assert len(prior.train) == len(train) > 0
    with pytest.raises(ValueError, match="training_data"):
        PriorAgent.from_env(describe_env(env))


def test_info_page_ids_are_opaque_on_a_synthetic_corpus(env: gym.Env[Any, Any]) -> None:
    u: Any = env.unwrapped
    # The corpus's own ids do give company and year away (what the opaque ids hide).
    years = re.compile(r"(19|20)\d\d")
    assert sum(bool(years.search(p)) for p in u.corpus.pages) > len(u.corpus.pages) / 2
    companies = {p.split("-")[0] for p in u.corpus.pages}
    shown: set[str] = set()
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        for _ in range(4):
            obs, _, terminated, truncated, info = env.step(f"<search>{obs['question']}</search>")
            shown |= set(info["retrieved_pages"])
            # Feedback echoes the agent's own query but names no page.
            assert not any(p in str(obs["feedback"]) for p in u.corpus.pages)
    assert len(shown) >= 4
    for page in shown:
        assert OPAQUE.match(page), page
        assert not years.search(page) and not any(c in page for c in companies)
        real = u.real_page_id(page)
        assert real in u.corpus.pages and u.shown_page_id(real) == page
    with pytest.raises(KeyError, match="opaque page id"):
        u.real_page_id(next(iter(u.corpus.pages)))


def test_oracle_solves_the_tiny_corpus_and_results_hold_real_ids(env: gym.Env[Any, Any]) -> None:
    u: Any = env.unwrapped
    spec = EvalSpec(env_id=ENV_ID, env_kwargs={"split": "test"}, episodes=len(u.questions))
    results = evaluate("oracle", spec, progress=False)
    assert results["metadata"]["privileged"] is True
    assert results["summary"]["accuracy"] == 1.0
    for ep in results["episodes"]:
        assert ep["retrieved_pages"] and set(ep["retrieved_pages"]) <= set(u.corpus.pages)
        assert set(ep["reference_pages"]) <= set(ep["retrieved_pages"])
        assert {p for p in ep["view_pages"] if p is not None} <= set(u.corpus.pages)
        assert ep["score"]["ndcg"] > 0


def test_unprivileged_results_say_so(env: gym.Env[Any, Any]) -> None:
    spec = EvalSpec(env_id=ENV_ID, env_kwargs={"split": "test"}, episodes=2)
    results = evaluate("no-search", spec, progress=False)
    assert results["metadata"]["privileged"] is False
