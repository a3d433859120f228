"""vrag-env: visual retrieval-augmented generation as a Gymnasium environment.

>>> import gymnasium as gym
>>> import vrag_env
>>> "VRAG-v0" in gym.registry
True

Importing this package only registers the environments: no corpus is generated, no model loaded,
and no heavy library (torch, transformers, faiss, scipy, matplotlib) is imported. The names users need
are exported here and imported on first access (PEP 562), e.g. ``from vrag_env import VRAGEnv, Corpus``.
"""

from __future__ import annotations

from typing import Any

from gymnasium.envs.registration import register

from vrag_env._entry_points import load_entry_point
from vrag_env._version import __version__

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

# Public name -> "module:object", imported on first access.
_EXPORTS: dict[str, str] = {
    # the environment and its configuration
    "VRAGEnv": "vrag_env.env:VRAGEnv",
    "VRAGConfig": "vrag_env.presets:VRAGConfig",
    "resolve_config": "vrag_env.presets:resolve_config",
    # actions
    "ActionSet": "vrag_env.actions:ActionSet",
    "Search": "vrag_env.actions:Search",
    "Crop": "vrag_env.actions:Crop",
    "Answer": "vrag_env.actions:Answer",
    "ActionParseError": "vrag_env.actions:ActionParseError",
    "IllegalActionError": "vrag_env.actions:IllegalActionError",
    # rewards
    "RewardConfig": "vrag_env.rewards:RewardConfig",
    "get_reward_config": "vrag_env.rewards:get_reward_config",
    "anls": "vrag_env.rewards:anls",
    "exact_match": "vrag_env.rewards:exact_match",
    "ndcg": "vrag_env.rewards:ndcg",
    # corpora
    "Page": "vrag_env.types:Page",
    "Query": "vrag_env.types:Query",
    "Word": "vrag_env.types:Word",
    "ScoredPage": "vrag_env.types:ScoredPage",
    "CorpusFormatError": "vrag_env.types:CorpusFormatError",
    "Corpus": "vrag_env.corpora.corpus:Corpus",
    "CorpusWriter": "vrag_env.corpora.corpus:CorpusWriter",
    "builtin_corpus": "vrag_env.corpora.synthetic:builtin_corpus",
    "load_corpus": "vrag_env.loading:load_corpus",
    # retrieval
    "Retriever": "vrag_env.retrieval.base:Retriever",
    "make_retriever": "vrag_env.retrieval.base:make_retriever",
    "register_retriever": "vrag_env.retrieval.base:register_retriever",
    "registered_retrievers": "vrag_env.retrieval.base:registered_retrievers",
    "load_retriever": "vrag_env.loading:load_retriever",
    # results provenance (shared by the evaluation runner and the trainers)
    "provenance": "vrag_env.provenance:provenance",
    "git_sha": "vrag_env.provenance:git_sha",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first access (PEP 562)."""
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'vrag_env' has no attribute {name!r}")
    value = load_entry_point(target)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = ["MAX_EPISODE_STEPS", "__version__", *_EXPORTS]
