"""Bar and line charts drawn onto a :class:`~vrag_env.corpora.synthetic.canvas.Canvas`.

Charts follow a common report style: light horizontal grid lines with small y-tick labels, category
labels under the axis at a size that stays legible in a whole-page view, and value labels in small
print, so reading an exact value needs a zoom while the shape of the data does not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from vrag_env.corpora.synthetic.canvas import INK, SMALL_INK, Canvas, Color

GRID = (215, 215, 215)
AXIS = (60, 60, 60)


def nice_step(span: float, target_ticks: int = 5) -> float:
    """A tick step of the form {1, 2, 2.5, 5} x 10^k giving about ``target_ticks`` ticks."""
    raw = max(span, 1e-9) / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for mult in (1.0, 2.0, 2.5, 5.0, 10.0):
        if mult * magnitude >= raw:
            return mult * magnitude
    return 10.0 * magnitude


def _tick_label(value: float, step: float) -> str:
    if abs(step - round(step)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.1f}"


def _y_axis(
    canvas: Canvas,
    box: tuple[float, float, float, float],
    low: float,
    high: float,
    step: float,
    tick_size: int,
) -> None:
    x1, y1, x2, y2 = box
    font = canvas.font(tick_size)
    half = canvas.line_height(font) / 2
    tick = high
    # Top to bottom, so the text layer reads the axis in order.
    while tick >= low - 1e-9:
        y = y2 - (tick - low) / (high - low) * (y2 - y1)
        canvas.line([(x1, y), (x2, y)], fill=GRID, width=1)
        canvas.text(x1 - 10, y - half, _tick_label(tick, step), font, SMALL_INK, align="right")
        tick -= step
    canvas.line([(x1, y1), (x1, y2), (x2, y2)], fill=AXIS, width=2)


def bar_chart(
    canvas: Canvas,
    box: tuple[float, float, float, float],
    labels: Sequence[str],
    values: Sequence[str],
    numbers: Sequence[float],
    color: Color,
    *,
    label_keys: Sequence[str],
    value_keys: Sequence[str],
    label_size: int = 9,
    value_size: int = 8,
    tick_size: int = 8,
) -> None:
    """Draw a vertical bar chart.

    Args:
        canvas: Where to draw.
        box: The plot area ``(x1, y1, x2, y2)`` (tick and category labels go outside it).
        labels: Category labels, drawn under the axis.
        values: Value labels as printed above each bar.
        numbers: The bar heights (non-negative).
        color: Bar colour.
        label_keys: Anchor key of each category label.
        value_keys: Anchor key of each value label.
        label_size: Category label font size.
        value_size: Value label font size.
        tick_size: Y-tick label font size.
    """
    x1, y1, x2, y2 = box
    step = nice_step(max(numbers) * 1.15, 5)
    high = math.ceil(max(numbers) * 1.15 / step) * step
    _y_axis(canvas, box, 0.0, high, step, tick_size)
    slot = (x2 - x1) / len(numbers)
    bar_w = min(slot * 0.55, 120)
    value_font = canvas.font(value_size)
    label_font = canvas.font(label_size)
    for i, (value, number) in enumerate(zip(values, numbers, strict=True)):
        cx = x1 + slot * (i + 0.5)
        top = y2 - number / high * (y2 - y1)
        canvas.rect((cx - bar_w / 2, top, cx + bar_w / 2, y2 - 1), fill=color)
        canvas.text(
            cx,
            top - 6 - canvas.line_height(value_font),
            value,
            value_font,
            SMALL_INK,
            align="center",
            key=value_keys[i],
        )
    for i, label in enumerate(labels):
        cx = x1 + slot * (i + 0.5)
        canvas.text(cx, y2 + 10, label, label_font, INK, align="center", key=label_keys[i])


def line_chart(
    canvas: Canvas,
    box: tuple[float, float, float, float],
    labels: Sequence[str],
    values: Sequence[str],
    numbers: Sequence[float],
    color: Color,
    *,
    label_keys: Sequence[str],
    value_keys: Sequence[str],
    label_size: int = 9,
    value_size: int = 8,
    tick_size: int = 8,
) -> None:
    """Draw a line chart with a marker and a small value label at every point.

    Arguments are as for :func:`bar_chart`; the y axis starts at a round value below the minimum
    so the variation is visible.
    """
    x1, y1, x2, y2 = box
    lo, hi = min(numbers), max(numbers)
    step = nice_step((hi - lo) * 1.6 if hi > lo else hi, 5)
    low = max(0.0, math.floor((lo - (hi - lo) * 0.25) / step) * step)
    high = math.ceil((hi + (hi - lo) * 0.35 + 1e-9) / step) * step
    _y_axis(canvas, box, low, high, step, tick_size)
    slot = (x2 - x1) / len(numbers)
    points = [
        (x1 + slot * (i + 0.5), y2 - (n - low) / (high - low) * (y2 - y1))
        for i, n in enumerate(numbers)
    ]
    canvas.line(points, fill=color, width=3)
    value_font = canvas.font(value_size)
    label_font = canvas.font(label_size)
    height = canvas.line_height(value_font)
    for i, ((px, py), value, key) in enumerate(zip(points, values, value_keys, strict=True)):
        canvas.draw.ellipse([px - 5, py - 5, px + 5, py + 5], fill=color, outline=color)
        # Label a valley below its point and everything else above it, on a white backing, so
        # the line never runs through the digits (OCR and people both misread crossed text).
        neighbours = [points[j][1] for j in (i - 1, i + 1) if 0 <= j < len(points)]
        below = all(ny < py for ny in neighbours)
        top = py + 10 if below else py - 10 - height
        half = canvas.width_of(value, value_font) / 2 + 3
        canvas.rect((px - half, top, px + half, top + height), fill=(255, 255, 255))
        canvas.text(px, top, value, value_font, SMALL_INK, align="center", key=key)
    for i, label in enumerate(labels):
        cx = x1 + slot * (i + 0.5)
        canvas.text(cx, y2 + 10, label, label_font, INK, align="center", key=label_keys[i])
