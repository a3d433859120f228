"""Provenance recorded in every results file: what ran, on what code, with which settings."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from pathlib import Path
from typing import Any

from vrag_env._version import __version__


def _git(*args: str, path: Path | None = None) -> str | None:
    """Output of ``git ARGS`` in the checkout holding ``path`` (this package by default), or None."""
    where = path or Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", *args], cwd=where, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def git_sha(path: Path | None = None) -> str | None:
    """The git commit of the checkout holding ``path`` (this package by default), or ``None``."""
    out = _git("rev-parse", "HEAD", path=path)
    return out.strip() or None if out is not None else None


def git_dirty(path: Path | None = None) -> bool | None:
    """Whether the checkout has uncommitted changes to tracked files (``None`` outside git)."""
    out = _git("status", "--porcelain", "--untracked-files=no", path=path)
    return None if out is None else bool(out.strip())


def provenance() -> dict[str, Any]:
    """Package version, git SHA, Python and platform, and a UTC timestamp."""
    return {
        "vrag_env_version": __version__,
        "git_sha": git_sha(),
        "git_dirty": git_dirty(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
