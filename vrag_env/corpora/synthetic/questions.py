"""Questions over the rendered pages, from templates with several paraphrases each.

Answers and evidence come from the anchors the renderers recorded, i.e. from the exact printed text
and its box, so every single-hop answer is printed on its reference page. Multi-hop answers are
computed exactly (integer tenths) from operands printed on two pages.

Rules every question obeys (the tests check them):

* no answer string occurs in the question (normalised, case-insensitive); a paraphrase that would
  leak it is skipped, and a template with no clean paraphrase is dropped;
* ``small_print`` is true iff every evidence box is below
  :data:`~vrag_env.rendering.LEGIBLE_PX` in the whole-page view computed by
  :func:`~vrag_env.rendering.fit_view` (a geometric hint only);
* ``needs_zoom`` is the label measured by OCR (:mod:`vrag_env.corpora.legibility`) and shipped in
  :mod:`~vrag_env.corpora.synthetic.labels`, ``None`` where it was not measured;
* the split is by company: all questions about a company share its split.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator, Sequence

from vrag_env.corpora.synthetic.canvas import Anchor
from vrag_env.corpora.synthetic.config import SyntheticConfig
from vrag_env.corpora.synthetic.documents import DocumentPlan, PagePlan, World
from vrag_env.corpora.synthetic.drafting import Draft, QuestionBuilder
from vrag_env.corpora.synthetic.form_questions import FORM_NOUNS, q_form
from vrag_env.corpora.synthetic.labels import needs_zoom_labels
from vrag_env.corpora.synthetic.multi_hop import (
    MULTI_HOP_CYCLE,
    m_bridge,
    m_cash_flow_change,
    m_headcount_gap,
    m_margin_change,
    m_revenue_change,
)
from vrag_env.corpora.synthetic.report_questions import (
    q_extreme_month,
    q_extreme_segment,
    q_fx,
    q_glance,
    q_margin,
    q_opex_quarter,
    q_opex_year,
    q_overview,
    q_region_text,
    q_revenue_quarter,
    q_revenue_year,
    q_totals,
    q_volume,
)
from vrag_env.corpora.synthetic.slide_questions import (
    SLIDE_LEGIBLE,
    SLIDE_OF_KEY,
    SLIDE_SMALL,
    q_slide,
)
from vrag_env.corpora.synthetic.world import Company, derive_rng
from vrag_env.rendering import LEGIBLE_PX, fit_view
from vrag_env.types import SPLITS, Evidence, Query

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
        form = p.form_data()
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
    """The single-hop questions of one results deck.

    One small-print footer fact comes first, then legible bullet facts.
    """
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
        slots.append(functools.partial(q_slide, b, page, rng, anchor))
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


def assign_splits(companies: Sequence[Company], cfg: SyntheticConfig) -> dict[str, str]:
    """A deterministic split per company (by key) with the configured fractions (rounded).

    With two or more companies, test always gets at least one and train keeps at least one.
    """
    n = len(companies)
    train, val, _ = cfg.split_fractions
    n_train, n_val = round(n * train), round(n * val)
    if n >= 2:
        n_train = min(max(n_train, 1), n - 1)
        n_val = min(n_val, n - 1 - n_train)
    labels = [SPLITS[0]] * n_train + [SPLITS[1]] * n_val + [SPLITS[2]] * (n - n_train - n_val)
    derive_rng(cfg.seed, "splits").shuffle(labels)
    return {c.key: label for c, label in zip(companies, labels, strict=True)}


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
    splits = assign_splits(world.companies, cfg)
    labels = needs_zoom_labels(cfg)
    queries = []
    for i, draft in enumerate(drafts):
        refs = tuple(dict.fromkeys(ev.page_id for ev in draft.evidence))
        split = splits[b.pages[refs[0]].company.key]
        uid = f"synth-{i:06d}"
        queries.append(
            Query(
                uid=uid,
                question=draft.question,
                answers=draft.answers,
                reference_pages=refs,
                split=split,
                source_type=draft.source_type,
                query_type=draft.query_type,
                evidence=draft.evidence,
                small_print=is_small_print(draft.evidence, sizes),
                needs_zoom=labels.get(uid),
                meta={"template": draft.template},
            )
        )
    return queries
