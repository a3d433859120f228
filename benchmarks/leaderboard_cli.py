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
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vrag_env._entry_points import load_entry_point

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
"""Baselines run by default (the OCR agents are sharded, see :data:`SHARED_READER_CHAINS`):
``scripted`` is PPO's control (the same macro-actions and OCR candidates, a fixed policy);
``no-zoom``, ``prior`` and ``no-search`` are the ablations and floors."""

SHARED_READER_CHAINS: tuple[tuple[str, ...], ...] = (("scripted", "ppo"), ("heuristic", "no-zoom"))
"""Agents that read views with the same OCR pipeline run one after another in one process, so the
later one reuses the OCR of every view both see (the readers' process-wide caches). With ``--jobs
N`` these agents are *sharded*: the questions are dealt out to N processes (every N-th question
to the same one), and each process runs every chained agent, in chain order, on its share. The
slow agents' work is then split evenly however long each agent takes, and a later agent still
finds the views an earlier one read on the same questions. Results are the same in any grouping,
order or sharding (OCR is a pure function of the pixels, each episode is seeded by its position in
the whole list); only the time changes."""

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
        help=(
            "processes (default: 2): the OCR agents' questions are dealt out to all of them, the "
            "other agents take one each; 1 runs everything in turn (same results)"
        ),
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
    jobs = max(1, int(getattr(args, "jobs", 1) or 1))
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
        for done in _run_parallel(groups, spec, prov, out_dir, jobs, reports):
            tqdm.write(done[4])
            report.append(done[:4])
            bar.update(1)
    bar.close()
    tqdm.write(f"benchmark {benchmark.name}: done in {time.perf_counter() - t0:.0f} s")
    return report


def _run_parallel(
    groups: list[list[tuple[str, dict[str, Any]]]],
    spec: Any,
    prov: dict[str, Any],
    out_dir: Path,
    jobs: int,
    reports: bool,
) -> Iterator[tuple[str, str, float, Path, str]]:
    """Run ``groups`` over ``jobs`` processes: chained agents sharded, the others one job each.

    Every agent of a :data:`SHARED_READER_CHAINS` chain runs on each of ``jobs`` shards of the
    questions (:func:`shard_positions`), one process per shard, the shards sharing their OCR
    through a temporary folder (:func:`_shared_ocr_folder`); the shards' episodes are put back in
    question order and written as one results file per agent, the same as a sequential run's.
    Yields an :data:`Outcome` and a summary line per agent as its results are written.
    """
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor, as_completed

    from .parallel_eval import _question_ids

    chained = [item for group in groups if _is_chain(group) for item in group]
    singles = [group for group in groups if not _is_chain(group)]
    if any(name == "ppo" and not options for name, options in chained):
        # Trained once here when missing, not once per shard.
        load_entry_point("agents.ppo_agent:ensure_default_policy")()
    ids = _question_ids(spec) if chained else []
    shards = [[(i, ids[i]) for i in part] for part in shard_positions(len(ids), jobs)]
    # Spawned workers: nothing (threads, torch state) is inherited from this process, except the
    # environment, which names the folder where the shards share what their OCR has read.
    context = multiprocessing.get_context("spawn")
    with (
        _shared_ocr_folder(),
        ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool,
    ):
        # The quick agents first, so their rows do not wait for the shards.
        single_futures = [
            pool.submit(_run_group, group, spec, prov, out_dir, False, reports) for group in singles
        ]
        shard_futures = [pool.submit(_run_shard, chained, spec, shard) for shard in shards if shard]
        waiting: set[Future[Any]] = {*shard_futures, *single_futures}
        for future in as_completed(waiting):
            if future in single_futures:
                yield from future.result()
        if not shard_futures:
            return
        parts = [future.result() for future in shard_futures]
        drawn: list[tuple[Future[Any], tuple[str, str, float, Path, str]]] = []
        for k in range(len(chained)):
            done = _write_merged(spec, prov, out_dir, [part[k] for part in parts])
            if reports and prov.get("git_dirty") is False:  # only rows that can verify
                drawn.append((pool.submit(_draw_report, done[3]), done))
            else:
                yield done
        for future, done in drawn:
            future.result()
            yield done


