"""Hybrid retrieval: reciprocal-rank fusion (RRF) of registered retrievers.

Lexical search (BM25 over the text layer) finds exact numbers, names and rare words; visual
retrievers (ColQwen2) find pages by layout, charts and paraphrase. Fusing their rankings is robust
because it needs no score calibration: a page's fused score is

    score(p) = sum_i  w_i / (rrf_k + rank_i(p))

over the component retrievers ``i`` that return ``p`` within their top ``depth`` (Cormack, Clarke
and Buettcher, SIGIR 2009; ``rrf_k = 60`` there). The retriever is named by a string, through the
same registry as its parts::

    retriever="hybrid:bm25+colqwen2:/models/colqwen2"          # equal weights
    retriever="hybrid:2*bm25+colqwen2:vidore/colqwen2-v1.0"     # BM25 counts twice

Each component keeps its own cached index in the corpus folder; the hybrid itself stores nothing.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from vrag_env.corpora.corpus import Corpus
from vrag_env.retrieval.base import RETRIEVERS, Retriever, retriever_class
from vrag_env.types import ScoredPage

logger = logging.getLogger(__name__)

DEFAULT_RRF_K = 60.0
"""RRF's rank offset: larger values flatten the difference between the first ranks."""

DEFAULT_DEPTH = 100
"""How many results of each component enter the fusion (at least the ``k`` asked for)."""

_WEIGHT = re.compile(r"^(?P<w>\d+(?:\.\d+)?)\*(?P<rest>.+)$")


def parse_components(spec: str) -> list[tuple[str, str | None, float]]:
    """Parse ``"[w*]name[:model]+[w*]name[:model]..."`` into ``(name, model, weight)`` triples.

    A ``+`` only starts a new component when what follows is a registered retriever name, so
    model paths may contain ``+``.

    Raises:
        ValueError: For an empty spec, an unknown retriever name, a nested ``hybrid`` or a
            non-positive weight; the message names the offending part.

    Example:
        >>> parse_components("bm25+0.5*colqwen2:/models/a+b")
        [('bm25', None, 1.0), ('colqwen2', '/models/a+b', 0.5)]
    """
    parts: list[str] = []
    for piece in spec.split("+"):
        head = _WEIGHT.sub(r"\g<rest>", piece.strip()).partition(":")[0]
        if parts and head not in RETRIEVERS:
            parts[-1] += "+" + piece  # a '+' inside a model path
        else:
            parts.append(piece)
    components = []
    for part in parts:
        part = part.strip()
        weight = 1.0
        match = _WEIGHT.match(part)
        if match:
            weight, part = float(match["w"]), match["rest"]
        name, sep, model = part.partition(":")
        if not name or name not in RETRIEVERS:
            raise ValueError(
                f"hybrid retriever {spec!r}: unknown part {name!r}; use registered names "
                f"{sorted(n for n in RETRIEVERS if n != 'hybrid')} joined by '+', "
                "e.g. 'hybrid:bm25+colqwen2:/path/to/model'"
            )
        if name == "hybrid":
            raise ValueError(f"hybrid retriever {spec!r}: a hybrid cannot contain a hybrid")
        if weight <= 0:
            raise ValueError(f"hybrid retriever {spec!r}: weight of {name!r} must be > 0")
        components.append((name, model if sep else None, weight))
    if not components:
        raise ValueError("hybrid retriever: name at least one retriever, e.g. 'hybrid:bm25'")
    return components


def rrf_fuse(
    rankings: list[list[str]],
    weights: list[float],
    order: list[str],
    rrf_k: float = DEFAULT_RRF_K,
) -> list[tuple[str, float]]:
    """Fuse rankings by weighted reciprocal rank.

    Args:
        rankings: Page ids of each component, best first.
        weights: One weight per ranking.
        order: Every page id in corpus order (breaks ties).
        rrf_k: The rank offset.

    Returns:
        ``(page_id, fused score)`` by descending score, ties in corpus order; only pages that
        some ranking returned.

    Example:
        >>> rrf_fuse([["a", "b"], ["b", "c"]], [1.0, 1.0], ["a", "b", "c"], rrf_k=0)
        [('b', 1.5), ('a', 1.0), ('c', 0.5)]
    """
    if len(rankings) != len(weights):
        raise ValueError(f"{len(rankings)} rankings but {len(weights)} weights")
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, page in enumerate(ranking, start=1):
            scores[page] = scores.get(page, 0.0) + weight / (rrf_k + rank)
    position = {page: i for i, page in enumerate(order)}
    ranked = sorted(scores.items(), key=lambda item: (-item[1], position.get(item[0], len(order))))
    return ranked


