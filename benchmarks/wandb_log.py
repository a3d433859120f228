"""Logging evaluation results to Weights & Biases (``vrag eval --wandb``).

Runs are **offline by default** (``WANDB_MODE`` unset means ``offline``): nothing is uploaded and no
account is needed; the run is written under ``<dir>/wandb/offline-run-*`` and can be uploaded later with
``wandb sync``. Set ``WANDB_MODE=online`` (and log in) to upload directly.

Each run holds the results' summary (in ``run.summary``, flattened: ``anls``, ``anls_ci95``,
``anls_by_type/<type>``, ...), the provenance and env spec (in ``run.config``), and a table
``episodes`` with one row per episode (question, gold answers, prediction and scores).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_PROJECT = "vrag-env"

EPISODE_COLUMNS = (
    "question_id",
    "question",
    "answers",
    "prediction",
    "anls",
    "exact_match",
    "ndcg",
    "reward",
    "steps",
    "retrieved_pages",
    "reference_pages",
)
"""Columns of the ``episodes`` table."""


def flatten_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """Flatten nested dicts one level (``anls_by_type/table``), keep lists and scalars as they are."""
    flat: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                flat[f"{key}/{sub}"] = v
        else:
            flat[key] = value
    return flat


def episode_rows(results: dict[str, Any]) -> list[list[Any]]:
    """The ``episodes`` table rows (strings and numbers only, in :data:`EPISODE_COLUMNS` order)."""
    rows = []
    for ep in results.get("episodes", []):
        score = ep.get("score", {})
        rows.append(
            [
                ep["question_id"],
                ep["question"],
                " | ".join(ep.get("answers", [])),
                "" if ep.get("prediction") is None else str(ep["prediction"]),
                float(score.get("anls", 0.0)),
                float(score.get("exact_match", 0.0)),
                float(score.get("ndcg", 0.0)),
                float(ep.get("return", 0.0)),
                int(ep.get("steps", 0)),
                " ".join(ep.get("retrieved_pages", [])),
                " ".join(ep.get("reference_pages", [])),
            ]
        )
    return rows


def log_results(
    results: dict[str, Any],
    *,
    project: str = DEFAULT_PROJECT,
    dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
) -> Path:
    """Log one results object (from :func:`benchmarks.runner.evaluate`) as a wandb run.

    Args:
        results: The results object (``metadata``, ``summary``, ``episodes``, ``timing``).
        project: wandb project name.
        dir: Parent folder of the ``wandb/`` run folders (default: ``WANDB_DIR`` or the cwd).
        name: Run name (default: ``<benchmark>/<agent>``).

    Returns:
        The run's local folder (``.../wandb/offline-run-*`` in offline mode).
    """
    try:
        import wandb
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError('wandb logging needs wandb: `pip install "vrag-env[wandb]"`') from exc

    meta = results.get("metadata", {})
    agent = (meta.get("agent") or {}).get("name", "agent")
    bench = meta.get("benchmark") or "adhoc"
    root = Path(dir or os.environ.get("WANDB_DIR") or ".")
    root.mkdir(parents=True, exist_ok=True)
    config = {k: v for k, v in meta.items() if k != "env_spec"}
    config["env_spec"] = json.dumps(meta.get("env_spec"), sort_keys=True)
    run = wandb.init(
        project=project,
        mode=os.environ.get("WANDB_MODE", "offline"),  # type: ignore[arg-type]
        dir=str(root),
        name=name or f"{bench}/{agent}",
        job_type="eval",
        tags=[str(bench), str(agent)],
        config=config,
        settings=wandb.Settings(console="off", silent=True),
        reinit="finish_previous",
    )
    try:
        table = wandb.Table(columns=list(EPISODE_COLUMNS), data=episode_rows(results))
        run.log({"episodes": table})
        run.summary.update(flatten_summary(results.get("summary", {})))
        run.summary["timing"] = results.get("timing", {})
        run_dir = Path(run.dir).parent
    finally:
        run.finish()
    _wait_for_flush(run_dir)
    return run_dir


def _wait_for_flush(run_dir: Path, timeout: float = 15.0) -> None:
    """Wait until the run's ``.wandb`` file is written out.

    ``run.finish()`` can return while wandb's writer process is still flushing an offline run (the
    file then holds only its 7-byte header), so a caller that reads or syncs the folder right away
    would see an empty run. Wait until the file has grown past the header and stopped growing.
    """
    deadline = time.monotonic() + timeout
    last, stable = -1, 0
    while time.monotonic() < deadline:
        files = list(run_dir.glob("run-*.wandb"))
        size = files[0].stat().st_size if files else 0
        stable = stable + 1 if size == last and size > 7 else 0
        if stable >= 3:
            return
        last = size
        time.sleep(0.1)
    logger.warning("wandb run file in %s was still being written after %.0f s", run_dir, timeout)
