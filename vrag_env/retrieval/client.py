"""The client side of ``vrag serve-retriever``: a :class:`Retriever` that searches over HTTP."""

from __future__ import annotations

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


class RemoteRetriever(Retriever):
    """Searches through a ``vrag serve-retriever`` service.

    Args:
        url: Base URL of the service, e.g. ``http://127.0.0.1:8765``.
        corpus: The local copy of the corpus; it must match the service's (checked on creation).
        timeout: Seconds per request.
        retries: Extra attempts on connection errors.

    Raises:
        ConnectionError: If the service cannot be reached; the message says how to start it.
        ValueError: If the service indexes a different corpus.
    """

    name = "remote"

    def __init__(
        self, url: str, corpus: Corpus | None = None, timeout: float = 30.0, retries: int = 2
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.health: dict[str, Any] = {}
        if corpus is not None:
            self.index(corpus)

    def _request(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.url + path, data=data, headers={"Content-Type": "application/json"}
        )
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    result: dict[str, Any] = json.loads(response.read())
                    return result
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")[:200]
                raise ValueError(
                    f"retriever service {self.url}{path} answered {exc.code}: {detail}"
                ) from exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.retries:
                    raise ConnectionError(
                        f"cannot reach the retriever service at {self.url} ({exc}); start it with "
                        "`vrag serve-retriever --corpus DIR --port PORT`"
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
        return [ScoredPage(r["page_id"], float(r["score"])) for r in response["results"]]

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
