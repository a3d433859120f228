"""The real-document track: openly licensed PDFs and hand-checked questions, shipped in the repository.

The source folder (``data/realdocs/`` of a repository checkout, or ``$VRAG_REALDOCS``) holds:

- ``pdf/<doc>.pdf``: page ranges extracted from openly licensed documents, text layer kept;
- ``questions.json``: the questions in the ``rag_dataset.json`` layout, each with its evidence boxes
  (``meta_info.evidence``, in PDF points) and the OCR-measured ``needs_zoom`` label;
- ``LICENSES.md`` (source and licence of every document) and ``DATASET.md`` (the dataset card).

:func:`realdocs_corpus` ingests it into the cache on first use (``corpus="realdocs"`` in
``gym.make``), keyed by a hash of the source files, so an edited source gives a fresh corpus.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from vrag_env._atomic import exclusive_lock
from vrag_env.corpora.corpus import is_corpus

logger = logging.getLogger(__name__)

SOURCE_ENV = "VRAG_REALDOCS"
"""Environment variable naming the source folder (default: ``data/realdocs`` of the checkout)."""

CORPUS_NAME = "realdocs"
"""The ``corpus=`` value that selects this track."""

DPI = 144
"""Rendering resolution of the PDF pages (2 page pixels per PDF point)."""


def source_dir() -> Path:
    """The source folder of the track.

    Raises:
        FileNotFoundError: When neither ``$VRAG_REALDOCS`` nor ``data/realdocs`` of the checkout
            holds ``questions.json`` (the wheel does not ship the documents).
    """
    env = os.environ.get(SOURCE_ENV)
    folder = (
        Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "data" / "realdocs"
    )
    if not (folder / "questions.json").is_file() or not (folder / "pdf").is_dir():
        raise FileNotFoundError(
            f"the real-document track's sources are not at {folder} (need pdf/ and questions.json): "
            f"use a checkout of the repository, or set {SOURCE_ENV} to its data/realdocs folder"
        )
    return folder


def source_files(folder: Path) -> list[Path]:
    """The files a corpus is built from, in a fixed order (the PDFs, then the questions)."""
    return [*sorted((folder / "pdf").glob("*.pdf")), folder / "questions.json"]


def source_key(folder: Path) -> str:
    """A short hash of the source files' names and bytes (and the rendering resolution)."""
    digest = hashlib.sha256(f"dpi={DPI}".encode())
    for path in source_files(folder):
        digest.update(path.name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def realdocs_corpus(
    cache_dir: str | os.PathLike[str] | None = None, *, progress: bool = False
) -> Path:
    """The corpus folder of the real-document track, ingested on first use.

    Concurrent first calls are safe: one process ingests under a file lock, the others wait.
    """
    from vrag_env.corpora.synthetic import default_cache_dir

    folder = source_dir()
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    out = root / f"{CORPUS_NAME}-{source_key(folder)}"
    if is_corpus(out):
        return out
    root.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(root / f".{out.name}.lock"):
        if is_corpus(out):
            return out
        from vrag_env.corpora.ingest import FileSource, ingest

        pdfs = source_files(folder)[:-1]
        logger.info(
            "ingesting the real-document track (%d PDFs) into %s (first use only)", len(pdfs), out
        )
        ingest(
            FileSource(pdfs),
            out,
            queries=[folder / "questions.json"],
            name=CORPUS_NAME,
            ocr="auto",
            dpi=DPI,
            progress=progress,
            workers=2,
        )
    return out


def store_needs_zoom(labels: dict[str, bool], folder: Path | None = None) -> Path:
    """Write measured ``needs_zoom`` labels into the track's ``questions.json`` (atomically).

    Each labelled question gets ``meta_info.needs_zoom``; other questions and fields are kept as
    they are. The corpus key changes with the file, so the next ``realdocs_corpus`` ingests anew.
    """
    import json

    from vrag_env._atomic import write_text_atomic

    folder = folder or source_dir()
    path = folder / "questions.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for example in data["examples"]:
        uid = example.get("uid")
        if uid in labels:
            example.setdefault("meta_info", {})["needs_zoom"] = bool(labels[uid])
    write_text_atomic(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return path
