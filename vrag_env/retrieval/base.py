"""The retriever interface and its registry.

Every backend implements the same narrow interface the environment uses: ``index(corpus)``,
``search(query, k)``, ``save(dir)`` and ``load(dir)``. Embeddings, tokenisation and scoring stay inside
the backend; the environment only ever sees :class:`~vrag_env.types.ScoredPage` lists.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
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
    from vrag_env.retrieval import bm25, colpali  # noqa: F401


def default_index_dir(corpus: Corpus, retriever: Retriever) -> Path:
    """The cache folder of ``retriever``'s index inside ``corpus``."""
    return corpus.index_dir(retriever.name)


INDEX_META_FILE = "meta.json"
"""Written last into a cached index folder: what the index was built from (corpus checksum, settings)."""


def save_index_atomically(retriever: Retriever, folder: Path, meta: dict[str, Any]) -> None:
    """Save ``retriever`` into ``folder`` so that readers never see a partial index.

    The index goes into a temporary sibling, ``meta.json`` is written last, and the folder is
    swapped into place. If another process published an (equivalent) index in the meantime, its
    folder is kept.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        retriever.save(tmp)
        (tmp / INDEX_META_FILE).write_text(
            json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8"
        )
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}-{tmp.name[-8:]}")
            os.replace(folder, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:
            # Another process published its index between our two renames.
            if not (folder / INDEX_META_FILE).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
