"""The corpus folder format: reading it, and writing it atomically.

A corpus is a folder::

    manifest.json      format version, name, how it was built, counts and checksums
    pages.jsonl        one :class:`~vrag_env.types.Page` record per line
    queries.jsonl      one :class:`~vrag_env.types.Query` record per line
    pages/             page images (``{page_id}.png``, RGB or greyscale; ``.jpg`` for JPEGs kept as given)
    index/             retriever indexes, built on first use (see :mod:`vrag_env.retrieval`)

Everything is JSON, PNG or a JPEG kept as given: nothing is unpickled on load. :class:`CorpusWriter` builds a corpus in a
temporary sibling folder and renames it into place only when everything was written, so an interrupted
or failed build never leaves a half corpus behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from PIL import Image

from vrag_env._atomic import make_staging_dir, publish_dir, remove_stale_staging
from vrag_env.corpora.page_cache import DEFAULT_CACHE_BYTES, PageCache
from vrag_env.corpora.verify import (
    FILE_CHECKSUMS_KEY,
    check_record_types,
    contained_path,
    sha256_file,
    validate_manifest,
    verify_files,
)
from vrag_env.rendering import PagePyramid
from vrag_env.types import CorpusFormatError, Page, PageId, Query

logger = logging.getLogger(__name__)

FORMAT_NAME = "vrag-corpus"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PAGES = "pages.jsonl"
QUERIES = "queries.jsonl"
IMAGES_DIR = "pages"
INDEX_DIR = "index"

MAX_PAGE_PIXELS = 64_000_000
"""Largest page image (width x height) a corpus may hold: 8000 x 8000, about an A4 page at 900 dpi.
Larger pages are a :class:`CorpusFormatError` on load, never decoded."""

__all__ = [
    "MAX_PAGE_PIXELS",
    "Corpus",
    "CorpusFormatError",
    "CorpusWriter",
    "corpus_checksum",
    "is_corpus",
    "sha256_file",
]


def _checksum_from_manifest(root: Path, manifest: dict[str, Any]) -> str:
    checksums = manifest.get("checksums")
    if not isinstance(checksums, dict) or not checksums:
        # A hand-made manifest without checksums: hash the record files themselves.
        checksums = {name: sha256_file(root / name) for name in (PAGES, QUERIES)}
    blob = json.dumps(checksums, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def corpus_checksum(root: str | os.PathLike[str]) -> str:
    """:attr:`Corpus.checksum` of the corpus folder ``root`` without loading it ("" if unreadable)."""
    folder = Path(root)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return _checksum_from_manifest(folder, manifest)
    except (OSError, ValueError, AttributeError, TypeError):
        return ""


def _read_jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    try:
        fh = open(path, encoding="utf-8")  # closed below
    except FileNotFoundError:
        raise CorpusFormatError(f"{path}: missing; the corpus is incomplete") from None
    with fh:
        lines = enumerate(fh, start=1)
        while True:
            try:
                lineno, line = next(lines)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise CorpusFormatError(f"{path}: not UTF-8 text ({exc.reason})") from None
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                yield where, json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise CorpusFormatError(f"{where}: invalid JSON ({exc})"[:300]) from None


class Corpus:
    """A loaded corpus folder: page records, queries and lazily loaded page images.

    Loading validates every record, keeps every page path inside ``pages/`` and checks the record
    files and page images against the manifest's SHA-256 checksums (see
    :mod:`vrag_env.corpora.verify`; unchanged files are not hashed again).

    Args:
        root: The corpus folder.
        verify: Compare files with the manifest checksums (``False`` skips only this check; paths,
            records and image sizes are still validated).
        max_page_pixels: Largest page (width x height) accepted.
        cache_bytes: Memory budget of the decoded-page cache.

    Raises:
        CorpusFormatError: If the folder is not a corpus, a record is malformed, a path leaves the
            corpus or a file differs from the manifest. The message names the file, line and field.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        verify: bool = True,
        max_page_pixels: int = MAX_PAGE_PIXELS,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self.root = Path(root)
        self.max_page_pixels = max_page_pixels
        self.cache_bytes = cache_bytes
        real_root = Path(os.path.realpath(self.root))
        manifest_path = self.root / MANIFEST
        if not manifest_path.is_file():
            raise CorpusFormatError(
                f"{self.root}: not a corpus folder (no {MANIFEST}). Build one with `vrag ingest` "
                "or use the built-in corpus (corpus=None)."
            )
        self.manifest: dict[str, Any] = validate_manifest(manifest_path, manifest_path.read_bytes())
        if self.manifest.get("format") != FORMAT_NAME:
            raise CorpusFormatError(f"{manifest_path}: field 'format' must be {FORMAT_NAME!r}")
        version = self.manifest.get("version")
        if version != FORMAT_VERSION:
            raise CorpusFormatError(
                f"{manifest_path}: format version {version!r} is not supported "
                f"(this vrag-env reads version {FORMAT_VERSION}); rebuild the corpus"
            )
        self.pages: dict[PageId, Page] = {}
        self._image_paths: dict[PageId, Path] = {}
        for where, record in _read_jsonl(self.root / PAGES):
            page = _parse(Page.from_json, record, "page", where)
            if page.page_id in self.pages:
                raise CorpusFormatError(f"{where}: duplicate page id {page.page_id!r}")
            if page.width * page.height > max_page_pixels:
                raise CorpusFormatError(
                    f"{where}: page {page.page_id!r} is {page.width}x{page.height} pixels, over "
                    f"the limit of {max_page_pixels:,}; downscale it and rebuild the corpus"
                )
            self._image_paths[page.page_id] = contained_path(
                real_root, IMAGES_DIR, page.image, where
            )
            self.pages[page.page_id] = page
        self.queries: dict[str, Query] = {}
        for where, record in _read_jsonl(self.root / QUERIES):
            query = _parse(Query.from_json, record, "query", where)
            if query.uid in self.queries:
                raise CorpusFormatError(f"{where}: duplicate query uid {query.uid!r}")
            missing = [p for p in query.reference_pages if p not in self.pages]
            if missing:
                raise CorpusFormatError(
                    f"{where}: query {query.uid!r} references unknown pages {missing}"
                )
            self.queries[query.uid] = query
        if verify:
            self.verify(full=False)
        self._cache: PageCache[PagePyramid] = PageCache(self._load_pyramid, cache_bytes)

    def verify(self, full: bool = True) -> None:
        """Compare ``pages.jsonl``, ``queries.jsonl`` and every page image with the manifest.

        Args:
            full: Hash every file (``False``: trust the cache for files whose stat is unchanged).

        Raises:
            CorpusFormatError: Listing the files that differ.
        """
        problems = verify_files(
            Path(os.path.realpath(self.root)),
            self.manifest,
            (PAGES, QUERIES),
            [(p.image, self._image_paths[pid]) for pid, p in self.pages.items()],
            use_cache=not full,
        )
        if problems:
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise CorpusFormatError(
                "corpus does not match its manifest: "
                + "; ".join(problems[:5])
                + more
                + f". Rebuild it, or check it with `vrag verify {self.root}`"
            )

    @property
    def name(self) -> str:
        """The corpus name from its manifest (falls back to the folder name)."""
        return str(self.manifest.get("name") or self.root.name)

    @property
    def checksum(self) -> str:
        """The corpus fingerprint: SHA-256 over the manifest's checksums of pages, queries and images.

        This is the one checksum every cache keys on (loaded corpora, retriever indexes, the search
        service's handshake): it changes whenever a page record, a query or a page image changes
        (the files are checked against the manifest on load).
        """
        return _checksum_from_manifest(self.root, self.manifest)

    @property
    def page_ids(self) -> list[PageId]:
        """All page ids in corpus order."""
        return list(self.pages)

    def split(self, split: str | None) -> list[Query]:
        """The queries of one split in corpus order (all queries for ``None`` or ``"all"``)."""
        if split in (None, "all"):
            return list(self.queries.values())
        return [q for q in self.queries.values() if q.split == split]

    def page_image(self, page_id: PageId) -> Image.Image:
        """The full-resolution RGB image of a page (an LRU cache bounded in bytes keeps recent ones).

        Raises:
            KeyError: For an unknown page id.
            CorpusFormatError: If the image is missing, unreadable, truncated, or not the size its
                record says.
        """
        if page_id not in self.pages:
            raise KeyError(f"unknown page id {page_id!r} in corpus {self.root}")
        return self._cache.get(page_id).page

    def page_pyramid(self, page_id: PageId) -> PagePyramid:
        """The decoded page with its pre-scaled levels (what the env renders views from).

        Cached like :meth:`page_image` (the cache budget covers every level).

        Raises:
            KeyError: For an unknown page id.
            CorpusFormatError: As :meth:`page_image`.
        """
        if page_id not in self.pages:
            raise KeyError(f"unknown page id {page_id!r} in corpus {self.root}")
        return self._cache.get(page_id)

    @property
    def page_cache(self) -> PageCache[PagePyramid]:
        """The decoded-page cache (``stats()`` reports its bytes and hit rate)."""
        return self._cache

    def _load_pyramid(self, page_id: PageId) -> PagePyramid:
        return PagePyramid(
            self._load_image_uncached(page_id), on_grow=lambda: self._cache.refresh(page_id)
        )

    def _load_image_uncached(self, page_id: PageId) -> Image.Image:
        page = self.pages[page_id]
        path = self._image_paths[page_id]
        where = f"{self.root / page.image} (page {page_id!r})"
        try:
            with Image.open(path) as img:
                if img.size != (page.width, page.height):
                    raise CorpusFormatError(
                        f"{where}: the image is {img.size[0]}x{img.size[1]} pixels but its record "
                        f"says {page.width}x{page.height}"
                    )
                if img.width * img.height > self.max_page_pixels:  # pragma: no cover - see above
                    raise CorpusFormatError(f"{where}: over {self.max_page_pixels:,} pixels")
                return img.convert("RGB")
        except CorpusFormatError:
            raise
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise CorpusFormatError(f"{where}: cannot decode the image ({exc})") from None

    def index_dir(self, name: str) -> Path:
        """Where a retriever caches its index for this corpus (``index/<name>``)."""
        return self.root / INDEX_DIR / name

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_cache", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cache = PageCache(self._load_pyramid, self.cache_bytes)

    def __repr__(self) -> str:
        return f"Corpus({str(self.root)!r}, pages={len(self.pages)}, queries={len(self.queries)})"


