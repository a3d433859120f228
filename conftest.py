"""Root pytest configuration (applies to the test suite and to doctests in ``vrag_env``).

Corpora are generated once into ``<repo>/.cache/vrag_env`` (git-ignored) instead of the user's
``~/.cache``, so test runs never touch the home folder and re-runs are fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
os.environ.setdefault("VRAG_ENV_CACHE", str(ROOT / ".cache" / "vrag_env"))
os.environ.setdefault("MPLBACKEND", "Agg")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest_plugins = ["tests.fixtures_synthetic"]
