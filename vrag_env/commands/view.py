"""``vrag view``: an HTML report of a results file, or a GIF of one of its episodes."""

from __future__ import annotations

import argparse


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``vrag view`` options."""
    parser.add_argument("results", help="results JSON written by `vrag eval`")
    parser.add_argument("--out", help="HTML report to write (default: RESULTS with .html)")
    parser.add_argument(
        "--folder",
        action="store_true",
        help="write images as files in OUT_files/ next to the HTML instead of embedding them",
    )
    parser.add_argument("--episode", help="only this episode: a question id or a 0-based index")
    parser.add_argument("--gif", help="with --episode: write that episode as an animated GIF")


def run(args: argparse.Namespace) -> int:
    """Write the report or the GIF."""
    from pathlib import Path

    from vrag_env.viewer.trajectory import load_run

    if args.gif:
        if not args.episode:
            raise ValueError("--gif needs --episode ID (a question id or a 0-based index)")
        from vrag_env.viewer.gif import write_gif

        view_run = load_run(args.results)
        out = write_gif(view_run, view_run.episode(args.episode), args.gif)
        print(f"GIF written to {out} ({out.stat().st_size / 1024:.0f} KiB)")  # noqa: T201
        return 0
    from vrag_env.viewer.report import write_report

    out = write_report(
        args.results,
        args.out or Path(args.results).with_suffix(".html"),
        folder=args.folder,
        episode=args.episode,
    )
    print(f"report written to {out} ({out.stat().st_size / 1024:.0f} KiB)")  # noqa: T201
    return 0
