"""Checks that decide whether a results file may become a leaderboard row, and the statistics rows use.

A results file is *verified* when (:func:`verify_results`):

1. it names a benchmark spec that exists and is current (its corpus generator still produces the
   corpus its question ids were drawn from);
2. its ``metadata.spec_fingerprint`` equals :func:`benchmark_fingerprint` of that spec (same env,
   question ids in the same order, seeds, step limit, dialect, reward preset and corpus);
3. it has one episode per question of the spec, with the spec's question ids in the spec's order;
4. its ``summary`` equals the summary recomputed from its episodes, and each episode's recorded
   ``accuracy`` equals its prediction re-scored against its gold answers by the current matcher,
   so an edited summary or a file scored by an older matcher is caught;
5. it was produced from a clean checkout (``metadata.git_dirty`` is ``False`` and a SHA is set).

Files that fail are reported with every reason, never dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .summary import bootstrap_ci, episode_accuracy, summarize

PRIVILEGED_AGENTS = frozenset({"oracle"})
"""Agents that read ground truth (gold pages and answers) whatever their metadata says."""

LEARNED_AGENTS = frozenset({"ppo", "grpo", "sft"})
"""Agents whose behaviour comes from a trained checkpoint (their rows need a checkpoint hash)."""

_CHECKPOINT_KEYS = ("checkpoint_sha256", "checkpoint_hash", "checkpoint_fingerprint")


def benchmark_fingerprint(benchmark: Any) -> str:
    """SHA-256 (first 16 hex digits) of what a benchmark fixes: everything but its description.

    Args:
        benchmark: A :class:`benchmarks.specs.Benchmark`.

    Returns:
        A short hex digest; equal digests mean the same env, questions, seeds and corpus.
    """
    record = benchmark.to_json()
    record.pop("description", None)
    blob = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def resolve_benchmark(name: str | None, episodes: int | None = None) -> Any | None:
    """The current checked-in benchmark called ``name``, or ``None`` if there is none.

    ``<name>-quick`` (what ``vrag leaderboard --quick`` and :func:`benchmarks.specs.with_limit`
    produce) resolves to the first ``episodes`` questions of ``<name>``.

    Raises:
        benchmarks.specs.StaleBenchmarkError: The spec exists but its corpus generator changed.
    """
    from .specs import get_benchmark, with_limit

    if not name:
        return None
    try:
        return get_benchmark(name)
    except ValueError:
        pass
    base, _, suffix = name.rpartition("-")
    if suffix != "quick" or not base or not episodes or episodes < 1:
        return None
    try:
        benchmark = get_benchmark(base)
    except ValueError:
        return None
    if episodes > benchmark.episodes:
        return None
    return with_limit(benchmark, episodes)


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``a - b`` over the questions both rows answered, with a paired bootstrap 95% CI.

    Attributes:
        mean: Mean paired difference.
        low: Lower end of the 95% interval.
        high: Upper end.
        pairs: Number of questions paired by question id.
    """

    mean: float
    low: float
    high: float
    pairs: int


def paired_difference(
    a: Mapping[str, float], b: Mapping[str, float], n_boot: int = 2000, seed: int = 0
) -> PairedDifference | None:
    """Paired bootstrap of ``mean(a[q] - b[q])`` over the question ids ``q`` in both mappings.

    Questions are resampled with replacement, the same questions for both rows, so the interval
    reflects how much the difference depends on which questions were asked.

    Args:
        a: Per-question scores of one row (question id -> score).
        b: Per-question scores of the other row.
        n_boot: Bootstrap resamples.
        seed: Resampling seed.

    Returns:
        The difference, or ``None`` when no question is shared.

    Example:
        >>> d = paired_difference({"q1": 1.0, "q2": 1.0}, {"q1": 0.0, "q2": 1.0})
        >>> d.mean, d.pairs
        (0.5, 2)
    """
    ids = sorted(set(a) & set(b))
    if not ids:
        return None
    diffs = np.asarray([a[q] - b[q] for q in ids], dtype=np.float64)
    low, high = bootstrap_ci(diffs.tolist(), n_boot=n_boot, seed=seed)
    return PairedDifference(round(float(diffs.mean()), 6), low, high, len(ids))


def is_privileged(results: Mapping[str, Any]) -> bool:
    """Whether a results file's agent reads ground truth (by name or by its metadata)."""
    meta = results.get("metadata") or {}
    agent = meta.get("agent") or {}
    return bool(
        agent.get("name") in PRIVILEGED_AGENTS
        or meta.get("privileged")
        or agent.get("privileged")
        or (agent.get("config") or {}).get("privileged")
    )


