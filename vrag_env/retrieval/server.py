"""One retriever index shared by many env workers over HTTP.

Env workers in other processes (vector envs, Ray actors, trainer rollouts) point at the service with
``gym.make("VRAG-v0", corpus=DIR, retriever="http://host:port")``; each still reads page images from
its own copy of the corpus folder, and the client checks that both sides hold the same corpus.

Protocol (JSON over HTTP, stdlib only):

* ``GET /health`` → ``{"status": "ok", "corpus": name, "corpus_checksum": sha256, "pages": n,
  "retriever": config}``
* ``POST /search`` with ``{"query": str, "k": int}`` → ``{"results": [{"page_id": str, "score": float}]}``
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vrag_env.corpora.corpus import Corpus
from vrag_env.retrieval.base import Retriever

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
MAX_K = 1000


def make_server(
    corpus: Corpus, retriever: Retriever, host: str = "127.0.0.1", port: int = 0
) -> ThreadingHTTPServer:
    """Build (but do not start) a threaded HTTP server answering searches with ``retriever``.

    Args:
        corpus: The corpus the retriever indexes (reported by ``/health``).
        retriever: A ready retriever.
        host: Interface to bind (default loopback).
        port: TCP port; ``0`` picks a free one (read it from ``server.server_address``).
    """
    lock = threading.Lock()  # retrievers are not guaranteed thread-safe
    health = {
        "status": "ok",
        "corpus": corpus.name,
        "corpus_checksum": corpus.checksum,
        "pages": len(corpus.pages),
        "retriever": retriever.config(),
    }

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/health":
                self._send(200, health)
            else:
                self._send(
                    404, {"error": f"unknown path {self.path}; use GET /health or POST /search"}
                )

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/search":
                self._send(404, {"error": f"unknown path {self.path}; use POST /search"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY_BYTES:
                self._send(
                    413 if length else 400, {"error": f"body must be 1..{MAX_BODY_BYTES} bytes"}
                )
                return
            try:
                request = json.loads(self.rfile.read(length))
                query, k = request["query"], request.get("k", 10)
                if not isinstance(query, str) or not isinstance(k, int) or not 1 <= k <= MAX_K:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                self._send(400, {"error": f'expected {{"query": str, "k": int in 1..{MAX_K}}}'})
                return
            with lock:
                results = retriever.search(query, k)
            self._send(
                200, {"results": [{"page_id": r.page_id, "score": r.score} for r in results]}
            )

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("%s %s", self.address_string(), format % args)

    return ThreadingHTTPServer((host, port), Handler)
