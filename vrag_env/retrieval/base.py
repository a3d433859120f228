"""The retriever interface and its registry.

Every backend implements the same narrow interface the environment uses: ``index(corpus)``,
``search(query, k)``, ``save(dir)`` and ``load(dir)``. Embeddings, tokenisation and scoring stay inside
the backend; the environment only ever sees :class:`~vrag_env.types.ScoredPage` lists.
"""

from __future__ import annotations

import json
import logging
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, TypeVar

from vrag_env._atomic import make_staging_dir, publish_dir
from vrag_env._entry_points import lookup
from vrag_env.corpora.corpus import Corpus
from vrag_env.corpora.verify import sha256_file
from vrag_env.types import ScoredPage

logger = logging.getLogger(__name__)

R = TypeVar("R", bound="Retriever")

RETRIEVERS: dict[str, str | type[Retriever]] = {
    "bm25": "vrag_env.retrieval.bm25:BM25Retriever",
    "colqwen2": "vrag_env.retrieval.colpali:ColQwen2Retriever",
    "colqwen2.5": "vrag_env.retrieval.colpali:ColQwen25Retriever",
    "colpali": "vrag_env.retrieval.colpali:ColPaliGemmaRetriever",
    "colsmol": "vrag_env.retrieval.colpali:ColSmolRetriever",
    "hybrid": "vrag_env.retrieval.hybrid:HybridRetriever",
}
"""The retriever registry: ``name -> "module:Class"`` (modules are imported on first use)."""

INDEX_META_FILE = "meta.json"
"""Written last into a cached index folder: what the index was built from (corpus checksum, settings)."""

INDEX_FILES_KEY = "files"
"""Key of ``meta.json`` with the SHA-256 of every other file of the index, checked before loading."""


