"""Local copies of published visual-RAG benchmarks as corpus sources (``vrag ingest --format``).

Each converter reads a folder the user downloaded from the Hugging Face hub beforehand; nothing is
downloaded here. Parquet is read with ``datasets`` in streaming mode (``load_dataset("parquet",
data_files=..., streaming=True)``), so no Arrow cache copy of multi-gigabyte image columns is made.
The layouts below are the ones the dataset cards describe; ``docs/corpora.md`` has the commands.

SlideVQA (``NTT-hil-insight/SlideVQA``)
    ``data/{train,val,test}-*.parquet``; one row per question with ``deck_name``, ``deck_url``,
    ``page_1`` ... ``page_20`` (images), ``qa_id``, ``question``, ``answer``,
    ``arithmetic_expression`` and ``evidence_pages`` (1-based slide numbers). Page ids are
    ``{deck_name}_{n}``; questions keep the dataset's split; slides are OCR'd.

ViDoSeek (``autumncc/ViDoSeek``, the VRAG-RL / ViDoRAG release)
    ``vidoseek.json`` in the ``rag_dataset.json`` layout plus the PDFs it names (the unpacked
    document archive, in any sub-folder). Questions go to ``test`` unless ``--split`` says so.

MMLongBench-Doc (``yubo2333/MMLongBench-Doc``)
    ``data/train-*.parquet`` with ``doc_id``, ``doc_type``, ``question``, ``answer``,
    ``evidence_pages`` (a string such as ``"[3, 5]"``, 1-based), ``evidence_sources`` (a list as a
    string) and ``answer_format``; the PDFs named by ``doc_id`` in ``documents/``. The GitHub layout
    (``data/samples.json`` + ``data/documents/``) works too. Unanswerable questions (no evidence
    pages) are left out unless asked for; questions go to ``test`` unless ``--split`` says so.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from vrag_env._entry_points import lookup
from vrag_env.corpora.queries import (
    SPLIT_ALIASES,
    RawQuery,
    load_query_file,
    parse_pages,
)
from vrag_env.corpora.sources import (
    FileSource,
    PageInput,
    Source,
    SourceDoc,
    load_image,
)

logger = logging.getLogger(__name__)

DATASETS_HINT = 'reading hub datasets needs `datasets`: `pip install "vrag-env[datasets]"`'

SOURCE_FORMATS: dict[str, str] = {
    "files": "vrag_env.corpora.sources:FileSource",
    "vidoseek": "vrag_env.corpora.hub_formats:ViDoSeekSource",
    "slidevqa": "vrag_env.corpora.hub_formats:SlideVQASource",
    "mmlongbench": "vrag_env.corpora.mmlongbench:MMLongBenchSource",
}
"""The corpus-format registry (values of ``vrag ingest --format``): ``name -> "module:SourceClass"``.

