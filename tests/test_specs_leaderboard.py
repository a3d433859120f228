"""Benchmark specs, results determinism, and leaderboard generation from real results files."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from pathlib import Path

import pytest

from benchmarks.leaderboard import (
    CSV_NAME,
    MARKDOWN_NAME,
    PNG_NAME,
    load_board,
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


def _clean(results: dict, **meta) -> dict:
    """A copy marked as produced from a clean checkout (tests run in a working tree)."""
    out = json.loads(json.dumps(results))
    out["metadata"].update({"git_sha": "0123456789abcdef" * 2 + "01234567", "git_dirty": False})
    out["metadata"].update(meta)
    return out


def test_results_record_accuracy_categories_and_fingerprint(tiny_spec, real_results) -> None:
    from benchmarks.verify import benchmark_fingerprint, resolve_benchmark

    oracle = real_results["oracle"]
    bench = resolve_benchmark("synth-tiny-quick", TINY_EPISODES)
    assert oracle["metadata"]["spec_fingerprint"] == benchmark_fingerprint(bench)
    assert (
        oracle["metadata"]["privileged"] is False or oracle["metadata"]["agent"]["name"] == "oracle"
    )
    summary = oracle["summary"]
    assert summary["accuracy"] >= 0.98 and summary["accuracy_ci95"][0] <= summary["accuracy"]
    cats = summary["accuracy_by_category"]
    assert sum(v["n"] for k, v in cats.items() if k.startswith("query:")) == TINY_EPISODES
    assert sum(v["n"] for k, v in cats.items() if k.startswith("source:")) == TINY_EPISODES
    for record in oracle["episodes"]:
        assert record["accuracy"] == 1.0
        assert record["query_type"] in ("single-hop", "multi-hop") and record["source_type"]
        assert "needs_zoom" in record and record["needs_zoom"] in (None, True, False)
    # An ad-hoc spec (not a checked-in benchmark) has no fingerprint.
    adhoc = dataclasses.replace(tiny_spec, name=None, question_ids=tiny_spec.question_ids[:2])
    assert evaluate("random", adhoc, progress=False)["metadata"]["spec_fingerprint"] is None


def test_leaderboard_from_real_results(tmp_path: Path, real_results) -> None:
    results_dir = tmp_path / "results"
    folder = results_dir / "synth-tiny-quick"
    for name, results in real_results.items():
        write_results(_clean(results), folder / f"{name}.json")
    out = tmp_path / "out"
    rows, paths = write_leaderboard(results_dir, out)
    assert [(r.agent, r.privileged) for r in rows] == [("random", False), ("oracle", True)]
    oracle = rows[1]
    assert oracle.accuracy >= 0.98 and oracle.episodes == TINY_EPISODES
    assert oracle.accuracy_low <= oracle.accuracy <= oracle.accuracy_high
    markdown = (out / MARKDOWN_NAME).read_text()
    assert "## synth-tiny-quick" in markdown and "`random`" in markdown
    privileged = markdown.split("### Privileged agents")[1].split("###")[0]
    assert "`oracle` (privileged)" in privileged and "`random`" not in privileged
    assert "### Accuracy by category" in markdown and "single-hop" in markdown
    assert "Do not edit by hand" in markdown and PNG_NAME in markdown
    table = list(csv.DictReader(io.StringIO((out / CSV_NAME).read_text())))
    assert [(r["agent"], r["privileged"]) for r in table] == [
        ("random", "False"),
        ("oracle", "True"),
    ]
    assert table[1]["git_sha"] == oracle.git_sha and table[1]["episodes"] == str(TINY_EPISODES)
    png = (out / PNG_NAME).read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5_000
    # Regenerating from the same files gives the same bytes.
    before = {p.name: p.read_bytes() for p in paths}
    write_leaderboard(results_dir, out)
    assert {p.name: p.read_bytes() for p in paths} == before


def test_leaderboard_rejects_unverified_files_with_reasons(tmp_path: Path, real_results) -> None:
    folder = tmp_path / "results" / "synth-tiny-quick"
    random = real_results["random"]
    write_results(_clean(random), folder / "random.json")
    dirty = _clean(random)
    dirty["metadata"]["git_dirty"] = True
    dirty["metadata"]["agent"]["name"] = "dirty"
    write_results(dirty, folder / "dirty.json")
    edited = _clean(random)
    edited["summary"]["accuracy"] = 0.99
    write_results(edited, folder / "edited.json")
    short = _clean(random)
    short["episodes"] = short["episodes"][:-1]
    write_results(short, folder / "short.json")
    other = _clean(random, spec_fingerprint="0" * 16)
    write_results(other, folder / "other-spec.json")
    flipped = _clean(random)
    flipped["episodes"][0]["accuracy"] = 1.0 - flipped["episodes"][0]["accuracy"]
    write_results(flipped, folder / "flipped.json")
    (folder / "notes.json").write_text("{}")
    board = load_board(tmp_path / "results")
    assert [r.agent for r in board.rows] == ["random"]
    reasons = {r.source.split("/")[1]: " ".join(r.reasons) for r in board.rejected}
    assert "git tree was dirty" in reasons["dirty.json"]
    assert "summary.accuracy is 0.99" in reasons["edited.json"]
    assert f"{TINY_EPISODES - 1} episodes, the spec has {TINY_EPISODES}" in reasons["short.json"]
    assert "spec fingerprint '0000000000000000' does not match" in reasons["other-spec.json"]
    assert "not a results file" in reasons["notes.json"]
    assert "1 episode accuracy values differ from re-scoring" in reasons["flipped.json"]
    markdown = render_markdown(board)
    rejected = markdown.split("### Rejected results files")[1]
    for name in ("dirty.json", "edited.json", "short.json", "other-spec.json", "notes.json"):
        assert f"synth-tiny-quick/{name}" in rejected


def test_leaderboard_pairs_rows_and_marks_models(tmp_path: Path, real_results) -> None:
    folder = tmp_path / "results" / "synth-tiny-quick"
    random = real_results["random"]
    write_results(_clean(random), folder / "random.json")
    # A twin of random: the paired difference must be exactly 0 on the same questions.
    twin = _clean(random)
    twin["metadata"]["agent"]["name"] = "twin"
    write_results(twin, folder / "twin.json")
    # A learned agent without a checkpoint hash, with a description; and one that declares privilege.
    learned = _clean(random, description="pipeline check: 3M-parameter randomly initialised VLM")
    learned["metadata"]["agent"]["name"] = "grpo"
    write_results(learned, folder / "grpo.json")
    peeker = _clean(random, privileged=True)
    peeker["metadata"]["agent"]["name"] = "peeker"
    write_results(peeker, folder / "peeker.json")
    board = load_board(tmp_path / "results")
    ranked = board.ranked("synth-tiny-quick")
    assert [r.agent for r in ranked] == ["grpo", "random", "twin"]
    assert [r.agent for r in board.privileged("synth-tiny-quick")] == ["peeker"]
    markdown = render_markdown(board)
    assert "+0.000 [+0.000, +0.000]" in markdown  # each row against its identical next row
    assert "3M-parameter randomly initialised VLM" in markdown
    grpo = next(r for r in ranked if r.agent == "grpo")
    assert "without a checkpoint hash" in grpo.flag and "without a checkpoint hash" in markdown
    learned["metadata"]["agent"]["checkpoint_sha256"] = "ab" * 32
    write_results(learned, folder / "grpo.json")
    grpo = next(r for r in load_rows(tmp_path / "results") if r.agent == "grpo")
    assert grpo.flag == "" and grpo.checkpoint == "ab" * 32


def test_paired_difference_golden_values() -> None:
    from benchmarks.verify import paired_difference

    a = {"q1": 1.0, "q2": 1.0, "q3": 0.0, "q4": 1.0}
    b = {"q1": 0.0, "q2": 1.0, "q3": 0.0, "q5": 1.0}  # q4/q5 are not shared
    d = paired_difference(a, b)
    assert d is not None and d.pairs == 3 and d.mean == pytest.approx(1 / 3)
    assert 0.0 <= d.low <= d.mean <= d.high <= 1.0
    assert paired_difference({"x": 1.0}, {"y": 1.0}) is None


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
    folder = tmp_path / "results" / "synth-tiny-quick"
    files = sorted(p.name for p in folder.glob("*.json"))
    assert files == ["oracle.json", "random.json"]
    # Reports are written for verified rows only (none in a working tree with edits), and each
    # report belongs to a results file.
    reports = sorted(p.stem for p in (folder / "reports").glob("*.html"))
    assert set(reports) <= {"oracle", "random"}
    # Rows need a clean checkout; in a working tree with edits they are listed as rejected.
    markdown = (tmp_path / MARKDOWN_NAME).read_text()
    assert "`oracle` (privileged)" in markdown or "synth-tiny-quick/oracle.json" in markdown
    results = json.loads((tmp_path / "results" / "synth-tiny-quick" / "random.json").read_text())
    oracle = json.loads((tmp_path / "results" / "synth-tiny-quick" / "oracle.json").read_text())
    # Provenance is read once, before any file is written, so both files carry the same state.
    assert results["metadata"]["git_dirty"] == oracle["metadata"]["git_dirty"]
    assert (tmp_path / PNG_NAME).read_bytes().startswith(b"\x89PNG")
    # Two agents ran at once in two processes (the default --jobs 2); one at a time gives the same.
    seq = ["--results-dir", str(tmp_path / "seq"), "--out-dir", str(tmp_path / "seq"), "--quiet"]
    assert main([*args, *seq, "--jobs", "1", "--no-png", "--no-reports"]) == 0
    for name in ("random", "oracle"):
        a = json.loads((folder / f"{name}.json").read_text())
        b = json.loads((tmp_path / "seq" / "synth-tiny-quick" / f"{name}.json").read_text())
        assert a["summary"] == b["summary"] and a["episodes"] == b["episodes"]


def test_leaderboard_shards_chained_agents_with_the_same_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chained agents split over two processes write what one process writes, episode for episode."""
    import benchmarks.leaderboard_cli as cli
    from vrag_env.cli import main

    monkeypatch.setattr(cli, "SHARED_READER_CHAINS", (("oracle", "no-search"),))
    args = ["leaderboard", "--benchmark", "synth-tiny", "--quick", "--no-png", "--no-reports"]
    args += ["--agents", "oracle", "no-search", "prior", "--quiet"]
    for jobs in ("1", "2"):
        out = tmp_path / jobs
        assert main([*args, "--results-dir", str(out), "--out-dir", str(out), "--jobs", jobs]) == 0
    for name in ("oracle", "no-search", "prior"):
        one, two = (
            json.loads((tmp_path / jobs / "synth-tiny-quick" / f"{name}.json").read_text())
            for jobs in ("1", "2")
        )
        assert one["summary"] == two["summary"] and one["episodes"] == two["episodes"], name
        assert len(two["episodes"]) == 60
    sharded = json.loads((tmp_path / "2" / "synth-tiny-quick" / "oracle.json").read_text())
    assert sharded["timing"]["backend"] == "shards" and sharded["timing"]["workers"] == 2


