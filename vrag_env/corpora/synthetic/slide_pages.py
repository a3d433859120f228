"""Results slide decks (1600x900): title, highlights, outlook and segment review.

A whole slide is shown at scale 0.4 (width-bound), so a word box needs 25 px on the slide to be
legible: titles (48-64 px) and bullets (32 px) are; the source and disclaimer footers (14 px, box
17 px) are small print.
"""

from __future__ import annotations

from vrag_env.corpora.synthetic.canvas import SMALL_INK, Canvas, Span, tint
from vrag_env.corpora.synthetic.documents import PagePlan
from vrag_env.corpora.synthetic.world import MONTH_NAMES, fmt_date, fmt_hundredths, fmt_tenths

LEFT = 90
BULLET = 32
FOOTER = 8


def _frame(plan: PagePlan, title: str) -> Canvas:
    """A content slide: brand bar, title, and the deck's running label bottom right."""
    canvas = Canvas(1600, 900)
    company = plan.company
    canvas.rect((0, 0, 1600, 14), fill=company.color)
    canvas.text(LEFT, 60, title, canvas.font(48, bold=True), company.color)
    canvas.line([(LEFT, 830), (1600 - LEFT, 830)], fill=(200, 200, 200))
    canvas.text(
        1600 - LEFT,
        845,
        f"{company.name} FY{plan.year} results {plan.page}",
        canvas.font(FOOTER),
        SMALL_INK,
        align="right",
    )
    return canvas


def _bullets(
    canvas: Canvas, plan: PagePlan, items: list[list[Span]], width: float = 1380
) -> list[float]:
    """Draw bulleted items from the top of the content area; returns each item's top y."""
    font = canvas.font(BULLET)
    y = 200.0
    tops = []
    for spans in items:
        tops.append(y)
        size = 12
        top = y + (canvas.line_height(font) - size) / 2
        canvas.rect((LEFT, top, LEFT + size, top + size), fill=plan.company.color)
        y = canvas.paragraph(LEFT + 40, y, width, spans, font, leading=1.3) + 40
    return tops


def _footer(canvas: Canvas, spans: list[Span]) -> None:
    canvas.paragraph(LEFT, 845, 1150, spans, canvas.font(FOOTER), fill=SMALL_INK, leading=1.35)


def render_title(plan: PagePlan) -> Canvas:
    """Slide 1: company, "Full-year results", presentation date, disclaimer footer."""
    company = plan.company
    deck = company.years[plan.year].deck
    canvas = Canvas(1600, 900)
    canvas.rect((0, 0, 40, 900), fill=company.color)
    canvas.text(140, 250, company.full_name, canvas.font(64, bold=True), company.color)
    canvas.text(140, 350, f"Full-year {plan.year} results", canvas.font(44))
    date = fmt_date(int(deck["date_day"]), int(deck["date_month"]), plan.year + 1)
    canvas.paragraph(
        140, 440, 1300, [("Investor presentation,", None), (date, "date")], canvas.font(30)
    )
    canvas.paragraph(
        140,
        830,
        1360,
        [
            (
                f"{company.full_name} Investor Relations. This presentation contains forward-looking "
                "statements; see the disclaimer in the annual report.",
                None,
            )
        ],
        canvas.font(FOOTER),
        fill=SMALL_INK,
    )
    return canvas


def render_highlights(plan: PagePlan) -> Canvas:
    """Slide 2: four headline figures; the survey size sits in the source footer."""
    company = plan.company
    deck = company.years[plan.year].deck
    canvas = _frame(plan, f"Highlights of {plan.year}")
    growth = int(deck["growth"])
    _bullets(
        canvas,
        plan,
        [
            [
                (f"Revenue {'up' if growth >= 0 else 'down'}", None),
                (f"{fmt_tenths(abs(growth))}%", "growth"),
                ("year on year", None),
            ],
            [
                ("Group operating margin of", None),
                (f"{fmt_tenths(int(deck['group_margin']))}%", "group_margin"),
            ],
            [("Net promoter score of", None), (str(deck["nps"]), "nps")],
            [
                ("Free cash flow of USD", None),
                (fmt_tenths(int(deck["fcf"])), "fcf"),
                ("million", None),
            ],
        ],
    )
    _footer(
        canvas,
        [
            (
                f"Source: {company.name} management accounts. Net promoter score from a survey of",
                None,
            ),
            (f"{int(deck['survey']):,}", "survey"),
            (f"customers in {MONTH_NAMES[int(deck['survey_month']) - 1]} {plan.year}.", None),
        ],
    )
    return canvas


def render_outlook(plan: PagePlan) -> Canvas:
    """Slide 3: guidance for the next year; the assumptions sit in the footer."""
    company = plan.company
    deck = company.years[plan.year].deck
    canvas = _frame(plan, f"Outlook for {plan.year + 1}")
    _bullets(
        canvas,
        plan,
        [
            [
                ("Revenue growth of", None),
                (f"{deck['guide_low']}-{deck['guide_high']}%", "guide"),
                ("expected", None),
            ],
            [
                ("Capital expenditure of USD", None),
                (f"{deck['capex_low']}-{deck['capex_high']}", "capex"),
                ("million", None),
            ],
            [
                ("Proposed dividend of USD", None),
                (fmt_hundredths(int(deck["dividend"])), "dividend"),
                ("per share", None),
            ],
            [
                ("Opening", None),
                (str(deck["new_sites"]), "new_sites"),
                ("new sites in", None),
                (str(deck["new_sites_region"]), "new_sites_region"),
            ],
        ],
    )
    cur = company.currency
    agm = fmt_date(int(deck["agm_day"]), 5, plan.year + 1)
    _footer(
        canvas,
        [
            (f"Guidance assumes an average {cur}/USD rate of", None),
            (fmt_hundredths(int(deck["guide_fx"])), "guide_fx"),
            (
                "and excludes acquisitions. The dividend is subject to approval at the annual general "
                "meeting on",
                None,
            ),
            (agm, "agm"),
            (".", None),
        ],
    )
    return canvas


def render_segments(plan: PagePlan) -> Canvas:
    """Slide 4: revenue by segment; the elimination of inter-segment sales is in the footer."""
    company = plan.company
    data = company.years[plan.year]
    canvas = _frame(plan, "Segment review")
    tops = _bullets(
        canvas,
        plan,
        [
            [
                (f"{segment}: revenue of USD", None),
                (fmt_tenths(data.segment_revenue[segment]), f"segrev:{segment}"),
                ("million", None),
            ]
            for segment in company.segments
        ],
        width=900,
    )
    # An unlabelled bar per segment beside its bullet: the slide's visual, carrying no new text.
    largest = max(data.segment_revenue.values())
    height = canvas.line_height(canvas.font(BULLET))
    for segment, top in zip(company.segments, tops, strict=True):
        length = 400 * data.segment_revenue[segment] / largest
        canvas.rect(
            (1100, top + 4, 1100 + length, top + height - 4), fill=tint(company.color, 0.35)
        )
    _footer(
        canvas,
        [
            ("Segment revenue is shown after the elimination of inter-segment sales of USD", None),
            (fmt_tenths(int(data.deck["eliminations"])), "eliminations"),
            ("million.", None),
        ],
    )
    return canvas
