"""Settings of the multi-vector index and the faiss IVF / IVF-PQ index it builds over token vectors.

faiss is imported only when an index is built or loaded (:func:`import_faiss`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium.error import DependencyNotInstalled

if TYPE_CHECKING:
    import faiss

logger = logging.getLogger(__name__)

__all__ = ["METHODS", "MultiVectorConfig", "build_ivf_index", "import_faiss"]

METHODS = ("auto", "exact", "ivf", "ivfpq")
"""Accepted values of :attr:`MultiVectorConfig.method`."""

_FAISS_HINT = 'The faiss index needs `pip install "vrag-env[colpali]"` (or `pip install faiss-cpu`)'


@dataclass(frozen=True)
class MultiVectorConfig:
    """How a :class:`MultiVectorIndex` is built and searched."""

    method: str = "auto"
    """``"exact"``, ``"ivf"`` (IVF-Flat candidates + rerank), ``"ivfpq"`` (IVF-PQ candidates +
    rerank) or ``"auto"`` (exact up to ``exact_max_tokens`` stored tokens, else ``"ivfpq"``)."""
    exact_max_tokens: int = 1_000_000
    """Largest number of stored tokens ``"auto"`` still searches exactly (1M tokens is about 4,000
    pages of 256 tokens, or 1,300 ColQwen2 pages at its usual ~768 visual tokens)."""
    nlist: int | None = None
    """Inverted lists of the faiss index; ``None`` picks ``sqrt(num_tokens)``, at most
    ``num_tokens / 39`` (faiss's minimum of training points per centroid)."""
    nprobe: int = 16
    """Lists scanned per query token."""
    k_tokens: int = 32
    """Nearest page tokens fetched per query token; their pages are the rerank candidates."""
    pq_m: int = 32
    """Sub-quantisers of ``"ivfpq"`` (must divide the dimension); ``pq_m`` bytes per token."""
    pq_bits: int = 8
    """Bits per sub-quantiser code of ``"ivfpq"``."""
    train_points: int = 64
    """Training points per inverted list (sampled, seeded)."""
    kmeans_iters: int = 10
    """k-means iterations when training the coarse quantiser."""
    seed: int = 0
    """Seed of the training sample and of faiss's k-means."""
    block_tokens: int = 65_536
    """Tokens scored per numpy block (bounds the float32 working memory to ``block_tokens * dim *
    4`` bytes plus the similarity block)."""
    float32_cache_mb: int = 256
    """Keep a float32 copy of all vectors in memory when it fits in this many MiB (0: never).
    Scoring then skips the fp16-to-fp32 conversion, which costs about as much as the matmul."""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {self.method!r}")
        for name in ("exact_max_tokens", "nprobe", "k_tokens", "pq_m", "train_points"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.nlist is not None and self.nlist < 1:
            raise ValueError(f"nlist must be >= 1 or None, got {self.nlist!r}")
        if not 1 <= self.pq_bits <= 16:
            raise ValueError(f"pq_bits must be in 1..16, got {self.pq_bits!r}")
        if self.kmeans_iters < 1 or self.block_tokens < 1:
            raise ValueError("kmeans_iters and block_tokens must be >= 1")
        if self.float32_cache_mb < 0:
            raise ValueError(f"float32_cache_mb must be >= 0, got {self.float32_cache_mb!r}")

    def resolve_method(self, num_tokens: int) -> str:
        """The concrete method for an index of ``num_tokens`` stored tokens."""
        if self.method != "auto":
            return self.method
        return "exact" if num_tokens <= self.exact_max_tokens else "ivfpq"

    def resolve_nlist(self, num_tokens: int) -> int:
        """The number of inverted lists for ``num_tokens`` stored tokens."""
        if self.nlist is not None:
            return max(1, min(self.nlist, num_tokens))
        return max(1, min(int(math.sqrt(num_tokens)), num_tokens // 39))

    def to_json(self) -> dict[str, Any]:
        """JSON form (every field)."""
        return asdict(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> MultiVectorConfig:
        """Parse :meth:`to_json` output; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known})


def import_faiss() -> Any:
    """The faiss module, or :class:`DependencyNotInstalled` saying how to install it."""
    try:
        import faiss
    except ImportError as exc:
        raise DependencyNotInstalled(_FAISS_HINT) from exc
    return faiss


def build_ivf_index(vectors: np.ndarray, method: str, config: MultiVectorConfig) -> faiss.Index:
    """Train an inner-product IVF(-PQ) index on a seeded sample of ``vectors`` and add them all."""
    faiss = import_faiss()
    num_tokens, dim = vectors.shape
    nlist = config.resolve_nlist(num_tokens)
    quantizer = faiss.IndexFlatIP(dim)
    if method == "ivfpq":
        if dim % config.pq_m:
            raise ValueError(f"pq_m ({config.pq_m}) must divide the dimension ({dim})")
        index = faiss.IndexIVFPQ(
            quantizer, dim, nlist, config.pq_m, config.pq_bits, faiss.METRIC_INNER_PRODUCT
        )
    else:
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = config.seed
    index.cp.niter = config.kmeans_iters
    n_train = min(num_tokens, nlist * config.train_points)
    index.cp.max_points_per_centroid = max(1, -(-n_train // nlist))
    if method == "ivfpq":
        # The PQ codebooks (pq_m k-means runs in dim / pq_m dimensions) dominate the build time;
        # 40 points per code is just above faiss's minimum of 39.
        n_train = min(num_tokens, max(n_train, 40 * 2**config.pq_bits))
        index.pq.cp.seed = config.seed
        index.pq.cp.niter = config.kmeans_iters
        index.pq.cp.max_points_per_centroid = 40
    rng = np.random.default_rng(config.seed)
    sample = np.sort(rng.choice(num_tokens, size=n_train, replace=False))
    index.train(np.asarray(vectors[sample], dtype=np.float32))
    step = config.block_tokens
    for start in range(0, num_tokens, step):
        index.add(np.asarray(vectors[start : start + step], dtype=np.float32))
    logger.info("built a faiss %s index: %d tokens, %d lists", method, num_tokens, nlist)
    return index