def _parse(parser: Any, record: Any, kind: str, where: str) -> Any:
    """Run a record parser, turning any stray exception into a :class:`CorpusFormatError`."""
    check_record_types(record, kind, where)
    try:
        return parser(record, where)
    except CorpusFormatError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
        raise CorpusFormatError(f"{where}: malformed {kind} record ({exc})"[:300]) from None


def is_corpus(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a complete corpus (the manifest is written last)."""
    return (Path(path) / MANIFEST).is_file()


class CorpusWriter:
    """Writes a corpus folder atomically.

    Use it as a context manager: pages and queries go into a temporary sibling folder; on a clean exit
    the records, checksums and manifest are written and the folder is renamed to ``out_dir``. On an
    exception the temporary folder is removed and ``out_dir`` is left as it was.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> from vrag_env.types import Page, Query
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "mini"
        >>> with CorpusWriter(out, name="mini", build={"by": "doctest"}) as w:
        ...     _ = w.add_page(Page("a_1", "a", 1, 8, 8, ""), Image.new("RGB", (8, 8)))
        ...     w.add_query(Query("q1", "What?", ("x",), ("a_1",), "test"))
        >>> Corpus(out)
        Corpus('...mini', pages=1, queries=1)

    Args:
        out_dir: The final corpus folder. It must not exist unless ``overwrite`` is set.
        name: A human-readable corpus name.
        build: JSON-serialisable description of how the corpus was built (generator and parameters,
            ingestion sources, ...). Stored in the manifest.
        overwrite: Replace an existing ``out_dir``.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        *,
        name: str,
        build: dict[str, Any],
        overwrite: bool = False,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.name = name
        self.build = build
        self.overwrite = overwrite
        self._pages: list[Page] = []
        self._page_ids: set[PageId] = set()
        self._queries: list[Query] = []
        self._tmp: Path | None = None

    def __enter__(self) -> CorpusWriter:
        if self.out_dir.exists() and not self.overwrite:
            raise FileExistsError(
                f"{self.out_dir} already exists; pass overwrite/--force to replace it"
            )
        parent = self.out_dir.parent
        blocker = next((p for p in (parent, *parent.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise NotADirectoryError(f"cannot write a corpus under {parent}: {blocker} is a file")
        try:
            parent.mkdir(parents=True, exist_ok=True)
            for stale in remove_stale_staging(self.out_dir):
                logger.info("removed %s, left behind by an interrupted build", stale)
            self._tmp = make_staging_dir(self.out_dir)
        except OSError as exc:
            raise OSError(f"cannot write a corpus under {parent}: {exc.strerror or exc}") from exc
        (self._tmp / IMAGES_DIR).mkdir()
        return self

    @property
    def tmp_dir(self) -> Path:
        """The temporary folder being written (only inside the ``with`` block)."""
        if self._tmp is None:
            raise RuntimeError("CorpusWriter is used outside its `with` block")
        return self._tmp

    def add_page(
        self,
        page: Page,
        image: Image.Image | None = None,
        *,
        png_level: int = 1,
        suffix: str = ".png",
    ) -> Page:
        """Add a page and save its image as ``pages/{page_id}.png``.

        Args:
            page: The page record; its ``image`` field is set by the writer. Width and height are
                taken from ``image`` when given.
            image: The page image. ``None`` when the file was already put at
                ``tmp_dir / "pages" / f"{page_id}.png"`` by the caller.
            png_level: zlib level for the PNG (1 is fast, 9 small).
            suffix: The file suffix of an image the caller put in place (``".jpg"`` for a JPEG
                kept as it was given).

        Returns:
            The stored record.

        Raises:
            ValueError: On a duplicate page id.
        """
        if page.page_id in self._page_ids:
            raise ValueError(
                f"duplicate page id {page.page_id!r}: page ids are '{{file_stem}}_{{page}}' and must "
                "be unique; rename one of the source files"
            )
        rel = f"{IMAGES_DIR}/{page.page_id}{suffix if image is None else '.png'}"
        width, height = page.width, page.height
        if image is not None:
            image.save(self.tmp_dir / rel, format="PNG", compress_level=png_level)
            width, height = image.size
        stored = Page(
            page_id=page.page_id,
            doc=page.doc,
            page=page.page,
            width=width,
            height=height,
            image=rel,
            words=page.words,
            kind=page.kind,
            meta=page.meta,
        )
        self._page_ids.add(page.page_id)
        self._pages.append(stored)
        return stored

    def add_query(self, query: Query) -> None:
        """Add a query; its reference pages must have been added (checked at the end)."""
        self._queries.append(query)

    def add_queries(self, queries: Iterable[Query]) -> None:
        """Add several queries."""
        self._queries.extend(queries)

    def _finish(self) -> None:
        tmp = self.tmp_dir
        uids: set[str] = set()
        for q in self._queries:
            if q.uid in uids:
                raise ValueError(f"duplicate query uid {q.uid!r}")
            uids.add(q.uid)
            missing = [p for p in q.reference_pages if p not in self._page_ids]
            if missing:
                raise ValueError(
                    f"query {q.uid!r} references pages that are not in the corpus: {missing}"
                )
        with open(tmp / PAGES, "w", encoding="utf-8") as fh:
            for p in self._pages:
                fh.write(json.dumps(p.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n")
        with open(tmp / QUERIES, "w", encoding="utf-8") as fh:
            for q in self._queries:
                fh.write(json.dumps(q.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n")
        images = hashlib.sha256()
        files: dict[str, str] = {}
        for p in self._pages:
            files[p.image] = sha256_file(tmp / p.image)
            images.update(files[p.image].encode())
        manifest = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "build": self.build,
            "num_pages": len(self._pages),
            "num_docs": len({p.doc for p in self._pages}),
            "num_queries": len(self._queries),
            "splits": {
                s: sum(q.split == s for q in self._queries) for s in ("train", "val", "test")
            },
            "checksums": {
                PAGES: sha256_file(tmp / PAGES),
                QUERIES: sha256_file(tmp / QUERIES),
                IMAGES_DIR: images.hexdigest(),
            },
            FILE_CHECKSUMS_KEY: files,
        }
        (tmp / MANIFEST).write_text(
            json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8"
        )
        if self.out_dir.exists() and not self.overwrite:
            raise FileExistsError(f"{self.out_dir} appeared while the corpus was being written")
        publish_dir(tmp, self.out_dir, replace=True)
        self._tmp = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self._finish()
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None
