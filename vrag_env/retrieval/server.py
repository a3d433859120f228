"""One retriever index shared by many env workers over HTTP.

Env workers in other processes (vector envs, Ray actors, trainer rollouts) point at the service with
``gym.make("VRAG-v0", corpus=DIR, retriever="http://host:port")``; each still reads page images from
its own copy of the corpus folder, and the client checks that both sides hold the same corpus.

Protocol (JSON over HTTP/1.0, one request per connection, standard library only):

* ``GET /health`` → ``{"status": "ok", "corpus": name, "corpus_checksum": sha256, "pages": n,
  "retriever": config, "limits": {...}}``
* ``POST /search`` with ``{"query": str, "k": int}`` → ``{"results": [{"page_id": str, "score": float}]}``
* ``POST /search`` with ``{"queries": [str, ...], "k": int}`` (a batch) →
  ``{"results": [[{"page_id": str, "score": float}, ...], ...]}`` (one list per query, in order)

Errors are JSON ``{"error": message}``: 400 for a malformed request (bad or missing
``Content-Length``, a body shorter than announced, invalid JSON, a query longer than the env accepts,
``k`` not an integer in range -- ``true`` is not an integer), 404 for an unknown path, 413 for a body
over the limit, 500 when the search itself fails, 503 when every worker slot is taken (retry later).

What keeps one client from hurting the others:

* a listen backlog of ``request_queue_size`` connections (bursts of connects are queued, not reset);
* at most ``max_connections`` requests handled at once (a bounded pool of handler threads); a
  connection beyond that gets an immediate 503;
* every socket read and write has a timeout (``io_timeout``), and a request must arrive whole --
  headers and body -- within ``request_deadline`` seconds, or its connection is closed (slow clients
  cannot hold a worker);
* queries are bounded in length (the env's own limit) and batches in size, and the retriever lock is
  taken per query, so a batch never blocks other clients for more than one search at a time.

The server binds to loopback unless told otherwise (:func:`make_server` refuses another address
without ``allow_remote=True``): it has no authentication.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vrag_env.actions import valid_utf8
from vrag_env.corpora.corpus import Corpus
from vrag_env.retrieval.base import Retriever

logger = logging.getLogger(__name__)

MAX_K = 1000
"""Largest ``k`` accepted."""

MAX_QUERY_CHARS = 512
"""Longest query accepted: the env's own limit (``ActionSet(max_query_chars=512)``)."""

MAX_BATCH = 64
"""Most queries in one batch request."""

MAX_BODY_BYTES = MAX_BATCH * MAX_QUERY_CHARS * 12 + 4096
"""Largest request body accepted (413 above): a full batch of the longest queries, every character
escaped as a JSON surrogate pair. Larger bodies are refused from the header alone, never parsed."""

DRAIN_BYTES = 4 << 20
"""A body over the limit but under this size is read and discarded before the 413, so the client
reads a clean answer instead of a reset connection; larger ones are not read at all."""


