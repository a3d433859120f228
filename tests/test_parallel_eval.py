"""Evaluation over processes and over a Ray cluster gives the results of one process, bit for bit."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.eval_spec import EvalSpec
from benchmarks.parallel_eval import evaluate_parallel, split_chunks
from benchmarks.runner import evaluate

SPEC = EvalSpec(env_id="VRAG-Tiny-v0", env_kwargs={"split": "test"}, episodes=7, seed=3)
DETERMINISTIC = ("summary", "episodes")


@pytest.fixture(scope="module")
def one_process() -> dict[str, Any]:
    return evaluate("heuristic", SPEC, progress=False)


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    for key in DETERMINISTIC:
        assert json.dumps(a[key], sort_keys=True) == json.dumps(b[key], sort_keys=True), key
    assert a["metadata"]["agent"] == b["metadata"]["agent"]
    assert a["metadata"]["env_spec"] == b["metadata"]["env_spec"]


def test_chunks_cover_every_episode_in_order() -> None:
    for n in (1, 2, 7, 40):
        for parts in (1, 2, 3, 8, 50):
            chunks = split_chunks(n, parts)
            assert [i for c in chunks for i in c] == list(range(n))
            assert len(chunks) == min(n, parts)
            assert max(map(len, chunks)) - min(map(len, chunks)) <= 1


def test_two_workers_through_the_cli_match_one_process(
    one_process: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "heuristic.json"
    cmd = [
        sys.executable, "-m", "vrag_env.cli", "eval", "--agent", "heuristic",
        "--env-id", "VRAG-Tiny-v0", "--episodes", "7", "--seed", "3", "--workers", "2",
        "--quiet", "--out", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=Path(__file__).resolve().parents[1], timeout=600)
    results = json.loads(out.read_text())
    _same(one_process, results)
    assert results["timing"]["workers"] == 2
    assert [e["question_id"] for e in results["episodes"]] == [
        e["question_id"] for e in one_process["episodes"]
    ]


def test_more_workers_than_episodes(one_process: dict[str, Any]) -> None:
    spec = EvalSpec(**{**SPEC.__dict__, "episodes": 2})
    alone = evaluate("heuristic", spec, progress=False)
    _same(alone, evaluate_parallel("heuristic", spec, workers=4))


def test_order_dependent_agents_and_bad_worker_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="'random' draws from one generator"):
        evaluate_parallel("random", SPEC, workers=2)
    with pytest.raises(ValueError, match="--workers must be an integer >= 1, got 0"):
        evaluate_parallel("heuristic", SPEC, workers=0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A local Ray head on 127.0.0.1 (its own temp dir), stopped by terminating its process."""
    pytest.importorskip("ray")
    ray_bin = shutil.which("ray", path=str(Path(sys.executable).parent))
    if ray_bin is None:
        pytest.skip("the ray command is not installed next to this interpreter")
    port = _free_port()
    temp = Path("/tmp") / f"ray-test-{os.getpid()}"  # short: Ray's socket paths have a length limit
    cmd = [
        ray_bin, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
        "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Ray head did not start (exit code {proc.poll()})")
            time.sleep(0.5)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_cluster_matches_one_process(one_process: dict[str, Any], ray_head: str) -> None:
    results = evaluate_parallel("heuristic", SPEC, ray_address=ray_head, use_ray=True)
    _same(one_process, results)
    assert results["timing"]["backend"] == "ray"
    assert results["timing"]["workers"] == 2  # the head's 2 CPUs
