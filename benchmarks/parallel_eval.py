"""Evaluation over several processes (``vrag eval --workers N``) or a Ray cluster (``--ray``).

The parent draws the question list exactly as :func:`benchmarks.runner.evaluate` does, cuts it into
contiguous chunks, and each worker builds its own env and agent once and runs its chunk with the
same per-episode seeds (``spec.seed + i``, ``i`` the episode's position in the whole list). Records
come back in episode order, so ``summary`` and ``episodes`` are those of ``--workers 1`` bit for bit,
for every agent whose episodes do not depend on earlier ones (``Agent.reset`` clears its episode
state). The ``random`` agent draws from one generator across episodes, so it is refused here.

With Ray, each chunk is a task; the cluster is the one at ``address`` (``ray.init(address=...)``;
``None`` starts a local one). Every task builds its env on its node: the corpus and index caches
must be reachable there (a shared ``VRAG_ENV_CACHE``), or the env's retriever can be a
``vrag serve-retriever`` URL that all nodes query (``docs/scaling.md``).
"""

from __future__ import annotations

import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from vrag_env._entry_points import load_entry_point
from vrag_env.provenance import provenance

from .eval_spec import EvalSpec
from .runner import _agent_metadata, results_document, run_episode, select_questions

if TYPE_CHECKING:
    from agents.base import Agent

ORDER_DEPENDENT_AGENTS = frozenset({"random"})
"""Built-in agents whose episodes depend on the ones before (one generator across episodes)."""

__all__ = [
    "ORDER_DEPENDENT_AGENTS",
    "evaluate_parallel",
    "merged_document",
    "run_chunk",
    "split_chunks",
]


def split_chunks(n: int, parts: int) -> list[range]:
    """``n`` episode positions cut into at most ``parts`` contiguous, near-equal ranges.

    >>> split_chunks(10, 3)
    [range(0, 4), range(4, 7), range(7, 10)]
    """
    parts = max(1, min(parts, n))
    base, extra = divmod(n, parts)
    out, start = [], 0
    for p in range(parts):
        size = base + (1 if p < extra else 0)
        out.append(range(start, start + size))
        start += size
    return out


def _build(
    agent_spec: str, spec: EvalSpec, agent_options: dict[str, Any] | None
) -> tuple[Any, Agent]:
    env = spec.make_env()
    make_agent = load_entry_point("agents.registry:make_agent")
    return env, make_agent(agent_spec, env, **(agent_options or {}))


def run_chunk(
    agent_spec: str,
    spec: EvalSpec,
    agent_options: dict[str, Any] | None,
    items: list[tuple[int, str]],
) -> dict[str, Any]:
    """Run episodes ``(position, question id)`` in one fresh env and agent; records and metadata."""
    env, agent = _build(agent_spec, spec, agent_options)
    try:
        records = [run_episode(env, agent, uid, spec.seed + i) for i, uid in items]
        spec_json = env.spec.to_json() if env.spec is not None else None
    finally:
        env.close()
    return {
        "records": records,
        "positions": [i for i, _ in items],
        "agent": {"name": agent.name, "spec": agent_spec, "config": agent.config()},
        "agent_metadata": _agent_metadata(agent),
        "env_spec": json.loads(spec_json) if spec_json else None,
    }


def _check(agent_spec: str, workers: int | None) -> None:
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ValueError(f"--workers must be an integer >= 1, got {workers!r}")
    if agent_spec in ORDER_DEPENDENT_AGENTS:
        raise ValueError(
            f"agent {agent_spec!r} draws from one generator across episodes, so its results "
            "depend on which process runs which episode; run it with --workers 1 and no --ray"
        )


def _question_ids(spec: EvalSpec) -> list[str]:
    if spec.question_ids:
        return list(spec.question_ids)
    env = spec.make_env()
    try:
        return select_questions(env, spec.episodes, spec.seed)
    finally:
        env.close()


def _run_processes(
    agent_spec: str,
    spec: EvalSpec,
    agent_options: dict[str, Any] | None,
    chunks: list[list[tuple[int, str]]],
) -> list[dict[str, Any]]:
    # "spawn": a clean interpreter per worker (no inherited threads or locks from the parent).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(chunks), mp_context=context) as pool:
        futures = [
            pool.submit(run_chunk, agent_spec, spec, agent_options, chunk) for chunk in chunks
        ]
        return [f.result() for f in futures]


