"""Multi-hop question templates: each needs a printed operand from each of two pages.

The answer is computed exactly from the printed operands (one-decimal figures as decimals), so an
agent that finds and reads both pages can reproduce it digit for digit.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from vrag_env.corpora.synthetic.documents import World
from vrag_env.corpora.synthetic.drafting import (
    QUARTER_WORDS,
    QUARTERS,
    Draft,
    QuestionBuilder,
    company_ref,
    plain_number,
    printed_difference,
    region_ref,
    signed_variants,
)
from vrag_env.corpora.synthetic.world import Company

# ---------------------------------------------------------------- multi-hop


def m_revenue_change(
    b: QuestionBuilder, c: Company, rng: random.Random, years: Sequence[int]
) -> Draft | None:
    """Change of one quarterly revenue cell between two years' reports."""
    y2 = rng.choice(years[1:])
    y1 = rng.choice([y for y in years if y < y2])
    region, q = rng.choice(c.regions), rng.randrange(4)
    key = f"rev:{region}:{QUARTERS[q]}"
    e1, e2 = (b.evidence(b.page(c, y, "financials"), key) for y in (y1, y2))
    diff = printed_difference(e1.text, e2.text)
    co, qn, where = company_ref(rng, c), f"the {QUARTER_WORDS[q]} quarter", region_ref(region)
    return b.make(
        rng,
        "multi.revenue_change",
        [
            f"By how much did {co}'s revenue from {where} in {qn} change between {y1} and {y2}, "
            "in USD million?",
            f"How much higher or lower was {co}'s {QUARTERS[q]} revenue in {where} in {y2} than "
            f"in {y1}?",
            f"What was the change in {co}'s {region} revenue from {QUARTERS[q]} {y1} to "
            f"{QUARTERS[q]} {y2}?",
        ],
        signed_variants(diff),
        [e1, e2],
        "table",
        "multi-hop",
    )


def m_margin_change(
    b: QuestionBuilder, c: Company, rng: random.Random, years: Sequence[int]
) -> Draft | None:
    """Change of one segment's operating margin between two years' charts."""
    y2 = rng.choice(years[1:])
    y1 = rng.choice([y for y in years if y < y2])
    seg = rng.choice(c.segments)
    e1, e2 = (b.evidence(b.page(c, y, "charts"), f"margin:{seg}") for y in (y1, y2))
    diff = printed_difference(e1.text, e2.text)
    co = company_ref(rng, c)
    answers = [a for d in signed_variants(diff) for a in (d, f"{d} percentage points", f"{d} pp")]
    return b.make(
        rng,
        "multi.margin_change",
        [
            f"By how many percentage points did the operating margin of {co}'s {seg} segment "
            f"change from {y1} to {y2}?",
            f"How did the {seg} segment's operating margin at {co} move between {y1} and {y2}, "
            "in percentage points?",
        ],
        answers,
        [e1, e2],
        "chart",
        "multi-hop",
    )


def m_bridge(
    b: QuestionBuilder, c: Company, rng: random.Random, years: Sequence[int], world: World
) -> Draft | None:
    """Identify the company from a profile fact, then read its total revenue in the tables."""
    y = rng.choice(years)
    overview, financials = b.page(c, y, "overview"), b.page(c, y, "financials")
    key = rng.choice(("hq", "ceo", "ticker"))
    value = b.text(overview, key)
    others = [b.text(b.page(o, y, "overview"), key) for o in world.companies if o is not c]
    if value in others:
        return None
    e1, e2 = b.evidence(overview, key), b.evidence(financials, "rev:Total:FY")
    subject = {
        "hq": f"the company headquartered in {value}",
        "ceo": f"the company whose chief executive in {y} was {value}",
        "ticker": f"the company listed under the ticker {value}",
    }[key]
    return b.make(
        rng,
        f"multi.bridge_{key}",
        [
            f"What was the total {y} revenue, in USD million, of {subject}?",
            f"How much revenue did {subject} report for fiscal year {y}?",
        ],
        [e2.text, f"{e2.text} million", f"USD {e2.text} million"],
        [e1, e2],
        "table",
        "multi-hop",
    )


def m_headcount_gap(
    b: QuestionBuilder, c: Company, rng: random.Random, years: Sequence[int], world: World
) -> Draft | None:
    """Difference in headcount between two companies in the same year."""
    peers = [o for o in world.companies if o is not c and "employees" in o.callouts]
    if "employees" not in c.callouts or not peers:
        return None
    other, y = rng.choice(peers), rng.choice(years)
    big, small = sorted((c, other), key=lambda x: x.years[y].employees, reverse=True)
    e1 = b.evidence(b.page(big, y, "glance"), "big:employees")
    e2 = b.evidence(b.page(small, y, "glance"), "big:employees")
    gap = int(plain_number(e1.text)) - int(plain_number(e2.text))
    if gap <= 0:
        return None
    a, s = company_ref(rng, big), company_ref(rng, small)
    return b.make(
        rng,
        "multi.headcount_gap",
        [
            f"How many more employees did {a} have than {s} at the end of {y}?",
            f"At the end of {y}, by how many full-time equivalents did {a}'s workforce exceed "
            f"{s}'s?",
        ],
        [f"{gap:,}", str(gap)],
        [e1, e2],
        "text",
        "multi-hop",
    )


def m_cash_flow_change(
    b: QuestionBuilder, c: Company, rng: random.Random, years: Sequence[int]
) -> Draft | None:
    """Change of free cash flow between two results decks."""
    y2 = rng.choice(years[1:])
    y1 = rng.choice([y for y in years if y < y2])
    e1, e2 = (b.evidence(b.page(c, y, "highlights"), "fcf") for y in (y1, y2))
    diff = printed_difference(e1.text, e2.text)
    co = company_ref(rng, c)
    return b.make(
        rng,
        "multi.cash_flow_change",
        [
            f"By how much did {co}'s free cash flow change from {y1} to {y2}, in USD million?",
            f"How much more or less free cash flow did {co} generate in {y2} than in {y1}?",
        ],
        [*signed_variants(diff), *(f"{d} million" for d in signed_variants(diff))],
        [e1, e2],
        "slide",
        "multi-hop",
    )


MULTI_HOP_CYCLE = (
    "revenue",
    "margin",
    "bridge",
    "revenue",
    "headcount",
    "margin",
    "cash",
    "revenue",
    "bridge",
    "margin",
    "revenue",
    "cash",
    "headcount",
    "margin",
    "revenue",
    "bridge",
)
