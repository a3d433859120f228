"""A page index over multi-vector (late-interaction) embeddings, from tens to millions of pages.

ColPali-family models embed a page as a bag of token vectors (ColQwen2: a few hundred to ~800 per
page, 128-d, L2-normalised) and score a query by MaxSim: for every query token the best dot product
with any page token, summed over the query tokens (Khattab & Zaharia 2020; Faysse et al. 2024). This
module stores those vectors and answers ``search(query_vectors, k)`` in one of two ways:

* ``"exact"``: MaxSim against every page, in blocks of tokens (numpy matmul plus a segmented max).
  Cost grows linearly with the number of stored tokens; it is the reference and the default for
  small corpora.
* ``"ivf"`` / ``"ivfpq"``: PLAID-style candidate generation (Santhanam et al. 2022, arXiv
  2205.09707) with a faiss inverted-file index over *all page tokens* (inner product): each query
  token fetches its ``k_tokens`` nearest page tokens from ``nprobe`` lists, the pages owning them
  are the candidates, and exact MaxSim reranks the candidates. ``"ivf"`` keeps full float32
  vectors in the lists (IVF-Flat: twice the size of the stored fp16 vectors), ``"ivfpq"``
  compresses them to ``pq_m`` bytes with product quantisation (IVF-PQ: 1/8 of the fp16 vectors at
  the defaults). Only the candidate set depends on the method: scores are always exact MaxSim over
  the stored fp16 vectors, so they are comparable across methods.

``method="auto"`` picks exact search up to :attr:`MultiVectorConfig.exact_max_tokens` stored tokens
and IVF-PQ above; on the synthetic benchmark IVF-PQ matched IVF-Flat's recall at 13x less memory
(see ``docs/retrieval.md`` for the measured trade-off). If the candidates of a query
are fewer than ``k`` pages, the search falls back to exact MaxSim, so a result list is only shorter
than ``k`` when the corpus is.

Results are deterministic for a fixed index: pages are ranked by descending score, ties broken by
corpus order, and the faiss candidates only decide which pages are scored, never their order.

On disk (no pickle; faiss's own binary format for the token index)::

    multivector.json   format version, method, sizes and settings
    page_ids.json      page ids in corpus order
    vectors.npy        (num_tokens, dim) float16, all pages' vectors back to back
    offsets.npy        (num_pages + 1,) int64: page i owns rows offsets[i]:offsets[i + 1]
    tokens.faiss       the faiss token index (``ivf`` / ``ivfpq`` only)

``vectors.npy`` is memory-mapped on load, so a large index costs page cache rather than private
memory. Only numpy is needed for exact search; faiss is imported when a faiss index is built or
loaded.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vrag_env.retrieval.ivf import METHODS, MultiVectorConfig, build_ivf_index, import_faiss
from vrag_env.types import PageId, ScoredPage

if TYPE_CHECKING:
    import faiss

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Bump when the on-disk layout changes."""


CONFIG_FILE = "multivector.json"
PAGE_IDS_FILE = "page_ids.json"
VECTORS_FILE = "vectors.npy"
OFFSETS_FILE = "offsets.npy"
FAISS_FILE = "tokens.faiss"


