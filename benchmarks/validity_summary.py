"""What ``vrag validity`` measured about a benchmark, quoted on the leaderboard under its tables.

The reports are the committed ``docs/validity/<benchmark>.json`` files (``vrag validity --benchmark
NAME --out docs/validity/NAME.json``), so the leaderboard stays a pure function of committed files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def load_validity(folder: str | os.PathLike[str] | None) -> dict[str, dict[str, Any]]:
    """Benchmark name -> its validity report, for every readable ``*.json`` in ``folder``."""
    if folder is None or not Path(folder).is_dir():
        return {}
    reports: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("benchmark"), str):
            reports[data["benchmark"]] = data
    return reports


def validity_lines(report: dict[str, Any]) -> list[str]:
    """One Markdown paragraph: search difficulty, zoom need, multi-hop share and the blind floors."""
    parts = []
    bm25 = report.get("bm25") or {}
    if "recall@1" in bm25:
        parts.append(
            f"BM25 with the question as query: recall@1 {bm25['recall@1']:.3f}, "
            f"recall@5 {bm25.get('recall@5', float('nan')):.3f}"
        )
    legibility = report.get("legibility") or {}
    if "needs_zoom" in legibility:
        parts.append(
            f"needs zoom by OCR {legibility['needs_zoom']:.3f} (readable on the oracle's crop "
            f"{legibility.get('readable_on_oracle_crop', float('nan')):.3f})"
        )
    if "multi_hop" in report:
        parts.append(f"multi-hop {report['multi_hop']:.3f}")
    floors = report.get("floors") or {}
    if floors:
        parts.append(
            ", ".join(f"`{k}` floor {v:.3f}" for k, v in floors.items() if isinstance(v, float))
        )
    if not parts:
        return []
    name = report.get("benchmark", "")
    return [
        f"**The benchmark** (`uv run vrag validity --benchmark {name}`, "
        f"[report](docs/validity/{name}.json)): " + "; ".join(p for p in parts if p) + "."
    ]
