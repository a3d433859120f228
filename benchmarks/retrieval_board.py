"""Retrieval leaderboard: ViDoRe-style tables (recall@1/5/10, nDCG@5, MRR) per corpus.

Reads the results files written by ``vrag retrieval-eval --out-dir DIR`` (``DIR/<corpus>/<retriever>.json``)
and renders one Markdown table per corpus, best nDCG@5 first. Pure and deterministic: files are read
in sorted order and nothing depends on the clock, so the same files always give the same text.

    >>> print(render_retrieval_board([]))
    _No retrieval results yet: run `vrag retrieval-eval --corpus DIR --retriever NAME --out-dir results/retrieval`._
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

METRICS = ("recall@1", "recall@5", "recall@10", "ndcg@5", "mrr")
"""The columns of the table, in order."""


@dataclass(frozen=True)
class RetrievalRow:
    """One retriever's summary on one corpus, with provenance.

    Attributes:
        corpus: Corpus name (``metadata.corpus_name``, else the folder name).
        retriever: The retriever string it was run with.
        metrics: ``METRICS`` name -> value.
        queries: Number of questions scored.
        split: Question split.
        git_sha: Code version that produced the file (``None`` if unknown).
        created: UTC time of the run.
        source: The results file, relative to the results folder.
    """

    corpus: str
    retriever: str
    metrics: dict[str, float]
    queries: int
    split: str
    git_sha: str | None
    created: str
    source: str


def load_retrieval_rows(root: str | os.PathLike[str]) -> list[RetrievalRow]:
    """Every ``<corpus>/<retriever>.json`` under ``root`` as a row.

    Unreadable files are skipped with a warning that names them.

    Raises:
        FileNotFoundError: If ``root`` does not exist.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"retrieval results folder {folder} does not exist; write results into it with "
            "`vrag retrieval-eval --corpus DIR --retriever NAME --out-dir "
            f"{folder}`"
        )
    rows = []
    for path in sorted(folder.glob("*/*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            meta, summary = data["metadata"], data["summary"]
            rows.append(
                RetrievalRow(
                    corpus=str(meta.get("corpus_name") or path.parent.name),
                    retriever=str(meta["retriever"]),
                    metrics={key: float(summary[key]) for key in METRICS},
                    queries=int(summary["queries"]),
                    split=str(meta.get("split", "all")),
                    git_sha=meta.get("git_sha"),
                    created=str(meta.get("created", "")),
                    source=path.relative_to(folder).as_posix(),
                )
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("skipping %s: not a retrieval-eval results file (%s)", path, exc)
    return rows


def render_retrieval_board(rows: list[RetrievalRow]) -> str:
    """Markdown: one section per corpus, one table row per retriever, best nDCG@5 first.

    Args:
        rows: From :func:`load_retrieval_rows`.

    Returns:
        The Markdown text (ends with a newline).
    """
    if not rows:
        return (
            "_No retrieval results yet: run `vrag retrieval-eval --corpus DIR --retriever NAME "
            "--out-dir results/retrieval`._"
        )
    lines: list[str] = []
    for corpus in sorted({r.corpus for r in rows}):
        group = sorted(
            (r for r in rows if r.corpus == corpus),
            key=lambda r: (-r.metrics["ndcg@5"], -r.metrics["mrr"], r.retriever),
        )
        lines += [
            f"### Retrieval on `{corpus}`",
            "",
            "| retriever | " + " | ".join(METRICS) + " | queries | split | git | source |",
            "|---|" + "---:|" * len(METRICS) + "---:|---|---|---|",
        ]
        for r in group:
            values = " | ".join(f"{r.metrics[m]:.3f}" for m in METRICS)
            lines.append(
                f"| `{r.retriever}` | {values} | {r.queries} | {r.split} | "
                f"{(r.git_sha or '?')[:12]} | {r.source} |"
            )
        lines.append("")
    return "\n".join(lines)