def _as_query(query: np.ndarray, dim: int) -> np.ndarray:
    q = np.asarray(query, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2 or q.shape[1] != dim:
        raise ValueError(f"query vectors must have shape (n, {dim}), got {np.shape(query)}")
    if q.shape[0] == 0:
        raise ValueError("the query has no vectors")
    if not np.isfinite(q).all():
        raise ValueError("the query vectors contain NaN or infinity")
    return np.ascontiguousarray(q)


class MultiVectorIndex:
    """Stored page vectors plus (for large corpora) a faiss token index.

    Build one with :meth:`build`, or read one with :meth:`load`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> pages = [rng.standard_normal((5, 8)).astype(np.float32) for _ in range(3)]
        >>> index = MultiVectorIndex.build(["a_1", "a_2", "a_3"], pages)
        >>> index.method, index.num_pages, index.num_tokens
        ('exact', 3, 15)
        >>> index.search(pages[1][:2], k=1)[0].page_id
        'a_2'

    Args:
        page_ids: Page ids in corpus order.
        vectors: ``(num_tokens, dim)`` float16 array (may be a memory map).
        offsets: ``(num_pages + 1,)`` int64 row offsets of the pages in ``vectors``.
        config: Build and search settings.
        faiss_index: The token index, for the faiss methods.
        method: The resolved method; defaults to ``config.resolve_method(num_tokens)``.

    Raises:
        ValueError: If the arrays are inconsistent.
    """

    def __init__(
        self,
        page_ids: Sequence[PageId],
        vectors: np.ndarray,
        offsets: np.ndarray,
        config: MultiVectorConfig | None = None,
        faiss_index: faiss.Index | None = None,
        method: str | None = None,
    ) -> None:
        self.config = config if config is not None else MultiVectorConfig()
        self.page_ids: list[PageId] = list(page_ids)
        self.vectors = vectors
        self.offsets = np.asarray(offsets, dtype=np.int64)
        _check_layout(self.page_ids, self.vectors, self.offsets)
        self.method = method or self.config.resolve_method(self.num_tokens)
        if self.method not in METHODS[1:]:
            raise ValueError(f"resolved method must be one of {list(METHODS[1:])}, got {method!r}")
        if self.method != "exact" and faiss_index is None:
            raise ValueError(f"method {self.method!r} needs a faiss index")
        self.faiss_index = faiss_index
        if faiss_index is not None:
            ivf: Any = faiss_index  # IndexIVF*; the stubs only know faiss.Index
            ivf.nprobe = min(self.config.nprobe, ivf.nlist)
        self._blocks = _page_blocks(self.offsets, self.config.block_tokens)
        self._scratch = threading.local()
        self._vectors32: np.ndarray | None = None
        self._cache_lock = threading.Lock()

    # ----------------------------------------------------------------------------------------------
    # Building
    # ----------------------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        page_ids: Sequence[PageId],
        embeddings: Sequence[np.ndarray],
        config: MultiVectorConfig | None = None,
    ) -> MultiVectorIndex:
        """Build an index over per-page embeddings.

        Args:
            page_ids: Page ids in corpus order (unique).
            embeddings: One ``(n_tokens_i, dim)`` float array per page, ``n_tokens_i >= 1``. They are
                stored as float16 (ColPali-family vectors are L2-normalised, well within range).
            config: Build and search settings (default :class:`MultiVectorConfig`).

        Raises:
            ValueError: On empty input, mismatched lengths or dimensions, a page without vectors,
                non-finite values or duplicate page ids.
            gymnasium.error.DependencyNotInstalled: If a faiss method is chosen and faiss is missing.
        """
        config = config if config is not None else MultiVectorConfig()
        if len(page_ids) != len(embeddings):
            raise ValueError(f"{len(page_ids)} page ids but {len(embeddings)} embeddings")
        if not page_ids:
            raise ValueError("cannot build an index over zero pages")
        if len(set(page_ids)) != len(page_ids):
            raise ValueError("page ids must be unique")
        dims = {np.shape(e)[-1] if np.ndim(e) == 2 else -1 for e in embeddings}
        if len(dims) != 1 or -1 in dims:
            raise ValueError(f"every page needs a 2-d (n_tokens, dim) array of one dim; got {dims}")
        lengths = np.fromiter((len(e) for e in embeddings), dtype=np.int64, count=len(embeddings))
        if (lengths == 0).any():
            empty = [page_ids[i] for i in np.flatnonzero(lengths == 0)[:5]]
            raise ValueError(f"pages without vectors: {empty}")
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        vectors = np.empty((int(offsets[-1]), dims.pop()), dtype=np.float16)
        for i, emb in enumerate(embeddings):
            block = np.asarray(emb)
            if not np.isfinite(block).all():
                raise ValueError(f"page {page_ids[i]!r} has NaN or infinite vectors")
            vectors[offsets[i] : offsets[i + 1]] = block
        return cls.from_arrays(page_ids, vectors, offsets, config)

    @classmethod
    def from_arrays(
        cls,
        page_ids: Sequence[PageId],
        vectors: np.ndarray,
        offsets: np.ndarray,
        config: MultiVectorConfig | None = None,
    ) -> MultiVectorIndex:
        """Build an index over vectors already laid out back to back (no copy of ``vectors``).

        Args:
            page_ids: Page ids in corpus order (unique).
            vectors: ``(num_tokens, dim)`` float16 array, finite.
            offsets: ``(num_pages + 1,)`` row offsets: page ``i`` owns ``offsets[i]:offsets[i + 1]``.
            config: Build and search settings.

        Raises:
            ValueError: If the arrays are inconsistent or ``vectors`` is not float16.
        """
        config = config if config is not None else MultiVectorConfig()
        if vectors.dtype != np.float16:
            raise ValueError(f"vectors must be float16, got {vectors.dtype}")
        method = config.resolve_method(len(vectors))
        faiss_index = None
        if method != "exact":
            _check_layout(list(page_ids), vectors, np.asarray(offsets))
            faiss_index = build_ivf_index(vectors, method, config)
        return cls(page_ids, vectors, offsets, config, faiss_index, method)

    def compatible_with(self, config: MultiVectorConfig) -> bool:
        """Whether ``config`` would build this same index (search-time settings aside)."""
        if config.resolve_method(self.num_tokens) != self.method:
            return False
        if self.method == "exact":
            return True
        build = ["nlist", "train_points", "kmeans_iters", "seed"]
        if self.method == "ivfpq":
            build += ["pq_m", "pq_bits"]
        return all(getattr(config, f) == getattr(self.config, f) for f in build)

    def rebuilt(self, config: MultiVectorConfig) -> MultiVectorIndex:
        """A new index over the same stored vectors with other settings (no re-embedding)."""
        return MultiVectorIndex.from_arrays(
            self.page_ids, np.array(self.vectors, dtype=np.float16), self.offsets, config
        )

    # ----------------------------------------------------------------------------------------------
    # Properties
    # ----------------------------------------------------------------------------------------------

    @property
    def num_pages(self) -> int:
        """Number of indexed pages."""
        return len(self.page_ids)

    @property
    def num_tokens(self) -> int:
        """Number of stored page vectors."""
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return int(self.vectors.shape[1])

    def memory_bytes(self) -> dict[str, int]:
        """Sizes in bytes of the index parts.

        Keys: the stored ``vectors`` (fp16), ``offsets``, ``faiss`` (serialised) and the in-memory
        ``float32_cache`` (0 until the first search, or when it is over budget).
        """
        sizes = {"vectors": int(self.vectors.nbytes), "offsets": int(self.offsets.nbytes)}
        cache = self._vectors32
        sizes["float32_cache"] = 0 if cache is None else int(cache.nbytes)
        if self.faiss_index is not None:
            faiss = import_faiss()
            sizes["faiss"] = int(faiss.serialize_index(self.faiss_index).nbytes)
        else:
            sizes["faiss"] = 0
        return sizes

    # ----------------------------------------------------------------------------------------------
    # Scoring and search
    # ----------------------------------------------------------------------------------------------

    def _float32_cache(self) -> np.ndarray | None:
        """The float32 copy of the vectors, made on first use if it fits the configured budget."""
        if self._vectors32 is None and self.num_tokens * self.dim * 4 <= (
            self.config.float32_cache_mb << 20
        ):
            with self._cache_lock:
                if self._vectors32 is None:
                    self._vectors32 = np.asarray(self.vectors, dtype=np.float32)
        return self._vectors32

    def _rows32(self, rows: slice | np.ndarray) -> np.ndarray:
        """``vectors[rows]`` as float32: from the cache, or converted into a per-thread buffer."""
        cache = self._float32_cache()
        if cache is not None:
            return cache[rows]
        block = self.vectors[rows]
        buf: np.ndarray | None = getattr(self._scratch, "buf", None)
        if buf is None or len(buf) < len(block):
            # Reusing one buffer per thread avoids fresh page faults for every block.
            buf = np.empty((max(len(block), self.config.block_tokens), self.dim), np.float32)
            self._scratch.buf = buf
        out = buf[: len(block)]
        np.copyto(out, block)
        return out

    @staticmethod
    def _maxsim_block(q: np.ndarray, vecs: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """MaxSim of query ``q`` against the pages in ``vecs`` (float32; pages start at ``starts``)."""
        sims = q @ vecs.T  # (query tokens, block tokens)
        return np.maximum.reduceat(sims, starts, axis=1).sum(axis=0)

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Exact MaxSim scores of every page for ``query`` (``(n, dim)``), as float32."""
        q = _as_query(query, self.dim)
        out = np.empty(self.num_pages, dtype=np.float32)
        for p0, p1 in self._blocks:
            t0, t1 = int(self.offsets[p0]), int(self.offsets[p1])
            out[p0:p1] = self._maxsim_block(
                q, self._rows32(slice(t0, t1)), self.offsets[p0:p1] - t0
            )
        return out

    def scores_of(self, query: np.ndarray, pages: np.ndarray) -> np.ndarray:
        """Exact MaxSim scores of the pages at positions ``pages`` (any order), as float32."""
        q = _as_query(query, self.dim)
        pages = np.asarray(pages, dtype=np.int64)
        out = np.empty(len(pages), dtype=np.float32)
        lengths = self.offsets[pages + 1] - self.offsets[pages]
        start = 0
        while start < len(pages):
            # Gather whole pages until the block is full (always at least one page).
            stop = start + 1
            budget = self.config.block_tokens - int(lengths[start])
            while stop < len(pages) and budget >= lengths[stop]:
                budget -= int(lengths[stop])
                stop += 1
            chunk_len = lengths[start:stop]
            local = np.zeros(len(chunk_len), dtype=np.int64)
            np.cumsum(chunk_len[:-1], out=local[1:])
            rows = np.repeat(self.offsets[pages[start:stop]] - local, chunk_len) + np.arange(
                int(chunk_len.sum())
            )
            out[start:stop] = self._maxsim_block(q, self._rows32(rows), local)
            start = stop
        return out

    def candidates(self, query: np.ndarray) -> np.ndarray:
        """Positions (ascending) of the pages the faiss token index proposes for ``query``.

        Raises:
            RuntimeError: If the index has no faiss part (``method == "exact"``).
        """
        if self.faiss_index is None:
            raise RuntimeError("candidates() needs a faiss index (method 'ivf' or 'ivfpq')")
        q = _as_query(query, self.dim)
        k_tokens = min(self.config.k_tokens, self.num_tokens)
        _, token_ids = self.faiss_index.search(q, k_tokens)
        token_ids = token_ids[token_ids >= 0]
        owners = np.searchsorted(self.offsets, token_ids, side="right") - 1
        return np.unique(owners)

    def search(self, query: np.ndarray, k: int) -> list[ScoredPage]:
        """The ``k`` best pages for ``query`` by MaxSim, best first, ties in corpus order.

        Args:
            query: ``(n, dim)`` query token vectors (a 1-d vector counts as one token).
            k: Number of results (fewer when the corpus is smaller).

        Raises:
            ValueError: If ``k < 0`` or the query has the wrong shape or non-finite values.
        """
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        k = min(k, self.num_pages)
        if k == 0:
            return []
        positions: np.ndarray | None = None
        if self.method != "exact":
            positions = self.candidates(query)
            if len(positions) < k:
                positions = None  # too few candidates: score every page instead
        if positions is None:
            scores = self.scores(query)
            positions = np.arange(self.num_pages)
        else:
            scores = self.scores_of(query, positions)
        # lexsort sorts by the last key first: descending score, then ascending corpus position.
        order = np.lexsort((positions, -scores))[:k]
        return [ScoredPage(self.page_ids[positions[i]], float(scores[i])) for i in order]

    # ----------------------------------------------------------------------------------------------
    # Persistence
    # ----------------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index into folder ``path`` (``.npy``, JSON and, for faiss methods, a faiss file)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / VECTORS_FILE, np.asarray(self.vectors, dtype=np.float16))
        np.save(folder / OFFSETS_FILE, self.offsets)
        (folder / PAGE_IDS_FILE).write_text(json.dumps(self.page_ids), encoding="utf-8")
        if self.faiss_index is not None:
            faiss = import_faiss()
            faiss.write_index(self.faiss_index, str(folder / FAISS_FILE))
        record = {
            "format_version": FORMAT_VERSION,
            "method": self.method,
            "num_pages": self.num_pages,
            "num_tokens": self.num_tokens,
            "dim": self.dim,
            "config": self.config.to_json(),
        }
        (folder / CONFIG_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        mmap: bool = True,
        nprobe: int | None = None,
        k_tokens: int | None = None,
    ) -> MultiVectorIndex:
        """Read an index written by :meth:`save` (``allow_pickle=False``).

        Args:
            path: The index folder.
            mmap: Memory-map ``vectors.npy`` instead of reading it into memory.
            nprobe: Override the stored ``nprobe`` (a search-time setting).
            k_tokens: Override the stored ``k_tokens`` (a search-time setting).

        Raises:
            ValueError: If files are missing pieces, inconsistent or of another format version.
            OSError: If a file cannot be read.
        """
        folder = Path(path)
        record = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{folder}: not a multi-vector index of format {FORMAT_VERSION}")
        config = MultiVectorConfig.from_json(record.get("config") or {})
        overrides: dict[str, Any] = {"nprobe": nprobe, "k_tokens": k_tokens}
        config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
        page_ids = json.loads((folder / PAGE_IDS_FILE).read_text(encoding="utf-8"))
        if not isinstance(page_ids, list) or not all(isinstance(p, str) for p in page_ids):
            raise ValueError(f"{folder / PAGE_IDS_FILE}: expected a list of page ids")
        vectors = np.load(
            folder / VECTORS_FILE, mmap_mode="r" if mmap else None, allow_pickle=False
        )
        offsets = np.load(folder / OFFSETS_FILE, allow_pickle=False)
        if vectors.dtype != np.float16 or offsets.dtype != np.int64:
            raise ValueError(f"{folder}: expected float16 vectors and int64 offsets")
        if record.get("num_tokens") != len(vectors) or record.get("num_pages") != len(page_ids):
            raise ValueError(f"{folder}: array sizes do not match {CONFIG_FILE}")
        method = record.get("method")
        faiss_index = None
        if method in ("ivf", "ivfpq"):
            faiss = import_faiss()
            faiss_index = faiss.read_index(str(folder / FAISS_FILE))
            if faiss_index.ntotal != len(vectors) or faiss_index.d != vectors.shape[1]:
                raise ValueError(f"{folder / FAISS_FILE}: does not match the stored vectors")
        elif method != "exact":
            raise ValueError(f"{folder / CONFIG_FILE}: unknown method {method!r}")
        return cls(page_ids, vectors, offsets, config, faiss_index, method)


def _check_layout(page_ids: list[PageId], vectors: np.ndarray, offsets: np.ndarray) -> None:
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be 2-d (num_tokens, dim), got shape {vectors.shape}")
    if offsets.ndim != 1 or len(offsets) != len(page_ids) + 1:
        raise ValueError(f"need {len(page_ids) + 1} offsets for {len(page_ids)} pages")
    if not page_ids:
        raise ValueError("an index needs at least one page")
    if offsets[0] != 0 or offsets[-1] != len(vectors) or (np.diff(offsets) < 1).any():
        raise ValueError("offsets must start at 0, end at num_tokens and give every page >= 1 row")


def _page_blocks(offsets: np.ndarray, block_tokens: int) -> list[tuple[int, int]]:
    """Split pages into runs of at most ``block_tokens`` tokens (a longer page is its own run)."""
    blocks: list[tuple[int, int]] = []
    start, n = 0, len(offsets) - 1
    while start < n:
        limit = offsets[start] + block_tokens
        stop = int(np.searchsorted(offsets, limit, side="right")) - 1
        stop = min(max(stop, start + 1), n)
        blocks.append((start, stop))
        start = stop
    return blocks
