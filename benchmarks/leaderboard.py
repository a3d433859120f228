"""Leaderboard generation: results files in, ``LEADERBOARD.md``, ``leaderboard.csv`` and a PNG out.

Pure and deterministic: the outputs depend only on the results files present (read in sorted order),
never on the clock, so regenerating from the same files gives the same bytes. Every results file under
``results/<benchmark>/<agent>.json`` becomes one row, whoever produced it: an agent of your own appears
on the leaderboard just by having its results file there (``vrag eval --agent my_pkg:MyAgent``).
Rows keep their provenance (git SHA, date, episode count). The files are never edited by hand.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MARKDOWN_NAME = "LEADERBOARD.md"
CSV_NAME = "leaderboard.csv"
PNG_NAME = "leaderboard.png"


@dataclass(frozen=True)
class Row:
    """One leaderboard row: an agent's summary on one benchmark, with its provenance.

    Attributes:
        benchmark: Benchmark name (``metadata.benchmark``, else the results folder name).
        agent: Agent name (``metadata.agent.name``, else the file stem).
        anls: Mean ANLS.
        anls_low: Lower end of the bootstrap 95% interval of ANLS.
        anls_high: Upper end of that interval.
        exact_match: Mean exact match.
        ndcg: Mean NDCG of retrieved pages.
        mean_reward: Mean episode return.
        mean_steps: Mean steps per episode.
        invalid_rate: Invalid actions per step.
        episodes: Number of episodes.
        git_sha: Short git SHA of the code that produced the results (``-dirty`` if modified).
        date: UTC date of the run (``YYYY-MM-DD``).
        source: The results file, relative to the results folder.
    """

    benchmark: str
    agent: str
    anls: float
    anls_low: float
    anls_high: float
    exact_match: float
    ndcg: float
    mean_reward: float
    mean_steps: float
    invalid_rate: float
    episodes: int
    git_sha: str
    date: str
    source: str


def _row_from_results(results: dict[str, Any], source: Path, results_dir: Path) -> Row:
    meta = results.get("metadata") or {}
    summary = results["summary"]
    low, high = summary.get("anls_ci95") or (summary["anls"], summary["anls"])
    sha = meta.get("git_sha") or "unknown"
    sha = sha[:8] + ("-dirty" if meta.get("git_dirty") else "")
    agent = (meta.get("agent") or {}).get("name") or source.stem
    return Row(
        benchmark=str(meta.get("benchmark") or source.parent.name),
        agent=str(agent),
        anls=float(summary["anls"]),
        anls_low=float(low),
        anls_high=float(high),
        exact_match=float(summary.get("exact_match", 0.0)),
        ndcg=float(summary.get("ndcg", 0.0)),
        mean_reward=float(summary.get("mean_reward", 0.0)),
        mean_steps=float(summary.get("mean_steps", 0.0)),
        invalid_rate=float(summary.get("invalid_action_rate", 0.0)),
        episodes=int(summary.get("episodes", meta.get("episodes", 0))),
        git_sha=sha,
        date=str(meta.get("timestamp") or "")[:10] or "unknown",
        source=source.relative_to(results_dir).as_posix(),
    )


def load_rows(results_dir: str | os.PathLike[str] = "results") -> list[Row]:
    """Read every ``<benchmark>/<agent>.json`` under ``results_dir`` into sorted rows.

    Files that are not results (no ``summary``) or do not parse are skipped with a warning, so one
    broken file does not hide the others. Rows are sorted by benchmark, then ANLS (best first), then
    agent name.
    """
    root = Path(results_dir)
    rows = []
    for path in sorted(root.glob("*/*.json")):
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
            rows.append(_row_from_results(results, path, root))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning(
                "skipping %s: not a results file (%s: %s)", path, type(exc).__name__, exc
            )
    return sort_rows(rows)


def sort_rows(rows: Iterable[Row]) -> list[Row]:
    """Benchmark name, then ANLS descending, then agent name (a total, deterministic order)."""
    return sorted(rows, key=lambda r: (r.benchmark, -r.anls, r.agent, r.source))


def _benchmarks(rows: list[Row]) -> list[str]:
    return sorted({r.benchmark for r in rows})


# --------------------------------------------------------------------------------------- Markdown

_COLUMNS = (
    "rank",
    "agent",
    "ANLS (95% CI)",
    "exact match",
    "NDCG",
    "mean reward",
    "mean steps",
    "invalid rate",
    "episodes",
    "git SHA",
    "date",
)


def markdown_table(rows: list[Row]) -> str:
    """One benchmark's rows as a Markdown table (rows already sorted)."""
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "|".join(["---"] * len(_COLUMNS)) + "|"]
    for rank, r in enumerate(rows, start=1):
        cells = [
            str(rank),
            f"`{r.agent}`",
            f"**{r.anls:.3f}** [{r.anls_low:.3f}, {r.anls_high:.3f}]",
            f"{r.exact_match:.3f}",
            f"{r.ndcg:.3f}",
            f"{r.mean_reward:.3f}",
            f"{r.mean_steps:.2f}",
            f"{r.invalid_rate:.3f}",
            str(r.episodes),
            f"`{r.git_sha}`",
            r.date,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(rows: list[Row], png_name: str | None = PNG_NAME) -> str:
    """The whole ``LEADERBOARD.md``: one section per benchmark, the chart, and how it was made."""
    out = [
        "# Leaderboard",
        "",
        "<!-- Generated by `vrag leaderboard` from the files in results/. Do not edit by hand. -->",
        "",
        "Generated by `uv run vrag leaderboard` from the results files in `results/<benchmark>/"
        "<agent>.json` (one row per file; add yours with `uv run vrag eval --benchmark synth-test "
        "--agent my_package.module:MyAgent`). ANLS is the mean over episodes with a bootstrap 95% "
        "confidence interval over episodes; NDCG scores the retrieved pages against the gold pages; "
        "the invalid rate counts malformed or illegal actions per step.",
    ]
    if not rows:
        out += ["", "_No results files yet: run `uv run vrag leaderboard`._", ""]
        return "\n".join(out)
    for bench in _benchmarks(rows):
        bench_rows = [r for r in rows if r.benchmark == bench]
        out += ["", f"## {bench}", "", markdown_table(bench_rows)]
    if png_name:
        out += ["", f"![ANLS, NDCG and mean steps per agent]({png_name})"]
    out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------------------- CSV


def render_csv(rows: list[Row]) -> str:
    """All rows as CSV (the :class:`Row` fields as columns)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([f.name for f in fields(Row)])
    for r in rows:
        values = asdict(r)
        writer.writerow(
            [
                f"{v:.6f}".rstrip("0").rstrip(".") if isinstance(v, float) else v
                for v in values.values()
            ]
        )
    return buf.getvalue()


# --------------------------------------------------------------------------------------- PNG


def render_png(rows: list[Row]) -> bytes:
    """A bar chart (ANLS with 95% CI error bars, NDCG, mean steps per agent), one row per benchmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benches = _benchmarks(rows) or ["(no results)"]
    metrics = (("anls", "ANLS (95% CI)"), ("ndcg", "NDCG"), ("mean_steps", "mean steps"))
    fig, axes = plt.subplots(
        len(benches), len(metrics), figsize=(13, 0.6 + 2.9 * len(benches)), squeeze=False
    )
    for i, bench in enumerate(benches):
        bench_rows = [r for r in rows if r.benchmark == bench]
        names = [r.agent for r in bench_rows]
        ypos = list(range(len(bench_rows)))
        for j, (key, label) in enumerate(metrics):
            ax = axes[i][j]
            values = [getattr(r, key) for r in bench_rows]
            xerr = None
            if key == "anls" and bench_rows:
                xerr = [
                    [max(0.0, r.anls - r.anls_low) for r in bench_rows],
                    [max(0.0, r.anls_high - r.anls) for r in bench_rows],
                ]
            ax.barh(ypos, values, xerr=xerr, color="#4C72B0" if j == 0 else "#8C8C8C", capsize=3)
            ax.set_yticks(ypos, names if j == 0 else [""] * len(names))
            ax.invert_yaxis()
            if key != "mean_steps":
                ax.set_xlim(0, 1.15)
            ends = [r.anls_high for r in bench_rows] if key == "anls" else values
            for y, v, end in zip(ypos, values, ends, strict=True):
                ax.text(max(v, end), y, f" {v:.2f}", va="center", fontsize=8)
            ax.set_title(f"{bench}: {label}" if j == 0 else label, fontsize=10)
            ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    # No timestamp in the PNG metadata, so the same rows give the same bytes.
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


# --------------------------------------------------------------------------------------- writing


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling file and a rename."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600 files; these are shared, committed outputs
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def write_leaderboard(
    results_dir: str | os.PathLike[str] = "results",
    out_dir: str | os.PathLike[str] = ".",
    *,
    png: bool = True,
) -> tuple[list[Row], list[Path]]:
    """Regenerate the Markdown, CSV and PNG leaderboard from every results file present.

    Args:
        results_dir: Folder holding ``<benchmark>/<agent>.json`` results files.
        out_dir: Where ``LEADERBOARD.md``, ``leaderboard.csv`` and ``leaderboard.png`` go.
        png: Also draw the chart.

    Returns:
        The rows and the paths written.
    """
    rows = load_rows(results_dir)
    out = Path(out_dir)
    written = [
        atomic_write(out / MARKDOWN_NAME, render_markdown(rows, PNG_NAME if png else None)),
        atomic_write(out / CSV_NAME, render_csv(rows)),
    ]
    if png:
        written.append(atomic_write(out / PNG_NAME, render_png(rows)))
    return rows, written
