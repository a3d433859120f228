"""The leaderboard's fixed comparisons (agent minus control, paired by question)."""

from __future__ import annotations

from types import SimpleNamespace

from benchmarks.controls import compare, controls_section, verdict


def _row(agent: str, scores: dict[str, float], zoom: set[str]) -> SimpleNamespace:
    cats = {
        q: ("query:single-hop", "zoom:needs-zoom" if q in zoom else "zoom:no-zoom") for q in scores
    }
    return SimpleNamespace(agent=agent, per_question=scores, question_categories=cats)


def test_category_comparison_uses_only_that_category() -> None:
    ids = [f"q{i}" for i in range(40)]
    zoom = set(ids[:20])
    # The heuristic reads every needs-zoom question, no-zoom none; elsewhere no-zoom is better.
    heuristic = _row("heuristic", {q: 1.0 if q in zoom else 0.0 for q in ids}, zoom)
    no_zoom = _row("no-zoom", {q: 0.0 if q in zoom else 1.0 for q in ids}, zoom)
    on_zoom = compare(heuristic, no_zoom, "zoom:needs-zoom")
    overall = compare(heuristic, no_zoom, None)
    assert on_zoom is not None and on_zoom.pairs == 20 and on_zoom.mean == 1.0
    assert overall is not None and overall.pairs == 40 and overall.mean == 0.0
    assert verdict(on_zoom) == "above" and verdict(overall) == "not separated"


def test_section_states_missing_rows_and_unmet_goals() -> None:
    ids = [f"q{i}" for i in range(50)]
    heuristic = _row("heuristic", {q: float(i % 10 == 0) for i, q in enumerate(ids)}, set())
    prior = _row("prior", dict.fromkeys(ids, 0.0), set())
    text = "\n".join(controls_section([heuristic, prior]))
    prior_line = next(line for line in text.splitlines() if "`prior`" in line)
    assert "+0.100" in prior_line and "goal +0.15 **not met**" in prior_line
    ppo_line = next(line for line in text.splitlines() if line.startswith("| `ppo`"))
    assert "not run" in ppo_line and "missing: ppo, scripted" in ppo_line