Each class builds itself from the command-line options with a ``from_options`` classmethod."""

FORMATS = tuple(SOURCE_FORMATS)
"""Values of ``vrag ingest --format``."""

SLIDEVQA_PAGES = 20
SLIDEVQA_COLUMNS = ("deck_name", "qa_id", "question", "answer", "evidence_pages")
MMLONGBENCH_COLUMNS = ("doc_id", "question", "answer", "evidence_pages")


def _load_dataset() -> Any:
    try:
        from datasets import load_dataset
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(DATASETS_HINT) from exc
    return load_dataset


def _stream_parquet(files: Sequence[Path], columns: Sequence[str] | None = None) -> Iterator[Any]:
    """Rows of local parquet files, in file order, with images left encoded (``bytes``/``path``)."""
    load_dataset = _load_dataset()
    kwargs: dict[str, Any] = {"columns": list(columns)} if columns is not None else {}
    # Streaming needs no Arrow cache, but `datasets` still leaves a lock file in its cache folder:
    # keep that in a temporary folder rather than in the user's ~/.cache.
    with tempfile.TemporaryDirectory(prefix="vrag-datasets-") as cache:
        ds = load_dataset(
            "parquet",
            data_files=[str(f) for f in files],
            split="train",
            streaming=True,
            cache_dir=cache,
            **kwargs,
        )
        # Images stay undecoded here; pages are decoded with the decompression-bomb guard later.
        yield from ds.decode(False)


def _parquet_files(root: Path, exclude: Iterable[Path] = ()) -> list[Path]:
    skip = [e.resolve() for e in exclude]
    return sorted(
        f
        for f in root.rglob("*.parquet")
        if not any(p.startswith(".") for p in f.relative_to(root).parts)
        and not any(f.resolve().is_relative_to(e) for e in skip)
    )


def _columns(files: Sequence[Path]) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(files[0]).names)


def _require_columns(files: Sequence[Path], required: Iterable[str], dataset: str) -> list[str]:
    names = _columns(files)
    missing = [c for c in required if c not in names]
    if missing:
        raise ValueError(
            f"{files[0]}: not the {dataset} layout: missing columns {missing} (found {names}); "
            "see docs/corpora.md"
        )
    return names


def _file_split(path: Path, root: Path) -> str | None:
    """The split of a hub parquet file (``train-00000-of-00002.parquet``, ``test/0000.parquet``)."""
    match = re.match(r"([A-Za-z]+)[-_.]", path.name)
    if match and match.group(1).lower() in SPLIT_ALIASES:
        return SPLIT_ALIASES[match.group(1).lower()]
    for part in reversed(path.relative_to(root).parts[:-1]):
        if part.lower() in SPLIT_ALIASES:
            return SPLIT_ALIASES[part.lower()]
    return None


def _not_a_folder(root: Path, dataset: str) -> ValueError:
    return ValueError(
        f"{root}: expected the folder of a local {dataset} copy (docs/corpora.md shows the layout)"
    )


# ---------------------------------------------------------------------------------------------
# SlideVQA


class SlideVQASource(Source):
    """A local copy of SlideVQA (``NTT-hil-insight/SlideVQA``): parquet with slide images.

    Args:
        root: The dataset folder (holding ``data/{split}-*.parquet``).
        splits: Only convert these dataset splits (``train``, ``val``, ``test``); all by default.
    """

    format_name = "slidevqa"

    @classmethod
    def from_options(cls, sources: Sequence[str | os.PathLike[str]], **options: Any) -> Source:
        """Build from ``vrag ingest --format slidevqa FOLDER [--subset ...]``."""
        return cls(_one_folder(sources, "slidevqa"), splits=options.get("subsets", ()))

    def __init__(self, root: str | os.PathLike[str], splits: Sequence[str] = ()) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise _not_a_folder(self.root, "SlideVQA")
        files = _parquet_files(self.root)
        if not files:
            raise ValueError(f"{self.root}: no .parquet files (expected data/test-*.parquet, ...)")
        wanted = {SPLIT_ALIASES.get(s.lower(), s) for s in splits}
        self.files: list[tuple[Path, str]] = []
        for f in files:
            split = _file_split(f, self.root)
            if split is None:
                raise ValueError(
                    f"{f}: cannot tell its split; SlideVQA files are named "
                    "data/{train,val,test}-NNNNN-of-NNNNN.parquet"
                )
            if not wanted or split in wanted:
                self.files.append((f, split))
        if not self.files:
            raise ValueError(f"{self.root}: no parquet files for the splits {sorted(wanted)}")
        self.splits = sorted(wanted)
        self._scanned: tuple[list[SourceDoc], list[RawQuery]] | None = None

    def input_files(self) -> list[Path]:
        """The parquet files."""
        return [f for f, _ in self.files]

    def options(self) -> dict[str, Any]:
        """The splits converted."""
        return {"splits": self.splits}

    def _scan(self) -> tuple[list[SourceDoc], list[RawQuery]]:
        if self._scanned is not None:
            return self._scanned
        docs: dict[str, SourceDoc] = {}
        queries: list[RawQuery] = []
        for path, split in self.files:
            names = _require_columns([path], SLIDEVQA_COLUMNS, "SlideVQA")
            pages = tuple(
                n for n in range(1, SLIDEVQA_PAGES + 1) if f"page_{n}" in names or "images" in names
            )
            extra = [c for c in ("deck_url", "arithmetic_expression") if c in names]
            for row_no, row in enumerate(_stream_parquet([path], [*SLIDEVQA_COLUMNS, *extra])):
                deck = str(row["deck_name"])
                where = f"{path} row {row_no}"
                if deck not in docs:
                    docs[deck] = SourceDoc(
                        doc=deck, pages=pages, label=f"deck {deck!r} ({path.name})", kind="slides"
                    )
                uid = str(row["qa_id"])
                evidence = parse_pages(row["evidence_pages"], where, uid)
                arithmetic = row.get("arithmetic_expression")
                meta: dict[str, Any] = {"dataset": "slidevqa"}
                if row.get("deck_url"):
                    meta["deck_url"] = row["deck_url"]
                if arithmetic not in (None, "", "None"):
                    meta["arithmetic_expression"] = arithmetic
                queries.append(
                    RawQuery(
                        uid=uid,
                        question=str(row["question"]),
                        answers=(str(row["answer"]),),
                        file_name=deck,
                        reference_pages=evidence,
                        source_type="slide",
                        query_type="multi-hop" if len(evidence) > 1 else "single-hop",
                        split=split,
                        where=where,
                        meta=meta,
                    )
                )
        self._scanned = (list(docs.values()), queries)
        return self._scanned

    def documents(self, dpi: int) -> list[SourceDoc]:
        """One document per deck, 20 slides each (slides missing in the data are skipped later)."""
        return self._scan()[0]

    def raw_queries(self) -> list[RawQuery]:
        """The questions, with the dataset's splits."""
        return self._scan()[1]

    def iter_pages(self, dpi: int) -> Iterator[PageInput]:
        """Decode each deck's slides from the first row that shows the deck."""
        done: set[str] = set()
        for path, _split in self.files:
            names = _columns([path])
            image_cols = [f"page_{n}" for n in range(1, SLIDEVQA_PAGES + 1) if f"page_{n}" in names]
            if "images" in names:
                image_cols = ["images"]
            for row_no, row in enumerate(_stream_parquet([path], ["deck_name", *image_cols])):
                deck = str(row["deck_name"])
                if deck in done:
                    continue
                done.add(deck)
                images = row["images"] if image_cols == ["images"] else [row[c] for c in image_cols]
                for n, cell in enumerate(images or [], start=1):
                    data = _image_bytes(cell, path.parent)
                    if data is None:
                        logger.warning("%s row %d: deck %r has no slide %d", path, row_no, deck, n)
                        continue
                    label = f"{path} row {row_no} (deck {deck!r}, slide {n})"
                    image = load_image(data, label)
                    yield PageInput(deck, n, image, None, kind="slide", meta={"source": path.name})


