"""The ``vrag`` command line (the top layer: nothing in ``vrag_env`` imports it).

Each subcommand lives in its own module, which provides ``configure_parser(parser)`` and
``run(args) -> int``; this file only wires them together, so ``vrag --help`` stays fast and a missing
optional extra only affects the subcommand that needs it. ``COMMANDS`` is a registry like the
others in the project: a name maps to a module path, imported only to build the parser. ``eval`` and
``leaderboard`` are contributed by the ``benchmarks`` package (the runner and the leaderboard), which
sits above ``vrag_env``; they are absent where ``benchmarks`` is not installed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from vrag_env._entry_points import import_module, module_path

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "eval": (
        "benchmarks.eval_cli",
        "run one agent on a benchmark or split and write a results JSON",
    ),
    "leaderboard": (
        "benchmarks.leaderboard_cli",
        "run the baselines and regenerate the leaderboard",
    ),
    "validity": (
        "benchmarks.validity",
        "measure what a benchmark rewards: needs-zoom by OCR, BM25 recall, blind floors",
    ),
    "generate": (
        "vrag_env.commands.generate",
        "build the built-in synthetic corpus into a folder",
    ),
    "ingest": (
        "vrag_env.commands.ingest",
        "build a corpus folder from PDFs, images and query files",
    ),
    "retrieval-eval": (
        "vrag_env.commands.retrieval_eval",
        "ViDoRe-style retrieval benchmark on a corpus",
    ),
    "verify": (
        "vrag_env.commands.verify",
        "check a corpus folder against its manifest checksums (hashes every file)",
    ),
    "serve-retriever": (
        "vrag_env.commands.serve_retriever",
        "serve a retriever over HTTP for many env workers",
    ),
    "view": ("vrag_env.commands.view", "HTML report of a results file, or a GIF of one episode"),
    "demo": ("vrag_env.commands.demo", "local web app: play an episode or watch an agent"),
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="vrag", description="vrag-env: visual RAG as a Gymnasium env"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_path(module_name).startswith(exc.name):
                continue  # not part of this installation
            raise
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.configure_parser(p)
        p.set_defaults(_run=module.run)
    return parser


def _quiet_libraries(record: logging.LogRecord) -> bool:
    """Without ``-v``: this project's INFO lines and everyone's warnings, nothing else."""
    own = record.name.partition(".")[0] in ("vrag_env", "agents", "benchmarks", "root")
    return record.levelno >= (logging.INFO if own else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vrag`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # other libraries (bm25s logs DEBUG lines) speak only to warn
        for handler in logging.getLogger().handlers:
            handler.addFilter(_quiet_libraries)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:
        # Bad input (files, fields, values): one clear line, no traceback.
        print(f"vrag {args.command}: error: {exc}", file=sys.stderr)  # noqa: T201
        return 2


if __name__ == "__main__":
    sys.exit(main())
