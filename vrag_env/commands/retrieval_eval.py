"""``vrag retrieval-eval``: a ViDoRe-style retrieval benchmark on a corpus.

Every question of the corpus (or of one split) is used as the search query; the retriever's ranking
is scored against the question's reference pages with binary relevance
(:func:`vrag_env.retrieval.metrics.summarize`: ``recall@k``, ``ndcg@k``, ``mrr``). The results JSON
holds the summary, each question's ranks, and provenance (corpus checksums, retriever config, code
version)::

    vrag retrieval-eval --corpus corpora/mine --retriever bm25 --k 10 --out results/bm25.json

Several ``--retriever`` options compare retrievers on one corpus: the summaries are printed side by
side and, with ``--out-dir``, each retriever's results go to ``DIR/<corpus name>/<retriever>.json``
(the layout :mod:`benchmarks.retrieval_board` renders)::

    vrag retrieval-eval --corpus corpora/mine --retriever bm25 \
        --retriever colqwen2:/models/colqwen2 --retriever hybrid:bm25+colqwen2:/models/colqwen2 \
        --out-dir results/retrieval
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Any

from vrag_env._atomic import write_json_atomic

logger = logging.getLogger(__name__)

SUMMARY_KS = (1, 5, 10)
"""Cutoffs always reported (``recall@1/5/10``, ``ndcg@1/5/10``), plus ``--k``."""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``retrieval-eval`` arguments."""
    parser.add_argument("--corpus", required=True, type=Path, help="a corpus folder")
    parser.add_argument(
        "--retriever",
        action="append",
        default=None,
        help="a registered retriever name ('bm25', 'colqwen2:MODEL', 'hybrid:bm25+colqwen2:MODEL') "
        "or the URL of a `vrag serve-retriever`; repeat to compare several (default: bm25)",
    )
    parser.add_argument("--k", type=int, default=10, help="pages retrieved per question (10)")
    parser.add_argument(
        "--split", default=None, help="only the questions of this split (train/val/test; all)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="write the results JSON here (one retriever)"
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="write one results JSON per retriever into DIR/<corpus name>/",
    )


def evaluate(
    corpus_dir: str | os.PathLike[str],
    retriever: str = "bm25",
    *,
    k: int = 10,
    split: str | None = None,
) -> dict[str, Any]:
    """Run the retrieval benchmark.

    Args:
        corpus_dir: The corpus folder.
        retriever: A registered retriever name (its index is built on first use and cached in the
            corpus folder) or a retrieval service URL.
        k: Pages retrieved per question; the ranking is scored at ``1, 5, 10`` and ``k`` (at least
            10 pages are retrieved so ``recall@10`` is always defined).
        split: Only the questions of this split (``None`` or ``"all"``: every question).

    Returns:
        ``{"metadata", "summary", "per_query"}``; ``per_query`` lists, per question, its reference
        pages, the top ``k`` page ids, the rank of each reference page within the retrieved depth
        (``None`` if not retrieved) and the first relevant rank.

    Raises:
        ValueError: For ``k < 1``, an unknown split or retriever, or a split without questions.
    """
    from vrag_env._version import __version__
    from vrag_env.loading import load_corpus, load_retriever
    from vrag_env.provenance import git_dirty, git_sha
    from vrag_env.retrieval.metrics import rank_of_first_relevant, summarize
    from vrag_env.types import SPLITS

    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"--k must be an integer >= 1, got {k!r}")
    if split not in (None, "all", *SPLITS):
        raise ValueError(f"unknown split {split!r}; use one of {(*SPLITS, 'all')}")
    corpus = load_corpus(corpus_dir)
    queries = corpus.split(split)
    if not queries:
        raise ValueError(f"{corpus.root}: no questions in split {split or 'all'!r}")
    backend = load_retriever(retriever, corpus)
    depth = max(k, *SUMMARY_KS)
    rankings: list[tuple[list[str], list[str]]] = []
    per_query = []
    for q in queries:
        ranked = [hit.page_id for hit in backend.search(q.question, depth)]
        relevant = list(q.reference_pages)
        rankings.append((ranked, relevant))
        position = {page: rank for rank, page in enumerate(ranked, start=1)}
        per_query.append(
            {
                "uid": q.uid,
                "split": q.split,
                "reference_pages": relevant,
                "retrieved": ranked[:k],
                "ranks": {page: position.get(page) for page in relevant},
                "first_relevant_rank": rank_of_first_relevant(ranked, relevant),
            }
        )
    ks = sorted({*SUMMARY_KS, k})
    summary = summarize(rankings, ks=ks)
    config = backend.config() if hasattr(backend, "config") else {"name": retriever}
    metadata = {
        "vrag_env": __version__,
        "corpus": str(corpus.root),
        "corpus_name": corpus.name,
        "corpus_checksums": corpus.manifest.get("checksums", {}),
        "retriever": retriever,
        "retriever_config": config,
        "k": k,
        "depth": depth,
        "split": split or "all",
        "git_sha": git_sha(),
        "git_dirty": git_dirty(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return {"metadata": metadata, "summary": summary, "per_query": per_query}


def results_name(retriever: str) -> str:
    """A file name for a retriever string (model paths flattened, long names shortened).

    >>> results_name("hybrid:bm25+colqwen2:/models/colqwen2")
    'hybrid_bm25+colqwen2_models_colqwen2'
    """
    name = re.sub(r"[^A-Za-z0-9.+-]+", "_", retriever).strip("_.") or "retriever"
    if len(name) > 80:
        digest = hashlib.sha256(retriever.encode()).hexdigest()[:8]
        name = f"{name[:70]}-{digest}"
    return name


def format_table(results: list[dict[str, Any]]) -> str:
    """The summaries side by side, one line per retriever."""
    keys = ["recall@1", "recall@5", "recall@10", "ndcg@5", "mrr"]
    width = max(len("retriever"), *(len(r["metadata"]["retriever"]) for r in results))
    lines = [f"{'retriever':<{width}}  " + "  ".join(f"{k:>9}" for k in keys)]
    for r in results:
        values = "  ".join(f"{float(r['summary'][k]):>9.4f}" for k in keys)
        lines.append(f"{r['metadata']['retriever']:<{width}}  {values}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``vrag retrieval-eval``; print the summaries and write the results JSON files."""
    retrievers = args.retriever or ["bm25"]
    if args.out is not None and len(retrievers) > 1:
        raise ValueError(
            f"--out takes one retriever's results, got {len(retrievers)} retrievers; "
            "use --out-dir DIR to write one file per retriever"
        )
    all_results = []
    for retriever in retrievers:
        results = evaluate(args.corpus, retriever, k=args.k, split=args.split)
        all_results.append(results)
        if args.out is not None:
            out = write_json_atomic(args.out.expanduser(), results)
            logger.info("wrote %s", out)
        if args.out_dir is not None:
            folder = args.out_dir.expanduser() / results["metadata"]["corpus_name"]
            out = write_json_atomic(folder / f"{results_name(retriever)}.json", results)
            logger.info("wrote %s", out)
    meta = all_results[0]["metadata"]
    print(  # noqa: T201 - the command's output
        f"{meta['corpus_name']} ({meta['split']}, {all_results[0]['summary']['queries']} queries):\n"
        + format_table(all_results)
    )
    return 0