def test_shards_deal_every_question_once() -> None:
    from benchmarks.leaderboard_cli import shard_positions

    for n, k in [(195, 2), (7, 3), (2, 4), (0, 2)]:
        parts = shard_positions(n, k)
        flat = sorted(i for part in parts for i in part)
        assert flat == list(range(n))
        sizes = [len(part) for part in parts]
        assert not sizes or max(sizes) - min(sizes) <= 1


def test_leaderboard_rows_link_to_their_episode_reports(tmp_path: Path, real_results) -> None:
    """Each verified row links to a report that holds every episode of its results file."""
    results_dir = tmp_path / "results"
    folder = results_dir / "synth-tiny-quick"
    for name, results in real_results.items():
        write_results(_clean(results), folder / f"{name}.json")
    out = tmp_path / "out"
    rows, _ = write_leaderboard(results_dir, out, png=False, reports=True)
    markdown = (out / MARKDOWN_NAME).read_text()
    for row in rows:
        link = re.search(rf"\[`{row.agent}`\]\(([^)]+)\)", markdown)
        assert link, f"no link for {row.agent}"
        report = (out / link.group(1)).resolve()
        assert report == (folder / "reports" / f"{row.agent}.html").resolve()
        text = report.read_text(encoding="utf-8")
        ids = [e["question_id"] for e in real_results[row.agent]["episodes"]]
        assert text.count('<details class="episode"') == len(ids)
        assert all(qid in text for qid in ids)
    # Without --reports the links stay while the files exist, and vanish when they are removed.
    write_leaderboard(results_dir, out, png=False)
    assert "[`oracle`](" in (out / MARKDOWN_NAME).read_text()
    for f in (folder / "reports").glob("*.html"):
        f.unlink()
    write_leaderboard(results_dir, out, png=False)
    assert "[`oracle`](" not in (out / MARKDOWN_NAME).read_text()


def test_leaderboard_reads_provenance_once_for_all_benchmarks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Results of a later benchmark must not see the tree dirtied by an earlier one's files."""
    import vrag_env.provenance as prov_module
    from vrag_env.cli import main

    real = prov_module.provenance
    calls: list[int] = []

    def counting() -> dict:
        calls.append(1)
        return real()

    monkeypatch.setattr(prov_module, "provenance", counting)
    args = [
        "leaderboard",
        "--benchmark",
        "synth-tiny",
        "synth-tiny",
        "--quick",
        "--agents",
        "random",
    ]
    out = [
        "--results-dir",
        str(tmp_path / "r"),
        "--out-dir",
        str(tmp_path),
        "--quiet",
        "--jobs",
        "1",
    ]
    assert main([*args, *out, "--no-png", "--no-reports"]) == 0
    assert len(calls) == 1
