"""``python -m benchmarks.env_perf --quick`` runs and writes the JSON the issue lists (no timings checked)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

REQUIRED = (
    "reset_ms_p50",
    "search_ms_p50",
    "crop_ms_p50",
    "answer_ms_p50",
    "steps_per_s_best",
    "reference_steps_per_s",
    "speedup_vs_reference",
    "bm25_ms_p50_by_pages",
    "rss_mb_per_env",
)


def test_quick_run_writes_the_schema(tmp_path: Path) -> None:
    out = tmp_path / "perf.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.env_perf", "--quick", "--out", str(out)],
        check=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
    result = json.loads(out.read_text())
    missing = [k for k in REQUIRED if k not in result]
    assert not missing, f"missing keys {missing}"
    for key in (*REQUIRED[:7], "rss_mb_per_env"):
        value = result[key]
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, (key, value)
    by_pages = result["bm25_ms_p50_by_pages"]
    assert {"1000", "10000"} <= set(by_pages)
    assert all(isinstance(v, float) and v > 0 for v in by_pages.values())
    assert set(result["vector_steps_per_s"]) == {"sync", "async"}
    assert "reference" in result["reference"]["label"]
    assert result["machine"]["cores"] >= 1
