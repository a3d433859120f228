"""Single-hop question templates over filled-in forms (fields, tick boxes, office-use box)."""

from __future__ import annotations

import random

from vrag_env.corpora.synthetic.documents import PagePlan
from vrag_env.corpora.synthetic.drafting import Draft, QuestionBuilder, company_ref, plain_number

# ---------------------------------------------------------------- forms


def _form_ref(rng: random.Random, p: PagePlan) -> str:
    form = p.form_data()
    co = company_ref(rng, p.company)
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
    "store": "issuing store",
}
"""How questions name each form field (the subject fields are never asked: they name the form)."""


def q_form(b: QuestionBuilder, p: PagePlan, rng: random.Random, key: str) -> Draft | None:
    """A question on one form entry.

    ``key`` is a field (``field:...``), the ticked box (``checkbox``) or an office-use entry
    (``office:...``).
    """
    form = p.form_data()
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
        answers.append(plain_number(ev.text))
    return b.make(rng, f"form.{key.split(':')[0]}", paraphrases, answers, [ev], "form")
