"""A retriever that searches through a VRAG-RL search engine (its HTTP protocol, not its code).

Labs that already serve a ColQwen2 index with VRAG-RL's ``search_engine/search_engine_api.py`` can
point the env at it::

    gym.make("VRAG-v0", corpus="DIR", retriever="vrag-rl+http://127.0.0.1:8002/search")

The protocol, as VRAG-RL's rollout loop and demo call it: ``GET {url}?queries=Q1&queries=Q2``
answers a JSON list with one list per query, best result first, each result an object
``{"idx": rank, "image_file": "path/of/the/page/image.jpg"}``. The engine decides how many results
it returns. It has no ``k`` parameter.

Result images are mapped to page ids of the local corpus by file name:

* the page's own image file name (``pages/<page_id>.png``);
* the page id with any image suffix (``<page_id>.jpg``);
* the source file a single-image document was ingested from (``meta["source"]``, e.g.
  ``slide_1_1024.jpg`` ingested as page ``slide_1_1024_1``);
* ``page_map``: a JSON object file ``{"image file name": "page id"}`` for anything else.

An image that maps to no page is an error that names it and the ``page_map`` fix. The engine
returns ranks but no scores, so a result's score is ``-rank``.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from vrag_env.corpora.corpus import Corpus
from vrag_env.retrieval.base import Retriever
from vrag_env.types import PageId, ScoredPage

SCHEME = "vrag-rl+"
"""Prefix of a ``retriever=`` value that names a VRAG-RL search engine URL."""

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")

__all__ = ["SCHEME", "VragRLSearchEngine"]


def _file_name(path: str) -> str:
    """The last component of a POSIX or Windows path, as the engine may send either."""
    name = PurePosixPath(path).name
    return PureWindowsPath(name).name if "\\" in name else name


class VragRLSearchEngine(Retriever):
    """Searches a running VRAG-RL search engine and maps its image files to corpus pages.

    Args:
        url: The engine's search endpoint, e.g. ``http://127.0.0.1:8002/search`` (a leading
            ``vrag-rl+`` is accepted and dropped).
        corpus: The local corpus whose pages the engine's images are.
        timeout: Seconds any one socket operation of a request may take.
        retries: Extra attempts when the engine cannot be reached (never after it answered).
        page_map: A JSON file mapping image file names to page ids, for names the rules above
            do not map.

    Raises:
        ValueError: For a bad option or an unreadable ``page_map``.
    """

    name = "vrag-rl-http"

    def __init__(
        self,
        url: str,
        corpus: Corpus | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        page_map: str | os.PathLike[str] | None = None,
    ) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"retriever option timeout must be a number > 0, got {timeout!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retriever option retries must be an integer >= 0, got {retries!r}")
        url = url.removeprefix(SCHEME)
        if not url.startswith(("http://", "https://")):
            raise ValueError(
                f"a VRAG-RL search engine URL must start with http:// or https://, got {url!r} "
                "(e.g. retriever='vrag-rl+http://127.0.0.1:8002/search')"
            )
        self.url = url
        self.timeout = float(timeout)
        self.retries = retries
        self.page_map_file = None if page_map is None else Path(page_map)
        self._pages: dict[str, PageId] = {}
        if corpus is not None:
            self.index(corpus)

    # ------------------------------------------------------------------ mapping

    def _read_page_map(self, corpus: Corpus) -> dict[str, PageId]:
        path = self.page_map_file
        if path is None:
            return {}
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"retriever option page_map: cannot read {path} ({exc})") from exc
        if not isinstance(mapping, dict):
            raise ValueError(f"{path}: page_map must be a JSON object {{image file name: page id}}")
        for name, page_id in mapping.items():
            if page_id not in corpus.pages:
                raise ValueError(
                    f"{path}: image {name!r} maps to page {page_id!r}, which corpus "
                    f"{corpus.root} does not have"
                )
        return {_file_name(str(k)): str(v) for k, v in mapping.items()}

    def index(self, corpus: Corpus) -> None:
        """Build the image-file-name -> page-id map of ``corpus`` (nothing is sent to the engine)."""
        by_doc: dict[str, list[PageId]] = {}
        for page_id, page in corpus.pages.items():
            by_doc.setdefault(page.doc, []).append(page_id)
        pages: dict[str, PageId] = {}
        for page_id, page in corpus.pages.items():
            pages.setdefault(_file_name(page.image), page_id)
            for suffix in IMAGE_SUFFIXES:
                pages.setdefault(f"{page_id}{suffix}", page_id)
            source = page.meta.get("source") if isinstance(page.meta, dict) else None
            if isinstance(source, str) and len(by_doc[page.doc]) == 1:
                pages.setdefault(_file_name(source), page_id)
        pages.update(self._read_page_map(corpus))
        self._pages = pages

    def page_of(self, image_file: str) -> PageId:
        """The corpus page of an image file the engine returned.

        Raises:
            ValueError: If the file maps to no page of the corpus.
        """
        name = _file_name(image_file)
        page_id = self._pages.get(name)
        if page_id is None:
            raise ValueError(
                f"the VRAG-RL search engine at {self.url} returned image {image_file!r}, which "
                "matches no page of the local corpus by file name; ingest the same images (so "
                "the names match) or pass retriever_options={'page_map': 'map.json'} with "
                f'{{"{name}": "<page id>"}}'
            )
        return page_id

    # ------------------------------------------------------------------ protocol

    def _get(self, queries: list[str]) -> list[Any]:
        query = urllib.parse.urlencode([("queries", q) for q in queries])
        sep = "&" if urllib.parse.urlsplit(self.url).query else "?"
        request = urllib.request.Request(f"{self.url}{sep}{query}", method="GET")
        where = f"the VRAG-RL search engine at {self.url}"
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    body = response.read()
                break
            except urllib.error.HTTPError as exc:
                detail = exc.read(2000).decode("utf-8", "replace").strip()
                raise ValueError(
                    f"{where} answered HTTP {exc.code}: {detail or exc.reason}"
                ) from exc
            except TimeoutError as exc:
                raise TimeoutError(
                    f"{where} did not answer within {self.timeout:g} s (raise the limit with "
                    "retriever_options={'timeout': S})"
                ) from exc
            except (urllib.error.URLError, ConnectionError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, TimeoutError):
                    raise TimeoutError(
                        f"{where} did not answer within {self.timeout:g} s (raise the limit with "
                        "retriever_options={'timeout': S})"
                    ) from exc
                if attempt == self.retries:
                    raise ConnectionError(
                        f"cannot reach {where} ({reason}) after {self.retries + 1} attempt(s); "
                        "is the engine running (python search_engine/search_engine_api.py)?"
                    ) from exc
                time.sleep(0.2 * 2**attempt)
        try:
            results = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{where} answered with something that is not JSON: {exc}") from exc
        if not isinstance(results, list) or len(results) != len(queries):
            raise ValueError(
                f"{where} answered {type(results).__name__} for {len(queries)} queries; the "
                "protocol is a JSON list with one list of results per query"
            )
        return results

    def _ranked(self, found: Any) -> list[ScoredPage]:
        if not isinstance(found, list):
            raise ValueError(
                f"the VRAG-RL search engine at {self.url} answered {type(found).__name__} for a "
                "query; each query's results must be a list of {'idx', 'image_file'} objects"
            )
        ranked: list[ScoredPage] = []
        seen: set[PageId] = set()
        for rank, result in enumerate(found):
            image = result.get("image_file") if isinstance(result, dict) else None
            if not isinstance(image, str):
                raise ValueError(
                    f"the VRAG-RL search engine at {self.url} sent result {result!r} without an "
                    "'image_file' string"
                )
            page_id = self.page_of(image)
            if page_id not in seen:
                seen.add(page_id)
                ranked.append(ScoredPage(page_id, -float(rank)))
        return ranked

    def search(self, query: str, k: int) -> list[ScoredPage]:
        """The engine's results for ``query`` mapped to corpus pages, best first, at most ``k``."""
        return self._ranked(self._get([query])[0])[: max(0, int(k))]

    def search_batch(self, queries: list[str], k: int) -> list[list[ScoredPage]]:
        """Many queries in one request (the engine's batch search)."""
        return [self._ranked(found)[: max(0, int(k))] for found in self._get(list(queries))]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the engine URL to ``path/vrag_rl_http.json`` (the index lives in the engine)."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        record = {
            "url": self.url,
            "page_map": None if self.page_map_file is None else str(self.page_map_file),
        }
        (out / "vrag_rl_http.json").write_text(json.dumps(record), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> VragRLSearchEngine:
        """Reconnect to the engine recorded by :meth:`save`."""
        record = json.loads((Path(path) / "vrag_rl_http.json").read_text(encoding="utf-8"))
        return cls(record["url"], page_map=record.get("page_map"), **kwargs)

    def config(self) -> dict[str, Any]:
        """The engine URL and the page map used."""
        return {
            "name": self.name,
            "url": self.url,
            "page_map": None if self.page_map_file is None else str(self.page_map_file),
        }
