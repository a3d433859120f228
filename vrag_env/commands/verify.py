"""``vrag verify DIR``: hash every file of a corpus folder and compare it with the manifest."""

from __future__ import annotations

import argparse

from vrag_env.corpora.corpus import Corpus


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``vrag verify`` options."""
    parser.add_argument("corpus", help="corpus folder to check")


def run(args: argparse.Namespace) -> int:
    """Check records, paths, sizes and every checksum (no cache); exit 2 with the problems."""
    corpus = Corpus(args.corpus, verify=False)  # records, paths and pixel limits checked here
    corpus.verify(full=True)  # every file hashed again, the checksum cache ignored
    for page_id in corpus.pages:  # every image decodes at its recorded size
        corpus.page_image(page_id)
    print(  # noqa: T201
        f"{corpus.root}: OK ({len(corpus.pages)} pages, {len(corpus.queries)} queries, "
        f"checksum {corpus.checksum[:16]})"
    )
    return 0
