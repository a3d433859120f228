"""Drafting questions: the builder that turns printed anchors into checked question drafts.

Every template module uses :class:`QuestionBuilder`: answers and evidence come from the anchors the
renderers recorded (the exact printed text and its box), and :meth:`QuestionBuilder.make` picks a
paraphrase that does not contain any answer string, so no question gives its answer away.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from vrag_env.corpora.synthetic.canvas import Anchor
from vrag_env.corpora.synthetic.documents import DocumentPlan, PagePlan
from vrag_env.corpora.synthetic.world import QUARTERS, Company, fmt_tenths
from vrag_env.types import Evidence

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
        """Pick a paraphrase that does not leak an answer.

        Returns:
            The draft, or ``None`` if every paraphrase leaks an answer or the same template was
            already asked about the same printed operands.
        """
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


def company_ref(rng: random.Random, company: Company) -> str:
    """The company's short or full name (questions use both, as people do; pages print both)."""
    return company.full_name if rng.random() < 0.4 else company.name


def plain_number(number: str) -> str:
    """A printed number without thousands separators (an accepted answer variant)."""
    return number.replace(",", "")


def printed_difference(a: str, b: str) -> str:
    """``b - a`` for printed one-decimal numbers, printed the same way."""
    value = Decimal(plain_number(b).rstrip("%")) - Decimal(plain_number(a).rstrip("%"))
    return fmt_tenths(int(value * 10))


def signed_variants(diff: str) -> list[str]:
    """Accepted spellings of a printed difference: ``"3.1"`` and ``"+3.1"``; ``"-3.1"`` alone."""
    return [diff, f"+{diff}"] if not diff.startswith("-") else [diff]


def region_ref(region: str) -> str:
    """A region name as it reads after a preposition ("from the Middle East")."""
    return f"the {region}" if region == "Middle East" else region


def quarter_phrase(rng: random.Random, q: int, year: int) -> str:
    """``"Q3 2022"`` or ``"the third quarter of 2022"`` (the tables print only ``Q3``)."""
    options = (f"{QUARTERS[q]} {year}", f"the {QUARTER_WORDS[q]} quarter of {year}")
    return rng.choice(options)


def unique_extreme(values: dict[str, int], highest: bool) -> str | None:
    """The key of the largest (or smallest) value, or ``None`` on a tie."""
    target = max(values.values()) if highest else min(values.values())
    keys = [k for k, v in values.items() if v == target]
    return keys[0] if len(keys) == 1 else None
