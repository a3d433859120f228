"""The fictional companies the synthetic corpus describes, and their yearly figures.

Every value is drawn from a random stream derived from ``(seed, entity, ...)``, never from global
state, so an entity's figures do not depend on how many other entities the config asks for.
Money is kept in integer tenths (of a million USD, or of a unit) and only formatted when printed, so
sums and differences are exact.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

COMPANY_NAMES = tuple(
    "Aurora Borealis Cobalt Dunmore Elmstead Fenwick Galena Halcyon Ironbridge Juniper Kestrel "
    "Lumen Meridian Northwind Orison Pinecrest".split()
)
COMPANY_SUFFIXES = ("Holdings", "Group", "Industries", "Systems", "Partners", "Corporation")


@dataclass(frozen=True)
class Industry:
    """An industry: its segments and the monthly volume metric its reports chart.

    Attributes:
        name: As written in prose ("renewable energy").
        segments: Candidate segment names (short enough for chart labels).
        volume_label: Title of the monthly line chart.
        volume_unit: Unit of the monthly line chart.
        activity: What the business runs, for prose ("distribution network").
        volume_phrase: The monthly metric as a noun phrase in questions.
    """

    name: str
    segments: tuple[str, ...]
    volume_label: str
    volume_unit: str
    activity: str
    volume_phrase: str


def _industry(
    name: str, segments: str, volume: str, unit: str, activity: str, phrase: str
) -> Industry:
    return Industry(name, tuple(segments.split(", ")), volume, unit, activity, phrase)


INDUSTRIES = (
    _industry(
        "renewable energy", "Wind, Solar, Storage, Hydro, Grid",
        "Electricity generated", "GWh", "generation assets", "electricity generation",
    ),
    _industry(
        "logistics", "Freight, Warehousing, Last Mile, Customs, Air Cargo",
        "Parcels delivered", "millions", "distribution network", "parcel deliveries",
    ),
    _industry(
        "consumer electronics", "Phones, Wearables, Audio, Smart Home, Accessories",
        "Units shipped", "thousands", "product portfolio", "unit shipments",
    ),
    _industry(
        "pharmaceuticals", "Oncology, Vaccines, Generics, Diagnostics, Dermatology",
        "Prescriptions filled", "thousands", "development pipeline", "prescription volume",
    ),
    _industry(
        "enterprise software", "Cloud, Licences, Support, Consulting, Security",
        "Active subscriptions", "thousands", "platform", "subscription base",
    ),
    _industry(
        "packaged foods", "Dairy, Snacks, Beverages, Frozen, Bakery",
        "Volume sold", "kilotonnes", "brand portfolio", "sales volume",
    ),
    _industry(
        "telecommunications", "Mobile, Broadband, Enterprise, Wholesale, Media",
        "Mobile subscribers", "thousands", "network", "mobile subscriber base",
    ),
    _industry(
        "specialty chemicals", "Coatings, Adhesives, Polymers, Catalysts, Additives",
        "Production volume", "kilotonnes", "plants", "production output",
    ),
)  # fmt: skip
"""Two companies may share an industry: then their pages share segment names too."""

REGIONS = ("North America", "Europe", "Asia Pacific", "Latin America", "Middle East", "Africa")
OPEX_CATEGORIES = (
    "Personnel",
    "Research and development",
    "Sales and marketing",
    "Facilities",
    "General and administrative",
)
QUARTERS = ("Q1", "Q2", "Q3", "Q4")
MONTHS = tuple("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())
MONTH_NAMES = tuple(
    "January February March April May June July August September October November December".split()
)
CITIES = tuple(
    "Lisbon Oslo Rotterdam Lyon Gdansk Porto Aarhus Leeds Bilbao Turin Graz Tampere Ghent Malmo "
    "Brno Cork Basel Utrecht Valencia Bergen".split()
)
AUDITORS = (
    "Marlow & Finch LLP",
    "Ashby Kerr LLP",
    "Thornton Vale & Co",
    "Brightwater Audit LLP",
    "Hollis Grant LLP",
    "Pemberton Rowe LLP",
)
FIRST_NAMES = tuple(
    "Maria James Aiko Kwame Sofia Lars Priya Mateo Ingrid Tariq Elena Oluwaseun Chen Hannah "
    "Rafael Noor Tomasz Yuki Amara Felix Leila Dmitri Grace Santiago Astrid Kofi Mei Daniel Zara "
    "Henrik".split()
)
LAST_NAMES = tuple(
    "Okafor Lindqvist Tanaka Mensah Ferreira Novak Raman Delgado Berg Haddad Petrova Adeyemi Wei "
    "Schultz Moreau Khan Kowalski Sato Osei Brennan Farouk Ivanov Whitfield Ortega Nilsen Boateng "
    "Liang Fischer Qureshi Halvorsen".split()
)
CURRENCIES = {"EUR": 1.10, "GBP": 1.26, "CHF": 1.08, "CAD": 0.75, "AUD": 0.69, "SGD": 0.74}
"""Reporting currencies and their average USD rate in a base year; each year drifts a little."""

BRAND_COLORS = (
    (31, 78, 140),
    (166, 54, 3),
    (35, 120, 75),
    (120, 40, 120),
    (20, 110, 130),
    (150, 30, 50),
    (90, 90, 20),
    (60, 60, 140),
)
"""Dark brand colours: white text on them and dark text on their tints both stay high-contrast."""

CALLOUTS = ("employees", "countries", "customers", "renewable", "women", "rnd", "safety")
"""Infographic callout kinds; each company shows six of them, the same six every year."""


def derive_rng(seed: int, *keys: object) -> random.Random:
    """A random stream for one entity: a hash of the seed and the entity's keys seeds it."""
    digest = hashlib.sha256(repr((seed, *keys)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def fmt_tenths(value: int) -> str:
    """Format integer tenths with thousands separators: ``12345 -> "1,234.5"``."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10)
    return f"{sign}{whole:,}.{frac}"


def fmt_hundredths(value: int) -> str:
    """Format integer hundredths: ``108 -> "1.08"``, ``120880 -> "1,208.80"``."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 100)
    return f"{sign}{whole:,}.{frac:02d}"


def fmt_date(day: int, month: int, year: int) -> str:
    """``"14 March 2023"``."""
    return f"{day} {MONTH_NAMES[month - 1]} {year}"


@dataclass(frozen=True)
class YearData:
    """Everything a company reports about one fiscal year.

    Money is in tenths of a million USD; percentages in tenths of a percent unless noted.
    """

    year: int
    revenue: dict[str, tuple[int, int, int, int]]
    opex: dict[str, tuple[int, int, int, int]]
    margins: dict[str, int]
    segment_revenue: dict[str, int]
    volume: tuple[int, ...]
    employees: int
    ceo: str
    auditor: str
    fx_rate: int  # hundredths
    approved: str
    callouts: dict[str, int]
    deck: dict[str, int | str]

    def revenue_fy(self, region: str) -> int:
        """Full-year revenue of a region (tenths)."""
        return sum(self.revenue[region])

    @property
    def total_revenue(self) -> int:
        """Full-year revenue of the group (tenths)."""
        return sum(self.revenue_fy(r) for r in self.revenue)


@dataclass(frozen=True)
class Company:
    """A fictional listed company and its yearly figures (including the year before the first)."""

    key: str
    name: str
    full_name: str
    ticker: str
    industry: Industry
    hq: str
    founded: int
    currency: str
    regions: tuple[str, ...]
    segments: tuple[str, ...]
    callouts: tuple[str, ...]
    color: tuple[int, int, int]
    serif: bool
    years: dict[int, YearData] = field(default_factory=dict)


def person(rng: random.Random) -> str:
    """A random full name."""
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _split_tenths(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` into integer parts proportional to ``weights`` that sum exactly to it."""
    parts = [int(total * w / sum(weights)) for w in weights]
    parts[-1] += total - sum(parts)
    return parts


def _fx_rate(seed: int, currency: str, year: int) -> int:
    rng = derive_rng(seed, "fx", currency, year)
    return round(CURRENCIES[currency] * (1 + rng.uniform(-0.06, 0.06)) * 100)


def build_company(seed: int, index: int, name: str, years: tuple[int, ...]) -> Company:
    """Company ``name`` (the ``index``-th of the corpus), with figures for every year."""
    rng = derive_rng(seed, "company", name)
    industry = INDUSTRIES[(index + rng.randrange(2)) % len(INDUSTRIES)]
    picked_regions = set(rng.sample(REGIONS, 4))
    regions = tuple(r for r in REGIONS if r in picked_regions)
    segments = tuple(
        sorted(rng.sample(industry.segments, rng.choice((3, 4))), key=industry.segments.index)
    )
    picked_callouts = set(rng.sample(CALLOUTS, 6))
    callouts = tuple(c for c in CALLOUTS if c in picked_callouts)
    ticker = name[:3].upper() + ("" if rng.random() < 0.5 else name[-1].upper())
    company = Company(
        key=name.lower(),
        name=name,
        full_name=f"{name} {rng.choice(COMPANY_SUFFIXES)}",
        ticker=ticker,
        industry=industry,
        hq=CITIES[(index * 7 + rng.randrange(3)) % len(CITIES)],
        founded=rng.randrange(1921, 2006),
        currency=rng.choice(sorted(CURRENCIES)),
        regions=regions,
        segments=segments,
        callouts=callouts,
        color=BRAND_COLORS[index % len(BRAND_COLORS)],
        serif=rng.random() < 0.4,
    )
    _fill_years(seed, company, years)
    return company


# Long by design: one company-year's facts drawn in a fixed order; the draw order is the corpus's
# seed contract, so the facts stay together where reordering them would be visible.
def _fill_years(seed: int, company: Company, years: tuple[int, ...]) -> None:
    """Simulate the company from the year before ``years[0]`` (prior-year columns need it)."""
    rng = derive_rng(seed, "figures", company.key)
    size = rng.uniform(400.0, 3000.0)  # USD million a year
    shares = {r: rng.uniform(0.5, 2.0) for r in company.regions}
    season = [rng.uniform(0.85, 1.15) for _ in QUARTERS]
    opex_ratio = rng.uniform(0.70, 0.90)
    opex_shares = [rng.uniform(0.5, 2.5) for _ in OPEX_CATEGORIES]
    base_margin = {s: rng.uniform(4.0, 26.0) for s in company.segments}
    seg_shares = [rng.uniform(0.5, 2.0) for _ in company.segments]
    volume_base = rng.uniform(40.0, 900.0)
    volume_season = [rng.uniform(0.85, 1.15) for _ in MONTHS]
    employees = rng.randrange(2_000, 40_000)
    ceo = person(rng)
    auditor = rng.choice(AUDITORS)
    metrics = {
        "countries": rng.randrange(6, 40),
        "customers": rng.randrange(1_200, 90_000),
        "relationship": rng.randrange(20, 99),  # tenths of a year
        "renewable": rng.randrange(20, 80),
        "women": rng.randrange(18, 46),
        "managers": rng.randrange(150, 4_000),
        "rnd": rng.randrange(15, 150),  # tenths of a percent of revenue
        "ltifr": rng.randrange(10, 120),  # hundredths
        "sites": rng.randrange(12, 240),
    }
    renewable_target_year = years[-1] + rng.randrange(3, 8)
    renewable_target = rng.choice((80, 85, 90, 95, 100))
    nps = rng.randrange(18, 55)
    dividend = rng.randrange(8, 250)  # cents
    prev_total = 0
    for year in (years[0] - 1, *years):
        growth = {r: rng.uniform(-0.06, 0.14) for r in company.regions}
        size_year = size
        revenue: dict[str, tuple[int, int, int, int]] = {}
        for region in company.regions:
            annual = size_year * shares[region] / sum(shares.values())
            revenue[region] = tuple(  # type: ignore[assignment]
                round(annual * season[q] / sum(season) * rng.uniform(0.96, 1.04) * 10)
                for q in range(4)
            )
            shares[region] *= 1 + growth[region]
        size *= 1 + sum(growth.values()) / len(growth)
        total = sum(sum(v) for v in revenue.values())
        opex_total = round(total * opex_ratio * rng.uniform(0.97, 1.03))
        opex: dict[str, tuple[int, int, int, int]] = {}
        for cat, part in zip(OPEX_CATEGORIES, _split_tenths(opex_total, opex_shares), strict=True):
            opex[cat] = tuple(  # type: ignore[assignment]
                round(part * season[q] / sum(season) * rng.uniform(0.97, 1.03)) for q in range(4)
            )
        margins = {}
        for seg in company.segments:
            base_margin[seg] = min(max(base_margin[seg] + rng.uniform(-3.0, 3.0), 1.0), 35.0)
            margins[seg] = round(base_margin[seg] * 10)
        segment_revenue = dict(zip(company.segments, _split_tenths(total, seg_shares), strict=True))
        trend = rng.uniform(-0.01, 0.02)
        volume = tuple(
            round(volume_base * (1 + trend * m) * volume_season[m] * rng.uniform(0.95, 1.05) * 10)
            for m in range(12)
        )
        volume_base *= 1 + trend * 12
        prev_employees = employees
        employees = max(500, round(employees * rng.uniform(0.94, 1.12)))
        if rng.random() < 0.15:
            ceo = person(rng)
        if rng.random() < 0.2:
            auditor = rng.choice(AUDITORS)
        metrics["countries"] += rng.choice((0, 0, 1, 2))
        metrics["sites"] += rng.randrange(-2, 9)
        metrics["customers"] = round(metrics["customers"] * rng.uniform(0.97, 1.15))
        metrics["renewable"] = min(metrics["renewable"] + rng.randrange(0, 9), 99)
        metrics["women"] = min(metrics["women"] + rng.randrange(-1, 4), 60)
        metrics["managers"] = round(metrics["managers"] * rng.uniform(0.97, 1.08))
        metrics["relationship"] = max(10, metrics["relationship"] + rng.randrange(-3, 4))
        metrics["rnd"] = max(5, metrics["rnd"] + rng.randrange(-8, 9))
        prev_ltifr = metrics["ltifr"]
        metrics["ltifr"] = max(5, metrics["ltifr"] + rng.randrange(-15, 8))
        callouts = dict(metrics)
        callouts.update(
            employees=employees,
            prev_employees=prev_employees,
            cities=round(metrics["countries"] * rng.uniform(1.5, 3.5)),
            renewable_target=renewable_target,
            renewable_target_year=renewable_target_year,
            rnd_amount=round(total * metrics["rnd"] / 1000),
            prev_ltifr=prev_ltifr,
        )
        nps = min(max(nps + rng.randrange(-5, 8), 5), 80)
        dividend = max(5, dividend + rng.randrange(-5, 15))
        low = rng.randrange(1, 9)
        capex_low = rng.randrange(4, 40) * 10
        growth_pct = round((total - prev_total) * 1000 / prev_total) if prev_total else 0
        deck: dict[str, int | str] = {
            "date_day": rng.randrange(2, 28),
            "date_month": rng.choice((2, 3)),
            "growth": growth_pct,  # tenths of a percent
            "group_margin": round(sum(margins.values()) / len(margins) * rng.uniform(0.85, 1.0)),
            "nps": nps,
            "survey": rng.randrange(8, 60) * 100,
            "survey_month": rng.choice((9, 10, 11)),
            "fcf": round(total * rng.uniform(0.03, 0.12)),
            "guide_low": low,
            "guide_high": low + rng.choice((2, 3)),
            "capex_low": capex_low,
            "capex_high": capex_low + rng.choice((20, 30, 50)),
            "dividend": dividend,  # cents
            "new_sites": rng.randrange(2, 12),
            "new_sites_region": rng.choice(company.regions),
            "guide_fx": _fx_rate(seed, company.currency, year + 1),
            "eliminations": rng.randrange(30, 400),  # tenths
            "agm_day": rng.randrange(3, 28),
        }
        prev_total = total
        approved_day = rng.randrange(2, 28)
        company.years[year] = YearData(
            year=year,
            revenue=revenue,
            opex=opex,
            margins=margins,
            segment_revenue=segment_revenue,
            volume=volume,
            employees=employees,
            ceo=ceo,
            auditor=auditor,
            fx_rate=_fx_rate(seed, company.currency, year),
            approved=fmt_date(approved_day, rng.choice((2, 3)), year + 1),
            callouts=callouts,
            deck=deck,
        )
