"""Annual-report pages: overview, financial tables, segment charts and the at-a-glance infographic.

Type sizes are chosen against the whole-page view of a 1000x1400 page at the env's pixel budget
(512*28*28 pixels: scale about 0.535), and checked by OCR, not by a threshold
(:mod:`vrag_env.corpora.legibility`, ``python -m benchmarks.validity``):

* read at a glance: titles (34-40 px), headings (24 px), body text (22 px), infographic numbers
  (60 px);
* small print, which RapidOCR does not read on the whole page (about 4 view pixels) and reads on a
  crop (enlarged up to 2x): table cells and headers, chart value, tick and category labels, captions
  and notes (8-9 px).
"""

from __future__ import annotations

from vrag_env.corpora.synthetic.canvas import INK, SMALL_INK, Canvas, Span, tint
from vrag_env.corpora.synthetic.charts import bar_chart, line_chart
from vrag_env.corpora.synthetic.documents import PagePlan
from vrag_env.corpora.synthetic.world import (
    MONTH_NAMES,
    MONTHS,
    OPEX_CATEGORIES,
    QUARTERS,
    YearData,
    derive_rng,
    fmt_hundredths,
    fmt_tenths,
)

MARGIN = 60
TITLE = 34
HEADING = 24
BODY = 22
SMALL = 8
TINY = 8

BOILERPLATE = (
    "This report contains forward-looking statements that are subject to risks and "
    "uncertainties. Actual results may differ materially from those expressed or implied. "
    "Figures may not add up due to rounding."
)


def pct_change(current: int, previous: int) -> int:
    """Change from ``previous`` to ``current`` in tenths of a percent (0 if no previous value)."""
    return round((current - previous) * 1000 / previous) if previous else 0


def report_header(canvas: Canvas, plan: PagePlan, section: str) -> None:
    """Running header: document title on the left, section on the right, a rule below."""
    font = canvas.font(14)
    company = plan.company
    canvas.text(MARGIN, 34, f"{company.full_name} Annual Report {plan.year}", font, SMALL_INK)
    canvas.text(canvas.width - MARGIN, 34, section, font, SMALL_INK, align="right")
    canvas.line([(MARGIN, 62), (canvas.width - MARGIN, 62)], fill=company.color, width=2)


def report_footer(canvas: Canvas, plan: PagePlan) -> None:
    """Running footer: the shared legal boilerplate in small print and the page number."""
    font = canvas.font(TINY)
    top = canvas.height - 78
    canvas.line([(MARGIN, top - 10), (canvas.width - MARGIN, top - 10)], fill=(200, 200, 200))
    canvas.paragraph(
        MARGIN, top, canvas.width - 2 * MARGIN - 90, [(BOILERPLATE, None)], font, fill=SMALL_INK
    )
    canvas.text(canvas.width - MARGIN, top, f"Page {plan.page}", font, SMALL_INK, align="right")


def notes(canvas: Canvas, y: float, items: list[list[Span]]) -> float:
    """Numbered notes in small print; returns the y below them."""
    font = canvas.font(SMALL)
    canvas.text(MARGIN, y, "Notes", canvas.font(SMALL, bold=True), SMALL_INK)
    y += canvas.line_height(font) * 1.5
    for i, spans in enumerate(items, start=1):
        y = canvas.paragraph(
            MARGIN, y, canvas.width - 2 * MARGIN, [(f"({i})", None), *spans], font, fill=SMALL_INK
        )
    return y


def _year(plan: PagePlan) -> YearData:
    return plan.company.years[plan.year]


