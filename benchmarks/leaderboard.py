"""Leaderboard generation: verified results files in, ``LEADERBOARD.md``, ``leaderboard.csv`` and a PNG out.

Pure and deterministic: the outputs depend only on the results files present (read in sorted order)
and the checked-in benchmark specs, never on the clock, so regenerating from the same files gives the
same bytes. A results file ``results/<benchmark>/<agent>.json`` becomes a row only if it passes
:func:`benchmarks.verify.verify_results` (current spec fingerprint, one episode per spec question,
summary recomputed from the episodes, clean git SHA); every other file is listed under "Rejected
results files" with its reasons. An agent of your own appears just by having a verified results file
there (``vrag eval --benchmark synth-test --agent my_pkg:MyAgent`` from a clean checkout).

Per benchmark the Markdown has: the ranked agents (accuracy first, with a bootstrap 95% CI, and the
paired bootstrap 95% CI of each row minus the next, over the same questions paired by question id);
privileged agents (those that read ground truth: the oracle, and any file whose metadata says
``privileged: true``), shown separately and never ranked; accuracy by category (single/multi-hop,
needs-zoom or not when the corpus labels it, source type); what each model is (the results file's
``description``/``note``), with learned agents that lack a checkpoint hash flagged.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import logging
import os
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .controls import controls_section
from .summary import episode_categories
from .transfer import transfer_section
from .validity_summary import load_validity, validity_lines
from .verify import (
    PairedDifference,
    Rejected,
    checkpoint_hash,
    description,
    episode_accuracy,
    is_learned,
    is_privileged,
    paired_difference,
    resolve_benchmark,
    verify_results,
)

logger = logging.getLogger(__name__)

MARKDOWN_NAME = "LEADERBOARD.md"
CSV_NAME = "leaderboard.csv"
PNG_NAME = "leaderboard.png"
NO_CHECKPOINT_FLAG = "learned agent without a checkpoint hash: not reproducible from this file"


@dataclass(frozen=True)
class Row:
    """One leaderboard row: a verified results file's summary, with its provenance.

    Attributes:
        benchmark: Benchmark name (``metadata.benchmark``).
        agent: Agent name (``metadata.agent.name``, else the file stem).
        accuracy: Mean answer accuracy (the headline metric).
        accuracy_low: Lower end of its bootstrap 95% interval.
        accuracy_high: Upper end.
        anls: Mean ANLS (partial credit, secondary).
        exact_match: Mean exact match.
        ndcg: Mean NDCG of retrieved pages.
        mean_reward: Mean episode return.
        mean_steps: Mean steps per episode.
        invalid_rate: Invalid actions per step.
        episodes: Number of episodes.
        privileged: Whether the agent reads ground truth (never ranked).
        description: What the agent/model is, from the results metadata (``""`` if not stated).
        checkpoint: Checkpoint hash of a learned agent (``""`` if none).
        flag: A warning about the row (``""`` if none).
        git_sha: Short git SHA of the code that produced the results.
        date: UTC date of the run (``YYYY-MM-DD``).
        source: The results file, relative to the results folder.
        report: Link to the row's episode report (HTML), relative to the leaderboard's folder, or
            ``""`` when no report has been written.
        per_question: Accuracy per question id (for paired comparisons; not written to the CSV).
        question_categories: The categories of each question id (for paired comparisons within
            a category; not written to the CSV).
        categories: Accuracy and count per category (``"query:multi-hop"`` -> (accuracy, n)).
    """

    benchmark: str
    agent: str
    accuracy: float
    accuracy_low: float
    accuracy_high: float
    anls: float
    exact_match: float
    ndcg: float
    mean_reward: float
    mean_steps: float
    invalid_rate: float
    episodes: int
    privileged: bool
    description: str
    checkpoint: str
    flag: str
    git_sha: str
    date: str
    source: str
    report: str = ""
    per_question: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    categories: dict[str, tuple[float, int]] = field(default_factory=dict, compare=False)
    question_categories: dict[str, tuple[str, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )


@dataclass
class Board:
    """Everything the outputs are rendered from.

    Attributes:
        rows: Verified rows, sorted (benchmark, privileged last, accuracy best first, agent).
        rejected: Results files left out, with reasons.
    """

    rows: list[Row]
    rejected: list[Rejected]

    def benchmarks(self) -> list[str]:
        """Benchmark names with a row or a rejected file."""
        names = {r.benchmark for r in self.rows}
        names |= {r.source.split("/", 1)[0] for r in self.rejected}
        return sorted(names)

    def ranked(self, benchmark: str) -> list[Row]:
        """The non-privileged rows of a benchmark, best first."""
        return [r for r in self.rows if r.benchmark == benchmark and not r.privileged]

    def privileged(self, benchmark: str) -> list[Row]:
        """The privileged rows of a benchmark."""
        return [r for r in self.rows if r.benchmark == benchmark and r.privileged]


def _row_from_results(results: dict[str, Any], source: str) -> Row:
    meta = results.get("metadata") or {}
    summary = results["summary"]
    episodes = results["episodes"]
    low, high = summary["accuracy_ci95"]
    agent = (meta.get("agent") or {}).get("name") or Path(source).stem
    learned = is_learned(results)
    ckpt = checkpoint_hash(results) or ""
    per_question = {str(e["question_id"]): episode_accuracy(e) for e in episodes}
    cats = {
        k: (float(v["accuracy"]), int(v["n"]))
        for k, v in (summary.get("accuracy_by_category") or {}).items()
    }
    return Row(
        benchmark=str(meta.get("benchmark")),
        agent=str(agent),
        accuracy=float(summary["accuracy"]),
        accuracy_low=float(low),
        accuracy_high=float(high),
        anls=float(summary["anls"]),
        exact_match=float(summary.get("exact_match", 0.0)),
        ndcg=float(summary.get("ndcg", 0.0)),
        mean_reward=float(summary.get("mean_reward", 0.0)),
        mean_steps=float(summary.get("mean_steps", 0.0)),
        invalid_rate=float(summary.get("invalid_action_rate", 0.0)),
        episodes=int(summary["episodes"]),
        privileged=is_privileged(results),
        description=description(results),
        checkpoint=ckpt,
        flag=NO_CHECKPOINT_FLAG if learned and not ckpt else "",
        git_sha=str(meta.get("git_sha"))[:8],
        date=str(meta.get("timestamp") or "")[:10] or "unknown",
        source=source,
        per_question=per_question,
        categories=cats,
        question_categories={str(e["question_id"]): tuple(episode_categories(e)) for e in episodes},
    )


def sort_rows(rows: list[Row]) -> list[Row]:
    """Benchmark, privileged last, accuracy then ANLS descending, agent name (a total order)."""
    return sorted(
        rows, key=lambda r: (r.benchmark, r.privileged, -r.accuracy, -r.anls, r.agent, r.source)
    )


def load_board(results_dir: str | os.PathLike[str] = "results") -> Board:
    """Verify every ``<benchmark>/<agent>.json`` under ``results_dir``.

    Returns:
        The verified rows (sorted) and the rejected files with their reasons.
    """
    from .specs import StaleBenchmarkError

    root = Path(results_dir)
    rows: list[Row] = []
    rejected: list[Rejected] = []
    for path in sorted(root.glob("*/*.json")):
        source = path.relative_to(root).as_posix()
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            rejected.append(Rejected(source, (f"unreadable ({type(exc).__name__}: {exc})",)))
            continue
        if not isinstance(results, dict) or "summary" not in results:
            rejected.append(Rejected(source, ("not a results file (no summary)",)))
            continue
        meta = results.get("metadata") or {}
        name = meta.get("benchmark") or path.parent.name
        benchmark = None
        try:
            benchmark = resolve_benchmark(name, meta.get("episodes"))
            reasons = verify_results(results, benchmark)
        except StaleBenchmarkError as exc:
            reasons = [f"benchmark spec is stale: {exc}"]
        if benchmark is not None and benchmark.name != path.parent.name:
            reasons.append(f"filed under {path.parent.name}/ but is for {benchmark.name}")
        if reasons:
            rejected.append(Rejected(source, tuple(reasons)))
            continue
        rows.append(_row_from_results(results, source))
    return Board(sort_rows(rows), rejected)


def load_rows(results_dir: str | os.PathLike[str] = "results") -> list[Row]:
    """The verified rows only (see :func:`load_board`)."""
    return load_board(results_dir).rows


def next_differences(rows: list[Row]) -> list[PairedDifference | None]:
    """For each row, the paired difference of its accuracy minus the next row's (``None`` last)."""
    return [
        paired_difference(row.per_question, nxt.per_question)
        for row, nxt in itertools.pairwise(rows)
    ] + ([None] if rows else [])


