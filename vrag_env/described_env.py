"""An env that only describes: the spaces and action set of an env, without its data."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

__all__ = ["DescribedEnv"]


class DescribedEnv(gym.Env[dict[str, Any], str]):
    """An env that only describes: the spaces and action set of an :class:`EnvDescription`.

    Agents built from a description (no env) use it to hold a :class:`MacroActionWrapper` that
    observes ``(observation, info)`` and translates macro-actions, without ever stepping it.

    Args:
        description: The env's public description (:func:`vrag_env.agent_api.describe_env`).
    """

    def __init__(self, description: Any) -> None:
        self.action_set = description.action_set
        self.observation_space = description.observation_space
        self.action_space = description.action_space
        self.max_steps = description.max_steps

    def step(self, action: str) -> Any:
        """Refused: this env only describes the real one."""
        raise RuntimeError(
            "DescribedEnv only describes an env; step the real env and pass (observation, info) "
            "to MacroActionWrapper.observe"
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        """Refused: this env only describes the real one."""
        raise RuntimeError(
            "DescribedEnv only describes an env; reset the real env and call "
            "MacroActionWrapper.start_episode"
        )
