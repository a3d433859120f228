"""Agents by name: built-in baselines plus any ``module:Class`` a user points at."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from vrag_env._entry_points import lookup

from .base import Agent

BUILTIN_AGENTS: dict[str, str] = {
    "random": "agents.random_agent:RandomAgent",
    "oracle": "agents.oracle:OracleAgent",
    "heuristic": "agents.heuristic:HeuristicAgent",
    "ppo": "agents.ppo_agent:PPOAgent",
    "vlm": "agents.vlm.agent:VLMAgent",
    "grpo": "agents.vlm.agent:GRPOAgent",
    "prior": "agents.prior:PriorAgent",
    "no-search": "agents.no_search:NoSearchAgent",
    "no-zoom": "agents.heuristic:NoZoomAgent",
    "scripted": "agents.scripted:ScriptedAgent",
    "ppo-text-layer": "agents.ppo_agent:PPOTextLayerAgent",
}


def resolve_agent_class(spec: str) -> type[Agent]:
    """Resolve ``spec`` (a built-in name or ``"module:Class"``) to an agent class.

    Raises:
        ValueError: For an unknown name or a path that does not name an :class:`Agent` subclass.
    """
    cls = lookup(BUILTIN_AGENTS, spec, "agent", allow_path=True)
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise ValueError(f"{BUILTIN_AGENTS.get(spec, spec)!r} is not an agents.base.Agent subclass")
    return cls


def make_agent(spec: str, env: gym.Env[Any, Any], **options: Any) -> Agent:
    """Build an agent by name or ``module:Class`` for ``env`` with keyword ``options``."""
    return resolve_agent_class(spec).from_env(env, **options)