def checkpoint_hash(results: Mapping[str, Any]) -> str | None:
    """The checkpoint hash recorded for a learned agent (``None`` if the file has none)."""
    meta = results.get("metadata") or {}
    agent = meta.get("agent") or {}
    for where in (meta, agent, agent.get("config") or {}):
        for key in _CHECKPOINT_KEYS:
            if where.get(key):
                return str(where[key])
    return None


def is_learned(results: Mapping[str, Any]) -> bool:
    """Whether the agent's behaviour comes from a trained checkpoint (by name or metadata)."""
    meta = results.get("metadata") or {}
    agent = meta.get("agent") or {}
    return bool(agent.get("name") in LEARNED_AGENTS or meta.get("learned") or agent.get("learned"))


def description(results: Mapping[str, Any]) -> str:
    """What the agent is, from ``metadata.description``/``note`` (or the agent's), else ``""``."""
    meta = results.get("metadata") or {}
    agent = meta.get("agent") or {}
    for where in (meta, agent):
        for key in ("description", "note"):
            if where.get(key):
                return " ".join(str(where[key]).split())
    return ""


def _summaries_match(recorded: Any, recomputed: Any, path: str = "summary") -> list[str]:
    if isinstance(recomputed, Mapping):
        if not isinstance(recorded, Mapping):
            return [f"{path} is not an object"]
        problems = []
        for key, value in recomputed.items():
            if key not in recorded:
                problems.append(f"{path}.{key} is missing")
            else:
                problems += _summaries_match(recorded[key], value, f"{path}.{key}")
        return problems
    if isinstance(recomputed, (list, tuple)):
        if not isinstance(recorded, (list, tuple)) or len(recorded) != len(recomputed):
            return [f"{path} differs"]
        return [
            p
            for r, c in zip(recorded, recomputed, strict=True)
            for p in _summaries_match(r, c, path)
        ]
    if isinstance(recomputed, float) or isinstance(recorded, float):
        ok = isinstance(recorded, (int, float)) and math.isclose(
            float(recorded), float(recomputed), abs_tol=1e-6
        )
        return [] if ok else [f"{path} is {recorded!r}, recomputed {recomputed!r}"]
    return [] if recorded == recomputed else [f"{path} is {recorded!r}, recomputed {recomputed!r}"]


def verify_results(results: Mapping[str, Any], benchmark: Any | None) -> list[str]:
    """Every reason why a results file may not be a leaderboard row (empty when it may).

    Args:
        results: The parsed results file.
        benchmark: The current :class:`~benchmarks.specs.Benchmark` it claims to be for, or
            ``None`` when no such spec exists (a reason in itself).

    Returns:
        Human-readable reasons, in the order of the checks in the module docstring.
    """
    meta = results.get("metadata") or {}
    episodes = results.get("episodes")
    reasons: list[str] = []
    if benchmark is None:
        reasons.append(f"no current benchmark spec named {meta.get('benchmark')!r}")
    else:
        expected = benchmark_fingerprint(benchmark)
        found = meta.get("spec_fingerprint")
        if found != expected:
            reasons.append(
                f"spec fingerprint {found!r} does not match the spec's {expected!r}"
                + (" (file predates fingerprints)" if found is None else "")
            )
    if not isinstance(episodes, list):
        reasons.append("no episode records")
        episodes = []
    if benchmark is not None:
        ids = [e.get("question_id") for e in episodes if isinstance(e, Mapping)]
        if len(ids) != benchmark.episodes:
            reasons.append(f"{len(ids)} episodes, the spec has {benchmark.episodes}")
        elif ids != list(benchmark.question_ids):
            reasons.append("episode question ids differ from the spec's")
    stale = sum(
        1
        for e in episodes
        if isinstance(e, Mapping) and "accuracy" in e and e["accuracy"] != episode_accuracy(e)
    )
    if stale:
        reasons.append(f"{stale} episode accuracy values differ from re-scoring their predictions")
    try:
        recomputed = summarize([dict(e) for e in episodes]) if episodes else None
    except (KeyError, TypeError, ValueError) as exc:
        reasons.append(f"episodes cannot be summarised ({type(exc).__name__}: {exc})")
        recomputed = None
    if recomputed is not None:
        problems = _summaries_match(results.get("summary"), recomputed)
        if problems:
            reasons.append("summary does not match its episodes: " + "; ".join(problems[:3]))
    if not meta.get("git_sha"):
        reasons.append("no git SHA")
    elif meta.get("git_dirty") is not False:
        reasons.append(f"git tree was dirty at {str(meta['git_sha'])[:8]}")
    return reasons


@dataclass(frozen=True)
class Rejected:
    """A results file left out of the leaderboard, and why."""

    source: str
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)
