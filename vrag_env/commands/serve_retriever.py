"""``vrag serve-retriever``: serve one retriever index over HTTP for many env workers.

The server itself lives in :mod:`vrag_env.retrieval.server`; this module only loads the corpus and the
retriever and runs it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from vrag_env.loading import load_corpus, load_retriever
from vrag_env.retrieval.server import is_loopback, make_server

logger = logging.getLogger(__name__)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``vrag serve-retriever`` options."""
    parser.add_argument("--corpus", help="corpus folder (default: the built-in synthetic corpus)")
    parser.add_argument(
        "--synthetic", default="default", help="built-in corpus preset when --corpus is not given"
    )
    parser.add_argument("--retriever", default="bm25", help="retriever backend (default: bm25)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, loopback)"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the service has no authentication)",
    )
    parser.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    parser.add_argument(
        "--max-connections",
        type=int,
        default=64,
        help="requests handled at once; more get 503 (default: 64)",
    )
    parser.add_argument(
        "--io-timeout", type=float, default=5.0, help="seconds per socket read/write (default: 5)"
    )
    parser.add_argument(
        "--request-deadline",
        type=float,
        default=10.0,
        help="seconds a client has to send its whole request (default: 10)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (SIGINT or SIGTERM stop it gracefully)."""
    if not is_loopback(args.host):
        if not args.allow_remote:
            raise ValueError(
                f"--host {args.host} is not a loopback address and the service has no "
                "authentication; add --allow-remote to bind it anyway (trusted networks only)"
            )
        print(  # noqa: T201
            f"WARNING: serving on {args.host}: anyone who can reach this address can query the "
            "index (there is no authentication)",
            file=sys.stderr,
        )
    corpus = load_corpus(args.corpus, args.synthetic)
    retriever = load_retriever(args.retriever, corpus)
    server = make_server(
        corpus,
        retriever,
        args.host,
        args.port,
        allow_remote=args.allow_remote,
        max_connections=args.max_connections,
        io_timeout=args.io_timeout,
        request_deadline=args.request_deadline,
    )
    host, port = server.server_address[:2]
    logger.info(
        "serving %s over %s (%d pages) at http://%s:%s",
        args.retriever,
        corpus.root,
        len(corpus.pages),
        host,
        port,
    )

    def stop(signum: int, frame: object) -> None:
        logger.info("signal %d: finishing running requests, then stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.serve_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close_gracefully()  # running requests finish before the process exits
    return 0
