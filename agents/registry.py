"""Agents by name: built-in baselines plus any ``module:Class`` a user points at.

:func:`make_agent` is the harness's side of the agent API (``docs/agents.md``): it reduces the env
to its public :class:`~vrag_env.agent_api.EnvDescription` and builds the agent from that alone;
only classes that declare ``privileged = True`` also get a
:class:`~vrag_env.agent_api.PrivilegedChannel` onto the env's ground truth.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from vrag_env._entry_points import lookup
from vrag_env.agent_api import EnvDescription, PrivilegedChannel, describe_env, training_data

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

# Attributes an agent written against the old API (``from_env(env)``) reads off the env.
_OLD_API_ATTRIBUTES = frozenset(
    {"unwrapped", "env", "corpus", "retriever", "questions", "spec", "query"}
)


def resolve_agent_class(spec: str | type[Agent]) -> type[Agent]:
    """Resolve ``spec`` (a built-in name, ``"module:Class"`` or a class) to an agent class.

    Raises:
        ValueError: For an unknown name or a path that does not name an :class:`Agent` subclass.
    """
    cls = spec if isinstance(spec, type) else lookup(BUILTIN_AGENTS, spec, "agent", allow_path=True)
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise ValueError(
            f"{BUILTIN_AGENTS.get(str(spec), spec)!r} is not an agents.base.Agent subclass"
        )
    return cls


def make_agent(spec: str | type[Agent], env: gym.Env[Any, Any], **options: Any) -> Agent:
    """Build an agent by name, ``module:Class`` or class for ``env`` with keyword ``options``.

    The agent gets the env's :class:`EnvDescription`; a class with ``privileged = True`` gets a
    :class:`PrivilegedChannel` as well (``cls.from_privileged(description, channel, **options)``);
    a class with ``uses_training_data = True`` gets ``training_data``, the ``(question, answer)``
    pairs of the corpus's train split (or of ``options["train_split"]``), unless ``options``
    already has it.

    Raises:
        ValueError: For an unknown agent name.
        TypeError: For an agent class written against the old API, whose ``from_env`` reads the
            env (``env.unwrapped``, ``env.corpus``, ...): the message says how to port it.
    """
    cls = resolve_agent_class(spec)
    description = describe_env(env)
    if cls.privileged:
        return cls.from_privileged(description, PrivilegedChannel(env), **options)
    if getattr(cls, "uses_training_data", False) and options.get("training_data") is None:
        options["training_data"] = training_data(env, str(options.get("train_split", "train")))
    try:
        return cls.from_env(description, **options)
    except AttributeError as exc:
        if getattr(exc, "obj", None) is description or getattr(exc, "name", None) in (
            _OLD_API_ATTRIBUTES
        ):
            raise TypeError(
                f"agent {cls.__module__}.{cls.__qualname__}.from_env read {exc.name!r} of its "
                "argument, but agents are now built from the env's public description "
                "(vrag_env.agent_api.EnvDescription: action_set, observation_space, action_space, "
                "dialect, view_size, max_steps, config), not the env: use "
                "description.action_set instead of env.unwrapped.action_set; an agent that needs "
                "ground truth sets privileged = True and implements from_privileged(description, "
                "channel). See docs/agents.md"
            ) from exc
        raise


__all__ = ["BUILTIN_AGENTS", "EnvDescription", "make_agent", "resolve_agent_class"]
