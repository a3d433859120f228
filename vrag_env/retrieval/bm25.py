"""BM25 over the pages' text layer: the default, CPU-only, deterministic retriever.

Scoring uses the ``bm25s`` package (Lucene's BM25 variant by default); tokenisation is ours, so it is
stable and dependency-free: lower-case, split on anything that is not a letter or digit, but keep
numbers with decimal and thousands separators whole (``12.4``, ``1,234.5``), because financial
questions hinge on them. A small English stopword list is dropped, and an optional "S-stemmer"
(Harman 1991: the three plural rules) conflates ``revenue``/``revenues``.

The index persists as ``.npy`` arrays and JSON (written by ``bm25s`` with ``allow_pickle=False``,
read back the same way), so loading an index never unpickles anything.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vrag_env.corpora.corpus import PAGES, Corpus, sha256_file
from vrag_env.retrieval.base import Retriever, register_retriever
from vrag_env.types import ScoredPage

if TYPE_CHECKING:
    import bm25s

logger = logging.getLogger(__name__)

TOKENIZER_VERSION = 1
"""Bump when tokenisation changes, so cached indexes are rebuilt."""

STOPWORDS = frozenset(
    """a an and are as at be been by did do does for from had has have how in into is it its of on
    or s than that the their there these this those to was were what when where which who whom
    whose why will with""".split()
)
"""Function words that carry no topic (question words included: every query has one)."""

_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+")

CONFIG_FILE = "config.json"
PAGE_IDS_FILE = "page_ids.json"
META_FILE = "meta.json"


def s_stem(token: str) -> str:
    """Harman's S-stemmer: ``-ies -> -y``, ``-es -> -e``, ``-s -> ''`` with the usual exceptions.

    >>> [s_stem(t) for t in ["companies", "revenues", "sales", "glass", "bus", "series"]]
    ['company', 'revenue', 'sale', 'glass', 'bus', 'sery']
    """
    if len(token) <= 3 or token[-1] != "s" or token[0].isdigit():
        return token
    if token.endswith("ies") and not token.endswith(("eies", "aies")):
        return token[:-3] + "y"
    if token.endswith("es") and not token.endswith(("aes", "ees", "oes")):
        return token[:-1]
    if not token.endswith(("us", "ss")):
        return token[:-1]
    return token


def tokenize(text: str, *, stopwords: bool = True, stem: bool = True) -> list[str]:
    """Split ``text`` into index terms.

    >>> tokenize("Aurora's Q3 revenue rose 12.4% to USD 1,234.5 million.")
    ['aurora', 'q3', 'revenue', 'rose', '12.4', 'usd', '1,234.5', 'million']
    """
    tokens = _TOKEN.findall(text.lower())
    if stopwords:
        tokens = [t for t in tokens if t not in STOPWORDS]
    if stem:
        tokens = [s_stem(t) for t in tokens]
    return tokens


@register_retriever("bm25")
class BM25Retriever(Retriever):
    """BM25 over ``Page.text``.

    Args:
        k1: Term-frequency saturation.
        b: Length normalisation.
        method: ``bm25s`` scoring variant (``"lucene"``, ``"robertson"``, ``"atire"``, ...).
        stopwords: Drop :data:`STOPWORDS`.
        stem: Apply :func:`s_stem`.

    Example:
        >>> r = BM25Retriever()
        >>> r.config()["name"]
        'bm25'
    """

    def __init__(
        self,
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
        stopwords: bool = True,
        stem: bool = True,
    ) -> None:
        self.k1 = float(k1)
        self.b = float(b)
        self.method = method
        self.stopwords = bool(stopwords)
        self.stem = bool(stem)
        self._model: bm25s.BM25 | None = None
        self.page_ids: list[str] = []

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
        """Index every page's text layer, in corpus order."""
        import bm25s

        self.page_ids = corpus.page_ids
        if not self.page_ids:
            raise ValueError(f"corpus {corpus.root} has no pages to index")
        # A page without words still needs one token: bm25s cannot index an empty document.
        docs = [self._tokens(corpus.pages[p].text) or [""] for p in self.page_ids]
        model = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
        model.index(docs, show_progress=False)
        self._model = model

    def search(self, query: str, k: int) -> list[ScoredPage]:
        """The ``k`` best pages by descending score.

        Ties keep corpus order; so does a query without any indexed term, which scores every
        page 0.
        """
        if self._model is None:
            raise RuntimeError("BM25Retriever.search() called before index() or load()")
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        n = len(self.page_ids)
        vocab = self._model.vocab_dict
        ids = [vocab[t] for t in self._tokens(query) if t and t in vocab]
        if ids:
            scores = np.asarray(self._model.get_scores_from_ids(ids), dtype=np.float64)
        else:
            scores = np.zeros(n, dtype=np.float64)
        # lexsort sorts by the last key first: descending score, then ascending corpus position.
        order = np.lexsort((np.arange(n), -scores))[:k]
        return [ScoredPage(self.page_ids[i], float(scores[i])) for i in order]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index into folder ``path`` (``.npy`` arrays and JSON; no pickle)."""
        if self._model is None:
            raise RuntimeError("BM25Retriever.save() called before index()")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self._model.save(str(folder), corpus=None, allow_pickle=False, show_progress=False)
        (folder / PAGE_IDS_FILE).write_text(json.dumps(self.page_ids), encoding="utf-8")
        (folder / CONFIG_FILE).write_text(json.dumps(self.config(), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> BM25Retriever:
        """Read an index written by :meth:`save`.

        Raises:
            ValueError: If the files are missing pieces or inconsistent.
            OSError: If a file cannot be read.
        """
        import bm25s

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
        model = bm25s.BM25.load(
            str(folder), load_corpus=False, allow_pickle=False, show_progress=False
        )
        num_docs = model.scores.get("num_docs")
        indptr = np.asarray(model.scores["indptr"])
        # Every searchable term id must index a row of the term matrix (bm25s appends an unused
        # "" term to the vocabulary after building it, so the vocabulary may be one longer).
        term_ids = [i for t, i in model.vocab_dict.items() if t]
        if (
            num_docs != len(page_ids)
            or indptr.ndim != 1
            or not term_ids
            or max(term_ids) >= len(indptr) - 1
            or int(indptr[-1]) != len(model.scores["data"])
        ):
            raise ValueError(f"{folder}: index arrays do not match {len(page_ids)} page ids")
        retriever._model = model
        retriever.page_ids = page_ids
        return retriever

    @classmethod
    def load_or_build(cls, corpus: Corpus, **kwargs: Any) -> BM25Retriever:
        """Load the index cached in ``corpus.index_dir("bm25")``, or build and cache it.

        The cache holds a ``meta.json`` with the checksum of ``pages.jsonl`` and the retriever
        config; an index whose meta does not match, or whose files are missing or garbled, is
        rebuilt. The new index is written to a temporary sibling folder and renamed into place, so
        readers never see a partial index. A read-only corpus folder only costs the caching.

        Args:
            corpus: The corpus to index.
            **kwargs: Retriever settings (see :class:`BM25Retriever`).
        """
        fresh = cls(**kwargs)
        folder = corpus.index_dir(fresh.name)
        checksum = corpus.manifest.get("checksums", {}).get(PAGES) or sha256_file(
            corpus.root / PAGES
        )
        expected = {
            "corpus_checksum": checksum,
            "num_pages": len(corpus.pages),
            "config": fresh.config(),
        }
        meta_path = folder / META_FILE
        if meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                if meta == expected:
                    loaded = cls.load(folder, **kwargs)
                    if loaded.page_ids == corpus.page_ids:
                        return loaded
                    logger.warning(
                        "bm25 index %s lists other pages than the corpus; rebuilding", folder
                    )
                else:
                    logger.info(
                        "bm25 index %s is stale (corpus or settings changed); rebuilding", folder
                    )
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                logger.warning("bm25 index %s is unreadable (%s); rebuilding", folder, exc)
        fresh.index(corpus)
        try:
            _write_atomically(fresh, folder, expected)
        except OSError as exc:
            logger.warning(
                "could not cache the bm25 index in %s (%s); using it in memory", folder, exc
            )
        return fresh


def _write_atomically(retriever: BM25Retriever, folder: Path, meta: dict[str, Any]) -> None:
    """Save into a temporary sibling, write ``meta.json`` last, then swap it into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        retriever.save(tmp)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}-{tmp.name[-8:]}")
            os.replace(folder, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:
            # Another process published its (equivalent) index between our two renames.
            if not (folder / META_FILE).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
