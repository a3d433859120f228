"""``vrag ingest``: build a corpus folder from PDFs, images and query files.

Examples::

    vrag ingest reports/ scans/page.png --queries questions.json --out corpora/mine
    vrag ingest --format slidevqa ~/data/SlideVQA --subset test --out corpora/slidevqa-test
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vrag_env.corpora.hub_formats import FORMATS
from vrag_env.corpora.ingest import DEFAULT_DPI, OCR_MODES


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``ingest`` arguments."""
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCES",
        help="PDF files, images (png/jpg/webp/tiff) or folders holding them; with --format, the "
        "dataset folder",
    )
    parser.add_argument("--out", required=True, type=Path, help="the corpus folder to write")
    parser.add_argument(
        "--queries",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="questions in the rag_dataset.json layout, or the same fields as JSON Lines "
        "(repeatable)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="files",
        help="'files' (default) or a local copy of a benchmark: vidoseek, slidevqa, mmlongbench",
    )
    parser.add_argument(
        "--ocr",
        choices=OCR_MODES,
        default="auto",
        help="auto: OCR images and PDF pages without a text layer (default); always; never",
    )
    parser.add_argument(
        "--dpi", type=int, default=DEFAULT_DPI, help=f"PDF rendering resolution ({DEFAULT_DPI})"
    )
    parser.add_argument(
        "--split",
        choices=("hash", "train", "val", "test"),
        default=None,
        help="split of questions that have none: 'hash' (deterministic 80/10/10 by uid; the "
        "default for files) or one split for all (benchmarks default to 'test')",
    )
    parser.add_argument(
        "--skip-bad-queries",
        action="store_true",
        help="leave out (and report) questions that point to a missing file or page",
    )
    parser.add_argument(
        "--subset",
        action="append",
        default=[],
        metavar="SPLIT",
        help="slidevqa: convert only this dataset split (train/val/test; repeatable)",
    )
    parser.add_argument(
        "--keep-unanswerable",
        action="store_true",
        help="mmlongbench: keep questions without evidence pages",
    )
    parser.add_argument("--name", default=None, help="corpus name (default: the folder name)")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--workers", type=int, default=2, help="threads encoding page images (2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run ``vrag ingest``; print the summary. Bad input raises ``ValueError``/``OSError``."""
    from vrag_env.corpora.hub_formats import make_source
    from vrag_env.corpora.ingest import ingest

    if args.subset and args.format != "slidevqa":
        raise ValueError("--subset only applies to --format slidevqa")
    if args.keep_unanswerable and args.format != "mmlongbench":
        raise ValueError("--keep-unanswerable only applies to --format mmlongbench")
    if args.queries and args.format in ("slidevqa", "mmlongbench"):
        raise ValueError(f"--format {args.format} reads its own questions; drop --queries")
    out = args.out.expanduser()
    source = make_source(
        args.format,
        args.sources,
        query_files=args.queries,
        exclude=[out],
        subsets=args.subset,
        keep_unanswerable=args.keep_unanswerable,
    )
    report = ingest(
        source,
        out,
        # vidoseek reads --queries itself (instead of its discovered vidoseek.json).
        queries=args.queries if args.format == "files" else (),
        ocr=args.ocr,
        dpi=args.dpi,
        split=args.split,
        skip_bad_queries=args.skip_bad_queries,
        force=args.force,
        name=args.name,
        progress=not args.no_progress,
        workers=args.workers,
    )
    print(report.summary())  # noqa: T201 - the command's output
    return 0
