"""The random baseline: actions drawn from the action set's own sampler.

About 70% of its actions are valid (random searches, random crops, random one-word answers) and 30%
malformed, so it also exercises the invalid-action penalty. It is the floor of the leaderboard.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vrag_env.actions import ActionSet
from vrag_env.agent_api import EnvDescription, describe_env

from .base import Agent


class RandomAgent(Agent):
    """Samples each action with :meth:`vrag_env.actions.ActionSet.sample`.

    Args:
        action_set: The env's action set (its dialect and view size).
        seed: Seed of the agent's own generator; ``reset`` does not reseed, so episodes differ.
    """

    name = "random"
    description = "floor: actions sampled from the action space"

    def __init__(self, action_set: ActionSet, seed: int = 0) -> None:
        self.action_set = action_set
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    @classmethod
    def from_env(cls, description: EnvDescription, **options: Any) -> RandomAgent:
        """Use the action set of the env's public description."""
        return cls(describe_env(description).action_set, **options)

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """A random action string."""
        return self.action_set.sample(self.rng)

    def config(self) -> dict[str, Any]:
        """The seed and dialect."""
        return {"seed": self.seed, "dialect": self.action_set.dialect}
