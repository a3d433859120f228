"""The agent protocol every baseline (and every user agent) implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import gymnasium as gym


class Agent(ABC):
    """An agent for ``VRAG-v0``: one action string per step.

    Subclasses set ``name`` and implement :meth:`act`. They may override :meth:`from_env` when they
    need more than keyword options (the oracle reads the env's corpus; the PPO agent loads a policy
    for the env's spaces) and :meth:`config` so results files record how the agent was set up.
    """

    name: str = "agent"

    @classmethod
    def from_env(cls, env: gym.Env[Any, Any], **options: Any) -> Agent:
        """Build the agent for ``env`` (default: ``cls(**options)``)."""
        return cls(**options)

    def reset(self) -> None:  # noqa: B027 - optional hook, most agents keep no episode state
        """Forget per-episode state; called before each episode."""

    @abstractmethod
    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Return the next action string for the current observation and info."""

    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings recorded in results files."""
        return {}
