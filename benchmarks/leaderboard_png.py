"""The leaderboard chart: one row of panels per benchmark (accuracy with CIs, ANLS, NDCG).

Called by :func:`benchmarks.leaderboard.render_png` with the verified rows, already sorted.
"""

from __future__ import annotations

import io
from typing import Any


def draw_png(rows: list[Any]) -> bytes:
    """Bars per agent: accuracy with 95% CI error bars, ANLS, NDCG; one row of panels per benchmark.

    Privileged agents are drawn hatched and labelled ``(privileged)``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benches = sorted({r.benchmark for r in rows}) or ["(no results)"]
    metrics = (("accuracy", "accuracy (95% CI)"), ("anls", "ANLS"), ("ndcg", "NDCG"))
    fig, axes = plt.subplots(
        len(benches), len(metrics), figsize=(13, 0.8 + 3.0 * len(benches)), squeeze=False
    )
    for i, bench in enumerate(benches):
        bench_rows = [r for r in rows if r.benchmark == bench]
        names = [r.agent + (" (privileged)" if r.privileged else "") for r in bench_rows]
        ypos = list(range(len(bench_rows)))
        for j, (key, label) in enumerate(metrics):
            ax = axes[i][j]
            values = [getattr(r, key) for r in bench_rows]
            xerr = None
            if key == "accuracy" and bench_rows:
                xerr = [
                    [max(0.0, r.accuracy - r.accuracy_low) for r in bench_rows],
                    [max(0.0, r.accuracy_high - r.accuracy) for r in bench_rows],
                ]
            bars = ax.barh(
                ypos, values, xerr=xerr, color="#4C72B0" if j == 0 else "#8C8C8C", capsize=3
            )
            for bar, r in zip(bars, bench_rows, strict=True):
                if r.privileged:
                    bar.set_hatch("//")
                    bar.set_alpha(0.6)
            ax.set_yticks(ypos, names if j == 0 else [""] * len(names))
            ax.invert_yaxis()
            ax.set_xlim(0, 1.15)
            ends = [r.accuracy_high for r in bench_rows] if key == "accuracy" else values
            for y, v, end in zip(ypos, values, ends, strict=True):
                ax.text(max(v, end), y, f" {v:.2f}", va="center", fontsize=8)
            ax.set_title(f"{bench}: {label}" if j == 0 else label, fontsize=10)
            ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    # No timestamp in the PNG metadata, so the same rows give the same bytes.
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


# --------------------------------------------------------------------------------------- writing
