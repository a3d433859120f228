"""The evaluation runner: one agent, a fixed list of questions, one results JSON.

Results hold ``metadata`` (provenance, env spec, seeds, agent config, the benchmark spec's
fingerprint, whether the agent is privileged, its description and checkpoint hash when it declares
them), ``summary`` (means, bootstrap 95% intervals of accuracy and ANLS, per-category accuracy),
``episodes`` (one record per question: prediction, gold answers, scores, and the categories the
leaderboard breaks results down by: ``query_type``, ``source_type``, ``needs_zoom``) and ``timing``.
Everything but ``metadata.timestamp`` and ``timing`` is deterministic for a fixed spec, so re-running
gives byte-identical ``summary`` and ``episodes``.

``accuracy`` (:func:`vrag_env.rewards.accuracy`) is the headline metric; the summary recomputes it
from each episode's prediction and gold answers, so a results file can be re-verified later by the
leaderboard (:mod:`benchmarks.verify`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

import vrag_env  # noqa: F401 - registers the env ids
from vrag_env._atomic import write_json_atomic
from vrag_env._entry_points import load_entry_point
from vrag_env.provenance import provenance
from vrag_env.rewards import accuracy

from .eval_spec import EvalSpec
from .summary import bootstrap_ci, summarize
from .verify import benchmark_fingerprint, resolve_benchmark

if TYPE_CHECKING:
    from agents.base import Agent

__all__ = [
    "EvalSpec",
    "bootstrap_ci",
    "evaluate",
    "needs_zoom_label",
    "run_episode",
    "select_questions",
    "summarize",
    "write_results",
]

logger = logging.getLogger(__name__)

MAX_RECORDED_ACTION_CHARS = 2000


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
    # The agent sees info's opaque page ids; results record the corpus's ids (the viewer re-renders
    # pages by id and NDCG compares them with the reference pages), read as the harness.
    unwrapped: Any = env.unwrapped
    agent.reset()
    total, actions, kinds = 0.0, [], []
    # Per step, for `vrag view`: the page shown after the step, its region in page pixels, the
    # feedback text and the step reward. Images are not stored; the viewer re-renders them.
    view_pages: list[str | None] = []
    view_regions: list[list[float] | None] = []
    feedback: list[str] = []
    rewards: list[float] = []
    terminated = truncated = False
    while not (terminated or truncated):
        action = agent.act(obs, info)
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        actions.append(action[:MAX_RECORDED_ACTION_CHARS])
        kinds.append(info["action_kind"])
        page = info["current_page"]
        view_pages.append(None if page is None else unwrapped.real_page_id(page))
        view_regions.append(list(info["view"]["region"]) if info.get("view") else None)
        feedback.append(str(obs["feedback"]))
        rewards.append(round(float(reward), 6))
    score = info.get("score") or unwrapped.episode_score()
    query = unwrapped.corpus.queries[question_id]
    outcome = unwrapped.episode_outcome()
    prediction = outcome.prediction
    return {
        "question_id": question_id,
        "question": query.question,
        "answers": list(query.answers),
        "prediction": prediction,
        "accuracy": accuracy(prediction, query.answers),
        "reference_pages": list(query.reference_pages),
        "retrieved_pages": [unwrapped.real_page_id(p) for p in info["retrieved_pages"]],
        "source_type": query.source_type,
        "query_type": query.query_type,
        "needs_zoom": needs_zoom_label(query),
        "small_print": query.small_print,
        "return": round(total, 6),
        "score": {k: round(float(v), 6) for k, v in score.items()},
        "steps": info["step"],
        "invalid_actions": info["invalid_actions"],
        "terminated": bool(terminated),
        "truncated": bool(truncated),
        "actions": actions,
        "action_kinds": kinds,
        "view_pages": view_pages,
        "view_regions": view_regions,
        "feedback": feedback,
        "rewards": rewards,
    }


def needs_zoom_label(query: Any) -> bool | None:
    """The question's measured ``needs_zoom`` label, or ``None`` when the corpus has none.

    Read from a ``needs_zoom`` attribute of the query or from ``query.meta["needs_zoom"]`` (a label
    measured by OCR when the corpus was built). The geometric ``small_print`` flag is *not* used as
    a stand-in: episodes record it separately, under its own name.
    """
    value = getattr(query, "needs_zoom", None)
    if value is None:
        meta = getattr(query, "meta", None)
        value = meta.get("needs_zoom") if isinstance(meta, dict) else None
    return None if value is None else bool(value)


def _spec_fingerprint(spec: EvalSpec) -> str | None:
    """The fingerprint of the checked-in benchmark ``spec`` was built from, if it is one.

    ``None`` for an ad-hoc run or a spec whose questions, seed, env or step limit differ from the
    checked-in benchmark of the same name (``<name>-quick`` is the first questions of ``<name>``).
    """
    try:
        benchmark = resolve_benchmark(spec.name, len(spec.question_ids or []))
        if benchmark is None:
            return None
        expected = benchmark.to_eval_spec()
    except ValueError:  # a stale spec
        return None
    same = (
        expected.env_id == spec.env_id
        and expected.env_kwargs == spec.env_kwargs
        and list(expected.question_ids or []) == list(spec.question_ids or [])
        and expected.seed == spec.seed
        and expected.max_episode_steps == spec.max_episode_steps
    )
    return benchmark_fingerprint(benchmark) if same else None


def _agent_metadata(agent: Agent) -> dict[str, Any]:
    """What the agent declares about itself: privileged, description, checkpoint hash."""
    out: dict[str, Any] = {"privileged": bool(getattr(agent, "privileged", False))}
    for key in ("description", "checkpoint_sha256"):
        value = getattr(agent, key, None)
        if value:
            out[key] = str(value)
    return out


def evaluate(
    agent_spec: str,
    spec: EvalSpec,
    agent_options: dict[str, Any] | None = None,
    *,
    progress: bool = True,
    agent: Agent | None = None,
    provenance_record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate one agent on ``spec`` and return the results object.

    Args:
        agent_spec: Agent name (``"oracle"``, ...) or ``"module:Class"``.
        spec: The questions and env to evaluate on.
        agent_options: Keyword options for the agent.
        progress: Show a progress bar.
        agent: An already built agent (``agent_spec`` is then only recorded).
        provenance_record: Provenance to record instead of reading it now; a run that writes
            several results files reads it once, before writing any, so its own outputs do not
            make the checkout look dirty (:func:`benchmarks.provenance.provenance`).
    """
    t0 = time.perf_counter()
    env = spec.make_env()
    try:
        if agent is None:
            # The agents package by name (it ships inside vrag_env in a wheel; see docs/architecture.md).
            make_agent = load_entry_point("agents.registry:make_agent")
            agent = make_agent(agent_spec, env, **(agent_options or {}))
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
            running += record["accuracy"]
            bar.set_postfix(acc=f"{running / (i + 1):.3f}", refresh=False)
        spec_json = env.spec.to_json() if env.spec is not None else None
    finally:
        env.close()
    elapsed = time.perf_counter() - t0
    return results_document(
        spec,
        records,
        json.loads(spec_json) if spec_json else None,
        {"name": agent.name, "spec": agent_spec, "config": agent.config()},
        _agent_metadata(agent),
        provenance_record or provenance(),
        {
            "setup_seconds": round(t_setup, 3),
            "total_seconds": round(elapsed, 3),
            "seconds_per_episode": round((elapsed - t_setup) / max(1, len(records)), 4),
        },
    )


def results_document(
    spec: EvalSpec,
    records: list[dict[str, Any]],
    env_spec: Any,
    agent: dict[str, Any],
    agent_metadata: dict[str, Any],
    provenance_record: dict[str, Any],
    timing: dict[str, Any],
) -> dict[str, Any]:
    """The results object of an evaluation: metadata, summary, episodes and timing.

    One place for both :func:`evaluate` and the parallel runner, so their files differ only in
    ``timing``.
    """
    return {
        "metadata": {
            **provenance_record,
            "benchmark": spec.name,
            "env_id": spec.env_id,
            "env_kwargs": spec.env_kwargs,
            "env_spec": env_spec,
            "seed": spec.seed,
            "episodes": len(records),
            "spec_fingerprint": _spec_fingerprint(spec),
            "agent": agent,
            **agent_metadata,
        },
        "summary": summarize(records),
        "episodes": records,
        "timing": timing,
    }


def write_results(results: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a results object atomically (temp file + rename), readable by everyone (0644)."""
    return write_json_atomic(path, results, indent=1)