class HybridRetriever(Retriever):
    """Reciprocal-rank fusion of registered retrievers (see the module docstring).

    Args:
        model: The components, ``"[w*]name[:model]+..."`` (what follows ``hybrid:`` in a
            retriever string).
        weights: Component weights, overriding those in ``model``.
        rrf_k: RRF's rank offset.
        depth: Results taken from each component (at least the ``k`` of a search).
        **component_kwargs: Passed to every component that accepts them (e.g. ``show_progress``).

    Example:
        >>> HybridRetriever("bm25").config()["components"][0]["name"]
        'bm25'
    """

    name = "hybrid"

    def __init__(
        self,
        model: str = "bm25",
        weights: list[float] | tuple[float, ...] | None = None,
        rrf_k: float = DEFAULT_RRF_K,
        depth: int = DEFAULT_DEPTH,
        **component_kwargs: Any,
    ) -> None:
        self.spec = model
        self.components_spec = parse_components(model)
        if weights is not None:
            if len(weights) != len(self.components_spec):
                raise ValueError(
                    f"hybrid retriever {model!r}: {len(weights)} weights for "
                    f"{len(self.components_spec)} retrievers"
                )
            if any(float(w) <= 0 for w in weights):
                raise ValueError(f"hybrid retriever {model!r}: weights must be > 0, got {weights}")
            self.components_spec = [
                (n, m, float(w)) for (n, m, _), w in zip(self.components_spec, weights, strict=True)
            ]
        if rrf_k < 0:
            raise ValueError(f"rrf_k must be >= 0, got {rrf_k}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.rrf_k = float(rrf_k)
        self.depth = int(depth)
        self.component_kwargs = component_kwargs
        self.components: list[Retriever] = []
        self.page_ids: list[str] = []

    @property
    def weights(self) -> list[float]:
        """One weight per component."""
        return [w for _, _, w in self.components_spec]

    def config(self) -> dict[str, Any]:
        """The components' configs, weights and fusion settings."""
        parts = self.components or [None] * len(self.components_spec)
        return {
            "name": self.name,
            "components": [
                part.config() if part is not None else {"name": name, "model": model}
                for part, (name, model, _) in zip(parts, self.components_spec, strict=True)
            ],
            "weights": self.weights,
            "rrf_k": self.rrf_k,
            "depth": self.depth,
        }

    def _kwargs(self, name: str, model: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": model} if model is not None else {}
        if name != "bm25":  # BM25 takes no model options
            kwargs.update(self.component_kwargs)
        return kwargs

    def index(self, corpus: Corpus) -> None:
        """Index every component over ``corpus`` (in memory; nothing is cached)."""
        self.components = []
        for name, model, _ in self.components_spec:
            part = retriever_class(name)(**self._kwargs(name, model))
            part.prepare()
            part.index(corpus)
            self.components.append(part)
        self.page_ids = list(corpus.page_ids)

    @classmethod
    def load_or_build(cls, corpus: Corpus, **kwargs: Any) -> HybridRetriever:
        """Load or build each component's own cached index (the hybrid caches nothing itself)."""
        hybrid = cls(**kwargs)
        hybrid.components = [
            retriever_class(name).load_or_build(corpus, **hybrid._kwargs(name, model))
            for name, model, _ in hybrid.components_spec
        ]
        hybrid.page_ids = list(corpus.page_ids)
        return hybrid

    def coverage_warning(self) -> str | None:
        """The components' warnings, if any (a page BM25 cannot find, a visual model can)."""
        warnings = [w for w in (c.coverage_warning() for c in self.components) if w]
        return "; ".join(warnings) or None

    def search(self, query: str, k: int) -> list[ScoredPage]:
        """The ``k`` best pages by fused score; empty when no component returns anything."""
        if not self.components:
            raise RuntimeError("HybridRetriever.search() called before index() or load_or_build()")
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        if k == 0:
            return []
        depth = min(max(k, self.depth), len(self.page_ids))
        rankings = [[hit.page_id for hit in part.search(query, depth)] for part in self.components]
        fused = rrf_fuse(rankings, self.weights, self.page_ids, self.rrf_k)
        return [ScoredPage(page, score) for page, score in fused[:k]]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Not supported: each component caches its own index (see :meth:`load_or_build`)."""
        raise NotImplementedError(
            "a hybrid retriever stores nothing; its parts cache their indexes"
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> HybridRetriever:
        """Not supported: use :meth:`load_or_build`."""
        raise NotImplementedError("a hybrid retriever is built with load_or_build(corpus, ...)")
