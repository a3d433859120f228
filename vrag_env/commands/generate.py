"""``vrag generate``: build the built-in synthetic corpus into a folder.

Examples::

    vrag generate --out corpora/synth              # the default preset, seed 0
    vrag generate --out /tmp/tiny --preset tiny --seed 3 --force
    vrag generate                                  # fill the cache the environment reads

The corpus folder's path is written to stdout, so scripts can capture it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

PRESET_NAMES = ("default", "tiny")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``generate`` options to ``parser``."""
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="corpus folder to create (default: the cache folder the environment uses, "
        "$VRAG_ENV_CACHE or ~/.cache/vrag_env)",
    )
    parser.add_argument(
        "--preset", choices=PRESET_NAMES, default="default", help="corpus size (default: default)"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="random seed (default: the preset's, 0)"
    )
    parser.add_argument("--force", action="store_true", help="replace DIR if it already exists")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Generate the corpus; returns the exit status."""
    import dataclasses
    import time

    from vrag_env.corpora.corpus import Corpus
    from vrag_env.corpora.synthetic import (
        SYNTHETIC_PRESETS,
        builtin_corpus,
        cached_corpus_path,
        generate_corpus,
    )

    config = SYNTHETIC_PRESETS[args.preset]
    if args.seed is not None:
        config = dataclasses.replace(config, seed=args.seed)
    progress = not args.no_progress
    start = time.perf_counter()
    if args.out is None and not args.force:
        path = builtin_corpus(config, progress=progress)
    else:
        target = args.out if args.out is not None else cached_corpus_path(config)
        path = generate_corpus(config, target, overwrite=args.force, progress=progress)
    corpus = Corpus(path)
    splits = ", ".join(f"{s} {len(corpus.split(s))}" for s in ("train", "val", "test"))
    logger.info(
        "%s: %d pages, %d questions (%s) in %.1f s",
        path, len(corpus.pages), len(corpus.queries), splits, time.perf_counter() - start,
    )  # fmt: skip
    sys.stdout.write(f"{path}\n")
    return 0
