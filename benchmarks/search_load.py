"""Load test of ``vrag serve-retriever`` on loopback: throughput, latency, errors, hostile clients.

Run: ``uv run python -m benchmarks.search_load --clients 8 --seconds 10 --out FILE.json``
(add ``--slow-clients N`` / ``--huge-clients N`` for the hostile scenario).

The service runs in a child process (BM25 over a built-in synthetic corpus) bound to 127.0.0.1 only.
``--clients`` threads in this process send small queries as fast as they can for ``--seconds``
(each at most ``--max-requests``), one connection per request, and record every latency; a reply
other than 200 with a result list, or a socket error, is an error. Alongside them, ``--slow-clients``
connections trickle a request one byte at a time (slowloris) and ``--huge-clients`` threads send
0.99 MB queries in a loop, both from a separate process (the service must refuse these with a 413 quickly, without blocking anyone).
The in-process search rate of the same retriever (no HTTP) is measured in the same run.

JSON keys: ``clients``, ``seconds``, ``requests``, ``errors``, ``throughput_qps``, ``p50_ms``,
``p99_ms``, ``inprocess_qps`` and the hostile clients' counts.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import socket
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from vrag_env._atomic import write_json_atomic

HOST = "127.0.0.1"
QUERIES = [
    "annual report revenue",
    "net income 2022",
    "employees by region",
    "chart of quarterly sales",
    "operating margin",
    "total assets",
    "customer satisfaction survey",
    "research and development spending",
]
MAX_CLIENTS = 256
MAX_SECONDS = 600


def _serve(synthetic: str, conn: Any) -> None:  # pragma: no cover - runs in the child process
    from vrag_env.loading import load_corpus, load_retriever
    from vrag_env.retrieval.server import make_server

    corpus = load_corpus(None, synthetic)
    server = make_server(corpus, load_retriever("bm25", corpus), HOST, 0)
    conn.send(server.server_address[1])
    server.serve_forever()


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _post(port: int, body: bytes, timeout: float) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", "/search", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _small_client(
    port: int, i: int, stop: float, max_requests: int, out: dict[str, Any], lock: threading.Lock
) -> None:
    latencies, errors, kinds = [], 0, {}
    for j in range(max_requests):
        if time.perf_counter() >= stop:
            break
        body = json.dumps({"query": QUERIES[(i + j) % len(QUERIES)], "k": 5}).encode()
        t = time.perf_counter()
        try:
            status, data = _post(port, body, timeout=30)
            ok = status == 200 and isinstance(json.loads(data).get("results"), list)
            kind = f"http {status}"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            ok, kind = False, type(exc).__name__
        latencies.append(time.perf_counter() - t)
        if not ok:
            errors += 1
            kinds[kind] = kinds.get(kind, 0) + 1
    with lock:
        out["latencies"].extend(latencies)
        out["errors"] += errors
        for kind, n in kinds.items():
            out["error_kinds"][kind] = out["error_kinds"].get(kind, 0) + n


def _slow_client(port: int, stop: float, out: dict[str, Any], lock: threading.Lock) -> None:
    """Slowloris: trickle a request one byte every 0.2 s; count how often the server cuts it off."""
    request = (
        b"POST /search HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"
    )
    while time.perf_counter() < stop:
        cut = False
        try:
            with socket.create_connection((HOST, port), timeout=5) as sock:
                for byte in request:
                    if time.perf_counter() >= stop:
                        break
                    sock.sendall(bytes([byte]))
                    time.sleep(0.2)
                else:
                    cut = sock.recv(1) == b""
        except OSError:
            cut = True
        with lock:
            out["slow_connections"] += 1
            out["slow_cut_off"] += int(cut)


def _huge_client(port: int, stop: float, out: dict[str, Any], lock: threading.Lock) -> None:
    body = json.dumps({"query": "revenue " * 123_750, "k": 10}).encode()  # 0.99 MB
    while time.perf_counter() < stop:
        t = time.perf_counter()
        try:
            status, _ = _post(port, body, timeout=30)
        except (OSError, http.client.HTTPException):
            status = -1
        with lock:
            out["huge_requests"] += 1
            out["huge_refused_4xx"] += int(status in (400, 413))
            out["huge_latencies"].append(time.perf_counter() - t)


def _hostile(port: int, slow: int, huge: int, seconds: float, conn: Any) -> None:
    """Run the slow and huge-query clients for ``seconds`` and send their counts back."""
    out: dict[str, Any] = {
        "slow_connections": 0,
        "slow_cut_off": 0,
        "huge_requests": 0,
        "huge_refused_4xx": 0,
        "huge_latencies": [],
    }
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=_slow_client, args=(port, stop, out, lock)) for _ in range(slow)
    ] + [threading.Thread(target=_huge_client, args=(port, stop, out, lock)) for _ in range(huge)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    conn.send(out)


def _inprocess_qps(synthetic: str, seconds: float) -> float:
    from vrag_env.loading import load_corpus, load_retriever

    corpus = load_corpus(None, synthetic)
    retriever = load_retriever("bm25", corpus)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        retriever.search(QUERIES[n % len(QUERIES)], 5)
        n += 1
    return n / (time.perf_counter() - t0)


# Long by design: the load test's phases in order (start, warm up, load, collect, report).
def run(
    clients: int,
    seconds: float,
    *,
    slow_clients: int = 0,
    huge_clients: int = 0,
    max_requests: int = 100_000,
    synthetic: str = "default",
) -> dict[str, Any]:
    """Start the service in a child process, load it, and return the measurements."""
    inprocess = _inprocess_qps(synthetic, min(seconds, 5.0))  # also warms the corpus/index cache
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(synthetic, child), daemon=True)
    proc.start()
    try:
        if not parent.poll(300):
            raise RuntimeError("the retriever service did not start within 300 s")
        port = int(parent.recv())
        out: dict[str, Any] = {
            "latencies": [],
            "errors": 0,
            "error_kinds": {},
            "slow_connections": 0,
            "slow_cut_off": 0,
            "huge_requests": 0,
            "huge_refused_4xx": 0,
            "huge_latencies": [],
        }
        lock = threading.Lock()
        hostile = None
        if slow_clients or huge_clients:
            # Hostile clients run in their own process, so that their CPU use does not slow the
            # measuring threads through this process's GIL: only the service is shared.
            h_parent, h_child = ctx.Pipe()
            hostile = ctx.Process(
                target=_hostile, args=(port, slow_clients, huge_clients, seconds + 1, h_child)
            )
            hostile.start()
            time.sleep(1.0)  # let the hostile clients get going first
        small = [
            threading.Thread(
                target=_small_client,
                args=(port, i, time.perf_counter() + seconds, max_requests, out, lock),
            )
            for i in range(clients)
        ]
        small_start = time.perf_counter()
        for t in small:
            t.start()
        for t in small:
            t.join()
        elapsed = time.perf_counter() - small_start
        if hostile is not None:
            if h_parent.poll(120):
                out.update(h_parent.recv())
            hostile.join(30)
    finally:
        proc.terminate()
        proc.join(10)
    lat = out["latencies"]
    ms = lambda v: None if v is None else round(1000 * v, 2)  # noqa: E731
    return {
        "clients": clients,
        "seconds": seconds,
        "requests": len(lat),
        "errors": out["errors"],
        "error_kinds": out["error_kinds"],
        "throughput_qps": round(len(lat) / elapsed, 1),
        "p50_ms": ms(_percentile(lat, 0.50)),
        "p99_ms": ms(_percentile(lat, 0.99)),
        "max_ms": ms(max(lat) if lat else None),
        "mean_ms": ms(statistics.fmean(lat) if lat else None),
        "inprocess_qps": round(inprocess, 1),
        "slow_clients": slow_clients,
        "slow_connections": out["slow_connections"],
        "slow_cut_off_by_server": out["slow_cut_off"],
        "huge_clients": huge_clients,
        "huge_requests": out["huge_requests"],
        "huge_refused_4xx": out["huge_refused_4xx"],
        "huge_p50_ms": ms(_percentile(out["huge_latencies"], 0.5)),
        "synthetic_corpus": synthetic,
        "retriever": "bm25",
        "cpu_count": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--slow-clients", type=int, default=0)
    parser.add_argument("--huge-clients", type=int, default=0)
    parser.add_argument("--max-requests", type=int, default=100_000, help="per client")
    parser.add_argument("--synthetic", default="default", help="built-in corpus preset")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    for name in ("clients", "slow_clients", "huge_clients"):
        if not 0 <= getattr(args, name) <= MAX_CLIENTS:
            parser.error(f"--{name.replace('_', '-')} must be in 0..{MAX_CLIENTS}")
    if args.clients < 1 or not 0 < args.seconds <= MAX_SECONDS or args.max_requests < 1:
        parser.error(f"need --clients >= 1, --seconds in (0, {MAX_SECONDS}], --max-requests >= 1")
    result = run(
        args.clients,
        args.seconds,
        slow_clients=args.slow_clients,
        huge_clients=args.huge_clients,
        max_requests=args.max_requests,
        synthetic=args.synthetic,
    )
    write_json_atomic(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
