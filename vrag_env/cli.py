"""Compatibility path of the ``vrag`` command line; it lives in :mod:`vrag_env.commands`."""

from __future__ import annotations

from vrag_env.commands import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    import sys

    sys.exit(main())
