"""The leaderboard's transfer table: each agent's accuracy on the synthetic and the real-document track.

Agents are built, trained and tuned on synthetic pages; the real-document track (``docs-test``) shows
how much of that carries over to pages that other people made. One row per agent with verified
results on both benchmarks, privileged agents marked, accuracy with its bootstrap 95% CI.
"""

from __future__ import annotations

from typing import Protocol

SYNTHETIC = "synth-test"
REAL = "docs-test"


class _Row(Protocol):
    benchmark: str
    agent: str
    privileged: bool
    accuracy: float
    accuracy_low: float
    accuracy_high: float


def transfer_section(rows: list[_Row], synthetic: str = SYNTHETIC, real: str = REAL) -> list[str]:
    """Markdown lines of the transfer table (empty when no agent has results on both)."""
    syn = {r.agent: r for r in rows if r.benchmark == synthetic}
    rea = {r.agent: r for r in rows if r.benchmark == real}
    both = sorted(set(syn) & set(rea), key=lambda a: (syn[a].privileged, -syn[a].accuracy, a))
    if not both:
        return []
    lines = [
        f"| agent | {synthetic} accuracy (95% CI) | {real} accuracy (95% CI) | real minus synthetic |",
        "|---|---|---|---|",
    ]
    for agent in both:
        a, b = syn[agent], rea[agent]
        name = f"`{agent}`" + (" (privileged)" if a.privileged else "")
        lines.append(
            f"| {name} | {a.accuracy:.3f} [{a.accuracy_low:.3f}, {a.accuracy_high:.3f}] "
            f"| {b.accuracy:.3f} [{b.accuracy_low:.3f}, {b.accuracy_high:.3f}] "
            f"| {b.accuracy - a.accuracy:+.3f} |"
        )
    return lines
