"""Multi-vector page search at scale: exact MaxSim vs faiss token candidates + exact rerank.

Run: ``uv run python benchmarks/multivector_speed.py [--pages 2000 10000] [--queries 30]``

Prints a table and saves ``benchmarks/results/multivector_speed.json``. The data are synthetic and
ColPali-like (seeded): 128-d L2-normalised token vectors, 256 per page, each page a noisy mixture of
24 "concepts" drawn from a shared codebook, and 20-token queries built from one target page's
concepts plus a few unrelated tokens. Every method is run over the same data and queries in the same
process; the baseline is exact MaxSim over every page (``method="exact"``), and recall@10 is the
overlap of each method's top 10 with the exact top 10. Memory counts the stored fp16 vectors, the
serialised faiss index and the in-memory float32 copy exact scoring keeps when it fits its budget. Read the numbers as relative costs: real embeddings cluster differently.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from vrag_env.provenance import provenance
from vrag_env.retrieval.multivector import MultiVectorConfig, MultiVectorIndex

DIM = 128
TOKENS_PER_PAGE = 256
CONCEPTS_PER_PAGE = 24
QUERY_TOKENS = 20


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def make_data(
    n_pages: int, n_queries: int, seed: int
) -> tuple[list[str], np.ndarray, np.ndarray, list[np.ndarray]]:
    """Synthetic ColPali-like pages (fp16, back to back) and queries."""
    rng = np.random.default_rng(seed)
    codebook = _unit(rng.standard_normal((max(4096, 2 * n_pages), DIM)).astype(np.float32))
    page_concepts = np.stack(
        [rng.choice(len(codebook), CONCEPTS_PER_PAGE, replace=False) for _ in range(n_pages)]
    )
    vectors = np.empty((n_pages * TOKENS_PER_PAGE, DIM), dtype=np.float16)
    noise = 0.6 / np.sqrt(DIM)  # noise norm ~0.6 against unit concepts
    chunk = 256
    for p0 in range(0, n_pages, chunk):
        p1 = min(p0 + chunk, n_pages)
        pick = rng.integers(0, CONCEPTS_PER_PAGE, (p1 - p0, TOKENS_PER_PAGE))
        centres = codebook[np.take_along_axis(page_concepts[p0:p1], pick, axis=1)]
        tokens = centres + noise * rng.standard_normal(centres.shape).astype(np.float32)
        vectors[p0 * TOKENS_PER_PAGE : p1 * TOKENS_PER_PAGE] = _unit(tokens).reshape(-1, DIM)
    offsets = np.arange(0, (n_pages + 1) * TOKENS_PER_PAGE, TOKENS_PER_PAGE, dtype=np.int64)
    queries = []
    for _ in range(n_queries):
        target = int(rng.integers(n_pages))
        own = codebook[rng.choice(page_concepts[target], QUERY_TOKENS - 4)]
        other = codebook[rng.integers(0, len(codebook), 4)]
        q = np.concatenate([own, other]) + noise * rng.standard_normal((QUERY_TOKENS, DIM))
        queries.append(_unit(q).astype(np.float32))
    return [f"page_{i}" for i in range(n_pages)], vectors, offsets, queries


def run_method(
    name: str,
    config: MultiVectorConfig,
    data: tuple[list[str], np.ndarray, np.ndarray, list[np.ndarray]],
    exact_top: list[list[str]] | None,
) -> tuple[dict[str, Any], list[list[str]]]:
    """Build one index, time its searches and compare its top 10 with the exact top 10."""
    page_ids, vectors, offsets, queries = data
    t = time.perf_counter()
    index = MultiVectorIndex.from_arrays(page_ids, vectors, offsets, config)
    build_s = time.perf_counter() - t
    index.search(queries[0], 10)  # warm-up
    tops, times, candidates = [], [], []
    for q in queries:
        t = time.perf_counter()
        hits = index.search(q, 10)
        times.append(time.perf_counter() - t)
        tops.append([h.page_id for h in hits])
        if index.faiss_index is not None:
            candidates.append(len(index.candidates(q)))
    reference = exact_top if exact_top is not None else tops
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(tops, reference, strict=True)])
    memory = index.memory_bytes()
    row = {
        "method": name,
        "resolved": index.method,
        "build_s": round(build_s, 2),
        "ms_per_query": round(1000 * float(np.mean(times)), 2),
        "ms_per_query_median": round(1000 * float(np.median(times)), 2),
        "recall_at_10_vs_exact": round(float(recall), 4),
        "mean_candidates": round(float(np.mean(candidates)), 1) if candidates else None,
        "stored_vectors_mb": round(memory["vectors"] / 2**20, 1),
        "faiss_index_mb": round(memory["faiss"] / 2**20, 1),
        "float32_cache_mb": round(memory["float32_cache"] / 2**20, 1),
        "config": config.to_json(),
    }
    if index.faiss_index is not None:
        row["nlist"] = int(getattr(index.faiss_index, "nlist", 0))
    return row, tops


def main() -> None:
    """Run every method at every corpus size, print the table and save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/multivector_speed.json")
    args = parser.parse_args()

    methods = {
        "exact": MultiVectorConfig(method="exact"),
        "ivf (nprobe 16, k 32)": MultiVectorConfig(method="ivf"),
        "ivf (nprobe 8, k 32)": MultiVectorConfig(method="ivf", nprobe=8),
        "ivfpq (nprobe 16, k 32, 32x8)": MultiVectorConfig(method="ivfpq"),
    }
    results = []
    for n_pages in args.pages:
        data = make_data(n_pages, args.queries, args.seed)
        n_tokens = len(data[1])
        print(f"\n{n_pages:,} pages x {TOKENS_PER_PAGE} tokens x {DIM}-d = {n_tokens:,} vectors")
        print(
            f"{'method':32s} {'build s':>8s} {'ms/query':>9s} {'recall@10':>10s} "
            f"{'cands':>7s} {'vectors MB':>11s} {'faiss MB':>9s} {'fp32 cache MB':>14s}"
        )
        exact_top = None
        rows = []
        for name, config in methods.items():
            row, tops = run_method(name, config, data, exact_top)
            if name == "exact":
                exact_top = tops
            rows.append(row)
            cands = "-" if row["mean_candidates"] is None else f"{row['mean_candidates']:.0f}"
            print(
                f"{name:32s} {row['build_s']:8.2f} {row['ms_per_query']:9.2f} "
                f"{row['recall_at_10_vs_exact']:10.3f} {cands:>7s} "
                f"{row['stored_vectors_mb']:11.1f} {row['faiss_index_mb']:9.1f} "
                f"{row['float32_cache_mb']:14.1f}"
            )
        auto = MultiVectorConfig().resolve_method(n_tokens)
        print(f"method='auto' picks {auto!r} at this size")
        results.append(
            {
                "pages": n_pages,
                "tokens_per_page": TOKENS_PER_PAGE,
                "dim": DIM,
                "vectors": n_tokens,
                "auto_method": auto,
                "rows": rows,
            }
        )
    import faiss

    payload = {
        "metadata": {
            **provenance(),
            "benchmark": "multivector_speed",
            "seed": args.seed,
            "queries": args.queries,
            "query_tokens": QUERY_TOKENS,
            "cpu_count": os.cpu_count(),
            "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
            "faiss_version": faiss.__version__,
            "faiss_threads": faiss.omp_get_max_threads(),
            "numpy_version": np.__version__,
            "machine": platform.machine(),
        },
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"\nsaved {out}")


if __name__ == "__main__":
    main()
