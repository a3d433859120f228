"""``vrag leaderboard``: run the baselines on ``synth-test`` and ``docs-test`` and regenerate the leaderboard.

On a fresh machine this builds the corpora (first use), runs every baseline that can run here
(``random``, ``oracle``, ``heuristic``, ``no-zoom``, ``scripted``, ``prior``, ``no-search`` and
``ppo``; PPO loads the committed policy, and trains one with the small default budget when none is
there; ``prior`` learns from the train split, on ``docs-test`` from the track's tuning split), writes
``results/<benchmark>/<agent>.json`` for each, and regenerates ``LEADERBOARD.md``, ``leaderboard.csv`` and ``leaderboard.png`` from *every*
results file present, so results of your own agents (``vrag eval --benchmark synth-test --agent
my_pkg:MyAgent``) appear too. ``--skip-run`` only regenerates.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path
from typing import Any

DEFAULT_AGENTS = (
    "scripted",
    "heuristic",
    "ppo",
    "no-zoom",
    "oracle",
    "random",
    "prior",
    "no-search",
)
"""Baselines run by default, the slowest first (so two jobs finish together): ``scripted`` is PPO's control (the same macro-actions and OCR
candidates, a fixed policy); ``no-zoom``, ``prior`` and ``no-search`` are the ablations and floors."""

SHARED_READER_CHAINS: tuple[tuple[str, ...], ...] = (("scripted", "ppo"), ("heuristic", "no-zoom"))
"""Agents that read views with the same OCR pipeline run one after another in one process, so the
later one reuses the OCR of every view both see (the readers' process-wide caches). Results are
the same in any grouping or order (OCR is a pure function of the pixels); only the time changes."""

DEFAULT_BENCHMARKS = ("synth-test", "docs-test")
"""The leaderboard's tracks: the synthetic benchmark and the real-document track."""

NEEDS_TRAINING_SPLIT = ("prior",)
"""Agents that learn from the corpus's train split (see :data:`TRAINING_SPLIT`)."""

TRAINING_SPLIT: dict[str, str] = {"realdocs": "val"}
"""The split a training-data agent learns from, per corpus folder name; ``"train"`` otherwise. The
real-document track has no train split: its public tuning split (``docs-dev``, ``val``) is the
strongest statistics a guesser may have there, and no ``docs-test`` question is in it."""

QUICK_EPISODES = 60
"""Episodes per agent with ``--quick`` (results go to ``results/<benchmark>-quick/``)."""

_NEEDS: dict[str, tuple[str, ...]] = {
    "heuristic": ("rapidocr_onnxruntime",),
    "no-zoom": ("rapidocr_onnxruntime",),
    "scripted": ("rapidocr_onnxruntime",),
    "ppo": ("stable_baselines3", "torch", "rapidocr_onnxruntime"),
    "ppo-untrained": ("stable_baselines3", "torch"),
}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``vrag leaderboard`` options."""
    parser.add_argument(
        "--benchmark",
        nargs="+",
        default=list(DEFAULT_BENCHMARKS),
        metavar="NAME",
        help=f"benchmark specs to run (default: {' '.join(DEFAULT_BENCHMARKS)})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"run only the first {QUICK_EPISODES} questions (results under results/<benchmark>-quick)",
    )
    parser.add_argument(
        "--results-dir", default="results", help="results folder (default: results)"
    )
    parser.add_argument(
        "--out-dir", default=".", help="where LEADERBOARD.md/.csv/.png go (default: .)"
    )
    parser.add_argument(
        "--agents",
        nargs="+",
        default=list(DEFAULT_AGENTS),
        metavar="AGENT",
        help=f"agents to run (default: {' '.join(DEFAULT_AGENTS)}); names or module:Class",
    )
    parser.add_argument(
        "--skip-run", action="store_true", help="only regenerate from the results files present"
    )
    parser.add_argument(
        "--policy",
        help="PPO policy to evaluate (default: checkpoints/ppo/policy.zip, trained if missing)",
    )
    parser.add_argument("--no-png", action="store_true", help="skip the chart")
    parser.add_argument(
        "--no-reports",
        action="store_true",
        help="do not write the episode report each row links to (results/<benchmark>/reports/)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="agents evaluated at once, one process each (default: 2; 1 runs them in turn)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _missing(agent: str) -> list[str]:
    return [m for m in _NEEDS.get(agent, ()) if importlib.util.find_spec(m) is None]


def _agent_args(agent: str, policy: str | None) -> tuple[str, dict[str, Any]]:
    """The registry name and options of a leaderboard agent name."""
    if agent == "ppo-untrained":
        return "ppo", {"untrained": True}
    if agent == "ppo":
        return "ppo", ({"policy": policy} if policy else {})
    return agent, {}


Outcome = tuple[str, str, float, Path | None]
"""``(agent, status, seconds, results file or None when skipped)`` of one agent on one benchmark."""


def run_agents(args: argparse.Namespace) -> list[Outcome]:
    """Evaluate each agent on each benchmark of ``args.benchmark`` (see :func:`run_benchmark`)."""
    from vrag_env.provenance import provenance

    # Read once, before anything is written: every results file of the run records the same
    # (clean) checkout, although earlier benchmarks' files change the tree.
    prov = provenance()
    names = [args.benchmark] if isinstance(args.benchmark, str) else list(args.benchmark)
    report: list[Outcome] = []
    for name in names:
        report += run_benchmark(argparse.Namespace(**{**vars(args), "benchmark": name}), prov)
    return report


def run_benchmark(args: argparse.Namespace, prov: dict[str, Any] | None = None) -> list[Outcome]:
    """Evaluate each agent on one benchmark; returns an :data:`Outcome` per agent.

    With ``--jobs N`` (N > 1) up to N agents run at once, each in its own process; every agent's
    results are the same as in a sequential run (each episode is seeded from the spec alone).
    """
    from tqdm.auto import tqdm

    from vrag_env.provenance import provenance

    from .specs import get_benchmark, with_limit

    if prov is None:
        prov = provenance()  # read before writing anything: the results written below are tracked

    benchmark = get_benchmark(args.benchmark)
    if args.quick:
        benchmark = with_limit(benchmark, QUICK_EPISODES)
    spec = benchmark.to_eval_spec()
    tqdm.write(f"benchmark {benchmark.name}: {benchmark.episodes} episodes on {benchmark.env_id}")
    t0 = time.perf_counter()
    _build_corpus(spec, args.quiet)
    tqdm.write(f"corpus ready ({time.perf_counter() - t0:.0f} s)")
    report: list[Outcome] = []
    todo = []
    synthetic = benchmark.corpus.synthetic is not None
    corpus_name = str(benchmark.env_kwargs.get("corpus", ""))
    for agent in args.agents:
        train_split = "train" if synthetic else TRAINING_SPLIT.get(corpus_name)
        if agent in NEEDS_TRAINING_SPLIT and train_split is None:
            tqdm.write(f"skipping {agent} on {benchmark.name}: its corpus has no training split")
            report.append((agent, "skipped (no training split)", 0.0, None))
            continue
        missing = _missing(agent)
        if missing:
            tqdm.write(f"skipping {agent}: missing {', '.join(missing)}")
            report.append((agent, "skipped (missing " + ", ".join(missing) + ")", 0.0, None))
            continue
        name, options = _agent_args(agent, args.policy)
        if agent in NEEDS_TRAINING_SPLIT and train_split != "train":
            options["train_split"] = train_split
        todo.append((name, options))
    out_dir = Path(args.results_dir) / benchmark.name
    groups = plan_jobs(todo)
    jobs = max(1, min(int(getattr(args, "jobs", 1) or 1), len(groups) or 1))
    reports = not getattr(args, "no_reports", True)
    bar = tqdm(total=len(todo), desc="leaderboard", unit="agent", disable=args.quiet)
    if jobs == 1:
        for group in groups:
            bar.set_postfix(agent=group[0][0])
            for done in _run_group(group, spec, prov, out_dir, not args.quiet, reports):
                tqdm.write(done[4])
                report.append(done[:4])
                bar.update(1)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # Spawned workers: nothing (threads, torch state) is inherited from this process.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [
                pool.submit(_run_group, group, spec, prov, out_dir, False, reports)
                for group in groups
            ]
            for future in as_completed(futures):
                for done in future.result():
                    tqdm.write(done[4])
                    report.append(done[:4])
                    bar.update(1)
    bar.close()
    return report


def plan_jobs(todo: list[tuple[str, dict[str, Any]]]) -> list[list[tuple[str, dict[str, Any]]]]:
    """Group agents into jobs: each :data:`SHARED_READER_CHAINS` chain is one job, in chain order.

    Chains come first (they are the slowest), then every other agent alone, in ``todo`` order.

    Example:
        >>> [[n for n, _ in g] for g in plan_jobs([(a, {}) for a in DEFAULT_AGENTS])]
        [['scripted', 'ppo'], ['heuristic', 'no-zoom'], ['oracle'], ['random'], ['prior'], ['no-search']]
    """
    groups: list[list[tuple[str, dict[str, Any]]]] = []
    placed: set[int] = set()
    for chain in SHARED_READER_CHAINS:
        group = [(i, item) for name in chain for i, item in enumerate(todo) if item[0] == name]
        if group:
            groups.append([item for _, item in group])
            placed.update(i for i, _ in group)
    groups += [[item] for i, item in enumerate(todo) if i not in placed]
    return groups


def _run_group(
    group: list[tuple[str, dict[str, Any]]],
    spec: Any,
    prov: dict[str, Any],
    out_dir: Path,
    progress: bool,
    reports: bool,
) -> list[tuple[str, str, float, Path, str]]:
    """Run a job's agents in turn in this process (see :data:`SHARED_READER_CHAINS`)."""
    return [
        _run_one(name, options, spec, prov, out_dir, progress, reports) for name, options in group
    ]


def _run_one(
    name: str,
    options: dict[str, Any],
    spec: Any,
    prov: dict[str, Any],
    out_dir: Path,
    progress: bool,
    reports: bool = False,
) -> tuple[str, str, float, Path, str]:
    """Evaluate one agent and write its results file; returns its :data:`Outcome` and a summary line.

    With ``reports``, the episode report (``reports/<agent>.html`` beside the results) is written
    here too, so reports are drawn while other jobs still run; :func:`run` then does not redraw it.
    """
    from .runner import evaluate, write_results

    t = time.perf_counter()
    results = evaluate(name, spec, options, progress=progress, provenance_record=prov)
    agent_name = results["metadata"]["agent"]["name"]
    out = write_results(results, out_dir / f"{agent_name}.json")
    if reports and prov.get("git_dirty") is False:  # only rows that can verify get a report
        from vrag_env.viewer.report import write_report

        write_report(out, report_path(out))
    elapsed = time.perf_counter() - t
    s = results["summary"]
    line = (
        f"{agent_name}: accuracy={s['accuracy']:.3f} anls={s['anls']:.3f} ndcg={s['ndcg']:.3f} "
        f"steps={s['mean_steps']:.2f} ({elapsed:.0f} s) -> {out}"
    )
    return agent_name, "ok", elapsed, out, line


def _build_corpus(spec: Any, quiet: bool) -> None:
    """Build the benchmark's corpus now (generated on first use), so agents' timings exclude it."""
    env = spec.make_env()
    env.close()


def report_path(results: Path) -> Path:
    """Where the episode report of a results file goes: ``reports/<stem>.html`` beside it."""
    return results.parent / "reports" / f"{results.stem}.html"


def run(args: argparse.Namespace) -> int:
    """Run the baselines (unless ``--skip-run``), then regenerate and print the leaderboard."""
    from .leaderboard import markdown_table, write_leaderboard

    t0 = time.perf_counter()
    fresh: set[Path] = set()
    if not args.skip_run:
        # Each job drew its agent's report right after writing the results: not drawn again.
        outcomes = run_agents(args)
        if not args.no_reports:
            fresh = {report_path(out) for *_, out in outcomes if out is not None}
    rows, paths = write_leaderboard(
        args.results_dir,
        args.out_dir,
        png=not args.no_png,
        reports=not args.no_reports,
        fresh_reports=fresh,
    )
    for bench in sorted({r.benchmark for r in rows}):
        print(f"\n## {bench}\n")
        print(markdown_table([r for r in rows if r.benchmark == bench and not r.privileged]))
    print("\nwrote " + ", ".join(str(p) for p in paths))
    if not args.skip_run:
        print(f"total time: {time.perf_counter() - t0:.0f} s")
    return 0
