"""The client side of ``vrag serve-retriever``: a :class:`Retriever` that searches over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from vrag_env.corpora.corpus import Corpus
from vrag_env.retrieval.base import Retriever
from vrag_env.types import ScoredPage


class RetrieverServiceError(RuntimeError):
    """The retriever service answered, but the search failed on its side (HTTP 500)."""


class RemoteRetriever(Retriever):
    """Searches through a ``vrag serve-retriever`` service.

    Set the options from an env with ``gym.make(..., retriever="http://host:port",
    retriever_options={"timeout": 5, "retries": 1})``.

    Args:
        url: Base URL of the service, e.g. ``http://127.0.0.1:8765``.
        corpus: The local copy of the corpus; it must match the service's (checked on creation).
        timeout: Seconds any one socket operation of a request may take (connect, send, receive).
        retries: Extra attempts when the service cannot be reached or is busy (503). A timeout, a
            rejected request (4xx) or a failed search (500) is never retried.

    Raises:
        ConnectionError: If the service cannot be reached; the message says how to start it.
        TimeoutError: If the service does not answer within ``timeout``.
        ValueError: If the service indexes a different corpus, or rejects a request.
        RetrieverServiceError: If a search fails on the service.
    """

    name = "remote"

    def __init__(
        self, url: str, corpus: Corpus | None = None, timeout: float = 10.0, retries: int = 2
    ) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"retriever option timeout must be a number > 0, got {timeout!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retriever option retries must be an integer >= 0, got {retries!r}")
        self.url = url.rstrip("/")
        self.timeout = float(timeout)
        self.retries = retries
        self.health: dict[str, Any] = {}
        if corpus is not None:
            self.index(corpus)

    def _request(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.url + path, data=data, headers={"Content-Type": "application/json"}
        )
        where = f"the retriever service at {self.url}"
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    result: dict[str, Any] = json.loads(response.read())
                    return result
            except urllib.error.HTTPError as exc:
                detail = _error_detail(exc)
                if exc.code == 503 and not last:
                    time.sleep(0.2 * 2**attempt)
                    continue
                if exc.code == 503:
                    raise ConnectionError(
                        f"{where} stayed busy after {self.retries + 1} attempts: {detail}"
                    ) from exc
                if exc.code >= 500:
                    raise RetrieverServiceError(
                        f"{where} failed to answer {path} ({exc.code}): {detail}; see the "
                        "service's log"
                    ) from exc
                raise ValueError(f"{where} rejected {path} ({exc.code}): {detail}") from exc
            except TimeoutError as exc:
                raise TimeoutError(
                    f"{where} did not answer {path} within {self.timeout:g} s; it may be "
                    "overloaded or hung (raise the limit with retriever_options={'timeout': S})"
                ) from exc
            except (urllib.error.URLError, ConnectionError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, TimeoutError):
                    raise TimeoutError(
                        f"{where} did not answer {path} within {self.timeout:g} s (raise the "
                        "limit with retriever_options={'timeout': S})"
                    ) from exc
                if last:
                    raise ConnectionError(
                        f"cannot reach {where} ({reason}) after {self.retries + 1} attempt(s); "
                        "start it with `vrag serve-retriever --corpus DIR --port PORT`"
                    ) from exc
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    def index(self, corpus: Corpus) -> None:
        """Check that the service indexes ``corpus`` (nothing is built locally)."""
        self.health = self._request("/health")
        if self.health.get("corpus_checksum") != corpus.checksum:
            raise ValueError(
                f"the retriever service at {self.url} indexes corpus {self.health.get('corpus')!r}, "
                f"which differs from the local corpus {corpus.root} (corpus checksums differ)"
            )

    def search(self, query: str, k: int) -> list[ScoredPage]:
        """Search on the service."""
        response = self._request("/search", {"query": query, "k": int(k)})
        return _scored(response["results"])

    def search_batch(self, queries: list[str], k: int) -> list[list[ScoredPage]]:
        """Search many queries in one request (at most the service's ``max_batch`` per call)."""
        response = self._request("/search", {"queries": list(queries), "k": int(k)})
        return [_scored(found) for found in response["results"]]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the service URL to ``path/remote.json`` (the index itself lives on the service)."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        (out / "remote.json").write_text(json.dumps({"url": self.url}), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> RemoteRetriever:
        """Reconnect to the service recorded by :meth:`save`."""
        url = json.loads((Path(path) / "remote.json").read_text(encoding="utf-8"))["url"]
        return cls(url, **kwargs)

    def config(self) -> dict[str, Any]:
        """The URL and the service's own retriever config."""
        return {"name": self.name, "url": self.url, "service": self.health.get("retriever")}


def _scored(results: list[dict[str, Any]]) -> list[ScoredPage]:
    return [ScoredPage(r["page_id"], float(r["score"])) for r in results]


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = exc.read().decode("utf-8", errors="replace")
        return str(json.loads(body).get("error", body))[:300]
    except (OSError, ValueError, AttributeError):
        return str(exc.reason)[:300]