# Long by design: a page layout read top to bottom (header, title, paragraphs, key figures, notes);
# each block's position depends on the one above it.
def render_overview(plan: PagePlan) -> Canvas:
    """Page 1: company profile, the chief executive's letter, contents and governance notes."""
    company, data = plan.company, _year(plan)
    rng = derive_rng(plan.seed, "overview", company.key, plan.year)
    canvas = Canvas(1000, 1400)
    serif = company.serif
    report_header(canvas, plan, "Overview")
    canvas.text(
        MARGIN, 100, company.full_name, canvas.font(40, bold=True, serif=serif), company.color
    )
    canvas.text(MARGIN, 160, f"Annual Report {plan.year}", canvas.font(TITLE, serif=serif))
    canvas.rect((MARGIN, 215, MARGIN + 120, 221), fill=company.color)
    body = canvas.font(BODY, serif=serif)
    heading = canvas.font(HEADING, bold=True, serif=serif)
    width = canvas.width - 2 * MARGIN
    canvas.text(MARGIN, 250, f"About {company.name}", heading)
    y = canvas.paragraph(
        MARGIN,
        295,
        width,
        [
            (f"{company.full_name} is a {company.industry.name} company headquartered in", None),
            (company.hq, "hq"),
            (". Founded in", None),
            (str(company.founded), "founded"),
            (", the group operates", None),
            (str(data.callouts["sites"]), "sites"),
            ("sites and its shares are listed under the ticker", None),
            (company.ticker, "ticker"),
            (".", None),
        ],
        body,
    )
    canvas.text(MARGIN, y + 20, "Letter from the chief executive", heading)
    seg_a, seg_b = rng.sample(company.segments, 2)
    sentences = [
        f"{plan.year} was a year of {rng.choice(('steady', 'solid', 'encouraging', 'hard-won'))} "
        f"progress for {company.name}.",
        f"Demand across our {company.industry.activity} remained "
        f"{rng.choice(('resilient', 'robust', 'uneven', 'firm'))}, and we kept our focus on cost "
        "discipline.",
        f"We invested in {seg_a} and {seg_b}, and simplified the way our teams work across regions.",
        rng.choice(
            (
                "Safety remains our first priority, and we continued to roll out training at every "
                "site.",
                "We also strengthened our balance sheet and reduced net debt.",
                f"Sustainability is embedded in how we run our {company.industry.activity}.",
            )
        ),
        f"Our priorities for {plan.year + 1} are clear: serve customers well, improve margins and "
        "allocate capital with care.",
        "I would like to thank our colleagues, customers and shareholders for their support.",
    ]
    y = canvas.paragraph(MARGIN, y + 65, width, [(" ".join(sentences), None)], body)
    y = canvas.paragraph(
        MARGIN,
        y + 5,
        width,
        [(data.ceo, "ceo"), (", Chief Executive Officer", None)],
        canvas.font(BODY, bold=True, serif=serif),
    )
    canvas.text(MARGIN, y + 20, "In this report", heading)
    y += 65
    for title, page in (
        ("Financial review", 2),
        ("Segment performance", 3),
        (f"{plan.year} at a glance", 4),
    ):
        canvas.text(MARGIN + 20, y, title, body)
        canvas.text(MARGIN + 480, y, str(page), body, align="right")
        y += canvas.line_height(body) * 1.4
    notes(
        canvas,
        max(y + 25, 1130),
        [
            [
                (f"The consolidated financial statements for {plan.year} were audited by", None),
                (data.auditor, "auditor"),
                (".", None),
            ],
            [
                ("This report was approved by the board of directors on", None),
                (data.approved, "approved"),
                (".", None),
            ],
            [(f"Site numbers include leased facilities at 31 December {plan.year}.", None)],
        ],
    )
    report_footer(canvas, plan)
    return canvas


def _table(
    canvas: Canvas,
    y: float,
    prefix: str,
    header: list[str],
    rows: list[tuple[str, list[int]]],
    shade: tuple[int, int, int],
) -> float:
    """A dense numeric table in small print; cell anchors are ``{prefix}:{row}:{column}``."""
    font = canvas.font(SMALL)
    bold = canvas.font(SMALL, bold=True)
    pitch = 30
    label_w = 250
    col_w = (canvas.width - 2 * MARGIN - label_w) / (len(header) - 1)
    keys = ["Q1", "Q2", "Q3", "Q4", "FY", "PY"]
    canvas.rect((MARGIN, y, canvas.width - MARGIN, y + pitch), fill=shade)
    text_dy = (pitch - canvas.line_height(font)) / 2
    canvas.text(MARGIN + 8, y + text_dy, header[0], bold)
    for j, title in enumerate(header[1:]):
        canvas.text(
            MARGIN + label_w + col_w * (j + 1) - 10, y + text_dy, title, bold, align="right"
        )
    y += pitch
    for i, (label, values) in enumerate(rows):
        total = label == "Total"
        if total:
            canvas.line([(MARGIN, y), (canvas.width - MARGIN, y)], fill=INK, width=1)
        elif i % 2 == 1:
            canvas.rect((MARGIN, y, canvas.width - MARGIN, y + pitch), fill=(245, 245, 245))
        row_font = bold if total else font
        canvas.text(MARGIN + 8, y + text_dy, label, row_font, key=f"{prefix}:{label}:label")
        for j, value in enumerate(values):
            canvas.text(
                MARGIN + label_w + col_w * (j + 1) - 10,
                y + text_dy,
                fmt_tenths(value),
                row_font,
                align="right",
                key=f"{prefix}:{label}:{keys[j]}",
            )
        y += pitch
    canvas.line([(MARGIN, y), (canvas.width - MARGIN, y)], fill=INK, width=1)
    return y


