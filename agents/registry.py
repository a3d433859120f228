"""Agents by name: built-in baselines plus any ``module:Class`` a user points at."""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym

from agents.base import Agent

BUILTIN_AGENTS: dict[str, str] = {
    "random": "agents.random_agent:RandomAgent",
    "oracle": "agents.oracle:OracleAgent",
    "heuristic": "agents.heuristic:HeuristicAgent",
    "ppo": "agents.ppo_agent:PPOAgent",
    "vlm": "agents.vlm.agent:VLMAgent",
    "grpo": "agents.vlm.agent:GRPOAgent",
    "prior": "agents.prior:PriorAgent",
    "no-search": "agents.no_search:NoSearchAgent",
}


def resolve_agent_class(spec: str) -> type[Agent]:
    """Resolve ``spec`` (a built-in name or ``"module:Class"``) to an agent class.

    Raises:
        ValueError: For an unknown name or a path that does not name an :class:`Agent` subclass.
    """
    target = BUILTIN_AGENTS.get(spec, spec)
    if ":" not in target:
        raise ValueError(
            f"unknown agent {spec!r}. Built-in agents: {sorted(BUILTIN_AGENTS)}; "
            "or give your own as 'module:Class'"
        )
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ValueError(f"cannot import agent module {module_name!r} for {spec!r}: {exc}") from exc
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise ValueError(f"{target!r} is not an agents.base.Agent subclass")
    return cls


def make_agent(spec: str, env: gym.Env[Any, Any], **options: Any) -> Agent:
    """Build an agent by name or ``module:Class`` for ``env`` with keyword ``options``."""
    return resolve_agent_class(spec).from_env(env, **options)