# --------------------------------------------------------------------------------------- Markdown

_COLUMNS = (
    "rank",
    "agent",
    "accuracy (95% CI)",
    "minus next (paired 95% CI)",
    "ANLS",
    "exact match",
    "NDCG",
    "mean steps",
    "invalid rate",
    "episodes",
    "git SHA",
    "date",
)


def _ci(value: float, low: float, high: float) -> str:
    return f"**{value:.3f}** [{low:.3f}, {high:.3f}]"


def markdown_table(rows: list[Row], ranked: bool = True) -> str:
    """One benchmark's rows (already sorted) as a Markdown table.

    Args:
        rows: The rows.
        ranked: Number the rows and compare each with the next; privileged tables are not ranked.
    """
    diffs = next_differences(rows) if ranked else [None] * len(rows)
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "|".join(["---"] * len(_COLUMNS)) + "|"]
    for rank, (r, d) in enumerate(zip(rows, diffs, strict=True), start=1):
        vs = "" if d is None else f"{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"
        name = f"[`{r.agent}`]({r.report})" if r.report else f"`{r.agent}`"
        name += " (privileged)" if r.privileged else ""
        cells = [
            str(rank) if ranked else "-",
            name + (" ⚠" if r.flag else ""),
            _ci(r.accuracy, r.accuracy_low, r.accuracy_high),
            vs,
            f"{r.anls:.3f}",
            f"{r.exact_match:.3f}",
            f"{r.ndcg:.3f}",
            f"{r.mean_steps:.2f}",
            f"{r.invalid_rate:.3f}",
            str(r.episodes),
            f"`{r.git_sha}`",
            r.date,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _category_label(key: str) -> str:
    kind, _, value = key.partition(":")
    return value if kind != "source" else f"source: {value}"


def category_table(rows: list[Row]) -> str:
    """Accuracy per category (columns) for each row: query type, needs-zoom, source type."""
    keys = sorted({k for r in rows for k in r.categories}, key=lambda k: (k.split(":")[0], k))
    if not keys:
        return "_No categories recorded._"
    counts = {k: max(r.categories[k][1] for r in rows if k in r.categories) for k in keys}
    head = ["agent"] + [f"{_category_label(k)} (n={counts[k]})" for k in keys]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for r in rows:
        cells = [f"`{r.agent}`" + (" (privileged)" if r.privileged else "")]
        cells += [f"{r.categories[k][0]:.3f}" if k in r.categories else "" for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    if not any(k.startswith("zoom:") for k in keys):
        lines += ["", "_No needs-zoom label in this corpus: that breakdown is not available._"]
    return "\n".join(lines)


def _models(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        what = r.description or "no description in the results file"
        ckpt = f"; checkpoint `{r.checkpoint}`" if r.checkpoint else ""
        flag = f" **⚠ {r.flag}.**" if r.flag else ""
        out.append(f"- `{r.agent}`: {what}{ckpt}.{flag}")
    return out


def render_markdown(
    board: Board | list[Row],
    png_name: str | None = PNG_NAME,
    validity: dict[str, dict[str, Any]] | None = None,
) -> str:
    """The whole ``LEADERBOARD.md``: per benchmark, the tables, the models and the rejected files.

    ``validity`` maps a benchmark name to its ``vrag validity`` report, quoted under its tables.
    """
    if isinstance(board, list):
        board = Board(sort_rows(board), [])
    out = [
        "# Leaderboard",
        "",
        "<!-- Generated by `vrag leaderboard` from the files in results/. Do not edit by hand. -->",
        "",
        "Generated by `uv run vrag leaderboard` from the verified results files in "
        "`results/<benchmark>/<agent>.json` (add yours with `uv run vrag eval --benchmark synth-test "
        "--agent my_package.module:MyAgent` from a clean checkout). A file is a row only if its "
        "spec fingerprint matches the checked-in spec, it has one episode per spec question, its "
        "summary equals the one recomputed from its episodes, and its git SHA is clean; the others "
        "are listed with the reason. **Accuracy** (numbers compared as numbers, text by normalised "
        "exact match; `vrag_env/answer_accuracy.py`) is the headline, with a bootstrap 95% CI over "
        "questions; *minus next* is the paired bootstrap 95% CI of the row's accuracy minus the next "
        "row's on the same questions (an interval containing 0 means the two are not separated). "
        "ANLS gives partial credit and is secondary. Privileged agents read ground truth and are "
        "never ranked. An agent's name links to its episode report (every episode: pages, crop "
        "boxes, views, actions, feedback), which `vrag leaderboard` writes to "
        "`results/<benchmark>/reports/` (4-9 MB each, so not committed; `vrag view "
        "results/<benchmark>/<agent>.json --out report.html` writes one).",
    ]
    benches = board.benchmarks()
    if not benches:
        out += ["", "_No results files yet: run `uv run vrag leaderboard`._", ""]
        return "\n".join(out)
    for bench in benches:
        ranked, privileged = board.ranked(bench), board.privileged(bench)
        rejected = [r for r in board.rejected if r.source.split("/", 1)[0] == bench]
        out += ["", f"## {bench}", ""]
        out += [markdown_table(ranked) if ranked else "_No verified rows._"]
        if validity and bench in validity:
            out += ["", *validity_lines(validity[bench])]
        controls = controls_section(ranked, bench)
        if controls:
            out += ["", "### Controls, floors and ablations", "", *controls]
        if privileged:
            out += ["", "### Privileged agents (read ground truth; not ranked)", ""]
            out += [markdown_table(privileged, ranked=False)]
        if ranked or privileged:
            out += ["", "### Accuracy by category", "", category_table(ranked + privileged)]
            out += ["", "### What each agent is", "", *_models(ranked + privileged)]
        if rejected:
            out += ["", "### Rejected results files", ""]
            out += [f"- `{r.source}`: " + "; ".join(r.reasons) for r in rejected]
    transfer = transfer_section(board.rows)
    if transfer:
        out += ["", "## Transfer: synthetic to real documents", "", *transfer]
    if png_name and board.rows:
        out += ["", f"![Accuracy with 95% CIs, ANLS and NDCG per agent]({png_name})"]
    out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------------------- CSV

_CSV_FIELDS = [
    f.name
    for f in fields(Row)
    if f.name not in ("per_question", "categories", "question_categories", "report")
]


def render_csv(board: Board | list[Row]) -> str:
    """All verified rows as CSV (the :class:`Row` fields, categories as ``key=acc/n;...``)."""
    rows = board.rows if isinstance(board, Board) else board
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*_CSV_FIELDS, "categories"])
    for r in rows:
        values = [getattr(r, name) for name in _CSV_FIELDS]
        cells = [f"{v:.6f}".rstrip("0").rstrip(".") if isinstance(v, float) else v for v in values]
        cats = ";".join(f"{k}={a:.4f}/{n}" for k, (a, n) in sorted(r.categories.items()))
        writer.writerow([*cells, cats])
    return buf.getvalue()


# --------------------------------------------------------------------------------------- PNG


def render_png(board: Board | list[Row]) -> bytes:
    """Bars per agent: accuracy with 95% CI error bars, ANLS, NDCG (:mod:`benchmarks.leaderboard_png`)."""
    from .leaderboard_png import draw_png

    return draw_png(board.rows if isinstance(board, Board) else sort_rows(board))


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
    reports: bool = False,
    validity_dir: str | os.PathLike[str] | None = "docs/validity",
    fresh_reports: Collection[Path] = (),
) -> tuple[list[Row], list[Path]]:
    """Regenerate the Markdown, CSV and PNG leaderboard from the verified results files.

    Rejected files are listed in the Markdown and logged as warnings.

    Args:
        results_dir: Folder holding ``<benchmark>/<agent>.json`` results files.
        out_dir: Where ``LEADERBOARD.md``, ``leaderboard.csv`` and ``leaderboard.png`` go.
        png: Also draw the chart.
        validity_dir: Folder of ``vrag validity`` reports (``<benchmark>.json``) quoted under each
            benchmark's tables (``None``: none).
        reports: Also write each verified row's episode report to
            ``<results_dir>/<benchmark>/reports/<agent>.html``. Rows link to their report whenever
            that file exists.
        fresh_reports: Reports known to be up to date (drawn by the run that wrote their results
            file); not drawn again.

    Returns:
        The verified rows and the paths written.
    """
    board = load_board(results_dir)
    out = Path(out_dir)
    if reports:
        from vrag_env.viewer.report import write_report

        fresh = {Path(p).resolve() for p in fresh_reports}
        for row in board.rows:
            source = Path(results_dir) / row.source
            html = source.parent / "reports" / f"{source.stem}.html"
            if html.resolve() not in fresh:
                write_report(source, html)
    linked = []
    for row in board.rows:
        stem = Path(row.source)
        html = Path(results_dir) / stem.parent / "reports" / f"{stem.stem}.html"
        report = Path(os.path.relpath(html, out)).as_posix() if html.is_file() else ""
        linked.append(dataclasses.replace(row, report=report))
    board = Board(linked, board.rejected)
    for r in board.rejected:
        logger.warning("leaderboard: rejected %s: %s", r.source, "; ".join(r.reasons))
    written = [
        atomic_write(
            out / MARKDOWN_NAME,
            render_markdown(board, PNG_NAME if png else None, load_validity(validity_dir)),
        ),
        atomic_write(out / CSV_NAME, render_csv(board)),
    ]
    if png:
        written.append(atomic_write(out / PNG_NAME, render_png(board)))
    return board.rows, written