class SearchServer(ThreadingHTTPServer):
    """A threaded HTTP server with a real backlog, a bounded handler pool and request deadlines.

    Args:
        address: ``(host, port)`` to bind.
        corpus: The corpus the retriever indexes (reported by ``/health``).
        retriever: A ready retriever.
        max_connections: Requests handled at once; more get an immediate 503.
        io_timeout: Seconds any single socket read or write may block.
        request_deadline: Seconds a client has to send its whole request (headers and body).
        max_query_chars: Longest accepted query.
    """

    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        corpus: Corpus,
        retriever: Retriever,
        *,
        max_connections: int = 64,
        io_timeout: float = 5.0,
        request_deadline: float = 10.0,
        max_query_chars: int = MAX_QUERY_CHARS,
    ) -> None:
        if max_connections < 1 or io_timeout <= 0 or request_deadline <= 0:
            raise ValueError(
                "max_connections must be >= 1 and io_timeout, request_deadline > 0; got "
                f"{max_connections}, {io_timeout}, {request_deadline}"
            )
        self.retriever = retriever
        self.max_connections = max_connections
        self.io_timeout = io_timeout
        self.request_deadline = request_deadline
        self.max_query_chars = max_query_chars
        self.search_lock = threading.Lock()  # retrievers are not guaranteed thread-safe
        self._slots = threading.BoundedSemaphore(max_connections)
        self._reject_slots = threading.BoundedSemaphore(16)  # threads answering 503
        self._reading: dict[socket.socket, float] = {}  # connections still sending their request
        self._reading_lock = threading.Lock()
        self._active = 0
        self._active_cond = threading.Condition()
        self._stop = threading.Event()
        self.health: dict[str, Any] = {
            "status": "ok",
            "corpus": corpus.name,
            "corpus_checksum": corpus.checksum,
            "pages": len(corpus.pages),
            "retriever": retriever.config(),
            "limits": {
                "max_k": MAX_K,
                "max_query_chars": max_query_chars,
                "max_batch": MAX_BATCH,
                "max_body_bytes": MAX_BODY_BYTES,
            },
        }
        super().__init__(address, _Handler)
        self._reaper = threading.Thread(target=self._reap, name="vrag-search-reaper", daemon=True)
        self._reaper.start()

    # -- connection bookkeeping ------------------------------------------------------------------

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to a handler thread, or answer 503 when every slot is taken."""
        if not self._slots.acquire(blocking=False):
            if self._reject_slots.acquire(blocking=False):
                threading.Thread(
                    target=_reject_busy, args=(request, self._reject_slots), daemon=True
                ).start()
            else:  # flooded: drop the connection without a word
                self.shutdown_request(request)
            return
        with self._active_cond:
            self._active += 1
        with self._reading_lock:
            self._reading[request] = time.monotonic()
        thread = threading.Thread(target=self._handle, args=(request, client_address), daemon=True)
        thread.start()

    def _handle(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # a broken connection must not kill the server
            logger.debug("connection from %s failed", client_address, exc_info=True)
        finally:
            self.request_read(request)
            self.shutdown_request(request)
            self._slots.release()
            with self._active_cond:
                self._active -= 1
                self._active_cond.notify_all()

    def request_read(self, request: Any) -> None:
        """Mark ``request`` as fully received (the deadline no longer applies)."""
        with self._reading_lock:
            self._reading.pop(request, None)

    def _reap(self) -> None:
        """Close connections that have not sent their whole request within the deadline."""
        while not self._stop.wait(min(0.5, self.request_deadline / 4)):
            now = time.monotonic()
            with self._reading_lock:
                late = [s for s, t in self._reading.items() if now - t > self.request_deadline]
                for sock in late:
                    self._reading.pop(sock, None)
            for sock in late:
                logger.debug("closing a connection that sent no complete request in time")
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    @property
    def active_requests(self) -> int:
        """Requests being handled right now."""
        with self._active_cond:
            return self._active

    def close_gracefully(self, drain_timeout: float = 10.0) -> None:
        """Stop accepting, let running requests finish (up to ``drain_timeout`` s), then close.

        Call from another thread than the one running ``serve_forever`` (a signal handler may use
        ``threading.Thread(target=server.close_gracefully).start()``).
        """
        self.shutdown()
        deadline = time.monotonic() + drain_timeout
        with self._active_cond:
            while self._active and time.monotonic() < deadline:
                self._active_cond.wait(max(0.0, deadline - time.monotonic()))
        self._stop.set()
        self.server_close()

    def server_close(self) -> None:
        """Close the listening socket and stop the deadline thread."""
        self._stop.set()
        super().server_close()


def _reject_busy(request: socket.socket, slots: threading.BoundedSemaphore) -> None:
    """Answer 503 once the client has sent its request (so it reads the answer, not a reset).

    Runs in its own short-lived thread, a bounded number at a time; waits at most about a second.
    """
    body = json.dumps({"error": "the retriever service is busy; retry shortly"}).encode()
    head = (
        "HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        request.settimeout(0.2)
        deadline, seen = time.monotonic() + 1.0, 0
        while time.monotonic() < deadline and seen < (1 << 16):
            try:
                chunk = request.recv(1 << 14)
            except TimeoutError:
                break
            if not chunk:
                break
            seen += len(chunk)
        request.sendall(head + body)
        request.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        request.close()
        slots.release()


class _BadRequest(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _valid_k(k: Any) -> int:
    # bool is a subclass of int, but `true` is not a number of results.
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise _BadRequest(400, f'"k" must be an integer in 1..{MAX_K}, got {k!r:.40}')
    return k


class _Handler(BaseHTTPRequestHandler):
    server: SearchServer
    protocol_version = "HTTP/1.0"
    server_version = "vrag-serve-retriever"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.io_timeout)  # every read and write on this socket

    def _send(self, code: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=True).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.request_read(self.request)
        if self.path.rstrip("/") == "/health":
            self._send(200, self.server.health)
        else:
            self._send(404, {"error": f"unknown path {self.path}; use GET /health or POST /search"})

    def do_POST(self) -> None:
        try:
            if self.path.rstrip("/") != "/search":
                self._read_body(discard=True)
                raise _BadRequest(404, f"unknown path {self.path}; use POST /search")
            request = self._read_json()
            queries, k, batch = self._parse(request)
        except _BadRequest as exc:
            self._send(exc.code, {"error": str(exc)})
            return
        results: list[list[dict[str, Any]]] = []
        try:
            for query in queries:
                with self.server.search_lock:  # per query: a batch never blocks others for long
                    found = self.server.retriever.search(query, k)
                results.append([{"page_id": r.page_id, "score": float(r.score)} for r in found])
        except Exception as exc:  # reported to the client as a 500, logged here
            logger.exception("search failed")
            self._send(500, {"error": f"search failed on the server: {type(exc).__name__}: {exc}"})
            return
        self._send(200, {"results": results if batch else results[0]})

    def _read_body(self, discard: bool = False) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise _BadRequest(400, "chunked bodies are not supported; send a Content-Length")
        raw = self.headers.get_all("Content-Length") or []
        if len(raw) != 1 or not raw[0].strip().isdigit():
            raise _BadRequest(
                400, f"need exactly one numeric Content-Length header, got {raw!r:.80}"
            )
        length = int(raw[0].strip())
        if length > MAX_BODY_BYTES:
            if length <= DRAIN_BYTES:
                self._discard(length)
            self.close_connection = True
            raise _BadRequest(
                413,
                f"the body is {length} bytes; the limit is {MAX_BODY_BYTES} (queries are at most "
                f"{self.server.max_query_chars} characters, batches at most {MAX_BATCH} queries)",
            )
        chunks, got = [], 0
        while got < length:
            try:
                chunk = self.rfile.read1(length - got)
            except (TimeoutError, OSError):
                chunk = b""
            if not chunk:
                self.close_connection = True
                raise _BadRequest(
                    400, f"the body is shorter than its Content-Length ({got} of {length} bytes)"
                )
            chunks.append(chunk)
            got += len(chunk)
        self.server.request_read(self.request)
        return b"" if discard else b"".join(chunks)

    def _discard(self, length: int) -> None:
        left = length
        try:
            while left > 0:
                chunk = self.rfile.read1(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass

    def _read_json(self) -> Any:
        body = self._read_body()
        if not body:
            raise _BadRequest(400, 'empty body; send {"query": str, "k": int}')
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise _BadRequest(400, f"the body is not valid JSON ({exc})"[:300]) from None

    def _parse(self, request: Any) -> tuple[list[str], int, bool]:
        usage = f'send {{"query": str, "k": int}} or {{"queries": [str, ...], "k": int}} (k in 1..{MAX_K})'
        if not isinstance(request, dict):
            raise _BadRequest(400, f"the body must be a JSON object; {usage}")
        unknown = sorted(set(request) - {"query", "queries", "k"})
        if unknown or ("query" in request) == ("queries" in request):
            raise _BadRequest(400, f"unexpected fields {unknown}; {usage}" if unknown else usage)
        k = _valid_k(request.get("k", 10))
        batch = "queries" in request
        queries = request["queries"] if batch else [request["query"]]
        if not isinstance(queries, list) or not 1 <= len(queries) <= MAX_BATCH:
            raise _BadRequest(400, f'"queries" must be a list of 1..{MAX_BATCH} strings')
        limit = self.server.max_query_chars
        for i, query in enumerate(queries):
            where = f'"queries"[{i}]' if batch else '"query"'
            if not isinstance(query, str):
                raise _BadRequest(400, f"{where} must be a string, got {type(query).__name__}")
            if len(query) > limit:
                raise _BadRequest(
                    400, f"{where} is {len(query)} characters long; the limit is {limit}"
                )
        return [valid_utf8(q) for q in queries], k, batch

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names a loopback interface (``localhost``, ``127.x``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_server(
    corpus: Corpus,
    retriever: Retriever,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    allow_remote: bool = False,
    **options: Any,
) -> SearchServer:
    """Build (but do not start) the search service.

    Args:
        corpus: The corpus the retriever indexes (reported by ``/health``).
        retriever: A ready retriever.
        host: Interface to bind (default loopback).
        port: TCP port; ``0`` picks a free one (read it from ``server.server_address``).
        allow_remote: Allow a non-loopback ``host`` (the service has no authentication).
        **options: :class:`SearchServer` limits (``max_connections``, ``io_timeout``,
            ``request_deadline``, ``max_query_chars``).

    Raises:
        ValueError: For a non-loopback ``host`` without ``allow_remote``.
    """
    if not is_loopback(host) and not allow_remote:
        raise ValueError(
            f"refusing to bind the retriever service to {host!r}: it has no authentication. Bind "
            "to 127.0.0.1, or pass --allow-remote (allow_remote=True) on a trusted network"
        )
    return SearchServer((host, port), corpus, retriever, **options)
