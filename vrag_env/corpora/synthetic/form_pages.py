"""Filled-in forms (1000x1400): labelled fields, a tick-box row and an office-use box.

Field labels (20 px, box 24 px) and values (22 px) are legible in a whole-page view; the office-use
box and the data-protection note are small print (12-13 px).
"""

from __future__ import annotations

from vrag_env.corpora.synthetic.canvas import INK, SMALL_INK, Canvas
from vrag_env.corpora.synthetic.documents import PagePlan

MARGIN = 60
LABEL = 20
VALUE = 22
SMALL = 8
LABEL_INK = (60, 60, 60)


# Long by design: a form page drawn top to bottom; each block's position depends on the one above.
def render_form(plan: PagePlan) -> Canvas:
    """Draw the form of ``plan.form``.

    Anchors: ``field:{key}`` per field value, ``checkbox`` for the ticked option and
    ``office:{key}`` per office-use entry.
    """
    form = plan.form_data()
    company = plan.company
    canvas = Canvas(1000, 1400)
    canvas.text(MARGIN, 45, company.full_name, canvas.font(28, bold=True), company.color)
    canvas.text(
        MARGIN,
        88,
        f"Registered office: {company.hq}. Listed as {company.ticker}.",
        canvas.font(SMALL),
        SMALL_INK,
    )
    canvas.text(MARGIN, 130, form.title, canvas.font(34, bold=True))
    canvas.text(
        MARGIN,
        180,
        f"Form {form.code}. Return the completed form to the {company.name} administration team.",
        canvas.font(SMALL),
        SMALL_INK,
    )
    label_font = canvas.font(LABEL)
    value_font = canvas.font(VALUE)
    section_font = canvas.font(VALUE, bold=True)
    right = canvas.width - MARGIN
    y = 225.0
    for title, fields in form.sections:
        canvas.rect((MARGIN, y, right, y + 40), fill=company.color)
        canvas.text(MARGIN + 12, y + 6, title, section_font, (255, 255, 255))
        y += 52
        for key, label, value in fields:
            canvas.text(MARGIN + 10, y + 3, label, label_font, LABEL_INK)
            canvas.text(420, y, value, value_font, INK, key=f"field:{key}")
            canvas.line([(410, y + 32), (right, y + 32)], fill=(170, 170, 170))
            y += 44
        y += 12
    label, options, chosen = form.checkbox
    canvas.text(MARGIN + 10, y + 3, label, label_font, LABEL_INK)
    x = 420.0
    for i, option in enumerate(options):
        box = (x, y + 3, x + 22, y + 25)
        canvas.rect(box, outline=INK, width=2)
        if i == chosen:
            canvas.line([(box[0] + 4, box[1] + 4), (box[2] - 4, box[3] - 4)], fill=INK, width=3)
            canvas.line([(box[0] + 4, box[3] - 4), (box[2] - 4, box[1] + 4)], fill=INK, width=3)
        drawn = canvas.text(x + 32, y, option, value_font, key="checkbox" if i == chosen else None)
        x = drawn[2] + 40
    y += 65
    canvas.text(MARGIN + 10, y + 3, "Signature", label_font, LABEL_INK)
    canvas.line([(420, y + 32), (700, y + 32)], fill=(170, 170, 170))
    y += 65
    small = canvas.font(SMALL)
    small_bold = canvas.font(SMALL, bold=True)
    pitch = 26
    box_h = 20 + pitch * (len(form.office) + 1)
    canvas.rect((MARGIN, y, 560, y + box_h), outline=SMALL_INK, width=1)
    canvas.text(MARGIN + 12, y + 10, "FOR OFFICE USE ONLY", small_bold, SMALL_INK)
    oy = y + 10 + pitch
    for key, office_label, value in form.office:
        canvas.text(MARGIN + 12, oy, f"{office_label}:", small, SMALL_INK)
        canvas.text(250, oy, value, small, INK, key=f"office:{key}")
        oy += pitch
    canvas.paragraph(
        MARGIN,
        max(y + box_h + 40, 1290),
        canvas.width - 2 * MARGIN - 100,
        [
            (
                f"Personal data on this form is processed in accordance with the {company.name} "
                "privacy notice and retained for seven years.",
                None,
            )
        ],
        canvas.font(12),
        fill=SMALL_INK,
    )
    canvas.text(right, 1340, "Page 1 of 1", canvas.font(12), SMALL_INK, align="right")
    return canvas
