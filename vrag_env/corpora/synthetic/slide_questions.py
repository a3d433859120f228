"""Single-hop question templates over results slide decks (bullets and small-print footers)."""

from __future__ import annotations

import random

from vrag_env.corpora.synthetic.documents import PagePlan
from vrag_env.corpora.synthetic.drafting import Draft, QuestionBuilder, company_ref, plain_number

# ---------------------------------------------------------------- results slides


# Long by design: the paraphrases of every deck fact side by side (one branch per anchor key), so
# that their wording and answers can be compared at a glance.
def q_slide(b: QuestionBuilder, p: PagePlan, rng: random.Random, key: str) -> Draft | None:
    """One fact of a results deck; ``key`` is an anchor of page ``p``."""
    c, y = p.company, p.year
    ev = b.evidence(p, key)
    co, nxt, t = company_ref(rng, c), y + 1, ev.text
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
            answers.append(plain_number(t))
    return b.make(rng, f"slide.{key.split(':')[0]}", paraphrases, answers, [ev], "slide")


SLIDE_SMALL = ("survey", "guide_fx", "agm", "eliminations")
SLIDE_LEGIBLE = (
    "date",
    "growth",
    "group_margin",
    "nps",
    "fcf",
    "guide",
    "capex",
    "dividend",
    "new_sites",
    "new_sites_region",
    "segrev",
)
SLIDE_OF_KEY = {
    "date": "title",
    "growth": "highlights",
    "group_margin": "highlights",
    "nps": "highlights",
    "fcf": "highlights",
    "survey": "highlights",
    "guide": "outlook",
    "capex": "outlook",
    "dividend": "outlook",
    "new_sites": "outlook",
    "new_sites_region": "outlook",
    "guide_fx": "outlook",
    "agm": "outlook",
    "segrev": "segments",
    "eliminations": "segments",
}
