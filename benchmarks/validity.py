"""Does a benchmark measure reading, searching and zooming? Measure it.

Usage::

    uv run vrag validity --benchmark synth-test --out validity.json [--write-labels]
    uv run python -m benchmarks.validity ...   (the same)

Prints and saves (JSON, and a PNG next to it) on the benchmark's questions:

* ``needs_zoom``: the share of questions whose evidence RapidOCR does not read on the whole-page view
  but does read on the oracle's crop (:mod:`vrag_env.corpora.legibility`), the share read without a
  crop, and the share unreadable even on the crop (the oracle's ceiling is one minus that);
  agreement with the ``needs_zoom`` labels the corpus ships;
* BM25 recall@1 and recall@5 with the question as the query (mean over questions; a two-page
  question counts each page as half);
* the multi-hop share;
* the floors' accuracy: ``prior`` (train-split statistics; on a corpus without a train split, its val
  questions that are not asked) and ``no-search`` (question text alone).
  Both answer at step 1 without looking at a page, so their answers are computed directly.

``--write-labels`` stores the measured ``needs_zoom`` labels in the package
(:mod:`vrag_env.corpora.synthetic.labels`); regenerate the corpus (a new cache folder is not needed:
delete the cached one) to apply them.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vrag_env import rewards
from vrag_env._entry_points import load_entry_point
from vrag_env.corpora.corpus import Corpus
from vrag_env.corpora.legibility import Legibility, LegibilityMeter
from vrag_env.types import Query


def accuracy_metric() -> tuple[str, Callable[[str, Sequence[str]], float]]:
    """``rewards.accuracy`` when this tree has it, else normalised exact match."""
    fn = getattr(rewards, "accuracy", None)
    if fn is not None:
        return "rewards.accuracy", fn
    return "rewards.exact_match (normalised exact match)", rewards.exact_match


def bm25_recall(corpus: Corpus, queries: Sequence[Query]) -> dict[str, float]:
    """Mean recall@1 and @5 of BM25 with the question as the query."""
    from vrag_env.retrieval.bm25 import BM25Retriever
    from vrag_env.retrieval.metrics import recall_at_k

    retriever = BM25Retriever()
    retriever.index(corpus)
    r1 = r5 = 0.0
    for q in queries:
        ranked = [r.page_id for r in retriever.search(q.question, 5)]
        r1 += recall_at_k(ranked, q.reference_pages, 1)
        r5 += recall_at_k(ranked, q.reference_pages, 5)
    n = max(1, len(queries))
    return {"recall@1": round(r1 / n, 4), "recall@5": round(r5 / n, 4)}


def floors(corpus: Corpus, queries: Sequence[Query]) -> dict[str, Any]:
    """Accuracy of the ``prior`` and ``no-search`` floors (step-1 answers, computed directly)."""
    # Agents sit beside the benchmarks: resolve them by entry point (a wheel bundles them).
    prior_cls = load_entry_point("agents.prior:PriorAgent")
    guess_from_question = load_entry_point("agents.no_search:guess_from_question")
    name, metric = accuracy_metric()
    train_split = "train"
    train = [(q.question, q.answers[0]) for q in corpus.split("train") if q.answers]
    if not train:  # the real-document track: its tuning split, as `vrag leaderboard` does
        asked = {q.uid for q in queries}
        train_split = "val"
        train = [
            (q.question, q.answers[0])
            for q in corpus.split("val")
            if q.answers and q.uid not in asked
        ]
    acc_blind = sum(metric(guess_from_question(q.question), q.answers) for q in queries)
    n = max(1, len(queries))
    if not train:  # nothing to learn from that is not asked: the prior floor is not defined
        return {"metric": name, "prior": None, "no-search": round(acc_blind / n, 4)}
    prior = prior_cls.__new__(prior_cls)
    prior_cls.__init__(prior, None, train)  # type: ignore[arg-type] # no env: answers only
    acc_prior = sum(metric(prior.guess(q.question), q.answers) for q in queries)
    return {
        "metric": name,
        "prior": round(acc_prior / n, 4),
        "prior_train_split": train_split,
        "no-search": round(acc_blind / n, 4),
    }


def _measure_group(corpus: Corpus, queries: Sequence[Query]) -> list[Any]:
    return LegibilityMeter(corpus.pages, corpus.page_image).measure_all(queries)


def _measure_parallel(corpus: Corpus, queries: Sequence[Query], workers: int) -> list[Any]:
    """Measure in ``workers`` processes; questions of one page stay in one process (OCR cache)."""
    from concurrent.futures import ProcessPoolExecutor

    pages = sorted({q.reference_pages[0] for q in queries})
    group_of = {p: i % workers for i, p in enumerate(pages)}
    groups: list[list[Query]] = [[] for _ in range(workers)]
    for q in queries:
        groups[group_of[q.reference_pages[0]]].append(q)
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(_measure_group, [corpus] * workers, groups))
    by_uid = {r.uid: r for part in parts for r in part}
    return [by_uid[q.uid] for q in queries]


def summarise(
    queries: Sequence[Query], results: Sequence[Legibility], seconds: float
) -> dict[str, Any]:
    """The legibility summary of measured questions (``results`` in the order of ``queries``)."""
    n = max(1, len(results))
    labels = {r.uid: r.needs_zoom for r in results}
    shipped = [(q.needs_zoom, labels[q.uid]) for q in queries if q.needs_zoom is not None]
    by_source: dict[str, list[int]] = {}
    for q, r in zip(queries, results, strict=True):
        counts = by_source.setdefault(q.source_type, [0, 0])
        counts[0] += 1
        counts[1] += int(r.needs_zoom)
    return {
        "questions": len(results),
        "needs_zoom": round(sum(r.needs_zoom for r in results) / n, 4),
        "read_on_whole_page": round(sum(r.page_reads for r in results) / n, 4),
        "unreadable_after_crop": sum(not r.crop_reads for r in results),
        "readable_on_oracle_crop": round(sum(r.crop_reads for r in results) / n, 4),
        "needs_zoom_by_source": {k: f"{z}/{t}" for k, (t, z) in sorted(by_source.items())},
        "shipped_labels": len(shipped),
        "shipped_label_agreement": (
            round(sum(a == b for a, b in shipped) / len(shipped), 4) if shipped else None
        ),
        "seconds": round(seconds, 1),
        "per_question": {r.uid: [int(r.page_reads), int(r.crop_reads)] for r in results},
    }


def merged(queries: Sequence[Query], paths: Sequence[str]) -> dict[str, Any]:
    """Combine the legibility of shard reports (``--shard``) into one summary."""
    per: dict[str, list[int]] = {}
    seconds = 0.0
    for path in paths:
        part = json.loads(Path(path).read_text(encoding="utf-8"))["legibility"]
        per.update(part["per_question"])
        seconds += part["seconds"]
    missing = [q.uid for q in queries if q.uid not in per]
    if missing:
        raise SystemExit(f"the shard reports lack {len(missing)} questions, e.g. {missing[:3]}")
    results = [Legibility(q.uid, bool(per[q.uid][0]), bool(per[q.uid][1])) for q in queries]
    return summarise(queries, results, seconds)


def legibility(
    corpus: Corpus,
    queries: Sequence[Query],
    progress: bool,
    checkpoint: Callable[[dict[str, bool]], None] | None = None,
    workers: int = 1,
) -> tuple[dict[str, Any], dict[str, bool]]:
    """The OCR measurements, and the measured label per question.

    ``checkpoint`` receives the labels measured so far every 10 questions.
    """
    meter = LegibilityMeter(corpus.pages, corpus.page_image)
    start = time.perf_counter()

    def on_result(done: list[Any]) -> None:
        if checkpoint is not None and len(done) % 10 == 0:
            checkpoint({r.uid: r.needs_zoom for r in done})

    if workers > 1:
        results = _measure_parallel(corpus, queries, workers)
    else:
        results = meter.measure_all(queries, progress=progress, on_result=on_result)
    summary = summarise(queries, results, time.perf_counter() - start)
    return summary, {r.uid: r.needs_zoom for r in results}


def plot(report: dict[str, Any], path: Path) -> None:
    """A bar chart of the headline measurements and their targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = [
        ("needs zoom (OCR)", report["legibility"]["needs_zoom"], 0.60, ">="),
        ("readable on crop", report["legibility"]["readable_on_oracle_crop"], 0.98, ">="),
        ("BM25 recall@1", report["bm25"]["recall@1"], 0.80, "<="),
        ("BM25 recall@5", report["bm25"]["recall@5"], 0.60, ">="),
        ("multi-hop", report["multi_hop"], 0.15, ">="),
        ("prior accuracy", report["floors"]["prior"], 0.03, "<="),
        ("no-search accuracy", report["floors"]["no-search"], 0.03, "<="),
    ]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for i, (_label, value, target, op) in enumerate(items):
        ok = value >= target if op == ">=" else value <= target
        ax.barh(i, value, color="#2a7" if ok else "#c33")
        ax.plot([target, target], [i - 0.4, i + 0.4], color="k", lw=1.5)
        ax.text(min(value, 0.9) + 0.01, i, f"{value:.3f} (target {op} {target})", va="center")
    ax.set_yticks(range(len(items)), [it[0] for it in items])
    ax.set_xlim(0, 1.25)
    ax.invert_yaxis()
    ax.set_title(f"Validity of {report['benchmark']} ({report['questions']} questions)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``vrag validity`` options."""
    parser.add_argument("--benchmark", default="synth-test", help="a spec in benchmarks/specs")
    parser.add_argument("--out", default="validity.json", help="JSON report (PNG next to it)")
    parser.add_argument("--limit", type=int, default=None, help="measure OCR on the first N only")
    parser.add_argument("--no-ocr", action="store_true", help="skip the OCR measurement")
    parser.add_argument(
        "--write-labels", action="store_true", help="store the measured needs_zoom labels"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--merge", nargs="+", default=None, help="combine the OCR results of shard reports"
    )
    parser.add_argument("--reverse", action="store_true", help="measure in reverse order")
    parser.add_argument("--workers", type=int, default=1, help="OCR processes")
    parser.add_argument(
        "--shard",
        default=None,
        help="I/N: measure OCR only on shard I of N (by page; run N commands to share the work)",
    )


def run(args: argparse.Namespace) -> int:
    """Measure a benchmark's validity, print the report and save it (JSON and PNG)."""
    from vrag_env.corpora.synthetic import builtin_corpus
    from vrag_env.corpora.synthetic.config import resolve_config
    from vrag_env.corpora.synthetic.labels import store_needs_zoom_labels
    from vrag_env.loading import load_corpus

    from .specs import get_benchmark

    bench = get_benchmark(args.benchmark)
    preset = bench.corpus.synthetic
    external = bench.env_kwargs.get("corpus")
    if preset:
        corpus = load_corpus(str(builtin_corpus(preset)))
    else:
        corpus = load_corpus(external)  # an external folder, or "realdocs"
    queries = [corpus.queries[uid] for uid in bench.question_ids]
    report: dict[str, Any] = {
        "benchmark": bench.name,
        "questions": len(queries),
        "corpus": corpus.name,
        "multi_hop": round(sum(len(q.reference_pages) > 1 for q in queries) / len(queries), 4),
        "bm25": bm25_recall(corpus, queries),
        "floors": floors(corpus, queries),
        "oracle": "answers the gold string; its ceiling is legibility.readable_on_oracle_crop",
    }
    if args.merge:
        report["legibility"] = merged(queries, args.merge)
    elif not args.no_ocr:
        measured = queries[: args.limit] if args.limit else queries
        if args.reverse:
            measured = measured[::-1]
        if args.shard:
            index, count = (int(v) for v in args.shard.split("/"))
            pages = sorted({q.reference_pages[0] for q in measured})
            mine = {p for i, p in enumerate(pages) if i % count == index}
            measured = [q for q in measured if q.reference_pages[0] in mine]
        cfg = resolve_config(preset) if preset else None
        realdocs = external == "realdocs"
        if args.write_labels and cfg is None and not realdocs:
            raise ValueError("--write-labels needs the built-in synthetic corpus or 'realdocs'")

        def store(labels: dict[str, bool]) -> Path | None:
            if cfg is not None:
                return store_needs_zoom_labels(cfg, labels)
            if realdocs:
                from vrag_env.corpora.realdocs import store_needs_zoom

                return store_needs_zoom(labels)
            return None

        def checkpoint(labels: dict[str, bool]) -> None:
            if (
                args.write_labels and not realdocs
            ):  # the real track's file is written once, at the end
                store(labels)

        report["legibility"], labels = legibility(
            corpus, measured, not args.quiet, checkpoint, args.workers
        )
        if args.write_labels:
            print(f"wrote {store(labels)}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if "legibility" in report:
        plot(report, out.with_suffix(".png"))
    print(json.dumps(report, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.validity`` (the same as ``vrag validity``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
