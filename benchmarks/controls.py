"""The leaderboard's fixed comparisons: each learned or full agent against its control, floor or ablation.

A row's rank says little on its own; what a skeptical reader wants is whether the agent beats the
control that isolates what it claims to add. Each :data:`CONTROLS` entry pairs two agents (and
optionally a category of questions) with the question the comparison answers, and the section
states the paired bootstrap 95% CI of the difference with a plain verdict: *above* (the interval
is above 0), *not separated* (it contains 0) or *below*. Comparisons whose rows are missing are
listed as not run, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .verify import PairedDifference, paired_difference


class _Row(Protocol):
    agent: str
    per_question: dict[str, float]
    question_categories: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Control:
    """One fixed comparison.

    Attributes:
        agent: The agent under test.
        control: The agent it must beat.
        category: Only questions of this category (e.g. ``"zoom:needs-zoom"``), or ``None`` for all.
        question: What the comparison shows, in words.
        margin: The difference the benchmark's validity goals ask for (0: just above the control).
        goal_on: The benchmarks whose validity goals set ``margin``; elsewhere the row states the
            verdict only (a goal set for one track is not claimed for another).
    """

    agent: str
    control: str
    category: str | None
    question: str
    margin: float = 0.0
    goal_on: tuple[str, ...] = ()


CONTROLS: tuple[Control, ...] = (
    Control(
        "ppo",
        "scripted",
        None,
        "did PPO learn anything beyond its wrapper? (same macro-actions and OCR candidates, fixed script)",
    ),
    Control(
        "heuristic",
        "no-zoom",
        "zoom:needs-zoom",
        "does zooming pay where OCR cannot read the unzoomed page? (heuristic with and without crops)",
    ),
    Control("heuristic", "no-zoom", None, "does zooming pay on all questions?"),
    Control(
        "heuristic",
        "prior",
        None,
        "does reading beat guessing from train-split statistics? (synth-test goal: at least +0.15)",
        margin=0.15,
        goal_on=("synth-test",),
    ),
    Control(
        "heuristic", "no-search", None, "does searching beat answering from the question alone?"
    ),
)
"""The comparisons shown under every benchmark that has the rows."""


def _scores(row: _Row, category: str | None) -> dict[str, float]:
    if category is None:
        return dict(row.per_question)
    return {
        q: v for q, v in row.per_question.items() if category in row.question_categories.get(q, ())
    }


def compare(a: _Row, b: _Row, category: str | None) -> PairedDifference | None:
    """Paired bootstrap difference of ``a`` minus ``b`` on the questions (of ``category``) both ran."""
    return paired_difference(_scores(a, category), _scores(b, category))


def verdict(d: PairedDifference, margin: float = 0.0) -> str:
    """``above``, ``not separated`` or ``below`` from the CI; with a margin, whether it is met."""
    if d.low > 0:
        text = "above"
    elif d.high < 0:
        text = "below"
    else:
        text = "not separated"
    if margin > 0:
        text += f"; goal +{margin:.2f} " + ("met" if d.mean >= margin else "**not met**")
    return text


def controls_section(rows: list[_Row], benchmark: str | None = None) -> list[str]:
    """Markdown lines for the comparisons among ``rows`` (ranked rows of one benchmark).

    Args:
        rows: The benchmark's ranked rows.
        benchmark: Its name; a control's goal is judged only on the benchmarks it was set for
            (``None``: on any).
    """
    by_name = {r.agent: r for r in rows}
    if not any(c.agent in by_name or c.control in by_name for c in CONTROLS):
        return []
    lines = [
        "| agent | minus | on | difference (paired 95% CI) | questions | verdict | what it shows |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in CONTROLS:
        on = c.category.split(":", 1)[-1] if c.category else "all"
        a, b = by_name.get(c.agent), by_name.get(c.control)
        if a is None or b is None:
            missing = ", ".join(n for n in (c.agent, c.control) if n not in by_name)
            lines.append(
                f"| `{c.agent}` | `{c.control}` | {on} | not run | - | missing: {missing} | {c.question} |"
            )
            continue
        d = compare(a, b, c.category)
        if d is None:
            lines.append(
                f"| `{c.agent}` | `{c.control}` | {on} | no shared questions | 0 | - | {c.question} |"
            )
            continue
        lines.append(
            f"| `{c.agent}` | `{c.control}` | {on} | {d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}] "
            f"| {d.pairs} | {verdict(d, _margin(c, benchmark))} | {c.question} |"
        )
    return lines


def _margin(control: Control, benchmark: str | None) -> float:
    if benchmark is None or not control.goal_on or benchmark in control.goal_on:
        return control.margin
    return 0.0
