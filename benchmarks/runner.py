"""The evaluation runner: one agent, a fixed list of questions, one results JSON.

Results hold ``metadata`` (provenance, env spec, seeds, agent config), ``summary`` (means and a
bootstrap 95% interval of ANLS), ``episodes`` (one record per question) and ``timing``. Everything but
``metadata.timestamp`` and ``timing`` is deterministic for a fixed spec, so re-running gives
byte-identical ``summary`` and ``episodes``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

import vrag_env  # noqa: F401 - registers the env ids
from agents.base import Agent
from agents.registry import make_agent
from benchmarks.provenance import provenance
from vrag_env._atomic import write_json_atomic

logger = logging.getLogger(__name__)

MAX_RECORDED_ACTION_CHARS = 2000


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


def select_questions(env: gym.Env[Any, Any], episodes: int, seed: int) -> list[str]:
    """``episodes`` question ids of the env's split, a seeded permutation (cycled if needed)."""
    questions = [q.uid for q in env.unwrapped.questions]  # type: ignore[attr-defined]
    if episodes > len(questions):
        logger.warning(
            "%d episodes but only %d questions in the split: %d questions are asked more than "
            "once; pass --episodes %d to ask each question once",
            episodes,
            len(questions),
            episodes - len(questions),
            len(questions),
        )
    order = np.random.default_rng(seed).permutation(len(questions))
    return [questions[int(order[i % len(order)])] for i in range(episodes)]


def run_episode(
    env: gym.Env[Any, Any], agent: Agent, question_id: str, seed: int
) -> dict[str, Any]:
    """Run one episode and return its JSON record."""
    obs, info = env.reset(seed=seed, options={"question_id": question_id})
    agent.reset()
    total, actions, kinds = 0.0, [], []
    terminated = truncated = False
    while not (terminated or truncated):
        action = agent.act(obs, info)
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        actions.append(action[:MAX_RECORDED_ACTION_CHARS])
        kinds.append(info["action_kind"])
    unwrapped: Any = env.unwrapped
    score = info.get("score") or unwrapped.episode_score()
    query = unwrapped.corpus.queries[question_id]
    return {
        "question_id": question_id,
        "question": query.question,
        "answers": list(query.answers),
        "prediction": unwrapped.episode_outcome().prediction,
        "reference_pages": list(query.reference_pages),
        "retrieved_pages": list(info["retrieved_pages"]),
        "source_type": query.source_type,
        "query_type": query.query_type,
        "small_print": query.small_print,
        "return": round(total, 6),
        "score": {k: round(float(v), 6) for k, v in score.items()},
        "steps": info["step"],
        "invalid_actions": info["invalid_actions"],
        "terminated": bool(terminated),
        "truncated": bool(truncated),
        "actions": actions,
        "action_kinds": kinds,
    }


def bootstrap_ci(values: Sequence[float], n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean (deterministic for a fixed ``seed``)."""
    if not values:
        return (0.0, 0.0)
    arr = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, len(arr), size=(n_boot, len(arr)))].mean(axis=1)
    return (round(float(np.percentile(means, 2.5)), 6), round(float(np.percentile(means, 97.5)), 6))


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate episode records into the results ``summary``."""
    n = len(records)
    if n == 0:
        return {"episodes": 0}

    def mean(values: list[float]) -> float:
        return round(float(np.mean(values)), 6)

    anls = [r["score"]["anls"] for r in records]
    steps = [r["steps"] for r in records]
    summary: dict[str, Any] = {
        "episodes": n,
        "anls": mean(anls),
        "anls_ci95": list(bootstrap_ci(anls)),
        "exact_match": mean([r["score"]["exact_match"] for r in records]),
        "f1": mean([r["score"]["f1"] for r in records]),
        "ndcg": mean([r["score"]["ndcg"] for r in records]),
        "mean_reward": mean([r["return"] for r in records]),
        "mean_steps": mean(steps),
        "invalid_action_rate": round(
            sum(r["invalid_actions"] for r in records) / max(1, sum(steps)), 6
        ),
        "answered_rate": mean([1.0 if r["prediction"] is not None else 0.0 for r in records]),
    }
    by_type: dict[str, list[float]] = {}
    for r in records:
        by_type.setdefault(r["query_type"] or "unknown", []).append(r["score"]["anls"])
        if r["small_print"] is not None:
            by_type.setdefault("small-print" if r["small_print"] else "large-print", []).append(
                r["score"]["anls"]
            )
    summary["anls_by_type"] = {k: mean(v) for k, v in sorted(by_type.items())}
    return summary


def evaluate(
    agent_spec: str,
    spec: EvalSpec,
    agent_options: dict[str, Any] | None = None,
    *,
    progress: bool = True,
    agent: Agent | None = None,
) -> dict[str, Any]:
    """Evaluate one agent on ``spec`` and return the results object.

    Args:
        agent_spec: Agent name (``"oracle"``, ...) or ``"module:Class"``.
        spec: The questions and env to evaluate on.
        agent_options: Keyword options for the agent.
        progress: Show a progress bar.
        agent: An already built agent (``agent_spec`` is then only recorded).
    """
    t0 = time.perf_counter()
    env = spec.make_env()
    try:
        agent = agent or make_agent(agent_spec, env, **(agent_options or {}))
        ids = spec.question_ids or select_questions(env, spec.episodes, spec.seed)
        t_setup = time.perf_counter() - t0
        records = []
        bar = tqdm(
            ids, desc=f"eval {agent.name}", unit="ep", disable=not progress, dynamic_ncols=True
        )
        running = 0.0
        for i, uid in enumerate(bar):
            record = run_episode(env, agent, uid, spec.seed + i)
            records.append(record)
            running += record["score"]["anls"]
            bar.set_postfix(anls=f"{running / (i + 1):.3f}", refresh=False)
        spec_json = env.spec.to_json() if env.spec is not None else None
    finally:
        env.close()
    elapsed = time.perf_counter() - t0
    return {
        "metadata": {
            **provenance(),
            "benchmark": spec.name,
            "env_id": spec.env_id,
            "env_kwargs": spec.env_kwargs,
            "env_spec": json.loads(spec_json) if spec_json else None,
            "seed": spec.seed,
            "episodes": len(records),
            "agent": {"name": agent.name, "spec": agent_spec, "config": agent.config()},
        },
        "summary": summarize(records),
        "episodes": records,
        "timing": {
            "setup_seconds": round(t_setup, 3),
            "total_seconds": round(elapsed, 3),
            "seconds_per_episode": round((elapsed - t_setup) / max(1, len(records)), 4),
        },
    }


def write_results(results: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a results object atomically (temp file + rename), readable by everyone (0644)."""
    return write_json_atomic(path, results, indent=1)
