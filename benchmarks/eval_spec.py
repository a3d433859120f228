"""What an evaluation runs on: an env id, its arguments, the questions and the seeds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

__all__ = ["EvalSpec"]


@dataclass
class EvalSpec:
    """What to evaluate on.

    Attributes:
        env_id: Registered env id (with its ``-vN`` version).
        env_kwargs: Keyword arguments for ``gym.make`` (corpus, split, dialect, reward, ...).
        question_ids: Explicit question ids; when ``None``, ``episodes`` ids are drawn from the split
            with ``seed``.
        episodes: Number of episodes when ``question_ids`` is ``None``.
        seed: Seeds question selection and each episode's ``reset`` (``seed + i``).
        max_episode_steps: Overrides the registered step limit.
        name: Benchmark name recorded in results (``None`` for an ad-hoc run).
    """

    env_id: str = "VRAG-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    question_ids: list[str] | None = None
    episodes: int = 100
    seed: int = 0
    max_episode_steps: int | None = None
    name: str | None = None

    def make_env(self) -> gym.Env[Any, Any]:
        """Build the env this spec describes."""
        kwargs = dict(self.env_kwargs)
        if self.max_episode_steps is not None:
            kwargs["max_episode_steps"] = self.max_episode_steps
        return gym.make(self.env_id, **kwargs)
