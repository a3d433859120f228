"""Questions over the rendered pages, from templates with several paraphrases each.

Answers and evidence come from the anchors the renderers recorded, i.e. from the exact printed text
and its box, so every single-hop answer is printed on its reference page. Multi-hop answers are
computed exactly (integer tenths) from operands printed on two pages.

Rules every question obeys (the tests check them):

* no answer string occurs in the question (normalised, case-insensitive); a paraphrase that would
  leak it is skipped, and a template with no clean paraphrase is dropped;
* ``small_print`` is true iff every evidence box is below
  :data:`~vrag_env.rendering.LEGIBLE_PX` in the whole-page view computed by
  :func:`~vrag_env.rendering.fit_view`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from vrag_env.corpora.synthetic.canvas import Anchor
from vrag_env.corpora.synthetic.config import SyntheticConfig
from vrag_env.corpora.synthetic.documents import DocumentPlan, PagePlan
from vrag_env.corpora.synthetic.report_pages import region_growth
from vrag_env.corpora.synthetic.world import (
    MONTH_NAMES,
    MONTHS,
    OPEX_CATEGORIES,
    QUARTERS,
    Company,
    World,
    derive_rng,
    fmt_tenths,
)
from vrag_env.rendering import LEGIBLE_PX, fit_view
from vrag_env.types import SPLITS, Evidence, Query

QUARTER_WORDS = ("first", "second", "third", "fourth")
_S_POSSESSIVE = re.compile(r"(?<=\w)s's\b")


def normalise(text: str) -> str:
    """Lower-case and collapse whitespace (the form the leak check compares)."""
    return " ".join(text.lower().split())


def leaks(question: str, answers: Sequence[str]) -> bool:
    """Whether any answer occurs in the question (normalised, case-insensitive)."""
    q = normalise(question)
    return any(normalise(a) in q for a in answers)


@dataclass(frozen=True)
class Draft:
    """A question before uid and split are assigned."""

    template: str
    question: str
    answers: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    source_type: str
    query_type: str


class QuestionBuilder:
    """Builds drafts from page anchors.

    Args:
        plans: Every document of the corpus.
        anchors: Page id -> anchor key -> printed span, from rendering.
    """

    def __init__(
        self, plans: Sequence[DocumentPlan], anchors: dict[str, dict[str, Anchor]]
    ) -> None:
        self.anchors = anchors
        self.pages: dict[str, PagePlan] = {}
        self.by_role: dict[tuple[str, int, str], PagePlan] = {}
        for doc in plans:
            for page in doc.pages:
                self.pages[page.page_id] = page
                if page.role != "form":
                    self.by_role[(page.company.key, page.year, page.role)] = page
        self.seen: set[str] = set()

    def page(self, company: Company, year: int, role: str) -> PagePlan:
        """The page with ``role`` in ``company``'s documents for ``year``."""
        return self.by_role[(company.key, year, role)]

    def evidence(self, page: PagePlan, key: str) -> Evidence:
        """The evidence for anchor ``key`` on ``page``."""
        anchor = self.anchors[page.page_id][key]
        return Evidence(page.page_id, anchor.box, anchor.text)

    def text(self, page: PagePlan, key: str) -> str:
        """The printed text of anchor ``key`` on ``page``."""
        return self.anchors[page.page_id][key].text

    def has(self, page: PagePlan, key: str) -> bool:
        """Whether ``page`` has anchor ``key``."""
        return key in self.anchors[page.page_id]

    def make(
        self,
        rng: random.Random,
        template: str,
        paraphrases: Sequence[str],
        answers: Sequence[str],
        evidence: Sequence[Evidence],
        source_type: str,
        query_type: str = "single-hop",
    ) -> Draft | None:
        """Pick a paraphrase that does not leak an answer; ``None`` if none qualifies or the
        question was already asked."""
        answers = tuple(dict.fromkeys(a for a in answers if a))
        # One question per fact: the same template over the same printed operands is a repeat.
        fact = repr((template, [(e.page_id, e.box) for e in evidence]))
        if fact in self.seen:
            return None
        start = rng.randrange(len(paraphrases))
        for i in range(len(paraphrases)):
            question = paraphrases[(start + i) % len(paraphrases)]
            # Possessive of a name ending in "s" ("Juniper Systems'"), then sentence case.
            question = _S_POSSESSIVE.sub("s'", question)
            question = question[0].upper() + question[1:]
            if leaks(question, answers):
                continue
            self.seen.add(fact)
            return Draft(template, question, answers, tuple(evidence), source_type, query_type)
        return None


