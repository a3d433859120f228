"""Loading corpora and retrievers once per process.

Vector envs, evaluators and trainers create many env instances over the same corpus; these helpers
share one loaded :class:`~vrag_env.corpora.corpus.Corpus` and one retriever per corpus folder, keyed by
the folder and its manifest checksum, so a rebuilt corpus is reloaded.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from vrag_env.corpora.corpus import Corpus, corpus_checksum
from vrag_env.retrieval.base import Retriever, retriever_class

logger = logging.getLogger(__name__)

_LOCK = threading.Lock()
_CORPORA: dict[tuple[str, str], Corpus] = {}
_RETRIEVERS: dict[tuple[str, str, str], Retriever] = {}


def resolve_corpus_path(corpus: str | os.PathLike[str] | None, synthetic: str = "default") -> Path:
    """The corpus folder for an env config.

    ``corpus`` itself; ``None``: the built-in synthetic corpus; ``"realdocs"``: the real-document
    track (:mod:`vrag_env.corpora.realdocs`, ingested on first use).

    Raises:
        FileNotFoundError: If ``corpus`` does not exist.
    """
    if corpus is None:
        from vrag_env.corpora.synthetic import builtin_corpus

        return Path(builtin_corpus(synthetic))
    if str(corpus) == "realdocs" and not Path(corpus).exists():  # a folder of that name wins
        from vrag_env.corpora.realdocs import realdocs_corpus

        return realdocs_corpus()
    path = Path(corpus).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"corpus folder {path} does not exist; build one with `vrag ingest SOURCES --out {path}` "
            "or leave corpus=None for the built-in corpus"
        )
    return path


def load_corpus(corpus: str | os.PathLike[str] | None, synthetic: str = "default") -> Corpus:
    """Load (or reuse) the corpus of an env config."""
    root = resolve_corpus_path(corpus, synthetic).resolve()
    key = (str(root), corpus_checksum(root))
    with _LOCK:
        if key not in _CORPORA:
            _CORPORA[key] = Corpus(root)
        return _CORPORA[key]


def load_retriever(name: str, corpus: Corpus, options: dict[str, Any] | None = None) -> Retriever:
    """Load (or reuse) retriever ``name`` over ``corpus``, building and caching its index if needed.

    ``name`` is a registered backend (``"bm25"``, ...), ``"backend:model"`` for a model-based backend
    with a checkpoint name or path (``"colqwen2:vidore/colqwen2-v1.0"``), the URL of a
    ``vrag serve-retriever`` service, or ``"vrag-rl+URL"``, the search endpoint of a VRAG-RL search
    engine (:mod:`vrag_env.retrieval.vrag_rl_http`); ``options`` go to the service client
    (``timeout``, ``retries``; ``page_map`` for a VRAG-RL engine).
    """
    key = (name, str(corpus.root), corpus.checksum, json.dumps(options or {}, sort_keys=True))
    with _LOCK:
        if key not in _RETRIEVERS:
            retriever = _build_retriever(name, corpus, options or {})
            warning = retriever.coverage_warning()
            if warning:
                logger.warning("corpus %s: %s", corpus.root, warning)
            _RETRIEVERS[key] = retriever
        return _RETRIEVERS[key]


def _build_retriever(name: str, corpus: Corpus, options: dict[str, Any]) -> Retriever:
    if name.startswith(("vrag-rl+http://", "vrag-rl+https://")):
        from vrag_env.retrieval.vrag_rl_http import VragRLSearchEngine

        unknown = sorted(set(options) - {"timeout", "retries", "page_map"})
        if unknown:
            raise ValueError(
                f"unknown retriever_options {unknown}; a VRAG-RL search engine takes timeout, "
                "retries, page_map"
            )
        return VragRLSearchEngine(name, corpus, **options)
    if name.startswith(("http://", "https://")):
        from vrag_env.retrieval.client import RemoteRetriever

        unknown = sorted(set(options) - {"timeout", "retries"})
        if unknown:
            raise ValueError(
                f"unknown retriever_options {unknown}; a retriever service takes timeout, retries"
            )
        return RemoteRetriever(name, corpus, **options)
    if options:
        raise ValueError(
            f"retriever_options {sorted(options)} apply to a retriever service URL only, "
            f"not to {name!r}"
        )
    # "backend:model" picks a checkpoint for model-based backends, e.g. "colqwen2:/models/colqwen2".
    backend, sep, model = name.partition(":")
    return retriever_class(backend).load_or_build(corpus, **({"model": model} if sep else {}))
