"""A folder of OCR results that the processes of one run share (off unless a run turns it on).

OCR of a view is a pure function of its pixels, and the OCR readers of the agents
(:func:`vrag_env.view_ocr.ocr_view`, ``agents.ocr.OCRReader``) keep their results in memory, per
process. When one run splits its episodes over several processes (``vrag leaderboard`` deals the
OCR agents' questions out to its jobs), a view that one process has read would be read again by
another. With :data:`ENV_VAR` naming a folder, the readers also look results up there and store
what they read there, so each view is read about once per run whichever process meets it first.
Results are the same with or without the folder; only the time changes.

Entries are JSON files named by a hash of their key, written atomically (a temporary file renamed
into place), so two processes that read the same view at once both write the same file and no
reader ever sees half a file. The folder belongs to the run that made it: ``vrag leaderboard``
creates a temporary one and deletes it at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from vrag_env._atomic import write_json_atomic

ENV_VAR = "VRAG_OCR_SHARED_CACHE"
"""Environment variable naming the shared folder; unset (the default): no folder, memory only."""

__all__ = ["ENV_VAR", "load", "store"]


def _path(namespace: str, key: str) -> Path | None:
    folder = os.environ.get(ENV_VAR)
    if not folder:
        return None
    digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return Path(folder) / namespace / digest[:2] / f"{digest}.json"


def load(namespace: str, key: str) -> Any | None:
    """The value stored under ``key`` (``None`` when absent or when no folder is set)."""
    path = _path(namespace, key)
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # absent, or a file another run left unreadable
        return None


def store(namespace: str, key: str, value: Any) -> None:
    """Store a JSON-serialisable ``value`` under ``key`` (nothing when no folder is set)."""
    path = _path(namespace, key)
    if path is None:
        return
    write_json_atomic(path, value, indent=None)