def region_growth(plan: PagePlan) -> dict[str, int]:
    """Full-year revenue change by region against the prior year, in tenths of a percent."""
    data, prev = _year(plan), plan.company.years[plan.year - 1]
    return {r: pct_change(data.revenue_fy(r), prev.revenue_fy(r)) for r in plan.company.regions}


def render_financials(plan: PagePlan) -> Canvas:
    """Page 2: revenue by region and operating expenses by category, quarterly, in dense tables."""
    company, data = plan.company, _year(plan)
    prev = company.years[plan.year - 1]
    canvas = Canvas(1000, 1400)
    serif = company.serif
    report_header(canvas, plan, "Financial review")
    canvas.text(MARGIN, 100, "Financial review", canvas.font(TITLE, bold=True, serif=serif))
    growth = region_growth(plan)
    best = max(company.regions, key=lambda r: growth[r])
    worst = min(company.regions, key=lambda r: growth[r])
    direction = "rose" if data.total_revenue >= prev.total_revenue else "fell"
    body = canvas.font(BODY, serif=serif)
    y = canvas.paragraph(
        MARGIN,
        165,
        canvas.width - 2 * MARGIN,
        [
            (f"Group revenue {direction} in {plan.year}. The strongest growth came from", None),
            (best, "best_region"),
            (", while the weakest performance was in", None),
            (worst, "worst_region"),
            (". The tables show each quarter with full-year totals and the prior year.", None),
        ],
        body,
    )
    heading = canvas.font(HEADING, bold=True, serif=serif)
    header = ["Region", *QUARTERS, f"FY {plan.year}", f"FY {plan.year - 1}"]
    shade = tint(company.color, 0.85)

    def row(values: tuple[int, ...], previous: tuple[int, ...]) -> list[int]:
        return [*values, sum(values), sum(previous)]

    rows = [(r, row(data.revenue[r], prev.revenue[r])) for r in company.regions]
    rows.append(("Total", [sum(col) for col in zip(*(v for _, v in rows), strict=True)]))
    canvas.text(MARGIN, y + 25, "Table 1. Revenue by region (USD million)", heading)
    y = _table(canvas, y + 75, "rev", header, rows, shade)
    opex_rows = [(c, row(data.opex[c], prev.opex[c])) for c in OPEX_CATEGORIES]
    opex_rows.append(("Total", [sum(col) for col in zip(*(v for _, v in opex_rows), strict=True)]))
    canvas.text(MARGIN, y + 45, "Table 2. Operating expenses by category (USD million)", heading)
    y = _table(canvas, y + 95, "opex", ["Category", *header[1:]], opex_rows, shade)
    cur = company.currency
    notes(
        canvas,
        max(y + 40, 1080),
        [
            [("Quarterly figures are unaudited; full-year figures are audited.", None)],
            [
                (
                    f"Amounts reported in {cur} are translated into USD at an average {cur}/USD rate of",
                    None,
                ),
                (fmt_hundredths(data.fx_rate), "fx"),
                (f"for {plan.year}.", None),
            ],
            [("Prior-year figures are restated where segment reporting changed.", None)],
        ],
    )
    report_footer(canvas, plan)
    return canvas


def render_charts(plan: PagePlan) -> Canvas:
    """Page 3: operating margin by segment (bar chart) and a monthly volume (line chart)."""
    company, data = plan.company, _year(plan)
    canvas = Canvas(1000, 1400)
    serif = company.serif
    report_header(canvas, plan, "Segment performance")
    canvas.text(MARGIN, 100, "Segment performance", canvas.font(TITLE, bold=True, serif=serif))
    heading = canvas.font(HEADING, bold=True, serif=serif)
    small = canvas.font(SMALL)
    segments = list(company.segments)
    canvas.text(MARGIN, 170, f"Operating margin by segment, {plan.year} (%)", heading)
    bar_chart(
        canvas,
        (130, 240, 920, 590),
        segments,
        [fmt_tenths(data.margins[s]) for s in segments],
        [data.margins[s] / 10 for s in segments],
        company.color,
        label_keys=[f"segment:{s}" for s in segments],
        value_keys=[f"margin:{s}" for s in segments],
    )
    canvas.paragraph(
        MARGIN,
        650,
        canvas.width - 2 * MARGIN,
        [
            (
                "Figure 1. Operating margin before central costs and eliminations. Source: "
                f"{company.name} management accounts.",
                None,
            )
        ],
        small,
        fill=SMALL_INK,
    )
    industry = company.industry
    canvas.text(
        MARGIN,
        730,
        f"{industry.volume_label} by month, {plan.year} ({industry.volume_unit})",
        heading,
    )
    line_chart(
        canvas,
        (130, 820, 920, 1150),
        list(MONTHS),
        [fmt_tenths(v) for v in data.volume],
        [v / 10 for v in data.volume],
        company.color,
        label_keys=[f"month:{m}" for m in range(12)],
        value_keys=[f"volume:{m}" for m in range(12)],
    )
    canvas.paragraph(
        MARGIN,
        1210,
        canvas.width - 2 * MARGIN,
        [
            (
                f"Figure 2. {industry.volume_label} per calendar month. The {MONTH_NAMES[11]} figure is "
                "provisional and may be revised.",
                None,
            )
        ],
        small,
        fill=SMALL_INK,
    )
    report_footer(canvas, plan)
    return canvas