def _co(rng: random.Random, company: Company) -> str:
    # Questions name the company either way, as people do; pages print both forms.
    return company.full_name if rng.random() < 0.4 else company.name


def _plain(number: str) -> str:
    return number.replace(",", "")


def _diff(a: str, b: str) -> str:
    """``b - a`` for printed one-decimal numbers, printed the same way."""
    value = Decimal(_plain(b).rstrip("%")) - Decimal(_plain(a).rstrip("%"))
    return fmt_tenths(int(value * 10))


def _signed(diff: str) -> list[str]:
    return [diff, f"+{diff}"] if not diff.startswith("-") else [diff]


def _quarter(rng: random.Random, q: int, year: int) -> str:
    options = (f"{QUARTERS[q]} {year}", f"the {QUARTER_WORDS[q]} quarter of {year}")
    return rng.choice(options)


def _unique_extreme(values: dict[str, int], highest: bool) -> str | None:
    target = max(values.values()) if highest else min(values.values())
    keys = [k for k, v in values.items() if v == target]
    return keys[0] if len(keys) == 1 else None


Slot = Callable[[QuestionBuilder, PagePlan, random.Random], "Draft | None"]


# ---------------------------------------------------------------- financial review (tables)


def q_revenue_quarter(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """A quarterly revenue cell."""
    c, y = p.company, p.year
    region, q = rng.choice(c.regions), rng.randrange(4)
    ev = b.evidence(p, f"rev:{region}:{QUARTERS[q]}")
    co, when = _co(rng, c), _quarter(rng, q, y)
    return b.make(
        rng, "table.revenue_quarter",
        [
            f"What was {co}'s revenue from {region} in {when}?",
            f"How much revenue did {co} report for {region} in {when}, in USD million?",
            f"In {when}, what revenue did {co} record in {region}?",
            f"According to {co}'s {y} annual report, what was {region} revenue in {QUARTERS[q]}?",
        ],
        [ev.text, f"{ev.text} million", f"USD {ev.text} million"], [ev], "table",
    )  # fmt: skip


def q_opex_quarter(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """A quarterly operating-expense cell."""
    c, y = p.company, p.year
    cat, q = rng.choice(OPEX_CATEGORIES), rng.randrange(4)
    ev = b.evidence(p, f"opex:{cat}:{QUARTERS[q]}")
    co, when, what = _co(rng, c), _quarter(rng, q, y), cat.lower()
    return b.make(
        rng, "table.opex_quarter",
        [
            f"What did {co} spend on {what} in {when}?",
            f"How much were {co}'s {what} expenses in {when}, in USD million?",
            f"What were {co}'s {what} costs in {when}?",
        ],
        [ev.text, f"{ev.text} million", f"USD {ev.text} million"], [ev], "table",
    )  # fmt: skip


def q_revenue_year(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """A full-year revenue cell, current or prior year column."""
    c, y = p.company, p.year
    region = rng.choice(c.regions)
    co = _co(rng, c)
    if rng.random() < 0.35:
        ev = b.evidence(p, f"rev:{region}:PY")
        paraphrases = [
            f"In its {y} annual report, what full-year {y - 1} revenue did {co} show for {region}?",
            f"What prior-year revenue from {region} is given in {co}'s {y} annual report?",
        ]
    else:
        ev = b.evidence(p, f"rev:{region}:FY")
        paraphrases = [
            f"What was {co}'s full-year {y} revenue from {region}?",
            f"How much revenue did {co} generate in {region} over fiscal year {y}?",
            f"What revenue did {region} contribute to {co} in {y}, in USD million?",
        ]
    return b.make(
        rng, "table.revenue_year", paraphrases,
        [ev.text, f"{ev.text} million", f"USD {ev.text} million"], [ev], "table",
    )  # fmt: skip


def q_opex_year(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """A full-year operating-expense cell."""
    c, y = p.company, p.year
    cat = rng.choice(OPEX_CATEGORIES)
    ev = b.evidence(p, f"opex:{cat}:FY")
    co, what = _co(rng, c), cat.lower()
    return b.make(
        rng, "table.opex_year",
        [
            f"How much did {co} spend on {what} in fiscal year {y}?",
            f"What were {co}'s full-year {y} {what} expenses?",
        ],
        [ev.text, f"{ev.text} million", f"USD {ev.text} million"], [ev], "table",
    )  # fmt: skip


def q_totals(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """A table's full-year total."""
    c, y = p.company, p.year
    co = _co(rng, c)
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
        rng, "table.total", paraphrases,
        [ev.text, f"{ev.text} million", f"USD {ev.text} million"], [ev], "table",
    )  # fmt: skip


def q_fx(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """The exchange rate in the table notes."""
    c, y = p.company, p.year
    ev = b.evidence(p, "fx")
    co, cur = _co(rng, c), c.currency
    return b.make(
        rng, "text.fx_rate",
        [
            f"What average {cur}/USD exchange rate did {co} use to translate its {y} figures?",
            f"At what average {cur}/USD rate were {co}'s {y} amounts translated into USD?",
        ],
        [ev.text], [ev], "text",
    )  # fmt: skip


def q_region_text(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """Best or worst region, as stated in the financial review's prose."""
    c, y = p.company, p.year
    growth = region_growth(p)
    highest = rng.random() < 0.5
    if _unique_extreme(growth, highest) is None:
        return None
    ev = b.evidence(p, "best_region" if highest else "worst_region")
    co = _co(rng, c)
    what = "the strongest growth" if highest else "the weakest performance"
    return b.make(
        rng, "text.region_growth",
        [
            f"According to {co}'s {y} financial review, which region showed {what}?",
            f"Which region delivered {what} for {co} in {y}?",
        ],
        [ev.text], [ev], "text",
    )  # fmt: skip


# ---------------------------------------------------------------- segment charts


def q_margin(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """A bar's value label."""
    c, y = p.company, p.year
    seg = rng.choice(c.segments)
    ev = b.evidence(p, f"margin:{seg}")
    co = _co(rng, c)
    return b.make(
        rng, "chart.segment_margin",
        [
            f"What operating margin did {co}'s {seg} segment achieve in {y}?",
            f"What was the {y} operating margin of the {seg} segment at {co}?",
            f"According to {co}'s segment chart for {y}, what was the operating margin of {seg}?",
        ],
        [ev.text, f"{ev.text}%"], [ev], "chart",
    )  # fmt: skip


def q_volume(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """A point's value label on the monthly line chart."""
    c, y = p.company, p.year
    m = rng.randrange(12)
    ev = b.evidence(p, f"volume:{m}")
    co, ind, month = _co(rng, c), c.industry, MONTH_NAMES[m]
    return b.make(
        rng, "chart.monthly_volume",
        [
            f"What was {co}'s {ind.volume_phrase} in {month} {y}, in {ind.volume_unit}?",
            f"According to the monthly chart in {co}'s {y} annual report, what figure was "
            f"recorded for {month}?",
            f"How high was {co}'s {ind.volume_phrase} in {month} {y}?",
        ],
        [ev.text, f"{ev.text} {ind.volume_unit}", f"{ev.text} {ind.volume_unit.removesuffix('s')}"],
        [ev], "chart",
    )  # fmt: skip


def q_extreme_segment(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """Which segment has the highest or lowest bar (read from the category labels)."""
    c, y = p.company, p.year
    highest = rng.random() < 0.6
    seg = _unique_extreme(c.years[y].margins, highest)
    if seg is None:
        return None
    ev = b.evidence(p, f"segment:{seg}")
    co, word = _co(rng, c), "highest" if highest else "lowest"
    return b.make(
        rng, "chart.extreme_segment",
        [
            f"Which segment of {co} had the {word} operating margin in {y}?",
            f"In {y}, which of {co}'s segments reported the {word} operating margin?",
        ],
        [ev.text], [ev], "chart",
    )  # fmt: skip


def q_extreme_month(b: QuestionBuilder, p: PagePlan, rng: random.Random) -> Draft | None:
    """The month of the peak or trough of the line chart (read from the month labels)."""
    c, y = p.company, p.year
    highest = rng.random() < 0.6
    m = _unique_extreme({str(i): v for i, v in enumerate(c.years[y].volume)}, highest)
    if m is None:
        return None
    ev = b.evidence(p, f"month:{m}")
    co, phrase = _co(rng, c), c.industry.volume_phrase
    word = "peak" if highest else "reach its lowest level"
    return b.make(
        rng, "chart.extreme_month",
        [
            f"In which month of {y} did {co}'s {phrase} {word}?",
            f"Which month of {y} saw {co}'s {'highest' if highest else 'lowest'} {phrase}?",
        ],
        [ev.text, MONTH_NAMES[MONTHS.index(ev.text)]], [ev], "chart",
    )  # fmt: skip


# ---------------------------------------------------------------- overview page


def q_overview(b: QuestionBuilder, p: PagePlan, rng: random.Random, key: str) -> Draft | None:
    """One profile fact (``hq``, ``founded``, ``sites``, ``ticker``, ``ceo``) or governance note
    (``auditor``, ``approved``) of the overview page."""
    c, y = p.company, p.year
    ev = b.evidence(p, key)
    co = _co(rng, c)
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
    co = _co(rng, c)
    table = CAPTION_QUESTIONS if caption else BIG_QUESTIONS
    answers = [ev.text, _plain(ev.text), ev.text.rstrip("%")]
    if caption and kind == "rnd":
        answers.append(f"USD {ev.text} million")
    paraphrases = [t.format(co=co, y=y) for t in table[kind]]
    template = f"text.glance_{'caption' if caption else 'number'}"
    return b.make(rng, template, paraphrases, answers, [ev], "text")


# ---------------------------------------------------------------- results slides


def q_slide(b: QuestionBuilder, p: PagePlan, rng: random.Random, key: str) -> Draft | None:
    """One fact of a results deck; ``key`` is an anchor of page ``p``."""
    c, y = p.company, p.year
    ev = b.evidence(p, key)
    co, nxt, t = _co(rng, c), y + 1, ev.text
    answers = [t]
    if key == "growth":
        verb = "grow" if int(c.years[y].deck["growth"]) >= 0 else "decline"
        paraphrases = [
            f"By what percentage did {co}'s revenue {verb} in {y}, according to its results "
            "presentation?",
            f"How much did {co}'s revenue {verb} year on year in {y}, in percent?",
        ]
        answers.append(t.rstrip("%"))
    elif key.startswith("segrev:"):
        seg = key.split(":", 1)[1]
        paraphrases = [
            f"What revenue did {co}'s {seg} segment generate in {y}, according to the results "
            "presentation?",
            f"How much revenue did the {seg} segment of {co} bring in during {y}?",
        ]
        answers += [f"{t} million", f"USD {t} million"]
    else:
        cur = c.currency
        paraphrases = {
            "date": [
                f"On what date did {co} present its full-year {y} results?",
                f"When was {co}'s investor presentation of its {y} results held?",
            ],
            "group_margin": [
                f"What group operating margin did {co} report for {y} in its results presentation?",
                f"What was {co}'s group operating margin in {y}?",
            ],
            "nps": [
                f"What net promoter score did {co} report for {y}?",
                f"Which net promoter score did {co} highlight in its {y} results?",
            ],
            "fcf": [
                f"How much free cash flow did {co} generate in {y}, in USD million?",
                f"What free cash flow did {co} report in its full-year {y} results?",
            ],
            "survey": [
                f"How many customers were surveyed for {co}'s {y} net promoter score?",
                f"What was the sample size of the customer survey behind {co}'s {y} net promoter "
                "score?",
            ],
            "guide": [
                f"What revenue growth does {co} expect for {nxt}?",
                f"What is {co}'s revenue growth guidance for {nxt}?",
            ],
            "capex": [
                f"How much capital expenditure does {co} plan for {nxt}, in USD million?",
                f"What capital expenditure range did {co} guide to for {nxt}?",
            ],
            "dividend": [
                f"What dividend per share did {co} propose with its full-year {y} results?",
                f"How large is the dividend per share {co} proposed for {y}?",
            ],
            "new_sites": [
                f"How many new sites does {co} plan to open in {nxt}?",
                f"According to its outlook for {nxt}, how many sites will {co} open?",
            ],
            "new_sites_region": [
                f"In which region does {co} plan to open new sites in {nxt}?",
                f"Where will {co}'s new sites planned for {nxt} be located?",
            ],
            "guide_fx": [
                f"What {cur}/USD exchange rate does {co}'s guidance for {nxt} assume?",
                f"Which average {cur}/USD rate underlies {co}'s {nxt} outlook?",
            ],
            "agm": [
                f"On what date will shareholders vote on the dividend {co} proposed for {y}?",
                f"When is the annual general meeting that approves {co}'s dividend for {y}?",
            ],
            "eliminations": [
                f"How much inter-segment revenue did {co} eliminate in its {y} segment review, in "
                "USD million?",
                f"What was the value of inter-segment sales eliminated by {co} in {y}?",
            ],
        }[key]
        if key in {"fcf", "eliminations", "capex"}:
            answers += [f"{t} million", f"USD {t} million"]
        elif key == "dividend":
            answers.append(f"USD {t}")
        elif key in {"group_margin", "guide"}:
            answers.append(t.rstrip("%"))
        elif key == "survey":
            answers.append(_plain(t))
    return b.make(rng, f"slide.{key.split(':')[0]}", paraphrases, answers, [ev], "slide")


SLIDE_SMALL = ("survey", "guide_fx", "agm", "eliminations")
SLIDE_LEGIBLE = (
    "date", "growth", "group_margin", "nps", "fcf", "guide", "capex", "dividend", "new_sites",
    "new_sites_region", "segrev",
)  # fmt: skip
SLIDE_OF_KEY = {
    "date": "title", "growth": "highlights", "group_margin": "highlights", "nps": "highlights",
    "fcf": "highlights", "survey": "highlights", "guide": "outlook", "capex": "outlook",
    "dividend": "outlook", "new_sites": "outlook", "new_sites_region": "outlook",
    "guide_fx": "outlook", "agm": "outlook", "segrev": "segments", "eliminations": "segments",
}  # fmt: skip


# ---------------------------------------------------------------- forms


def _form_ref(rng: random.Random, p: PagePlan) -> str:
    form = p.form
    assert form is not None  # form pages always carry their form (see documents.py)
    co = _co(rng, p.company)
    if form.kind == "supplier-registration":
        return rng.choice(
            (
                f"the supplier registration form of {form.subject}",
                f"{co}'s supplier registration form for {form.subject}",
            )
        )
    if form.kind == "expense-claim":
        return rng.choice(
            (
                f"the travel expense claim of {form.subject} at {co}",
                f"the expense claim {form.subject} submitted to {co}",
            )
        )
    return rng.choice(
        (
            f"the equipment loan request of {form.subject} at {co}",
            f"{form.subject}'s equipment loan request to {co}",
        )
    )


FORM_NOUNS = {
    "registration": "company registration number",
    "contact": "contact person",
    "phone": "telephone number",
    "email": "email address",
    "city": "supplier's city",
    "payment_terms": "agreed payment term",
    "invoice_currency": "invoice currency",
    "annual_spend": "estimated annual spend in USD",
    "supplier_id": "supplier ID",
    "approved_by": "name of the approver",
    "approved_on": "approval date",
    "risk": "risk rating",
    "employee_id": "employee ID",
    "department": "department",
    "cost_centre": "cost centre",
    "purpose": "stated purpose",
    "destination": "destination",
    "departure": "departure date",
    "return": "return date",
    "transport": "amount claimed for transport",
    "accommodation": "amount claimed for accommodation",
    "meals": "amount claimed for meals",
    "other": "amount claimed for other expenses",
    "total": "total amount claimed",
    "claim_no": "claim number",
    "paid_on": "payment date",
    "extension": "phone extension",
    "manager": "line manager",
    "item": "item borrowed",
    "asset_tag": "asset tag",
    "loan_start": "loan start date",
    "return_due": "return due date",
    "issued_by": "name of the person who issued the equipment",
    "condition": "condition of the equipment on issue",
    "store": "store the equipment was issued from",
}
"""How questions name each form field (the subject fields are never asked: they name the form)."""


def q_form(b: QuestionBuilder, p: PagePlan, rng: random.Random, key: str) -> Draft | None:
    """A form field (``field:...``), the ticked box (``checkbox``) or an office-use entry
    (``office:...``)."""
    form = p.form
    assert form is not None  # form pages always carry their form (see documents.py)
    ev = b.evidence(p, key)
    ref = _form_ref(rng, p)
    if key == "checkbox":
        label = form.checkbox[0].lower()
        paraphrases = [
            f"Which {label} option is ticked on {ref}?",
            f"What {label} was selected on {ref}?",
        ]
    else:
        section, name = key.split(":", 1)
        noun = FORM_NOUNS[name]
        where = "in the office-use box of" if section == "office" else "on"
        paraphrases = [
            f"What is the {noun} recorded {where} {ref}?",
            f"According to {ref}, what is the {noun}?",
        ]
    answers = [ev.text]
    if ev.text.replace(",", "").replace(".", "").isdigit():
        answers.append(_plain(ev.text))
    return b.make(rng, f"form.{key.split(':')[0]}", paraphrases, answers, [ev], "form")


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
    diff = _diff(e1.text, e2.text)
    co, qn = _co(rng, c), f"the {QUARTER_WORDS[q]} quarter"
    return b.make(
        rng, "multi.revenue_change",
        [
            f"By how much did {co}'s revenue from {region} in {qn} change between {y1} and {y2}, "
            "in USD million?",
            f"How much higher or lower was {co}'s {QUARTERS[q]} revenue in {region} in {y2} than "
            f"in {y1}?",
            f"What was the change in {co}'s {region} revenue from {QUARTERS[q]} {y1} to "
            f"{QUARTERS[q]} {y2}?",
        ],
        _signed(diff), [e1, e2], "table", "multi-hop",
    )  # fmt: skip


def m_margin_change(
    b: QuestionBuilder, c: Company, rng: random.Random, years: Sequence[int]
) -> Draft | None:
    """Change of one segment's operating margin between two years' charts."""
    y2 = rng.choice(years[1:])
    y1 = rng.choice([y for y in years if y < y2])
    seg = rng.choice(c.segments)
    e1, e2 = (b.evidence(b.page(c, y, "charts"), f"margin:{seg}") for y in (y1, y2))
    diff = _diff(e1.text, e2.text)
    co = _co(rng, c)
    answers = [a for d in _signed(diff) for a in (d, f"{d} percentage points", f"{d} pp")]
    return b.make(
        rng, "multi.margin_change",
        [
            f"By how many percentage points did the operating margin of {co}'s {seg} segment "
            f"change from {y1} to {y2}?",
            f"How did the {seg} segment's operating margin at {co} move between {y1} and {y2}, "
            "in percentage points?",
        ],
        answers, [e1, e2], "chart", "multi-hop",
    )  # fmt: skip


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
        rng, f"multi.bridge_{key}",
        [
            f"What was the total {y} revenue, in USD million, of {subject}?",
            f"How much revenue did {subject} report for fiscal year {y}?",
        ],
        [e2.text, f"{e2.text} million", f"USD {e2.text} million"], [e1, e2], "table", "multi-hop",
    )  # fmt: skip


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
    gap = int(_plain(e1.text)) - int(_plain(e2.text))
    if gap <= 0:
        return None
    a, s = _co(rng, big), _co(rng, small)
    return b.make(
        rng, "multi.headcount_gap",
        [
            f"How many more employees did {a} have than {s} at the end of {y}?",
            f"At the end of {y}, by how many full-time equivalents did {a}'s workforce exceed "
            f"{s}'s?",
        ],
        [f"{gap:,}", str(gap)], [e1, e2], "text", "multi-hop",
    )  # fmt: skip


def m_cash_flow_change(
    b: QuestionBuilder, c: Company, rng: random.Random, years: Sequence[int]
) -> Draft | None:
    """Change of free cash flow between two results decks."""
    y2 = rng.choice(years[1:])
    y1 = rng.choice([y for y in years if y < y2])
    e1, e2 = (b.evidence(b.page(c, y, "highlights"), "fcf") for y in (y1, y2))
    diff = _diff(e1.text, e2.text)
    co = _co(rng, c)
    return b.make(
        rng, "multi.cash_flow_change",
        [
            f"By how much did {co}'s free cash flow change from {y1} to {y2}, in USD million?",
            f"How much more or less free cash flow did {co} generate in {y2} than in {y1}?",
        ],
        [*_signed(diff), *(f"{d} million" for d in _signed(diff))], [e1, e2], "slide", "multi-hop",
    )  # fmt: skip


MULTI_HOP_CYCLE = (
    "revenue", "margin", "bridge", "revenue", "headcount", "margin", "cash", "revenue",
    "bridge", "margin", "revenue", "cash", "headcount", "margin", "revenue", "bridge",
)  # fmt: skip


# ---------------------------------------------------------------- per-page selection


def _take(
    rng: random.Random, n: int, slots: Sequence[Callable[[], Draft | None]]
) -> Iterator[Draft]:
    """Yield up to ``n`` drafts from ``slots`` in order, skipping those that produced nothing."""
    produced = 0
    for slot in slots:
        if produced >= n:
            return
        draft = slot()
        if draft is not None:
            produced += 1
            yield draft


def page_questions(b: QuestionBuilder, p: PagePlan, cfg: SyntheticConfig) -> list[Draft]:
    """The single-hop questions of one page (empty for pages without templates)."""
    rng = derive_rng(cfg.seed, "questions", p.page_id)
    slots: list[Callable[[], Draft | None]] = []

    def add(fn: Callable[..., Draft | None], *args: object, times: int = 1) -> None:
        for _ in range(times):
            slots.append(lambda: fn(b, p, rng, *args))

    if p.role == "financials":
        add(q_revenue_quarter, times=4)
        add(q_opex_quarter, times=3)
        for fn in (q_revenue_year, q_opex_year, q_totals, q_fx, q_region_text):
            add(fn)
        rng.shuffle(slots)
        add(q_revenue_quarter, times=4)  # spares, in case a draft is dropped
        return list(_take(rng, cfg.table_questions_per_page, slots))
    if p.role == "charts":
        add(q_margin, times=2)
        add(q_volume, times=2)
        add(q_extreme_segment)
        add(q_extreme_month)
        rng.shuffle(slots)
        add(q_volume, times=3)
        return list(_take(rng, cfg.chart_questions_per_page, slots))
    if p.role == "overview":
        small = rng.choice(("auditor", "approved"))
        legible = rng.sample(("hq", "founded", "sites", "ticker", "ceo"), 5)
        keys = [small, *legible, "approved" if small == "auditor" else "auditor"]
        for key in keys:
            add(q_overview, key)
        return list(_take(rng, cfg.text_questions_per_page, slots))
    if p.role == "glance":
        kinds = list(p.company.callouts)
        rng.shuffle(kinds)
        first_caption = rng.random() < 0.5
        for i, kind in enumerate(kinds):
            add(q_glance, kind, (i % 2 == 0) == first_caption)
        return list(_take(rng, cfg.text_questions_per_page, slots))
    if p.role == "form":
        form = p.form
        assert form is not None  # form pages always carry their form (see documents.py)
        office = [f"office:{k}" for k, _, _ in form.office]
        fields = [f"field:{k}" for _, fs in form.sections for k, _, _ in fs]
        fields.append("checkbox")
        rng.shuffle(office)
        rng.shuffle(fields)
        fields = [f for f in fields if f == "checkbox" or f.split(":")[1] in FORM_NOUNS]
        keys = [office[0], *fields[:2], *office[1:2], *fields[2:]]
        for key in keys:
            add(q_form, key)
        return list(_take(rng, cfg.form_questions_per_form, slots))
    return []


def deck_questions(b: QuestionBuilder, c: Company, year: int, cfg: SyntheticConfig) -> list[Draft]:
    """The single-hop questions of one results deck: one small-print footer fact first, then
    legible bullets."""
    rng = derive_rng(cfg.seed, "deck-questions", c.key, year)
    small = list(SLIDE_SMALL)
    legible = list(SLIDE_LEGIBLE)
    rng.shuffle(small)
    rng.shuffle(legible)
    keys = [small[0], *legible, *small[1:]]
    slots: list[Callable[[], Draft | None]] = []
    for key in keys:
        anchor = f"segrev:{rng.choice(c.segments)}" if key == "segrev" else key
        page = b.page(c, year, SLIDE_OF_KEY[key])
        slots.append(lambda page=page, anchor=anchor: q_slide(b, page, rng, anchor))  # type: ignore[misc]
    return list(_take(rng, cfg.slide_questions_per_deck, slots))


def multi_hop_questions(
    b: QuestionBuilder, c: Company, world: World, cfg: SyntheticConfig
) -> list[Draft]:
    """Two-page questions about one company (cycling through the multi-hop templates)."""
    rng = derive_rng(cfg.seed, "multi-hop", c.key)
    years = list(world.years)
    makers: dict[str, Callable[[], Draft | None]] = {
        "revenue": lambda: m_revenue_change(b, c, rng, years),
        "margin": lambda: m_margin_change(b, c, rng, years),
        "bridge": lambda: m_bridge(b, c, rng, years, world),
        "headcount": lambda: m_headcount_gap(b, c, rng, years, world),
        "cash": lambda: m_cash_flow_change(b, c, rng, years),
    }
    slots = [
        makers[MULTI_HOP_CYCLE[i % len(MULTI_HOP_CYCLE)]]
        for i in range(cfg.multi_hop_per_company * 3)
    ]
    return list(_take(rng, cfg.multi_hop_per_company, slots))


def is_small_print(evidence: Sequence[Evidence], sizes: dict[str, tuple[int, int]]) -> bool:
    """Whether every evidence box is illegible (below ``LEGIBLE_PX``) in its whole-page view."""
    for ev in evidence:
        width, height = sizes[ev.page_id]
        scale = fit_view((0.0, 0.0, float(width), float(height))).scale
        if (ev.box[3] - ev.box[1]) * scale >= LEGIBLE_PX:
            return False
    return True


def assign_splits(n: int, cfg: SyntheticConfig) -> list[str]:
    """A deterministic split per question with the configured fractions (rounded)."""
    train, val, _ = cfg.split_fractions
    n_train, n_val = round(n * train), round(n * val)
    labels = [SPLITS[0]] * n_train + [SPLITS[1]] * n_val + [SPLITS[2]] * (n - n_train - n_val)
    derive_rng(cfg.seed, "splits").shuffle(labels)
    return labels


def build_queries(
    cfg: SyntheticConfig,
    world: World,
    plans: Sequence[DocumentPlan],
    anchors: dict[str, dict[str, Anchor]],
) -> list[Query]:
    """Every question of the corpus, with uids ``synth-000000...`` in generation order."""
    b = QuestionBuilder(plans, anchors)
    drafts: list[Draft] = []
    for doc in plans:
        for page in doc.pages:
            drafts.extend(page_questions(b, page, cfg))
        first = doc.pages[0]
        if first.role == "title":
            drafts.extend(deck_questions(b, first.company, first.year, cfg))
    for company in world.companies:
        drafts.extend(multi_hop_questions(b, company, world, cfg))
    sizes = {pid: page.size for pid, page in b.pages.items()}
    splits = assign_splits(len(drafts), cfg)
    queries = []
    for i, (draft, split) in enumerate(zip(drafts, splits, strict=True)):
        refs = tuple(dict.fromkeys(ev.page_id for ev in draft.evidence))
        queries.append(
            Query(
                uid=f"synth-{i:06d}",
                question=draft.question,
                answers=draft.answers,
                reference_pages=refs,
                split=split,
                source_type=draft.source_type,
                query_type=draft.query_type,
                evidence=draft.evidence,
                small_print=is_small_print(draft.evidence, sizes),
                meta={"template": draft.template},
            )
        )
    return queries
