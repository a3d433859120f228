"""BM25 over the pages' text layer: the default, CPU-only, deterministic retriever.

Scoring uses the ``bm25s`` package (Lucene's BM25 variant by default); tokenisation is ours
(:func:`vrag_env.text.tokenize`), so it is stable and dependency-free: NFKC and case folding, scripts
kept apart, CJK runs as character unigrams and bigrams, Latin words split on anything that is not a
letter or digit but numbers kept whole with their separators (``12.4``, ``1,234.5``), an English
stopword list and an optional "S-stemmer" (Harman 1991) that conflates ``revenue``/``revenues``.
The tokenizer's version is part of the index config, so an index built by an older tokenizer is
rebuilt.

The index persists as ``.npy`` arrays (the term-by-page score matrix in CSC form) and JSON, read with
``allow_pickle=False``: loading never unpickles anything. Loading and searching use numpy only, so an
env over a cached index starts without importing ``bm25s`` or SciPy.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from vrag_env.corpora.corpus import Corpus
from vrag_env.retrieval.base import Retriever
from vrag_env.text import STOPWORDS, TOKENIZER_VERSION, s_stem, tokenize
from vrag_env.types import ScoredPage

__all__ = ["STOPWORDS", "TOKENIZER_VERSION", "BM25Retriever", "s_stem", "tokenize"]

logger = logging.getLogger(__name__)

SCORING_METHODS = ("lucene", "robertson", "atire")
"""bm25s variants whose scores are a plain sum over query terms (no per-page constant shift)."""

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
PAGE_IDS_FILE = "page_ids.json"
META_FILE = "meta.json"
QUERY_CACHE_SIZE = 4096
"""Most query tokenisations kept by one retriever (oldest dropped first)."""


class BM25Retriever(Retriever):
    """BM25 over ``Page.text``.

    Args:
        k1: Term-frequency saturation.
        b: Length normalisation.
        method: ``bm25s`` scoring variant: ``"lucene"``, ``"robertson"`` or ``"atire"``.
        stopwords: Drop :data:`STOPWORDS`.
        stem: Apply :func:`s_stem`.

    Example:
        >>> r = BM25Retriever()
        >>> r.config()["name"]
        'bm25'
    """

    name = "bm25"

    def __init__(
        self,
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
        stopwords: bool = True,
        stem: bool = True,
    ) -> None:
        if method not in SCORING_METHODS:
            raise ValueError(f"BM25 method must be one of {SCORING_METHODS}, got {method!r}")
        self.k1 = float(k1)
        self.b = float(b)
        self.method = method
        self.stopwords = bool(stopwords)
        self.stem = bool(stem)
        self.page_ids: list[str] = []
        # The term-by-page score matrix in CSC form (one column slice per term) and the vocabulary.
        self._data: np.ndarray | None = None
        self._indices: np.ndarray | None = None
        self._indptr: np.ndarray | None = None
        self._vocab: dict[str, int] = {}
        self._searchable = np.zeros(0, dtype=bool)
        self._n_searchable = 0
        self._token_cache: dict[str, list[str]] = {}

    def config(self) -> dict[str, Any]:
        """The settings that, with the corpus, determine the index."""
        return {
            "name": self.name,
            "k1": self.k1,
            "b": self.b,
            "method": self.method,
            "stopwords": self.stopwords,
            "stem": self.stem,
            "tokenizer_version": TOKENIZER_VERSION,
        }

    def _tokens(self, text: str) -> list[str]:
        return tokenize(text, stopwords=self.stopwords, stem=self.stem)

    def index(self, corpus: Corpus) -> None:
        """Index every page's text layer, in corpus order (``bm25s`` computes the scores)."""
        import bm25s

        page_ids = corpus.page_ids
        if not page_ids:
            raise ValueError(f"corpus {corpus.root} has no pages to index")
        # A page without words still needs one token: bm25s cannot index an empty document.
        docs = [self._tokens(corpus.pages[p].text) or [""] for p in page_ids]
        model = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
        model.index(docs, show_progress=False)
        self._set_arrays(
            page_ids,
            np.asarray(model.scores["data"], dtype=np.float32),
            np.asarray(model.scores["indices"], dtype=np.int32),
            np.asarray(model.scores["indptr"], dtype=np.int64),
            {t: int(i) for t, i in model.vocab_dict.items() if t},
        )

    def _set_arrays(
        self,
        page_ids: list[str],
        data: np.ndarray,
        indices: np.ndarray,
        indptr: np.ndarray,
        vocab: dict[str, int],
    ) -> None:
        problem = _array_problem(page_ids, data, indices, indptr, vocab)
        if problem:
            raise ValueError(f"index arrays are invalid: {problem}")
        n_terms = len(indptr) - 1
        self.page_ids, self._data, self._indices, self._indptr = page_ids, data, indices, indptr
        self._vocab = vocab
        # Pages with at least one indexed term; the others (no text layer, or only stopwords) are
        # never returned: they cannot match any query.
        term_of_entry = np.repeat(np.arange(n_terms), np.diff(indptr))
        indexed = np.isin(
            term_of_entry, np.fromiter(vocab.values(), dtype=np.int64, count=len(vocab))
        )
        self._searchable = np.zeros(len(page_ids), dtype=bool)
        self._searchable[indices[indexed]] = True
        self._n_searchable = int(self._searchable.sum())

    @property
    def pages_without_text(self) -> list[str]:
        """Ids of indexed pages without any searchable word (they never match a query)."""
        return [p for p, ok in zip(self.page_ids, self._searchable, strict=True) if not ok]

    def coverage_warning(self) -> str | None:
        """A warning when some pages have no text and so can never be found by BM25."""
        missing = len(self.pages_without_text)
        if not missing:
            return None
        return (
            f"{missing} of {len(self.page_ids)} pages have no text, so BM25 search never finds them; "
            "add a text layer with `vrag ingest SOURCES --ocr auto --force` or search with a visual "
            "retriever (retriever='colqwen2:<model>')"
        )

    def search(self, query: str, k: int) -> list[ScoredPage]:
        """The ``k`` best pages by descending score.

        Ties keep corpus order. A query that matches no page at all (none of its terms occurs in
        the corpus) returns an empty list, so callers can say so rather than show arbitrary pages;
        when some pages match, the non-matching ones follow them in corpus order. Pages without any
        indexed word are never returned (fewer than ``k`` results, none for a corpus without
        text). Scoring is plain numpy over the stored matrix: searching never imports ``bm25s``.
        """
        if self._data is None or self._indices is None or self._indptr is None:
            raise RuntimeError("BM25Retriever.search() called before index() or load()")
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        n = len(self.page_ids)
        scores = np.zeros(n, dtype=np.float64)
        matched = False
        # A repeated query term counts once per occurrence (as bm25s' own scorer does). A term's
        # column holds each page at most once, so a fancy-indexed add is exact (no np.add.at).
        for term in self._query_tokens(query):
            tid = self._vocab.get(term)
            if tid is None:
                continue
            lo, hi = self._indptr[tid], self._indptr[tid + 1]
            if hi > lo:
                matched = True
                scores[self._indices[lo:hi]] += self._data[lo:hi]
        if not matched:
            return []
        return [ScoredPage(self.page_ids[i], float(scores[i])) for i in self._top_k(scores, k)]

    def _query_tokens(self, query: str) -> list[str]:
        """:meth:`_tokens` of a query, memoised (agents and vector envs repeat queries)."""
        cache = self._token_cache
        tokens = cache.get(query)
        if tokens is None:
            tokens = self._tokens(query)
            if len(cache) >= QUERY_CACHE_SIZE:
                cache.pop(next(iter(cache)))
            cache[query] = tokens
        return tokens

    def _top_k(self, scores: np.ndarray, k: int) -> np.ndarray:
        """Positions of the ``k`` best searchable pages: descending score, ties in corpus order.

        Selects with ``argpartition`` (linear) and sorts only the selection, so the cost at 100k
        pages is one pass over the scores, not a full sort.
        """
        n = len(scores)
        masked = np.where(self._searchable, scores, -np.inf)
        n_searchable = self._n_searchable
        if k >= n_searchable or k * 8 >= n:
            # lexsort sorts by the last key first: descending score, then ascending position.
            order = np.lexsort((np.arange(n), -masked))
            return order[: min(k, n_searchable)]
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        part = np.argpartition(-masked, k - 1)[:k]
        threshold = masked[part].min()
        above = np.flatnonzero(masked > threshold)
        ties = np.flatnonzero(masked == threshold)[: k - len(above)]
        chosen = np.concatenate([above, ties])
        return chosen[np.lexsort((chosen, -masked[chosen]))]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index into folder ``path`` (``.npy`` arrays and JSON; no pickle)."""
        if self._data is None or self._indices is None or self._indptr is None:
            raise RuntimeError("BM25Retriever.save() called before index()")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in (
            ("data", self._data),
            ("indices", self._indices),
            ("indptr", self._indptr),
        ):
            np.save(folder / f"{name}.npy", array, allow_pickle=False)
        (folder / VOCAB_FILE).write_text(json.dumps(self._vocab), encoding="utf-8")
        (folder / PAGE_IDS_FILE).write_text(json.dumps(self.page_ids), encoding="utf-8")
        (folder / CONFIG_FILE).write_text(json.dumps(self.config(), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> BM25Retriever:
        """Read an index written by :meth:`save` (numpy and JSON only).

        Raises:
            ValueError: If the files are missing pieces or inconsistent.
            OSError: If a file cannot be read.
        """
        folder = Path(path)
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        if config.get("name") != "bm25" or config.get("tokenizer_version") != TOKENIZER_VERSION:
            raise ValueError(f"{folder}: not a bm25 index of this version ({config!r:.200})")
        settings = {k: config[k] for k in ("k1", "b", "method", "stopwords", "stem")}
        settings.update(kwargs)
        retriever = cls(**settings)
        page_ids = json.loads((folder / PAGE_IDS_FILE).read_text(encoding="utf-8"))
        if not isinstance(page_ids, list) or not all(isinstance(p, str) for p in page_ids):
            raise ValueError(f"{folder / PAGE_IDS_FILE}: expected a list of page ids")
        vocab = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
        if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
            raise ValueError(f"{folder / VOCAB_FILE}: expected a term -> id mapping")
        data, indices, indptr = (
            np.load(folder / f"{n}.npy", allow_pickle=False) for n in ("data", "indices", "indptr")
        )
        try:
            retriever._set_arrays(page_ids, data, indices, indptr, vocab)
        except ValueError as exc:
            raise ValueError(f"{folder}: {exc}") from None
        return retriever


MAX_ABS_SCORE = 1e6
"""Larger per-term BM25 scores only come from a damaged index (real ones are below ~100)."""


def _array_problem(
    page_ids: list[str],
    data: np.ndarray,
    indices: np.ndarray,
    indptr: np.ndarray,
    vocab: dict[str, int],
) -> str | None:
    """What is wrong with a term-by-page CSC matrix and its vocabulary (``None``: nothing)."""
    if data.ndim != 1 or indices.ndim != 1 or indptr.ndim != 1 or indices.shape != data.shape:
        return f"shapes data {data.shape}, indices {indices.shape}, indptr {indptr.shape}"
    if data.dtype.kind != "f" or indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        return f"dtypes data {data.dtype}, indices {indices.dtype}, indptr {indptr.dtype}"
    if len(indptr) < 1 or int(indptr[0]) != 0 or int(indptr[-1]) != len(data):
        return "indptr must start at 0 and end at len(data)"
    if np.any(np.diff(indptr) < 0):
        return "indptr is not monotonic"
    if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= len(page_ids)):
        return f"page indices outside 0..{len(page_ids) - 1}"
    if not np.all(np.isfinite(data)) or (len(data) and float(np.abs(data).max()) > MAX_ABS_SCORE):
        return "scores that are not finite or out of range"
    ids = list(vocab.values())
    if ids and (min(ids) < 0 or max(ids) >= len(indptr) - 1 or len(set(ids)) != len(ids)):
        return "vocabulary ids out of range or repeated"
    return None