@contextmanager
def _shared_ocr_folder() -> Iterator[Path]:
    """A temporary folder the run's processes share OCR results through (deleted at the end).

    See :mod:`vrag_env.shared_ocr_cache`: a view one shard has read is not read again by the
    other, as if all episodes ran in one process. A folder the user set is kept and used.
    """
    from vrag_env.shared_ocr_cache import ENV_VAR

    if os.environ.get(ENV_VAR):
        yield Path(os.environ[ENV_VAR])
        return
    with tempfile.TemporaryDirectory(prefix="vrag-shared-ocr-") as folder:
        os.environ[ENV_VAR] = folder
        try:
            yield Path(folder)
        finally:
            del os.environ[ENV_VAR]


def shard_positions(n: int, shards: int) -> list[range]:
    """Question positions ``0..n-1`` dealt out to ``shards`` shards, every ``shards``-th to one.

    Dealing (rather than cutting the list into blocks) gives each shard a like mix of documents
    and question kinds, so shards take about as long as each other.

    >>> shard_positions(7, 3)
    [range(0, 7, 3), range(1, 7, 3), range(2, 7, 3)]
    """
    shards = max(1, min(shards, n))
    return [range(k, n, shards) for k in range(shards)]


def _is_chain(group: list[tuple[str, dict[str, Any]]]) -> bool:
    return any(group[0][0] in chain for chain in SHARED_READER_CHAINS)


def _run_shard(
    agents: list[tuple[str, dict[str, Any]]], spec: Any, items: list[tuple[int, str]]
) -> list[dict[str, Any]]:
    """Run each agent in turn on episodes ``(position, question id)`` in this process.

    Returns one :func:`benchmarks.parallel_eval.run_chunk` result per agent, with the
    ``seconds`` it took.
    """
    from .parallel_eval import run_chunk

    out = []
    for name, options in agents:
        t = time.perf_counter()
        part = run_chunk(name, spec, options, items)
        part["seconds"] = time.perf_counter() - t
        out.append(part)
    return out


def _write_merged(
    spec: Any, prov: dict[str, Any], out_dir: Path, parts: list[dict[str, Any]]
) -> tuple[str, str, float, Path, str]:
    """Put an agent's shards back in question order and write its results file."""
    from .parallel_eval import merged_document
    from .runner import write_results

    seconds = sum(part["seconds"] for part in parts)
    episodes = sum(len(part["records"]) for part in parts)
    results = merged_document(
        spec,
        parts,
        prov,
        {
            "setup_seconds": 0.0,
            "total_seconds": round(seconds, 3),
            "seconds_per_episode": round(seconds / max(1, episodes), 4),
            "workers": len(parts),
            "backend": "shards",
        },
    )
    agent_name = results["metadata"]["agent"]["name"]
    out = write_results(results, out_dir / f"{agent_name}.json")
    return agent_name, "ok", seconds, out, _summary_line(agent_name, results, seconds, out)


def _draw_report(results: Path) -> Path:
    """Draw the episode report of a results file (:func:`report_path`)."""
    from vrag_env.viewer.report import write_report

    return write_report(results, report_path(results))


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
        _draw_report(out)
    elapsed = time.perf_counter() - t
    return agent_name, "ok", elapsed, out, _summary_line(agent_name, results, elapsed, out)


def _summary_line(agent_name: str, results: dict[str, Any], seconds: float, out: Path) -> str:
    s = results["summary"]
    return (
        f"{agent_name}: accuracy={s['accuracy']:.3f} anls={s['anls']:.3f} ndcg={s['ndcg']:.3f} "
        f"steps={s['mean_steps']:.2f} ({seconds:.0f} s) -> {out}"
    )


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
