"""vrag-env: visual retrieval-augmented generation as a Gymnasium environment.

>>> import gymnasium as gym
>>> import vrag_env
>>> "VRAG-v0" in gym.registry
True

Importing this package only registers the environments: no corpus is generated, no model loaded.
"""

from __future__ import annotations

from gymnasium.envs.registration import register

__version__ = "0.1.0"

MAX_EPISODE_STEPS = 10
"""Step limit of the registered ids: enough for two searches, two crops and an answer, with slack."""

# String entry points keep EnvSpec.to_json() working; Gymnasium >= 1.0 no longer reads the
# `gymnasium.envs` entry-point group, so registration happens on import (`gym.make("vrag_env:VRAG-v0")`
# imports this module first).
register(
    id="VRAG-v0",
    entry_point="vrag_env.env:VRAGEnv",
    max_episode_steps=MAX_EPISODE_STEPS,
    kwargs={"preset": "default"},
)
register(
    id="VRAG-Tiny-v0",
    entry_point="vrag_env.env:VRAGEnv",
    max_episode_steps=MAX_EPISODE_STEPS,
    kwargs={"preset": "tiny"},
)
register(
    id="VRAG-Tool-v0",
    entry_point="vrag_env.env:VRAGEnv",
    max_episode_steps=MAX_EPISODE_STEPS,
    kwargs={"preset": "tool"},
)

__all__ = ["MAX_EPISODE_STEPS", "__version__"]
