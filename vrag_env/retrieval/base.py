"""The retriever interface and its registry.

Every backend implements the same narrow interface the environment uses: ``index(corpus)``,
``search(query, k)``, ``save(dir)`` and ``load(dir)``. Embeddings, tokenisation and scoring stay inside
the backend; the environment only ever sees :class:`~vrag_env.types.ScoredPage` lists.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from vrag_env.corpora.corpus import Corpus
from vrag_env.types import ScoredPage

R = TypeVar("R", bound="Retriever")

_REGISTRY: dict[str, Callable[..., Retriever]] = {}


class Retriever(ABC):
    """A page retriever over one corpus.

    Subclasses must be deterministic for a fixed index: ``search`` returns pages by descending score,
    ties broken by corpus order.
    """

    name: str = ""

    @abstractmethod
    def index(self, corpus: Corpus) -> None:
        """Build the index over every page of ``corpus``."""

    @abstractmethod
    def search(self, query: str, k: int) -> list[ScoredPage]:
        """Return the top ``k`` pages for ``query``, best first (fewer if the corpus is smaller)."""

    @abstractmethod
    def save(self, path: str | os.PathLike[str]) -> None:
        """Persist the index into folder ``path`` (no pickle)."""

    @classmethod
    @abstractmethod
    def load(cls: type[R], path: str | os.PathLike[str], **kwargs: Any) -> R:
        """Load an index written by :meth:`save`."""

    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings that, with the corpus, determine the index."""
        return {"name": self.name}


def register_retriever(name: str) -> Callable[[type[R]], type[R]]:
    """Class decorator registering a backend under ``name`` (used by ``retriever="name"``)."""

    def deco(cls: type[R]) -> type[R]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def register_retriever_factory(name: str, factory: Callable[..., Retriever]) -> None:
    """Register a factory (for backends whose class lives behind an optional import)."""
    _REGISTRY[name] = factory


def registered_retrievers() -> list[str]:
    """Names accepted by :func:`make_retriever`."""
    _load_builtin_backends()
    return sorted(_REGISTRY)


def make_retriever(name: str, **kwargs: Any) -> Retriever:
    """Instantiate a registered backend by name.

    Raises:
        ValueError: If ``name`` is not registered; the message lists the registered names.
    """
    _load_builtin_backends()
    if name not in _REGISTRY:
        raise ValueError(f"unknown retriever {name!r}. Available retrievers: {sorted(_REGISTRY)}")
    return _REGISTRY[name](**kwargs)


def _load_builtin_backends() -> None:
    # Importing the modules runs their @register_retriever decorators. Heavy backends keep their
    # heavy imports inside methods, so this stays cheap.
    from vrag_env.retrieval import bm25  # noqa: F401


def default_index_dir(corpus: Corpus, retriever: Retriever) -> Path:
    """The cache folder of ``retriever``'s index inside ``corpus``."""
    return corpus.index_dir(retriever.name)
