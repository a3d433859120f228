"""Filled-in forms: supplier registrations, travel expense claims and equipment loan requests.

Each form belongs to one company (its letterhead) and names its subject (the supplier, employee
or borrower) in a field; questions identify the form by that subject.
"""

from __future__ import annotations

from dataclasses import dataclass

from vrag_env.corpora.synthetic.world import (
    CITIES,
    COMPANY_NAMES,
    CURRENCIES,
    Company,
    derive_rng,
    fmt_date,
    fmt_hundredths,
    person,
)

SUPPLIER_STEMS = tuple(
    "Calder Brayford Wexley Stanmore Ravel Holt Kirkby Marsh Penrose Alder Thistle Quill Harrow "
    "Linden Sorrel Ashgrove".split()
)
SUPPLIER_TRADES = tuple(
    "Fasteners Packaging Electrical Plastics Catering Print Hydraulics Textiles Tooling Cleaning "
    "Valves Labels".split()
)
DEPARTMENTS = ("Finance", "Engineering", "Sales", "Operations", "Legal", "Marketing", "Procurement")
TRIP_PURPOSES = (
    "Customer visit",
    "Trade fair",
    "Supplier audit",
    "Training course",
    "Site inspection",
    "Board meeting",
)
EQUIPMENT = (
    "Laptop",
    "Thermal camera",
    "Projector",
    "Survey drone",
    "Label printer",
    "Oscilloscope",
    "Tablet",
    "Vibration meter",
    "Gas detector",
    "Barcode scanner",
)
FORM_KINDS = ("supplier-registration", "expense-claim", "equipment-loan")


@dataclass(frozen=True)
class FormData:
    """A filled-in form: ordered sections of ``(field key, label, value)`` plus the office box."""

    stem: str
    kind: str
    company: Company
    year: int
    title: str
    code: str
    subject: str
    sections: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...]
    checkbox: tuple[str, tuple[str, ...], int]
    office: tuple[tuple[str, str, str], ...]


