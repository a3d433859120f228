"""The retriever service under hostile and heavy use, on a real loopback socket."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import pytest

import vrag_env  # noqa: F401
from vrag_env.corpora.corpus import Corpus
from vrag_env.loading import load_corpus, load_retriever
from vrag_env.retrieval.base import Retriever
from vrag_env.retrieval.client import RemoteRetriever, RetrieverServiceError
from vrag_env.retrieval.server import MAX_QUERY_CHARS, SearchServer, make_server
from vrag_env.types import ScoredPage


class FlakyRetriever(Retriever):
    """BM25 that fails on the query "boom" and counts the searches that reach it."""

    name = "flaky"

    def __init__(self, inner: Retriever) -> None:
        self.inner = inner
        self.calls = 0

    def index(self, corpus: Corpus) -> None:
        """Nothing to build."""

    def search(self, query: str, k: int) -> list[ScoredPage]:
        """Search with the inner retriever, or fail on "boom"."""
        self.calls += 1
        if query == "boom":
            raise RuntimeError("index file vanished")
        return self.inner.search(query, k)

    def save(self, path: Any) -> None:
        """Not persisted."""

    @classmethod
    def load(cls, path: Any, **kwargs: Any) -> FlakyRetriever:
        """Not persisted."""
        raise NotImplementedError


def _start(server: SearchServer) -> tuple[str, int]:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return host, port


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(None, "tiny")


@pytest.fixture(scope="module")
def service(corpus: Corpus) -> Iterator[tuple[str, int, FlakyRetriever]]:
    retriever = FlakyRetriever(load_retriever("bm25", corpus))
    server = make_server(corpus, retriever, io_timeout=1.0, request_deadline=2.0)
    host, port = _start(server)
    yield host, port, retriever
    server.close_gracefully(drain_timeout=2)


def _raw(host: str, port: int, data: bytes, wait: float = 30.0) -> tuple[int, dict[str, Any]]:
    """Send raw bytes (keeping the write side open) and parse the status and JSON answer."""
    with socket.create_connection((host, port), timeout=wait) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _post(body: bytes, length: int | str | None = None) -> bytes:
    length = len(body) if length is None else length
    return (
        f"POST /search HTTP/1.0\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode() + body


def test_k_must_be_a_real_integer(service):
    host, port, _ = service
    for k in ("true", '"3"', "0", "1001", "2.5"):
        code, answer = _raw(host, port, _post(b'{"query": "revenue", "k": %s}' % k.encode()))
        assert code == 400 and '"k"' in answer["error"], (k, answer)


@pytest.mark.parametrize(
    ("length", "body", "fragment"),
    [
        ("abc", b"{}", "Content-Length"),
        ("-5", b"{}", "Content-Length"),
        ("100", b'{"query": "x"}', "shorter than its Content-Length"),
        ("5", b'{"query": "x"}', "not valid JSON"),
    ],
)
def test_bad_content_length_gets_a_400_not_a_hang(service, length, body, fragment):
    host, port, _ = service
    code, answer = _raw(host, port, _post(body, length))
    assert code == 400 and fragment in answer["error"]


def test_duplicate_or_missing_content_length_is_rejected(service):
    host, port, _ = service
    twice = b"POST /search HTTP/1.0\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"
    assert _raw(host, port, twice)[0] == 400
    assert _raw(host, port, b"POST /search HTTP/1.0\r\n\r\n")[0] == 400


def test_huge_queries_and_bodies_are_refused(service):
    host, port, retriever = service
    before = retriever.calls
    long = json.dumps({"query": "x" * (MAX_QUERY_CHARS + 1), "k": 3}).encode()
    code, answer = _raw(host, port, _post(long))
    assert code == 400 and f"limit is {MAX_QUERY_CHARS}" in answer["error"]
    huge = json.dumps({"query": "x" * 990_000, "k": 3}).encode()
    code, answer = _raw(host, port, _post(huge))  # refused from the header, read, never parsed
    assert code == 413 and "queries are at most 512 characters" in answer["error"]
    code, answer = _raw(host, port, _post(b"", 5_000_000))  # not even read
    assert code == 413
    assert retriever.calls == before  # nothing reached the index


def test_a_failed_search_is_a_json_500_and_is_not_retried(service, corpus):
    host, port, retriever = service
    client = RemoteRetriever(f"http://{host}:{port}", corpus, retries=3)
    before = retriever.calls
    with pytest.raises(RetrieverServiceError, match="index file vanished"):
        client.search("boom", 3)
    assert retriever.calls == before + 1
    code, answer = _raw(host, port, _post(b'{"query": "boom", "k": 3}'))
    assert code == 500 and "RuntimeError" in answer["error"]


def test_slowloris_connections_are_closed_and_others_are_served(service, corpus):
    host, port, _ = service
    slow = []
    for _ in range(5):
        sock = socket.create_connection((host, port), timeout=30)
        sock.sendall(b"POST /search HTTP/1.0\r\nContent-Le")
        slow.append(sock)
    client = RemoteRetriever(f"http://{host}:{port}", corpus, timeout=5, retries=0)
    assert client.search("annual report", 3)  # served while the slow clients hang
    for sock in slow:
        # Keep trickling bytes: the deadline is on the whole request, not per read.
        closed = False
        for _ in range(200):
            try:
                sock.sendall(b"n")
                sock.settimeout(0.1)
                if sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        sock.close()
        assert closed, "the server kept a connection that never completed its request"


def test_32_concurrent_clients_get_no_errors(service, corpus):
    host, port, _ = service
    url = f"http://{host}:{port}"
    local = load_retriever("bm25", corpus)
    queries = ["annual report revenue", "chart of sales", "employees 2022", "net income"]
    expected = {q: local.search(q, 5) for q in queries}
    errors: list[str] = []
    mismatches = []

    def worker(i: int) -> None:
        try:
            client = RemoteRetriever(url, corpus, timeout=10, retries=0)
            for j in range(15):
                q = queries[(i + j) % len(queries)]
                if client.search(q, 5) != expected[q]:
                    mismatches.append(q)
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and mismatches == []


def test_batch_search_matches_single_searches(service, corpus):
    host, port, _ = service
    client = RemoteRetriever(f"http://{host}:{port}", corpus)
    queries = ["annual report", "revenue \ud800 chart", "x" * MAX_QUERY_CHARS]
    assert client.search_batch(queries, 4) == [client.search(q, 4) for q in queries]


def test_full_pool_answers_503_and_client_says_busy(corpus):
    server = make_server(corpus, load_retriever("bm25", corpus), max_connections=2)
    host, port = _start(server)
    held = [socket.create_connection((host, port)) for _ in range(2)]
    for sock in held:
        sock.sendall(b"POST /search HTTP/1.0\r\n")
    time.sleep(0.2)  # let the server take both slots
    try:
        assert _raw(host, port, _post(b'{"query": "x"}'))[0] == 503
        client = RemoteRetriever(f"http://{host}:{port}", timeout=5, retries=1)
        with pytest.raises(ConnectionError, match="busy"):
            client.search("annual report", 3)
    finally:
        for sock in held:
            sock.close()
        server.close_gracefully(drain_timeout=2)


def test_graceful_shutdown_finishes_a_request_in_flight(corpus):
    server = make_server(corpus, load_retriever("bm25", corpus))
    host, port = _start(server)
    body = b'{"query": "annual report", "k": 2}'
    sock = socket.create_connection((host, port), timeout=30)
    sock.sendall(_post(body)[:-5])
    time.sleep(0.2)
    closer = threading.Thread(target=server.close_gracefully, kwargs={"drain_timeout": 10})
    closer.start()
    time.sleep(0.2)
    sock.sendall(body[-5:])
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    sock.close()
    closer.join()
    assert reply.startswith(b"HTTP/1.0 200") and b"page_id" in reply
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=2)


def test_a_listener_that_never_answers_times_out_once(corpus):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections into the backlog, never answers
    port = silent.getsockname()[1]
    try:
        with pytest.raises(TimeoutError, match="retriever_options"):
            RemoteRetriever(f"http://127.0.0.1:{port}", corpus, timeout=0.5, retries=5)
    finally:
        silent.close()


def test_client_options_through_gym_make(service):
    host, port, _ = service
    env = gym.make(
        "VRAG-Tiny-v0", retriever=f"http://{host}:{port}", retriever_options={"timeout": 3}
    )
    assert env.unwrapped.retriever.timeout == 3.0
    env.reset(seed=0)
    assert env.step("<search>annual report</search>")[4]["action_kind"] == "search"
    with pytest.raises(ValueError, match="unknown retriever_options"):
        gym.make("VRAG-Tiny-v0", retriever=f"http://{host}:{port}", retriever_options={"t": 1})
    with pytest.raises(ValueError, match="retriever service URL only"):
        gym.make("VRAG-Tiny-v0", retriever_options={"timeout": 1})
    with pytest.raises(ValueError, match="timeout"):
        RemoteRetriever(f"http://{host}:{port}", timeout=True)


def test_non_loopback_needs_an_explicit_flag(corpus):
    with pytest.raises(ValueError, match="allow-remote"):
        make_server(corpus, load_retriever("bm25", corpus), host="0.0.0.0")


def test_the_command_refuses_a_public_address_without_the_flag(capsys):
    from vrag_env.commands import main

    assert main(["serve-retriever", "--host", "0.0.0.0", "--synthetic", "tiny"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