def _run_ray(
    agent_spec: str,
    spec: EvalSpec,
    agent_options: dict[str, Any] | None,
    chunks: list[list[tuple[int, str]]],
    address: str | None,
) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise ImportError(
            "--ray needs Ray: install the extra with `uv sync --extra ray` "
            "(or `pip install 'vrag-env[ray]'`)"
        ) from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, runtime_env=_runtime_env(), log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(run_chunk)
        refs = [task.remote(agent_spec, spec, agent_options, chunk) for chunk in chunks]
        return list(ray.get(refs))
    finally:
        if started:
            ray.shutdown()


def _runtime_env() -> dict[str, Any]:
    """Ship the checkout's ``benchmarks`` and ``agents`` packages to Ray workers.

    Installed from a wheel, both travel inside ``vrag_env`` (installed on every node), and nothing
    is shipped.
    """
    import importlib
    from pathlib import Path

    folders = []
    for name in ("benchmarks", "agents"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        file = getattr(module, "__file__", None)
        if file:
            folders.append(str(Path(file).parent))
    return {"py_modules": folders} if folders else {}


def ray_cluster_cpus(address: str | None) -> int:
    """CPUs of the Ray cluster at ``address`` (connects and disconnects)."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, log_to_driver=False)
    try:
        return max(1, int(ray.cluster_resources().get("CPU", 1)))
    finally:
        if started:
            ray.shutdown()


def evaluate_parallel(
    agent_spec: str,
    spec: EvalSpec,
    agent_options: dict[str, Any] | None = None,
    *,
    workers: int | None = None,
    ray_address: str | None = None,
    use_ray: bool = False,
    provenance_record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate like :func:`benchmarks.runner.evaluate`, over processes or a Ray cluster.

    Args:
        agent_spec: Agent name or ``"module:Class"`` (built once per worker).
        spec: The questions and env.
        agent_options: Keyword options for the agent.
        workers: Processes (or Ray tasks); default: the Ray cluster's CPUs with Ray, else 1.
        ray_address: Address of a running Ray cluster (``None`` with ``use_ray``: a local one).
        use_ray: Run the chunks as Ray tasks instead of local processes.
        provenance_record: As for :func:`benchmarks.runner.evaluate`.

    Returns:
        The results object; ``summary`` and ``episodes`` equal those of a ``--workers 1`` run.
        ``timing`` records ``workers`` and the backend.

    Raises:
        ValueError: For ``workers < 1`` or an agent whose episodes depend on earlier ones.
    """
    _check(agent_spec, workers)
    t0 = time.perf_counter()
    ids = _question_ids(spec)
    if workers is None:
        workers = ray_cluster_cpus(ray_address) if use_ray else 1
    positions = split_chunks(len(ids), workers)
    chunks = [[(i, ids[i]) for i in r] for r in positions]
    if use_ray:
        parts = _run_ray(agent_spec, spec, agent_options, chunks, ray_address)
    else:
        parts = _run_processes(agent_spec, spec, agent_options, chunks)
    elapsed = time.perf_counter() - t0
    episodes = sum(len(part["records"]) for part in parts)
    return merged_document(
        spec,
        parts,
        provenance_record or provenance(),
        {
            "setup_seconds": 0.0,
            "total_seconds": round(elapsed, 3),
            "seconds_per_episode": round(elapsed / max(1, episodes), 4),
            "workers": len(chunks),
            "backend": "ray" if use_ray else "processes",
        },
    )


def merged_document(
    spec: EvalSpec,
    parts: list[dict[str, Any]],
    provenance_record: dict[str, Any],
    timing: dict[str, Any],
) -> dict[str, Any]:
    """One results object from :func:`run_chunk` results of one agent, episodes in question order.

    Args:
        spec: The questions and env the chunks ran.
        parts: The chunks' results (any order; each carries its episodes' ``positions``).
        provenance_record: Provenance to record.
        timing: The ``timing`` entry.
    """
    pairs = sorted(
        (
            (i, record)
            for part in parts
            for i, record in zip(part["positions"], part["records"], strict=True)
        ),
        key=lambda pair: pair[0],
    )
    first = parts[0]
    return results_document(
        spec,
        [record for _, record in pairs],
        first["env_spec"],
        first["agent"],
        first["agent_metadata"],
        provenance_record,
        timing,
    )