def _image_bytes(cell: Any, base: Path) -> bytes | Path | None:
    """The encoded image of a ``datasets`` Image cell (``{"bytes", "path"}``), or ``None``."""
    if cell is None:
        return None
    if isinstance(cell, (bytes, bytearray)):
        return bytes(cell)
    if isinstance(cell, dict):
        if cell.get("bytes"):
            return bytes(cell["bytes"])
        if cell.get("path"):
            path = Path(cell["path"])
            path = path if path.is_absolute() else base / path
            return path if path.is_file() else None
    return None


# ---------------------------------------------------------------------------------------------
# ViDoSeek


def _find_rag_json(root: Path) -> list[Path]:
    for name in ("vidoseek.json", "rag_dataset.json"):
        hits = sorted(p for p in root.rglob(name) if not p.name.startswith("."))
        if hits:
            return hits[:1]
    candidates = []
    for p in sorted(root.glob("*.json")):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and isinstance(data.get("examples"), list):
            candidates.append(p)
    return candidates


class ViDoSeekSource(Source):
    """A local copy of ViDoSeek: ``vidoseek.json`` (``rag_dataset.json`` layout) plus its PDFs.

    Any folder in the VRAG-RL / ViDoRAG layout (a ``rag_dataset.json`` next to its documents) works.

    Args:
        root: The dataset folder.
        query_files: Query files to use instead of the discovered ``vidoseek.json``.
        exclude: Folders to skip (the output folder).
    """

    format_name = "vidoseek"
    default_split = "test"

    @classmethod
    def from_options(cls, sources: Sequence[str | os.PathLike[str]], **options: Any) -> Source:
        """Build from ``vrag ingest --format vidoseek FOLDER [--queries ...] [--exclude ...]``."""
        return cls(
            _one_folder(sources, "vidoseek"),
            query_files=options.get("query_files", ()),
            exclude=options.get("exclude", ()),
        )

    def __init__(
        self,
        root: str | os.PathLike[str],
        query_files: Sequence[Path] = (),
        exclude: Iterable[Path] = (),
    ) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise _not_a_folder(self.root, "ViDoSeek")
        given = [Path(q).expanduser().resolve() for q in query_files]
        self.query_files = given or _find_rag_json(self.root)
        if not self.query_files:
            raise ValueError(
                f"{self.root}: no vidoseek.json (or other rag_dataset.json-style file) found; "
                "pass the question file with --queries"
            )
        try:
            self.files = FileSource([self.root], exclude=exclude)
        except ValueError as exc:
            archives = sorted(self.root.rglob("*.zip"))
            if archives:
                raise ValueError(
                    f"{self.root}: no PDFs found, only archives ({archives[0].name}, ...); unpack "
                    "them first (e.g. `unzip vidoseek_pdf_document.zip`)"
                ) from exc
            raise

    def input_files(self) -> list[Path]:
        """The documents and the question files."""
        return [*self.files.input_files(), *self.query_files]

    def documents(self, dpi: int) -> list[SourceDoc]:
        """The PDFs (and images) under the folder."""
        return self.files.documents(dpi)

    def iter_pages(self, dpi: int) -> Iterator[PageInput]:
        """Render the documents."""
        return self.files.iter_pages(dpi)

    def raw_queries(self) -> list[RawQuery]:
        """The questions of the discovered (or given) question files."""
        out: list[RawQuery] = []
        for f in self.query_files:
            out.extend(load_query_file(f))
        return out


# ---------------------------------------------------------------------------------------------
# MMLongBench-Doc


def make_source(
    fmt: str,
    sources: Sequence[str | os.PathLike[str]],
    *,
    query_files: Sequence[Path] = (),
    exclude: Iterable[Path] = (),
    subsets: Sequence[str] = (),
    keep_unanswerable: bool = False,
) -> Source:
    """The :class:`~vrag_env.corpora.ingest.Source` for ``vrag ingest --format FMT SOURCES``.

    Raises:
        ValueError: For an unknown format, or a benchmark format given other than one folder.
    """
    cls = lookup(SOURCE_FORMATS, fmt, "corpus format")
    return cast(
        Source,
        cls.from_options(
            sources,
            query_files=query_files,
            exclude=exclude,
            subsets=subsets,
            keep_unanswerable=keep_unanswerable,
        ),
    )


def _one_folder(sources: Sequence[str | os.PathLike[str]], fmt: str) -> str | os.PathLike[str]:
    if len(sources) != 1:
        raise ValueError(f"--format {fmt} takes exactly one SOURCE: the dataset folder")
    return sources[0]
