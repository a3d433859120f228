"""``vrag serve-retriever``: serve one retriever index over HTTP for many env workers.

The server itself lives in :mod:`vrag_env.retrieval.server`; this module only loads the corpus and the
retriever and runs it.
"""

from __future__ import annotations

import argparse
import logging

from vrag_env.loading import load_corpus, load_retriever
from vrag_env.retrieval.server import make_server

logger = logging.getLogger(__name__)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``vrag serve-retriever`` options."""
    parser.add_argument("--corpus", help="corpus folder (default: the built-in synthetic corpus)")
    parser.add_argument(
        "--synthetic", default="default", help="built-in corpus preset when --corpus is not given"
    )
    parser.add_argument("--retriever", default="bm25", help="retriever backend (default: bm25)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8765, help="port (default: 8765)")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    corpus = load_corpus(args.corpus, args.synthetic)
    retriever = load_retriever(args.retriever, corpus)
    server = make_server(corpus, retriever, args.host, args.port)
    host, port = server.server_address[:2]
    logger.info(
        "serving %s over %s (%d pages) at http://%s:%s",
        args.retriever,
        corpus.root,
        len(corpus.pages),
        host,
        port,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