def glance_callout(plan: PagePlan, kind: str) -> tuple[str, str, list[Span]]:
    """One infographic tile: the big number, its label and its small-print caption.

    The big number is anchored as ``big:{kind}`` and the caption's figure as ``cap:{kind}``.
    """
    c = plan.company.years[plan.year].callouts
    year = plan.year
    if kind == "employees":
        word = "up from" if c["employees"] >= c["prev_employees"] else "down from"
        return (
            f"{c['employees']:,}",
            "employees (full-time equivalents)",
            [
                (word, None),
                (f"{c['prev_employees']:,}", "cap:employees"),
                ("a year earlier", None),
            ],
        )
    if kind == "countries":
        return (
            str(c["countries"]),
            "countries with operations",
            [
                ("sales offices in", None),
                (str(c["cities"]), "cap:countries"),
                ("cities", None),
            ],
        )
    if kind == "customers":
        return (
            f"{c['customers']:,}",
            "business customers",
            [
                ("average relationship of", None),
                (fmt_tenths(c["relationship"]), "cap:customers"),
                ("years", None),
            ],
        )
    if kind == "renewable":
        return (
            f"{c['renewable']}%",
            "of electricity from renewable sources",
            [
                ("target of", None),
                (f"{c['renewable_target']}%", "cap:renewable"),
                (f"by {c['renewable_target_year']}", None),
            ],
        )
    if kind == "women":
        return (
            f"{c['women']}%",
            "of leadership roles held by women",
            [
                ("based on", None),
                (f"{c['managers']:,}", "cap:women"),
                ("managers at director level and above", None),
            ],
        )
    if kind == "rnd":
        return (
            f"{fmt_tenths(c['rnd'])}%",
            "of revenue invested in research and development",
            [
                ("USD", None),
                (fmt_tenths(c["rnd_amount"]), "cap:rnd"),
                ("million in total", None),
            ],
        )
    if kind == "safety":
        return (
            fmt_hundredths(c["ltifr"]),
            "lost-time injury frequency rate",
            [
                ("compared with", None),
                (fmt_hundredths(c["prev_ltifr"]), "cap:safety"),
                (f"in {year - 1}", None),
            ],
        )
    raise ValueError(f"unknown callout {kind!r}")


def render_glance(plan: PagePlan) -> Canvas:
    """Page 4: six big-number tiles with labels and small-print captions."""
    company = plan.company
    canvas = Canvas(1000, 1400)
    report_header(canvas, plan, "At a glance")
    canvas.text(MARGIN, 95, f"{plan.year} at a glance", canvas.font(40, bold=True), company.color)
    canvas.text(MARGIN, 155, company.full_name, canvas.font(HEADING))
    big = canvas.font(60, bold=True)
    label_font = canvas.font(BODY)
    caption_font = canvas.font(SMALL)
    tile_w, tile_h, gap = 425, 290, 30
    for i, kind in enumerate(company.callouts):
        col, row = i % 2, i // 2
        x = MARGIN + col * (tile_w + gap)
        y = 220 + row * (tile_h + gap)
        canvas.rect((x, y, x + tile_w, y + tile_h), fill=tint(company.color, 0.9))
        number, label, caption = glance_callout(plan, kind)
        canvas.text(x + 25, y + 25, number, big, company.color, key=f"big:{kind}")
        ty = canvas.paragraph(
            x + 25, y + 115, tile_w - 50, [(label, None)], label_font, leading=1.3
        )
        canvas.paragraph(x + 25, ty + 10, tile_w - 50, caption, caption_font, fill=SMALL_INK)
    notes(
        canvas,
        1200,
        [
            [(f"Figures at 31 December {plan.year} unless stated otherwise.", None)],
            [("Injury rates per 200,000 hours worked, employees and contractors.", None)],
        ],
    )
    report_footer(canvas, plan)
    return canvas