def _index_file_checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` except ``meta.json`` (symlinks refused)."""
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            raise ValueError(f"{path}: an index may not contain symlinks")
        if path.is_file() and path.name != INDEX_META_FILE:
            out[path.relative_to(folder).as_posix()] = sha256_file(path)
    return out


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

    def coverage_warning(self) -> str | None:
        """A one-line warning when part of the corpus can never be retrieved (``None``: all fine)."""
        return None

    # -- cached indexes ---------------------------------------------------------------------------

    @property
    def index_name(self) -> str:
        """The cache folder name inside ``corpus/index/`` (default: the backend name)."""
        return self.name

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Load what :meth:`index` and :meth:`search` need (a model, say) before an index is used."""

    def index_meta(self, corpus: Corpus) -> dict[str, Any]:
        """What a cached index must have been built from to be reused (stored as ``meta.json``)."""
        return {
            "corpus_checksum": corpus.checksum,
            "num_pages": len(corpus.pages),
            "config": self.config(),
        }

    def reuse(self: R, fresh: R) -> tuple[R, bool]:
        """Adapt a retriever loaded from a matching cache to the settings of ``fresh``.

        Returns:
            The retriever to use, and whether the cache must be rewritten.
        """
        return self, False

    @classmethod
    def load_or_build(cls: type[R], corpus: Corpus, **kwargs: Any) -> R:
        """Load the index cached in ``corpus.index_dir(index_name)``, or build and cache it.

        The cache holds a ``meta.json`` (:meth:`index_meta`: the corpus checksum, page count and
        settings); an index whose meta does not match, or whose files are missing or garbled, is
        rebuilt. Writes go to a temporary sibling folder renamed into place, so readers never see a
        partial index; a read-only corpus folder only costs the caching.

        Args:
            corpus: The corpus to index.
            **kwargs: Settings of the backend class.
        """
        fresh = cls(**kwargs)
        fresh.prepare()
        folder = corpus.index_dir(fresh.index_name)
        expected = fresh.index_meta(corpus)
        loaded = cls._load_cached(folder, expected, corpus, kwargs)
        if loaded is not None:
            result, dirty = loaded.reuse(fresh)
        else:
            fresh.index(corpus)
            result, dirty = fresh, True
        if dirty:
            try:
                save_index_atomically(result, folder, expected)
            except (OSError, NotImplementedError) as exc:
                # A read-only corpus folder, or a backend that cannot save: use it uncached.
                logger.warning(
                    "could not cache the %s index in %s (%s); using it in memory",
                    cls.name,
                    folder,
                    exc,
                )
        return result

    @classmethod
    def _load_cached(
        cls: type[R], folder: Path, expected: dict[str, Any], corpus: Corpus, kwargs: dict[str, Any]
    ) -> R | None:
        """The cached retriever in ``folder`` if its meta matches ``expected``, else ``None``."""
        meta_path = folder / INDEX_META_FILE
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if not isinstance(meta, dict) or {k: meta.get(k) for k in expected} != expected:
                logger.info("index %s is stale (corpus or settings changed); rebuilding", folder)
                return None
            # Every file is checked against its checksum before any of it is parsed.
            if INDEX_FILES_KEY not in meta:
                logger.info("index %s has no file checksums (older version); rebuilding", folder)
                return None
            if meta[INDEX_FILES_KEY] != _index_file_checksums(folder):
                logger.warning(
                    "index %s is unreadable or was modified (files differ from their checksums); "
                    "rebuilding",
                    folder,
                )
                return None
            loaded = cls.load(folder, **kwargs)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            logger.warning("index %s is unreadable (%s); rebuilding", folder, exc)
            return None
        if list(getattr(loaded, "page_ids", corpus.page_ids)) != corpus.page_ids:
            logger.warning("index %s lists other pages than the corpus; rebuilding", folder)
            return None
        return loaded


def register_retriever(name: str, entry_point: str | type[Retriever]) -> None:
    """Register a backend under ``name``: ``"module:Class"`` (imported on first use) or the class.

    Example:
        >>> register_retriever("my-bm25", "vrag_env.retrieval.bm25:BM25Retriever")
        >>> "my-bm25" in registered_retrievers()
        True
        >>> del RETRIEVERS["my-bm25"]
    """
    RETRIEVERS[name] = entry_point


def registered_retrievers() -> list[str]:
    """Names accepted by :func:`make_retriever`."""
    return sorted(RETRIEVERS)


def retriever_class(name: str) -> type[Retriever]:
    """The backend class registered under ``name``.

    Raises:
        ValueError: If ``name`` is not registered; the message lists the registered names.
    """
    cls = lookup(RETRIEVERS, name, "retriever")
    if not (isinstance(cls, type) and issubclass(cls, Retriever)):
        raise ValueError(f"retriever {name!r} ({RETRIEVERS[name]!r}) is not a Retriever subclass")
    return cls


def make_retriever(name: str, **kwargs: Any) -> Retriever:
    """Instantiate a registered backend by name.

    Raises:
        ValueError: If ``name`` is not registered; the message lists the registered names.
    """
    return retriever_class(name)(**kwargs)


def default_index_dir(corpus: Corpus, retriever: Retriever) -> Path:
    """The cache folder of ``retriever``'s index inside ``corpus``."""
    return corpus.index_dir(retriever.index_name)


def save_index_atomically(retriever: Retriever, folder: Path, meta: dict[str, Any]) -> None:
    """Save ``retriever`` into ``folder`` so that readers never see a partial index.

    The index goes into a temporary sibling, ``meta.json`` is written last, and the folder is
    swapped into place. If another process published an (equivalent) index in the meantime, its
    folder is kept.
    """
    tmp = make_staging_dir(folder)
    try:
        retriever.save(tmp)
        meta = {**meta, INDEX_FILES_KEY: _index_file_checksums(tmp)}
        (tmp / INDEX_META_FILE).write_text(
            json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8"
        )
    except BaseException:
        publish_dir(tmp, folder, replace=False)  # only cleans up: an existing folder is kept
        raise
    publish_dir(tmp, folder, replace=True, done_marker=INDEX_META_FILE)