# Long by design: the form's fields listed in the order they appear on the page, each drawn from
# the seeded generator in that order (the draw order is the corpus's seed contract).
def build_form(seed: int, company: Company, index: int, years: tuple[int, ...]) -> FormData:
    """Form number ``index`` (0-based) of ``company``; the kind cycles with the index."""
    rng = derive_rng(seed, "form", company.key, index)
    kind = FORM_KINDS[(COMPANY_NAMES.index(company.name) + index) % len(FORM_KINDS)]
    year = rng.choice(years)
    stem = f"{company.key}-{kind}-{index + 1:03d}"
    approver = person(rng)
    date = fmt_date(rng.randrange(1, 29), rng.randrange(1, 13), year)
    if kind == "supplier-registration":
        supplier = f"{rng.choice(SUPPLIER_STEMS)} {rng.choice(SUPPLIER_TRADES)} Ltd"
        contact = person(rng)
        domain = supplier.split()[0].lower()
        sections: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
            (
                "Supplier details",
                (
                    ("legal_name", "Legal name", supplier),
                    ("registration", "Company registration no.", f"{rng.randrange(10**7, 10**8)}"),
                    ("contact", "Contact person", contact),
                    (
                        "phone",
                        "Telephone",
                        f"+44 {rng.randrange(100, 999)} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
                    ),
                    ("email", "Email", f"{contact.split()[1].lower()}@{domain}.example"),
                    ("city", "City", rng.choice(CITIES)),
                ),
            ),
            (
                "Commercial terms",
                (
                    ("payment_terms", "Payment terms", f"Net {rng.choice((14, 30, 45, 60, 90))}"),
                    ("invoice_currency", "Invoice currency", rng.choice(sorted(CURRENCIES))),
                    (
                        "annual_spend",
                        "Estimated annual spend (USD)",
                        f"{rng.randrange(12, 900) * 1000:,}",
                    ),
                ),
            ),
        )
        checkbox = ("Supply category", ("Goods", "Services", "Works"), rng.randrange(3))
        office: tuple[tuple[str, str, str], ...] = (
            ("supplier_id", "Supplier ID", f"SUP-{rng.randrange(10000, 99999)}"),
            ("approved_by", "Approved by", approver),
            ("approved_on", "Date approved", date),
            ("risk", "Risk rating", rng.choice(("Low", "Medium", "High"))),
        )
        return FormData(
            stem,
            kind,
            company,
            year,
            "Supplier Registration Form",
            "SR-7",
            supplier,
            sections,
            checkbox,
            office,
        )
    if kind == "expense-claim":
        employee = person(rng)
        amounts = {
            "transport": rng.randrange(4_000, 90_000),
            "accommodation": rng.randrange(8_000, 150_000),
            "meals": rng.randrange(2_000, 30_000),
            "other": rng.randrange(0, 9_000),
        }
        depart_month = rng.randrange(1, 13)
        depart_day = rng.randrange(1, 22)
        return_day = depart_day + rng.randrange(1, 6)
        sections = (
            (
                "Claimant",
                (
                    ("employee", "Employee name", employee),
                    ("employee_id", "Employee ID", f"E-{rng.randrange(10000, 99999)}"),
                    ("department", "Department", rng.choice(DEPARTMENTS)),
                    ("cost_centre", "Cost centre", f"CC-{rng.randrange(1000, 9999)}"),
                ),
            ),
            (
                "Trip",
                (
                    ("purpose", "Purpose of travel", rng.choice(TRIP_PURPOSES)),
                    ("destination", "Destination", rng.choice(CITIES)),
                    ("departure", "Departure date", fmt_date(depart_day, depart_month, year)),
                    ("return", "Return date", fmt_date(return_day, depart_month, year)),
                ),
            ),
            (
                "Expenses (USD)",
                (
                    ("transport", "Transport", fmt_hundredths(amounts["transport"])),
                    ("accommodation", "Accommodation", fmt_hundredths(amounts["accommodation"])),
                    ("meals", "Meals", fmt_hundredths(amounts["meals"])),
                    ("other", "Other", fmt_hundredths(amounts["other"])),
                    ("total", "Total claimed", fmt_hundredths(sum(amounts.values()))),
                ),
            ),
        )
        checkbox = ("Payment method", ("Bank transfer", "Payroll", "Card"), rng.randrange(3))
        office = (
            ("claim_no", "Claim no.", f"EC-{year}-{rng.randrange(1000, 9999)}"),
            ("approved_by", "Approved by", approver),
            ("paid_on", "Paid on", fmt_date(return_day + 2, depart_month, year)),
        )
        return FormData(
            stem,
            kind,
            company,
            year,
            "Travel Expense Claim",
            "EC-2",
            employee,
            sections,
            checkbox,
            office,
        )
    borrower = person(rng)
    start_month = rng.randrange(1, 12)
    sections = (
        (
            "Borrower",
            (
                ("borrower", "Name", borrower),
                ("department", "Department", rng.choice(DEPARTMENTS)),
                ("extension", "Phone extension", f"{rng.randrange(2000, 8999)}"),
                ("manager", "Line manager", person(rng)),
            ),
        ),
        (
            "Equipment",
            (
                ("item", "Item", rng.choice(EQUIPMENT)),
                ("asset_tag", "Asset tag", f"AT-{rng.randrange(10000, 99999)}"),
                ("loan_start", "Loan start", fmt_date(rng.randrange(1, 29), start_month, year)),
                ("return_due", "Return due", fmt_date(rng.randrange(1, 29), start_month + 1, year)),
                ("purpose", "Purpose", rng.choice(TRIP_PURPOSES)),
            ),
        ),
    )
    checkbox = ("Accessories included", ("Charger", "Carry case", "None"), rng.randrange(3))
    office = (
        ("issued_by", "Issued by", approver),
        ("condition", "Condition on issue", rng.choice(("New", "Good", "Fair"))),
        ("store", "Issued from", f"Store {rng.randrange(2, 20)}"),
    )
    return FormData(
        stem,
        kind,
        company,
        year,
        "Equipment Loan Request",
        "EL-4",
        borrower,
        sections,
        checkbox,
        office,
    )
