"""Benchmark specs, results determinism, and leaderboard generation from real results files."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import pytest

from benchmarks.leaderboard import (
    CSV_NAME,
    MARKDOWN_NAME,
    PNG_NAME,
    load_rows,
    render_markdown,
    write_leaderboard,
)
from benchmarks.runner import evaluate, write_results
from benchmarks.specs import (
    RECIPES,
    Benchmark,
    CorpusRef,
    StaleBenchmarkError,
    available_benchmarks,
    get_benchmark,
    with_limit,
)

TINY_EPISODES = 8


@pytest.fixture(scope="module")
def tiny_spec():
    return with_limit(get_benchmark("synth-tiny"), TINY_EPISODES).to_eval_spec()


@pytest.fixture(scope="module")
def real_results(tiny_spec) -> dict[str, dict]:
    """Results of real random and oracle runs on the tiny corpus."""
    return {name: evaluate(name, tiny_spec, progress=False) for name in ("random", "oracle")}


def test_checked_in_specs_load_and_are_fresh() -> None:
    assert {"synth-test", "synth-tiny"} <= set(available_benchmarks())
    for name in ("synth-test", "synth-tiny"):
        bench = get_benchmark(name)
        bench.check_fresh()
        assert bench.corpus.fingerprint and bench.corpus.generator_version is not None
    synth = get_benchmark("synth-test")
    assert synth.episodes >= 300 and len(set(synth.question_ids)) == synth.episodes
    spec = synth.to_eval_spec()
    assert spec.name == "synth-test" and spec.question_ids == list(synth.question_ids)
    assert spec.env_kwargs == {"split": "test", "dialect": "vrag", "reward": "default"}
    assert spec.max_episode_steps == synth.max_episode_steps


def test_stale_spec_is_a_clear_error() -> None:
    bench = get_benchmark("synth-tiny")
    stale = dataclasses.replace(bench, corpus=CorpusRef("tiny", 0, "000000000000"))
    with pytest.raises(StaleBenchmarkError, match=r"python -m benchmarks\.specs --write"):
        stale.to_eval_spec()


def test_unknown_benchmark_lists_the_available_ones() -> None:
    with pytest.raises(ValueError, match="synth-test"):
        get_benchmark("no-such-benchmark")


def test_spec_round_trips_through_json() -> None:
    bench = get_benchmark("synth-tiny")
    assert Benchmark.from_json(json.loads(json.dumps(bench.to_json()))) == bench


def test_tiny_spec_matches_its_recipe() -> None:
    from benchmarks.specs import build_benchmark

    assert build_benchmark(RECIPES["synth-tiny"]) == get_benchmark("synth-tiny")


@pytest.mark.slow
def test_synth_test_matches_its_recipe() -> None:
    from benchmarks.specs import build_benchmark

    assert build_benchmark(RECIPES["synth-test"]) == get_benchmark("synth-test")


def test_eval_reruns_are_byte_identical(tiny_spec, real_results) -> None:
    again = evaluate("random", tiny_spec, progress=False)
    first = real_results["random"]
    for key in ("summary", "episodes"):
        assert json.dumps(again[key], sort_keys=True) == json.dumps(first[key], sort_keys=True)
    assert set(again) == {"metadata", "summary", "episodes", "timing"}


def test_leaderboard_from_real_results(tmp_path: Path, real_results) -> None:
    results_dir = tmp_path / "results"
    for name, results in real_results.items():
        write_results(results, results_dir / "synth-tiny-quick" / f"{name}.json")
    out = tmp_path / "out"
    rows, paths = write_leaderboard(results_dir, out)
    assert [r.agent for r in rows] == ["oracle", "random"]  # sorted by ANLS
    assert rows[0].anls >= 0.98 and rows[0].episodes == TINY_EPISODES
    assert rows[0].anls_low <= rows[0].anls <= rows[0].anls_high
    markdown = (out / MARKDOWN_NAME).read_text()
    assert "## synth-tiny-quick" in markdown and "`oracle`" in markdown and "`random`" in markdown
    assert "Do not edit by hand" in markdown and PNG_NAME in markdown
    table = list(csv.DictReader(io.StringIO((out / CSV_NAME).read_text())))
    assert [r["agent"] for r in table] == ["oracle", "random"]
    assert table[0]["git_sha"] == rows[0].git_sha and table[0]["episodes"] == str(TINY_EPISODES)
    png = (out / PNG_NAME).read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5_000
    # Regenerating from the same files gives the same bytes.
    before = {p.name: p.read_bytes() for p in paths}
    write_leaderboard(results_dir, out)
    assert {p.name: p.read_bytes() for p in paths} == before
    # A results file of a user's own agent appears just by being there; junk files are skipped.
    mine = json.loads(json.dumps(real_results["random"]))
    mine["metadata"]["agent"]["name"] = "my-agent"
    write_results(mine, results_dir / "synth-tiny-quick" / "my-agent.json")
    (results_dir / "synth-tiny-quick" / "notes.json").write_text("{}")
    assert [r.agent for r in load_rows(results_dir)] == ["oracle", "my-agent", "random"]


def test_markdown_without_results_says_how_to_make_them() -> None:
    assert "vrag leaderboard" in render_markdown([])


def test_leaderboard_cli_skip_run(tmp_path: Path, real_results) -> None:
    from vrag_env.cli import main

    write_results(real_results["oracle"], tmp_path / "results" / "synth-tiny-quick" / "oracle.json")
    code = main(
        [
            "leaderboard",
            "--skip-run",
            "--results-dir",
            str(tmp_path / "results"),
            "--out-dir",
            str(tmp_path),
            "--no-png",
        ]
    )
    assert code == 0
    assert (tmp_path / MARKDOWN_NAME).is_file() and not (tmp_path / PNG_NAME).exists()


def test_leaderboard_cli_runs_agents(tmp_path: Path) -> None:
    from vrag_env.cli import main

    args = ["leaderboard", "--benchmark", "synth-tiny", "--quick", "--agents", "random", "oracle"]
    out = ["--results-dir", str(tmp_path / "results"), "--out-dir", str(tmp_path), "--quiet"]
    assert main([*args, *out]) == 0
    files = sorted(p.name for p in (tmp_path / "results" / "synth-tiny-quick").iterdir())
    assert files == ["oracle.json", "random.json"]
    assert "`oracle`" in (tmp_path / MARKDOWN_NAME).read_text()
    assert (tmp_path / PNG_NAME).read_bytes().startswith(b"\x89PNG")
