"""The ``summary`` of a results file, recomputed from its episode records, and its statistics.

The runner writes it and the leaderboard's verifier recomputes it from the same records with the
same function, so an edited summary is caught.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vrag_env.rewards import accuracy

__all__ = ["bootstrap_ci", "episode_accuracy", "summarize"]


def episode_accuracy(record: Mapping[str, Any]) -> float:
    """The answer accuracy of one episode record, recomputed from its prediction and answers."""
    return accuracy(record.get("prediction"), list(record.get("answers") or []))


def bootstrap_ci(values: Sequence[float], n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean (deterministic for a fixed ``seed``).

    Example:
        >>> bootstrap_ci([1.0, 1.0, 1.0])
        (1.0, 1.0)
    """
    if len(values) == 0:
        return (0.0, 0.0)
    arr = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, len(arr), size=(n_boot, len(arr)))].mean(axis=1)
    return (round(float(np.percentile(means, 2.5)), 6), round(float(np.percentile(means, 97.5)), 6))


def episode_categories(record: dict[str, Any]) -> list[str]:
    """The breakdown categories of an episode record (``single-hop``, ``needs-zoom``, ``table``...)."""
    cats = [f"query:{record.get('query_type') or 'unknown'}"]
    cats.append(f"source:{record.get('source_type') or 'unknown'}")
    zoom = record.get("needs_zoom")
    if zoom is not None:
        cats.append("zoom:needs-zoom" if zoom else "zoom:no-zoom")
    return cats


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate episode records into the results ``summary``.

    Accuracy is recomputed from each record's prediction and gold answers (not read from the
    record), so the same function verifies a results file later.
    """
    n = len(records)
    if n == 0:
        return {"episodes": 0}

    def mean(values: list[float]) -> float:
        return round(float(np.mean(values)), 6)

    acc = [episode_accuracy(r) for r in records]
    anls = [r["score"]["anls"] for r in records]
    steps = [r["steps"] for r in records]
    summary: dict[str, Any] = {
        "episodes": n,
        "accuracy": mean(acc),
        "accuracy_ci95": list(bootstrap_ci(acc)),
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
    by_category: dict[str, list[float]] = {}
    for r, a in zip(records, acc, strict=True):
        for cat in episode_categories(r):
            by_category.setdefault(cat, []).append(a)
    summary["accuracy_by_category"] = {
        k: {"accuracy": mean(v), "n": len(v)} for k, v in sorted(by_category.items())
    }
    return summary
