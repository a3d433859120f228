"""The built-in synthetic corpus: determinism, integrity, legibility design, caching, CLI."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from vrag_env.commands import generate as synthetic_cli
from vrag_env.corpora.corpus import MANIFEST, Corpus, is_corpus
from vrag_env.corpora.synthetic import (
    GENERATOR_VERSION,
    SYNTHETIC_PRESETS,
    SyntheticConfig,
    builtin_corpus,
    cached_corpus_path,
    generate_corpus,
)
from vrag_env.corpora.synthetic.drafting import normalise
from vrag_env.corpora.synthetic.generator import _publish
from vrag_env.types import BBox, Page

KINDS = {"report", "chart", "slide", "infographic", "form"}
SOURCE_TYPES = {"table", "chart", "text", "slide", "form"}


def _words_inside(page: Page, box: BBox, tol: float = 0.11) -> str:
    return " ".join(
        w.text
        for w in page.words
        if w.box[0] >= box[0] - tol
        and w.box[1] >= box[1] - tol
        and w.box[2] <= box[2] + tol
        and w.box[3] <= box[3] + tol
    )


# ---------------------------------------------------------------- config


def test_config_is_json_and_validated() -> None:
    for name, cfg in SYNTHETIC_PRESETS.items():
        assert cfg.name == name
        record = json.loads(json.dumps(dataclasses.asdict(cfg)))
        assert (
            SyntheticConfig(**{**record, "split_fractions": tuple(record["split_fractions"])})
            == cfg
        )
    tiny = SYNTHETIC_PRESETS["tiny"]
    assert tiny.fingerprint() != dataclasses.replace(tiny, seed=1).fingerprint()
    assert cached_corpus_path(tiny, "/x").name.startswith(f"synthetic-tiny-g{GENERATOR_VERSION}-")
    with pytest.raises(ValueError, match="num_years"):
        SyntheticConfig(num_years=1)
    with pytest.raises(ValueError, match="split_fractions"):
        SyntheticConfig(split_fractions=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="available"):
        builtin_corpus("huge")


# ---------------------------------------------------------------- contents of the tiny corpus


def test_tiny_corpus_shape(tiny_corpus: Corpus) -> None:
    corpus = tiny_corpus
    assert 30 <= len(corpus.pages) <= 60
    queries = corpus.split("all")
    assert len(queries) >= 150
    assert {p.kind for p in corpus.pages.values()} == KINDS
    assert {q.source_type for q in queries} == SOURCE_TYPES
    assert {q.query_type for q in queries} == {"single-hop", "multi-hop"}
    assert all(corpus.split(s) for s in ("train", "val", "test"))
    for page in corpus.pages.values():
        assert page.page_id == f"{page.doc}_{page.page}"
        assert (page.width, page.height) == ((1600, 900) if page.kind == "slide" else (1000, 1400))
        assert page.words, page.page_id
        with corpus.page_image(page.page_id) as _:
            pass
    assert [q.uid for q in queries] == [f"synth-{i:06d}" for i in range(len(queries))]
    assert corpus.manifest["build"]["generator_version"] == GENERATOR_VERSION


def test_every_kind_of_question_in_tiny(tiny_corpus: Corpus) -> None:
    # A cross-section of templates, so a regression that silently drops one shows up here.
    templates = Counter(q.meta["template"].split(".")[0] for q in tiny_corpus.queries.values())
    assert set(templates) == {"table", "chart", "text", "slide", "form", "multi"}


def test_evidence_is_what_is_printed(tiny_corpus: Corpus) -> None:
    for q in tiny_corpus.queries.values():
        assert q.evidence, q.uid
        assert [e.page_id for e in q.evidence] == list(q.reference_pages), q.uid
        for ev in q.evidence:
            page = tiny_corpus.pages[ev.page_id]
            x1, y1, x2, y2 = ev.box
            assert 0 <= x1 < x2 <= page.width and 0 <= y1 < y2 <= page.height, (q.uid, ev)
            assert _words_inside(page, ev.box) == ev.text, (q.uid, ev)
        if q.query_type == "single-hop":
            # The canonical answer is exactly the printed text.
            assert q.answers[0] == q.evidence[0].text, q.uid


def test_no_question_contains_its_answer(tiny_corpus: Corpus) -> None:
    for q in tiny_corpus.queries.values():
        for answer in q.answers:
            assert normalise(answer) not in normalise(q.question), (q.uid, q.question, answer)


def test_multi_hop_answers_are_computed_from_operands(tiny_corpus: Corpus) -> None:
    checked = 0
    for q in tiny_corpus.queries.values():
        template = q.meta["template"]
        if template in {"multi.revenue_change", "multi.margin_change", "multi.cash_flow_change"}:
            a, b = (float(e.text.replace(",", "")) for e in q.evidence)
            assert float(q.answers[0].replace(",", "")) == pytest.approx(b - a, abs=1e-9)
            checked += 1
        elif template == "multi.headcount_gap":
            a, b = (int(e.text.replace(",", "")) for e in q.evidence)
            assert int(q.answers[0].replace(",", "")) == a - b > 0
            checked += 1
        elif template.startswith("multi.bridge_"):
            assert q.answers[0] == q.evidence[1].text
            assert q.evidence[0].text in q.question
            checked += 1
    assert checked == sum(q.query_type == "multi-hop" for q in tiny_corpus.queries.values())


def test_splits_keep_companies_apart(tiny_corpus: Corpus) -> None:
    # A question's split is its company's, so train facts say nothing about test. The only pages
    # of another company a question reads are the partner's in a two-company headcount comparison.
    company_splits: dict[str, set[str]] = {}
    for q in tiny_corpus.queries.values():
        company = q.reference_pages[0].split("-")[0]
        company_splits.setdefault(company, set()).add(q.split)
    assert len(company_splits) == 3
    assert all(len(splits) == 1 for splits in company_splits.values()), company_splits
    assert {s for v in company_splits.values() for s in v} == {"train", "val", "test"}
    for q in tiny_corpus.queries.values():
        companies = {p.split("-")[0] for p in q.reference_pages}
        assert len(companies) == 1 or q.meta["template"] == "multi.headcount_gap", q.uid


# ---------------------------------------------------------------- determinism


def _snapshot(root: Path) -> dict[str, bytes]:
    files = [root / "pages.jsonl", root / "queries.jsonl", *sorted((root / "pages").glob("*.png"))]
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def test_generation_is_deterministic(tiny_corpus_path: Path, tmp_path: Path) -> None:
    again = generate_corpus("tiny", tmp_path / "again", progress=False)
    assert _snapshot(again) == _snapshot(tiny_corpus_path)
    other = generate_corpus(
        dataclasses.replace(SYNTHETIC_PRESETS["tiny"], seed=7), tmp_path / "other", progress=False
    )
    differ = _snapshot(other)
    assert differ["pages.jsonl"] != _snapshot(tiny_corpus_path)["pages.jsonl"]
    assert differ["queries.jsonl"] != _snapshot(tiny_corpus_path)["queries.jsonl"]


# ---------------------------------------------------------------- the cache


def test_builtin_corpus_is_cached(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VRAG_ENV_CACHE", str(tmp_path / "cache"))
    first = builtin_corpus("tiny", progress=False)
    assert first.parent == tmp_path / "cache" and is_corpus(first)
    before = (first / MANIFEST).stat()
    second = builtin_corpus("tiny", progress=False)
    after = (second / MANIFEST).stat()
    assert second == first
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # No staging or temporary folders are left behind.
    assert sorted(p.name for p in first.parent.iterdir() if not p.name.endswith(".lock")) == [
        first.name
    ]


def test_losing_the_final_rename_uses_the_winner(tiny_corpus_path: Path, tmp_path: Path) -> None:
    winner = tmp_path / "corpus"
    shutil.copytree(tiny_corpus_path, winner)
    staging = tmp_path / ".corpus.build-1"
    shutil.copytree(tiny_corpus_path, staging)
    _publish(staging, winner)
    assert not staging.exists() and is_corpus(winner)


def test_concurrent_first_use(tmp_path: Path) -> None:
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(builtin_corpus, "tiny", tmp_path, progress=False) for _ in range(2)]
        paths = {f.result() for f in futures}
    assert len(paths) == 1
    assert len(Corpus(paths.pop()).queries) >= 150


# ---------------------------------------------------------------- CLI and imports


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    synthetic_cli.configure_parser(parser)
    return synthetic_cli.run(parser.parse_args(list(argv)))


def test_cli_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c"
    assert _cli("--out", str(out), "--preset", "tiny", "--seed", "3", "--no-progress") == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert Corpus(out).manifest["build"]["config"]["seed"] == 3
    with pytest.raises(FileExistsError, match="--force"):
        _cli("--out", str(out), "--preset", "tiny", "--no-progress")
    assert _cli("--out", str(out), "--preset", "tiny", "--force", "--no-progress") == 0
    assert Corpus(out).manifest["build"]["config"]["seed"] == 0


def test_imports_stay_light() -> None:
    code = (
        "import sys, vrag_env.corpora.synthetic, vrag_env.commands.generate;"
        "from vrag_env.corpora.synthetic.fonts import fonts_dir; fonts_dir();"
        "print(sorted(m for m in ('matplotlib', 'torch', 'bm25s') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------- the default corpus


def test_default_corpus_size_and_mix(default_corpus: Corpus) -> None:
    queries = default_corpus.split("all")
    assert 250 <= len(default_corpus.pages) <= 450
    assert len(queries) >= 1000
    splits = Counter(q.split for q in queries)
    assert splits["test"] >= 300  # synth-test draws 300 test questions
    assert 0.2 <= splits["test"] / len(queries) <= 0.3
    test = default_corpus.split("test")
    multi = sum(q.query_type == "multi-hop" for q in test) / len(test)
    assert multi >= 0.15, multi
    # The measured labels ship with the package for the 300 questions of synth-test.
    labelled = [q for q in test if q.needs_zoom is not None]
    assert len(labelled) >= 300
    share = sum(bool(q.needs_zoom) for q in labelled) / len(labelled)
    assert share >= 0.6, share
    assert all(re.fullmatch(r"[a-z0-9-]+_\d+", p) for p in default_corpus.pages)
    print(
        f"\ndefault corpus: {len(default_corpus.pages)} pages, {len(queries)} questions, test questions needing zoom (OCR) {share:.1%}"
    )
