"""Late-interaction retrievers over page images: ColQwen2, ColQwen2.5, ColPali and ColSmol.

The models come from `colpali-engine <https://github.com/illuin-tech/colpali>`_ (the ``colpali``
extra). A backend embeds every page image into a bag of 128-d token vectors once, stores them in a
:class:`~vrag_env.retrieval.multivector.MultiVectorIndex` (exact MaxSim for small corpora, faiss token
candidates + exact rerank for large ones), and at search time embeds the query with the processor's
``process_queries`` and ranks pages by MaxSim.

=============  ===============  ==========================  ====================================
backend        model class      default checkpoint          notes
=============  ===============  ==========================  ====================================
``colqwen2``   ``ColQwen2``     ``vidore/colqwen2-v1.0``    dynamic resolution (Qwen2-VL)
``colqwen2.5`` ``ColQwen2_5``   ``vidore/colqwen2.5-v0.2``  dynamic resolution (Qwen2.5-VL)
``colpali``    ``ColPali``      ``vidore/colpali-v1.3``     448x448, 1024 patches (PaliGemma)
``colsmol``    ``ColIdefics3``  ``vidore/colSmol-256M``     small (SmolVLM / Idefics3)
=============  ===============  ==========================  ====================================

Pick a checkpoint with ``retriever="backend:NAME_OR_PATH"`` (``"colqwen2:/models/colqwen2-v1.0"``);
an offline machine needs a local path. The index is cached in
``<corpus>/index/<backend>-<hash of the model id>/`` with a ``meta.json`` holding the corpus checksum,
the model id and a fingerprint of a local checkpoint's files; a mismatch rebuilds it.

Determinism: the model runs in eval mode under ``torch.inference_mode``; padding tokens are dropped
(attention mask), pages are embedded in fixed batches in corpus order and queries one at a time, so on
CPU the same index and query give the same ranking. On GPU (bf16 by default) the page embeddings can
differ in the last bits between runs; the ranking over a built index is still deterministic.

Heavy imports (torch, transformers, colpali_engine) happen inside methods; a missing extra raises
``gymnasium.error.DependencyNotInstalled``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from gymnasium.error import DependencyNotInstalled

from vrag_env.corpora.corpus import Corpus
from vrag_env.retrieval.base import Retriever
from vrag_env.retrieval.multivector import MultiVectorConfig, MultiVectorIndex
from vrag_env.types import ScoredPage

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

INSTALL_HINT = 'ColPali backend needs `pip install "vrag-env[colpali]"`'

EMBEDDING_VERSION = 1
"""Bump when the way pages or queries are embedded changes, so cached indexes are rebuilt."""

RETRIEVER_FILE = "retriever.json"
META_FILE = "meta.json"

_SMALL_FILE = 4 << 20  # checkpoint files up to this size are hashed whole for the fingerprint
_EDGE = 1 << 20  # larger ones by size plus their first and last MiB


class ModelLoadError(OSError):
    """A checkpoint could not be loaded (offline without local files, wrong name, wrong family)."""


@dataclass(frozen=True)
class ModelFamily:
    """How one backend loads its models from colpali-engine."""

    model_class: str
    """Class name in ``colpali_engine.models``."""
    processor_class: str
    """Processor class name in ``colpali_engine.models``."""
    default_model: str
    """Hub checkpoint used when no model is given."""
    dynamic_resolution: bool
    """Whether the processor takes ``max_num_visual_tokens`` (the Qwen families)."""


FAMILIES: dict[str, ModelFamily] = {
    "colqwen2": ModelFamily("ColQwen2", "ColQwen2Processor", "vidore/colqwen2-v1.0", True),
    "colqwen2.5": ModelFamily("ColQwen2_5", "ColQwen2_5_Processor", "vidore/colqwen2.5-v0.2", True),
    "colpali": ModelFamily("ColPali", "ColPaliProcessor", "vidore/colpali-v1.3", False),
    "colsmol": ModelFamily("ColIdefics3", "ColIdefics3Processor", "vidore/colSmol-256M", False),
}
"""The registered backends and their colpali-engine classes."""


def _import_backend() -> tuple[Any, Any]:
    """``(torch, colpali_engine.models)``, or ``DependencyNotInstalled`` with the install command."""
    try:
        import colpali_engine.models as colpali_models
        import torch
    except ImportError as exc:
        raise DependencyNotInstalled(INSTALL_HINT) from exc
    return torch, colpali_models


def checkpoint_fingerprint(model_id: str, revision: str | None = None) -> str:
    """A short hash identifying a checkpoint's content, so a changed local checkpoint rebuilds indexes.

    A local folder is fingerprinted by its files' names and sizes and the SHA-256 of each file (whole
    for files up to 4 MiB, else its first and last MiB). A hub id is identified by the id and
    ``revision``; pin ``revision`` to a commit to make that exact.
    """
    folder = Path(model_id)
    digest = hashlib.sha256()
    if not folder.is_dir():
        digest.update(f"hub:{model_id}@{revision or 'main'}".encode())
        return digest.hexdigest()[:16]
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}\0{size}\0".encode())
        with open(path, "rb") as fh:
            if size <= _SMALL_FILE:
                digest.update(fh.read())
            else:
                digest.update(fh.read(_EDGE))
                fh.seek(size - _EDGE)
                digest.update(fh.read(_EDGE))
    return digest.hexdigest()[:16]


class ColPaliRetriever(Retriever):
    """Base class of the ColPali-family backends (use a registered subclass, e.g. ``colqwen2``).

    Args:
        model: Hub id or local path of the checkpoint; empty or ``None`` for the backend's default.
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
        dtype: ``"auto"`` (bfloat16 on CUDA, float32 on CPU), ``"float32"``, ``"bfloat16"`` or
            ``"float16"``.
        batch_size: Pages embedded per forward pass.
        max_num_visual_tokens: Cap on the image tokens per page (Qwen families only; ``None`` keeps
            the checkpoint's processor setting). Fewer tokens embed faster and index smaller.
        index_method: :attr:`MultiVectorConfig.method` (``"auto"``, ``"exact"``, ``"ivf"``,
            ``"ivfpq"``).
        index_options: Other :class:`MultiVectorConfig` fields (``nprobe``, ``exact_max_tokens``, ...).
        revision: Hub revision (branch, tag or commit) of ``model``.
        local_files_only: Never contact the hub (``None`` follows ``HF_HUB_OFFLINE``).
        show_progress: Show a progress bar while embedding pages.
        query_cache_size: Query embeddings kept in an LRU cache (repeated searches are common in
            RL rollouts).

    Raises:
        ValueError: On an unknown ``dtype`` or invalid index settings.
    """

    family: ClassVar[ModelFamily]

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 4,
        max_num_visual_tokens: int | None = None,
        index_method: str = "auto",
        index_options: dict[str, Any] | None = None,
        revision: str | None = None,
        local_files_only: bool | None = None,
        show_progress: bool = True,
        query_cache_size: int = 256,
    ) -> None:
        if not hasattr(type(self), "family"):
            raise TypeError(
                f"ColPaliRetriever is a base class; use one of the backends {sorted(FAMILIES)}"
            )
        if dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ValueError(
                f"dtype must be 'auto', 'float32', 'bfloat16' or 'float16', got {dtype!r}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model_id = _normalise_model_id(model or self.family.default_model)
        self.device = device
        self.dtype = dtype
        self.batch_size = int(batch_size)
        self.max_num_visual_tokens = max_num_visual_tokens
        self.index_config = MultiVectorConfig(method=index_method, **(index_options or {}))
        self.revision = revision
        self.local_files_only = local_files_only
        self.show_progress = show_progress
        self.query_cache_size = int(query_cache_size)
        self.page_ids: list[str] = []
        self._index: MultiVectorIndex | None = None
        self._model: Any = None
        self._processor: Any = None
        self._torch_device: Any = None
        self._lock = threading.Lock()
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()

    # ----------------------------------------------------------------------------------------------
    # Configuration
    # ----------------------------------------------------------------------------------------------

    def embedding_config(self) -> dict[str, Any]:
        """The settings that determine the page embeddings (a change re-embeds the corpus)."""
        return {
            "name": self.name,
            "model": self.model_id,
            "revision": self.revision,
            "max_num_visual_tokens": self.max_num_visual_tokens,
            "embedding_version": EMBEDDING_VERSION,
        }

    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings that, with the corpus, determine the index."""
        return {**self.embedding_config(), "index": self.index_config.to_json()}

    @property
    def index_name(self) -> str:
        """The cache folder name: ``<backend>-<hash of model id and revision>``."""
        key = f"{self.model_id}@{self.revision or ''}".encode()
        return f"{self.name}-{hashlib.sha256(key).hexdigest()[:12]}"

    @property
    def multivector_index(self) -> MultiVectorIndex | None:
        """The page index (``None`` before :meth:`index` or :meth:`load`)."""
        return self._index

    def require_index(self) -> MultiVectorIndex:
        """The page index; ``RuntimeError`` before :meth:`index` or :meth:`load`."""
        if self._index is None:
            raise RuntimeError(f"{type(self).__name__} has no index yet; call index() or load()")
        return self._index

    # ----------------------------------------------------------------------------------------------
    # Model
    # ----------------------------------------------------------------------------------------------

    def load_model(self) -> None:
        """Load the model and processor now (otherwise the first embedding does).

        Raises:
            gymnasium.error.DependencyNotInstalled: Without the ``colpali`` extra.
            ModelLoadError: If the checkpoint cannot be loaded or is not of this backend's family.
        """
        with self._lock:
            if self._model is None:
                self._load_model_locked()

    def _load_model_locked(self) -> None:
        torch, colpali_models = _import_backend()
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype_name = self.dtype
        if dtype_name == "auto":
            dtype_name = "bfloat16" if str(device).startswith("cuda") else "float32"
        hub: dict[str, Any] = {}
        if self.revision is not None:
            hub["revision"] = self.revision
        if self.local_files_only is not None:
            hub["local_files_only"] = self.local_files_only
        processor_kwargs = dict(hub)
        if self.max_num_visual_tokens is not None and self.family.dynamic_resolution:
            processor_kwargs["max_num_visual_tokens"] = int(self.max_num_visual_tokens)
        model_cls = getattr(colpali_models, self.family.model_class)
        processor_cls = getattr(colpali_models, self.family.processor_class)
        try:
            model, info = model_cls.from_pretrained(
                self.model_id, dtype=getattr(torch, dtype_name), output_loading_info=True, **hub
            )
            processor = processor_cls.from_pretrained(self.model_id, **processor_kwargs)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(self._load_error(exc)) from exc
        missing = [k for k in info.get("missing_keys", ()) if "custom_text_proj" in k]
        if missing:
            raise ModelLoadError(
                f"{self.model_id!r} is not a {self.name} checkpoint: it has no retrieval projection "
                f"({missing[0]}). Pass a {self.family.model_class} checkpoint, e.g. "
                f"{self.family.default_model!r}."
            )
        self._model = model.to(device).eval()
        self._processor = processor
        self._torch_device = torch.device(device)
        logger.info("loaded %s %s on %s (%s)", self.name, self.model_id, device, dtype_name)

    def _load_error(self, exc: BaseException) -> str:
        return (
            f"could not load the {self.name} checkpoint {self.model_id!r} "
            f"({type(exc).__name__}: {str(exc).strip()[:300]}). Checkpoints are read from a local "
            f"folder or downloaded from the Hugging Face Hub; on an offline machine, download it "
            f"elsewhere (`hf download {self.family.default_model}`), copy the folder over and pass "
            f'its local path: retriever="{self.name}:/path/to/checkpoint".'
        )

    def _ensure_model(self) -> tuple[Any, Any]:
        if self._model is None:
            self.load_model()
        return self._model, self._processor

    def _forward(self, batch: Any) -> list[np.ndarray]:
        """Run the model on a processed batch; one float32 ``(n_tokens, dim)`` array per item."""
        import torch

        model, _ = self._ensure_model()
        batch = batch.to(self._torch_device)
        with torch.inference_mode():
            embeddings = model(**batch)
        mask = batch["attention_mask"].bool()
        # Padding rows are zero (or NaN for fully masked rows); dropping them makes every embedding
        # independent of what else was in its batch.
        return [emb[m].float().cpu().numpy() for emb, m in zip(embeddings, mask, strict=True)]

    def embed_images(self, images: list[Image.Image]) -> list[np.ndarray]:
        """Embed page images (one batch); one float32 ``(n_tokens, 128)`` array per image."""
        _, processor = self._ensure_model()
        return self._forward(processor.process_images(images))

    def embed_query(self, query: str) -> np.ndarray:
        """Embed a query with ``process_queries``; a float32 ``(n_tokens, 128)`` array (cached)."""
        cached = self._query_cache.get(query)
        if cached is not None:
            self._query_cache.move_to_end(query)
            return cached
        _, processor = self._ensure_model()
        (embedding,) = self._forward(processor.process_queries([query]))
        finite = np.isfinite(embedding).all(axis=1)
        if not finite.all():
            # A degenerate query can embed to zero vectors, which the model normalises to NaN.
            logger.warning("query %r: dropping %d non-finite vectors", query, int((~finite).sum()))
            embedding = embedding[finite]
            if not len(embedding):
                raise ValueError(f"the {self.name} model embeds query {query!r} to NaN only")
        if self.query_cache_size > 0:
            self._query_cache[query] = embedding
            while len(self._query_cache) > self.query_cache_size:
                self._query_cache.popitem(last=False)
        return embedding

    # ----------------------------------------------------------------------------------------------
    # Retriever interface
    # ----------------------------------------------------------------------------------------------

    def index(self, corpus: Corpus) -> None:
        """Embed every page image of ``corpus`` (in corpus order, fixed batches) and index them."""
        from tqdm.auto import tqdm

        page_ids = corpus.page_ids
        if not page_ids:
            raise ValueError(f"corpus {corpus.root} has no pages to index")
        self._ensure_model()
        embeddings: list[np.ndarray] = []
        with tqdm(
            total=len(page_ids),
            desc=f"{self.name}: embedding pages",
            unit="page",
            disable=not self.show_progress,
        ) as bar:
            for start in range(0, len(page_ids), self.batch_size):
                batch_ids = page_ids[start : start + self.batch_size]
                embeddings.extend(self.embed_images([corpus.page_image(p) for p in batch_ids]))
                bar.update(len(batch_ids))
        self._index = MultiVectorIndex.build(page_ids, embeddings, self.index_config)
        self.page_ids = page_ids

    def search(self, query: str, k: int) -> list[ScoredPage]:
        """The ``k`` best pages for ``query`` by MaxSim, best first, ties in corpus order."""
        if self._index is None:
            raise RuntimeError(f"{type(self).__name__}.search() called before index() or load()")
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        if k == 0:
            return []
        return self._index.search(self.embed_query(query), k)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index and the retriever settings into folder ``path`` (no pickle)."""
        if self._index is None:
            raise RuntimeError(f"{type(self).__name__}.save() called before index()")
        folder = Path(path)
        self._index.save(folder)
        (folder / RETRIEVER_FILE).write_text(json.dumps(self.config(), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> ColPaliRetriever:
        """Read an index written by :meth:`save`; the model is loaded on first use.

        Args:
            path: The index folder.
            **kwargs: Constructor settings overriding the stored ones (``device``, ``batch_size``,
                ``index_options`` with search-time settings such as ``nprobe``, ...).

        Raises:
            ValueError: If the folder holds another backend's index or inconsistent files.
            OSError: If a file cannot be read.
        """
        folder = Path(path)
        stored = json.loads((folder / RETRIEVER_FILE).read_text(encoding="utf-8"))
        if not isinstance(stored, dict) or stored.get("name") != getattr(cls, "name", None):
            raise ValueError(f"{folder}: not a {getattr(cls, 'name', cls.__name__)} index")
        if stored.get("embedding_version") != EMBEDDING_VERSION:
            raise ValueError(f"{folder}: embedding version {stored.get('embedding_version')!r}")
        index_record = dict(stored.get("index") or {})
        settings: dict[str, Any] = {
            "model": stored["model"],
            "revision": stored.get("revision"),
            "max_num_visual_tokens": stored.get("max_num_visual_tokens"),
            "index_method": index_record.pop("method", "auto"),
            "index_options": index_record,
        }
        settings.update(kwargs)
        retriever = cls(**settings)
        index = MultiVectorIndex.load(
            folder, nprobe=retriever.index_config.nprobe, k_tokens=retriever.index_config.k_tokens
        )
        retriever._index = index
        retriever.page_ids = list(index.page_ids)
        return retriever

    def prepare(self) -> None:
        """Load the model, so that a wrong checkpoint fails before any cached index is used."""
        self.load_model()

    def index_meta(self, corpus: Corpus) -> dict[str, Any]:
        """Corpus checksum, page count, embedding settings and model fingerprint.

        The index settings (``index_method`` ...) are left out on purpose: when only they differ,
        :meth:`reuse` re-indexes the stored vectors without running the model.
        """
        return {
            "corpus_checksum": corpus.checksum,
            "num_pages": len(corpus.pages),
            "embedding": self.embedding_config(),
            "model_fingerprint": checkpoint_fingerprint(self.model_id, self.revision),
        }

    def reuse(self, fresh: ColPaliRetriever) -> tuple[ColPaliRetriever, bool]:
        """Share ``fresh``'s loaded model; re-index stored vectors if the index settings changed."""
        self._adopt_model(fresh)
        index = self._index
        if index is not None and index.compatible_with(fresh.index_config):
            return self, False
        logger.info("re-indexing the stored %s vectors with new index settings", fresh.name)
        self._index = self.require_index().rebuilt(fresh.index_config)
        return self, True

    def _adopt_model(self, other: ColPaliRetriever) -> None:
        """Share ``other``'s loaded model and processor (same checkpoint)."""
        self._model, self._processor = other._model, other._processor
        self._torch_device = other._torch_device


def _normalise_model_id(model: str) -> str:
    """An absolute path for an existing local folder; hub ids are kept as given."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else model


class ColQwen2Retriever(ColPaliRetriever):
    """ColQwen2 (Qwen2-VL backbone); default checkpoint ``vidore/colqwen2-v1.0``.

    Example:
        >>> from vrag_env.retrieval.base import make_retriever
        >>> r = make_retriever("colqwen2", model="/models/colqwen2-v1.0")  # nothing is loaded yet
        >>> r.config()["name"], r.model_id
        ('colqwen2', '/models/colqwen2-v1.0')
    """

    name = "colqwen2"
    family = FAMILIES["colqwen2"]


class ColQwen25Retriever(ColPaliRetriever):
    """ColQwen2.5 (Qwen2.5-VL backbone); default checkpoint ``vidore/colqwen2.5-v0.2``."""

    name = "colqwen2.5"
    family = FAMILIES["colqwen2.5"]


class ColPaliGemmaRetriever(ColPaliRetriever):
    """ColPali (PaliGemma backbone); default checkpoint ``vidore/colpali-v1.3``."""

    name = "colpali"
    family = FAMILIES["colpali"]


class ColSmolRetriever(ColPaliRetriever):
    """ColSmol (Idefics3 / SmolVLM backbone, ``ColIdefics3``); default ``vidore/colSmol-256M``."""

    name = "colsmol"
    family = FAMILIES["colsmol"]
