"""Which documents the corpus holds and which pages each has.

Documents, in corpus order:

* ``{company}-annual-report-{year}``: overview (``report``), financial review with two dense tables
  (``report``), segment charts (``chart``), and an at-a-glance page (``infographic``);
* ``{company}-fy{year}-results``: a results slide deck (``slide``): title, highlights, outlook,
  segment review;
* ``{company}-{form-kind}-{nnn}``: one filled-in form (``form``).

Every company publishes the same documents every year with the same structure and vocabulary, so
many pages are near-duplicates that differ only in names, years and figures: finding the right page
needs the details of the question.
"""

from __future__ import annotations

from dataclasses import dataclass

from vrag_env.corpora.synthetic.config import SyntheticConfig
from vrag_env.corpora.synthetic.forms import FormData, build_form
from vrag_env.corpora.synthetic.world import COMPANY_NAMES, Company, build_company, derive_rng

REPORT_ROLES = (
    ("overview", "report"),
    ("financials", "report"),
    ("charts", "chart"),
    ("glance", "infographic"),
)
DECK_ROLES = (
    ("title", "slide"),
    ("highlights", "slide"),
    ("outlook", "slide"),
    ("segments", "slide"),
)

PORTRAIT = (1000, 1400)
"""Report and form page size (width, height) in pixels."""

LANDSCAPE = (1600, 900)
"""Slide size (width, height) in pixels."""


@dataclass(frozen=True)
class PagePlan:
    """What one page shows: enough for a renderer to draw it without other context.

    Attributes:
        page_id: ``{doc}_{page}``.
        doc: Document stem.
        page: 1-based page number.
        kind: Page kind stored in the corpus (``report``, ``chart``, ``slide``, ``infographic``,
            ``form``).
        role: Which renderer draws it (``overview``, ``financials``, ...).
        company: The company the page belongs to.
        year: The fiscal year it covers.
        seed: The corpus seed (wording variants are drawn from it).
        form: The form data, for form pages.
    """

    page_id: str
    doc: str
    page: int
    kind: str
    role: str
    company: Company
    year: int
    seed: int
    form: FormData | None = None

    def form_data(self) -> FormData:
        """The form of a form page.

        Raises:
            ValueError: If this is not a form page.
        """
        if self.form is None:
            raise ValueError(f"page {self.page_id} ({self.role}) carries no form")
        return self.form

    @property
    def size(self) -> tuple[int, int]:
        """Page size (width, height)."""
        return LANDSCAPE if self.kind == "slide" else PORTRAIT


@dataclass(frozen=True)
class DocumentPlan:
    """A document: its stem and its pages in order."""

    stem: str
    pages: tuple[PagePlan, ...]


@dataclass(frozen=True)
class World:
    """The companies and forms of one corpus."""

    companies: tuple[Company, ...]
    forms: tuple[FormData, ...]
    years: tuple[int, ...]


def build_world(cfg: SyntheticConfig) -> World:
    """Create the companies (with figures for every year) and forms of a config."""
    names = list(COMPANY_NAMES)
    derive_rng(cfg.seed, "companies").shuffle(names)
    chosen = sorted(names[: cfg.num_companies], key=COMPANY_NAMES.index)
    companies = tuple(build_company(cfg.seed, i, name, cfg.years) for i, name in enumerate(chosen))
    forms = tuple(
        build_form(cfg.seed, company, i, cfg.years)
        for company in companies
        for i in range(cfg.forms_per_company)
    )
    return World(companies=companies, forms=forms, years=cfg.years)


def _document(
    stem: str, roles: tuple[tuple[str, str], ...], company: Company, year: int, seed: int
) -> DocumentPlan:
    return DocumentPlan(
        stem,
        tuple(
            PagePlan(f"{stem}_{i}", stem, i, kind, role, company, year, seed)
            for i, (role, kind) in enumerate(roles, start=1)
        ),
    )


def plan_documents(world: World, seed: int) -> list[DocumentPlan]:
    """All documents of a world, in corpus order (by company, then year, then forms)."""
    plans: list[DocumentPlan] = []
    for company in world.companies:
        for year in world.years:
            plans.append(
                _document(f"{company.key}-annual-report-{year}", REPORT_ROLES, company, year, seed)
            )
            plans.append(
                _document(f"{company.key}-fy{year}-results", DECK_ROLES, company, year, seed)
            )
        for form in world.forms:
            if form.company is company:
                page = PagePlan(
                    f"{form.stem}_1", form.stem, 1, "form", "form", company, form.year, seed, form
                )
                plans.append(DocumentPlan(form.stem, (page,)))
    return plans
