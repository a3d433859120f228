"""Single-hop question templates over annual-report pages: tables, charts, overview, infographic.

Each template draws its specifics (region, quarter, segment, ...) from the page's random stream and
returns a :class:`~vrag_env.corpora.synthetic.drafting.Draft`, or ``None`` when the page offers no
unambiguous answer (a tie for "highest") or every paraphrase would leak the answer.
"""

from __future__ import annotations

import random

from vrag_env.corpora.synthetic.documents import PagePlan
from vrag_env.corpora.synthetic.drafting import (
    QUARTERS,
    Draft,
    QuestionBuilder,
    company_ref,
    plain_number,
    quarter_phrase,
    region_ref,
    unique_extreme,
)
from vrag_env.corpora.synthetic.report_pages import region_growth
from vrag_env.corpora.synthetic.world import MONTH_NAMES, MONTHS, OPEX_CATEGORIES

# ---------------------------------------------------------------- financial review (tables)


def q_revenue_quarter(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """A quarterly revenue cell."""
    c, y = p.company, p.year
    region, q = rng.choice(c.regions), rng.randrange(4)
    ev = b.evidence(p, f"rev:{region}:{QUARTERS[q]}")
    co, when, where = company_ref(rng, c), quarter_phrase(rng, q, y), region_ref(region)
    return b.make(
        rng,
        "table.revenue_quarter",
        [
            f"What was {co}'s revenue from {where} in {when}?",
            f"How much revenue did {co} report for {where} in {when}, in USD million?",
            f"In {when}, what revenue did {co} record in {where}?",
            f"According to {co}'s {y} annual report, what was {region} revenue in {QUARTERS[q]}?",
        ],
        [ev.text, f"{ev.text} million", f"USD {ev.text} million"],
        [ev],
        "table",
    )


def q_opex_quarter(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """A quarterly operating-expense cell."""
    c, y = p.company, p.year
    cat, q = rng.choice(OPEX_CATEGORIES), rng.randrange(4)
    ev = b.evidence(p, f"opex:{cat}:{QUARTERS[q]}")
    co, when, what = company_ref(rng, c), quarter_phrase(rng, q, y), cat.lower()
    return b.make(
        rng,
        "table.opex_quarter",
        [
            f"What did {co} spend on {what} in {when}?",
            f"How much were {co}'s {what} expenses in {when}, in USD million?",
            f"What were {co}'s {what} costs in {when}?",
        ],
        [ev.text, f"{ev.text} million", f"USD {ev.text} million"],
        [ev],
        "table",
    )


def q_revenue_year(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """A full-year revenue cell, current or prior year column."""
    c, y = p.company, p.year
    region = rng.choice(c.regions)
    co, where = company_ref(rng, c), region_ref(region)
    if rng.random() < 0.35:
        ev = b.evidence(p, f"rev:{region}:PY")
        paraphrases = [
            f"In its {y} annual report, what full-year {y - 1} revenue did {co} show for {where}?",
            f"What prior-year revenue from {where} is given in {co}'s {y} annual report?",
        ]
    else:
        ev = b.evidence(p, f"rev:{region}:FY")
        paraphrases = [
            f"What was {co}'s full-year {y} revenue from {where}?",
            f"How much revenue did {co} generate in {where} over fiscal year {y}?",
            f"What revenue did {where} contribute to {co} in {y}, in USD million?",
        ]
    return b.make(
        rng,
        "table.revenue_year",
        paraphrases,
        [ev.text, f"{ev.text} million", f"USD {ev.text} million"],
        [ev],
        "table",
    )


def q_opex_year(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """A full-year operating-expense cell."""
    c, y = p.company, p.year
    cat = rng.choice(OPEX_CATEGORIES)
    ev = b.evidence(p, f"opex:{cat}:FY")
    co, what = company_ref(rng, c), cat.lower()
    return b.make(
        rng,
        "table.opex_year",
        [
            f"How much did {co} spend on {what} in fiscal year {y}?",
            f"What were {co}'s full-year {y} {what} expenses?",
        ],
        [ev.text, f"{ev.text} million", f"USD {ev.text} million"],
        [ev],
        "table",
    )


def q_totals(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """A table's full-year total."""
    c, y = p.company, p.year
    co = company_ref(rng, c)
    if rng.random() < 0.5:
        ev = b.evidence(p, "rev:Total:FY")
        paraphrases = [
            f"What was {co}'s total revenue for fiscal year {y}?",
            f"How much revenue did {co} generate in {y} across all regions?",
        ]
    else:
        ev = b.evidence(p, "opex:Total:FY")
        paraphrases = [
            f"What were {co}'s total operating expenses in {y}?",
            f"How much did {co}'s operating expenses add up to over fiscal year {y}?",
        ]
    return b.make(
        rng,
        "table.total",
        paraphrases,
        [ev.text, f"{ev.text} million", f"USD {ev.text} million"],
        [ev],
        "table",
    )


def q_fx(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """The exchange rate in the table notes."""
    c, y = p.company, p.year
    ev = b.evidence(p, "fx")
    co, cur = company_ref(rng, c), c.currency
    return b.make(
        rng,
        "text.fx_rate",
        [
            f"What average {cur}/USD exchange rate did {co} use to translate its {y} figures?",
            f"At what average {cur}/USD rate were {co}'s {y} amounts translated into USD?",
        ],
        [ev.text],
        [ev],
        "text",
    )


def q_region_text(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """Best or worst region, as stated in the financial review's prose."""
    c, y = p.company, p.year
    growth = region_growth(p)
    highest = rng.random() < 0.5
    if unique_extreme(growth, highest) is None:
        return None
    ev = b.evidence(p, "best_region" if highest else "worst_region")
    co = company_ref(rng, c)
    what = "the strongest growth" if highest else "the weakest performance"
    return b.make(
        rng,
        "text.region_growth",
        [
            f"According to {co}'s {y} financial review, which region showed {what}?",
            f"Which region delivered {what} for {co} in {y}?",
        ],
        [ev.text],
        [ev],
        "text",
    )


# ---------------------------------------------------------------- segment charts


def q_margin(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """A bar's value label."""
    c, y = p.company, p.year
    seg = rng.choice(c.segments)
    ev = b.evidence(p, f"margin:{seg}")
    co = company_ref(rng, c)
    return b.make(
        rng,
        "chart.segment_margin",
        [
            f"What operating margin did {co}'s {seg} segment achieve in {y}?",
            f"What was the {y} operating margin of the {seg} segment at {co}?",
            f"According to {co}'s segment chart for {y}, what was the operating margin of {seg}?",
        ],
        [ev.text, f"{ev.text}%"],
        [ev],
        "chart",
    )


def q_volume(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """A point's value label on the monthly line chart."""
    c, y = p.company, p.year
    m = rng.randrange(12)
    ev = b.evidence(p, f"volume:{m}")
    co, ind, month = company_ref(rng, c), c.industry, MONTH_NAMES[m]
    return b.make(
        rng,
        "chart.monthly_volume",
        [
            f"What was {co}'s {ind.volume_phrase} in {month} {y}, in {ind.volume_unit}?",
            f"According to the monthly chart in {co}'s {y} annual report, what figure was "
            f"recorded for {month}?",
            f"How high was {co}'s {ind.volume_phrase} in {month} {y}?",
        ],
        [ev.text, f"{ev.text} {ind.volume_unit}", f"{ev.text} {ind.volume_unit.removesuffix('s')}"],
        [ev],
        "chart",
    )


def q_extreme_segment(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """Which segment has the highest or lowest bar (read from the category labels)."""
    c, y = p.company, p.year
    highest = rng.random() < 0.6
    seg = unique_extreme(c.years[y].margins, highest)
    if seg is None:
        return None
    ev = b.evidence(p, f"segment:{seg}")
    co, word = company_ref(rng, c), "highest" if highest else "lowest"
    return b.make(
        rng,
        "chart.extreme_segment",
        [
            f"Which segment of {co} had the {word} operating margin in {y}?",
            f"In {y}, which of {co}'s segments reported the {word} operating margin?",
        ],
        [ev.text],
        [ev],
        "chart",
    )


def q_extreme_month(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """The month of the peak or trough of the line chart (read from the month labels)."""
    c, y = p.company, p.year
    highest = rng.random() < 0.6
    m = unique_extreme({str(i): v for i, v in enumerate(c.years[y].volume)}, highest)
    if m is None:
        return None
    ev = b.evidence(p, f"month:{m}")
    co, phrase = company_ref(rng, c), c.industry.volume_phrase
    word = "peak" if highest else "reach its lowest level"
    return b.make(
        rng,
        "chart.extreme_month",
        [
            f"In which month of {y} did {co}'s {phrase} {word}?",
            f"Which month of {y} saw {co}'s {'highest' if highest else 'lowest'} {phrase}?",
        ],
        [ev.text, MONTH_NAMES[MONTHS.index(ev.text)]],
        [ev],
        "chart",
    )


# ---------------------------------------------------------------- overview page


def q_overview(b: QuestionBuilder, p: PagePlan, rng: random.Random, key: str) -> Draft | None:
    """A fact of the overview page.

    ``key`` is a profile fact (``hq``, ``founded``, ``sites``, ``ticker``, ``ceo``) or a governance
    note in small print (``auditor``, ``approved``).
    """
    c, y = p.company, p.year
    ev = b.evidence(p, key)
    co = company_ref(rng, c)
    answers = [ev.text]
    paraphrases = {
        "hq": [
            f"Where is {co} headquartered, according to its {y} annual report?",
            f"In which city did {co} have its headquarters in {y}?",
        ],
        "founded": [
            f"According to the {y} annual report, in which year was {co} founded?",
            f"When was {co} founded, as stated in its {y} annual report?",
        ],
        "sites": [
            f"How many sites did {co} operate in {y}?",
            f"According to its {y} annual report, how many sites does {co} run?",
        ],
        "ticker": [
            f"Under which ticker are {co}'s shares listed, according to its {y} annual report?",
            f"What stock ticker does {co} give in its {y} annual report?",
        ],
        "ceo": [
            f"Who signed the chief executive's letter in {co}'s {y} annual report?",
            f"Who was {co}'s chief executive officer at the time of its {y} annual report?",
        ],
        "auditor": [
            f"Which firm audited {co}'s {y} financial statements?",
            f"Who audited the consolidated financial statements of {co} for {y}?",
        ],
        "approved": [
            f"On what date did the board approve {co}'s {y} annual report?",
            f"When was {co}'s annual report for {y} approved by its directors?",
        ],
    }[key]
    if key == "auditor":
        answers.append(ev.text.removesuffix(" LLP").removesuffix(" & Co"))
    return b.make(rng, f"text.{key}", paraphrases, answers, [ev], "text")


# ---------------------------------------------------------------- at-a-glance page

BIG_QUESTIONS: dict[str, tuple[str, ...]] = {
    "employees": (
        "How many employees (full-time equivalents) did {co} have at the end of {y}?",
        "What was {co}'s headcount in full-time equivalents at the end of {y}?",
    ),
    "countries": (
        "In how many countries did {co} operate in {y}?",
        "How many countries did {co} have operations in at the end of {y}?",
    ),
    "customers": (
        "How many business customers did {co} serve in {y}?",
        "What number of business customers did {co} report for {y}?",
    ),
    "renewable": (
        "What share of {co}'s electricity came from renewable sources in {y}?",
        "What percentage of its electricity did {co} source from renewables in {y}?",
    ),
    "women": (
        "What percentage of leadership roles at {co} were held by women in {y}?",
        "What share of {co}'s leadership positions did women hold in {y}?",
    ),
    "rnd": (
        "What share of its revenue did {co} invest in research and development in {y}?",
        "What percentage of revenue did {co} spend on research and development in {y}?",
    ),
    "safety": (
        "What was {co}'s lost-time injury frequency rate in {y}?",
        "Which lost-time injury frequency rate did {co} record for {y}?",
    ),
}
CAPTION_QUESTIONS: dict[str, tuple[str, ...]] = {
    "employees": (
        "According to {co}'s {y} at-a-glance page, how many employees did it have a year earlier?",
        "What prior-year headcount does {co}'s {y} at-a-glance page compare against?",
    ),
    "countries": (
        "In how many cities did {co} have sales offices in {y}?",
        "How many cities hosted {co} sales offices in {y}?",
    ),
    "customers": (
        "What was the average length of {co}'s customer relationships in {y}, in years?",
        "How many years did {co}'s business customer relationships last on average in {y}?",
    ),
    "renewable": (
        "What renewable electricity target does {co} state in its {y} annual report?",
        "What share of renewable electricity is {co} targeting, per its {y} at-a-glance page?",
    ),
    "women": (
        "How many managers at director level and above does {co}'s {y} gender figure cover?",
        "On how many senior managers is {co}'s {y} share of women in leadership based?",
    ),
    "rnd": (
        "How much did {co} invest in research and development in {y}, in USD million?",
        "What was {co}'s total research and development spending in {y}?",
    ),
    "safety": (
        "Against which previous-year injury rate did {co} compare its {y} figure?",
        "What lost-time injury frequency rate for the prior year does {co}'s {y} report show?",
    ),
}


def q_glance(
    b: QuestionBuilder, p: PagePlan, rng: random.Random, kind: str, caption: bool
) -> Draft | None:
    """A big number (legible) or a caption figure (small print) of the at-a-glance page."""
    c, y = p.company, p.year
    ev = b.evidence(p, f"{'cap' if caption else 'big'}:{kind}")
    co = company_ref(rng, c)
    table = CAPTION_QUESTIONS if caption else BIG_QUESTIONS
    answers = [ev.text, plain_number(ev.text), ev.text.rstrip("%")]
    if caption and kind == "rnd":
        answers.append(f"USD {ev.text} million")
    paraphrases = [t.format(co=co, y=y) for t in table[kind]]
    template = f"text.glance_{'caption' if caption else 'number'}"
    return b.make(rng, template, paraphrases, answers, [ev], "text")
