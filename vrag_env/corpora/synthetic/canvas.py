"""A drawing surface that records the text layer while it draws.

Every word drawn through :class:`Canvas` is appended to its text layer with its box in page pixels,
in drawing order (the renderers draw in reading order). Spans drawn with a ``key`` become *anchors*:
named boxes with their exact printed text, from which questions take their answers and evidence, so
an answer is by construction what the page shows.

A word box spans the font's ascent plus descent (not the ink of the particular glyphs), so every word
of one font size has the same height; legibility is decided on that height (see
:data:`vrag_env.rendering.LEGIBLE_PX`).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from vrag_env.corpora.synthetic.fonts import get_font
from vrag_env.types import BBox, Word

INK = (25, 25, 25)
"""Body text colour: near-black, for clean OCR."""

SMALL_INK = (70, 70, 70)
"""Small-print colour: dark grey, still high-contrast."""

Color = tuple[int, int, int]
Span = tuple[str, str | None]
"""A run of text and the anchor key it belongs to (``None`` for plain text)."""

GLUE = ".,;:!?)%"
"""Characters that attach to the preceding word without a space."""


@dataclass(frozen=True)
class Anchor:
    """A keyed span as printed: its text (words joined by single spaces) and its union box."""

    text: str
    box: BBox


def _round_box(box: tuple[float, float, float, float]) -> BBox:
    # Corpus files store boxes at 0.1 px; rounding here keeps in-memory and stored boxes equal.
    return (round(box[0], 1), round(box[1], 1), round(box[2], 1), round(box[3], 1))


def union(boxes: list[BBox]) -> BBox:
    """The smallest box containing all ``boxes``."""
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


class Canvas:
    """A white page plus its text layer and anchors.

    Args:
        width: Page width in pixels.
        height: Page height in pixels.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.image = Image.new("RGB", (width, height), (255, 255, 255))
        self.draw = ImageDraw.Draw(self.image)
        self.words: list[Word] = []
        self.anchors: dict[str, Anchor] = {}

    @staticmethod
    def font(size: int, bold: bool = False, serif: bool = False) -> ImageFont.FreeTypeFont:
        """A DejaVu font of the given size and style."""
        family = "serif" if serif else "sans"
        return get_font(f"{family}-bold" if bold else family, size)

    @staticmethod
    def line_height(font: ImageFont.FreeTypeFont) -> int:
        """Height of a word box (ascent + descent) in pixels."""
        ascent, descent = font.getmetrics()
        return int(ascent + descent)

    @staticmethod
    def width_of(text: str, font: ImageFont.FreeTypeFont) -> float:
        """Advance width of ``text`` in pixels."""
        return float(font.getlength(text))

    def text(
        self,
        x: float,
        y: float,
        text: str,
        font: ImageFont.FreeTypeFont,
        fill: Color = INK,
        *,
        align: str = "left",
        key: str | None = None,
    ) -> BBox:
        """Draw one line of text and record its words.

        Args:
            x: The left edge (``align="left"``), right edge (``"right"``) or centre (``"center"``).
            y: The top of the line box.
            text: The line; runs of whitespace separate words.
            font: The font.
            fill: Text colour.
            align: ``"left"``, ``"right"`` or ``"center"``.
            key: If given, record the whole line as the anchor ``key``.

        Returns:
            The union box of the drawn words (a zero-width box at ``(x, y)`` for blank text).
        """
        text = " ".join(text.split())
        total = self.width_of(text, font)
        if align == "right":
            x -= total
        elif align == "center":
            x -= total / 2
        elif align != "left":
            raise ValueError(f"align must be 'left', 'right' or 'center', got {align!r}")
        # Whole pixels keep glyph rendering identical wherever a word lands.
        x, y = round(x), round(y)
        height = self.line_height(font)
        boxes: list[BBox] = []
        for match in re.finditer(r"\S+", text):
            word = match.group()
            wx = round(x + self.width_of(text[: match.start()], font))
            self.draw.text((wx, y), word, font=font, fill=fill)
            box = _round_box((wx, y, wx + self.width_of(word, font), y + height))
            self.words.append(Word(word, box))
            boxes.append(box)
        result = union(boxes) if boxes else (float(x), float(y), float(x), float(y))
        if key is not None:
            self.add_anchor(key, text, result)
        return result

    def add_anchor(self, key: str, text: str, box: BBox) -> None:
        """Record a named span; keys are unique per page."""
        if key in self.anchors:
            raise ValueError(f"duplicate anchor key {key!r}")
        if not text:
            raise ValueError(f"anchor {key!r} has no text")
        self.anchors[key] = Anchor(text, box)

    def paragraph(
        self,
        x: float,
        y: float,
        width: float,
        spans: list[Span],
        font: ImageFont.FreeTypeFont,
        *,
        leading: float = 1.45,
        fill: Color = INK,
    ) -> float:
        """Draw wrapped text; keyed spans never break across lines and become anchors.

        Args:
            x: Left edge.
            y: Top of the first line.
            width: Maximum line width.
            spans: The text, as runs with optional anchor keys.
            font: The font.
            leading: Line pitch as a multiple of the word-box height.
            fill: Text colour.

        Returns:
            The y coordinate below the last line.
        """
        # A unit is a plain word or a whole keyed span; a unit that starts with punctuation
        # (the "." after a keyed name) is glued to the previous one without a space, as typeset.
        units: list[tuple[str, str | None, bool]] = []
        for text, key in spans:
            if key is None:
                units.extend((word, None, bool(units) and word[0] in GLUE) for word in text.split())
            elif text.strip():
                units.append((" ".join(text.split()), key, False))
        space = self.width_of(" ", font)
        pitch = self.line_height(font) * leading
        lines: list[list[tuple[str, str | None, bool]]] = [[]]
        line_width = 0.0
        for unit in units:
            unit_width = self.width_of(unit[0], font)
            extra = unit_width + (space if lines[-1] and not unit[2] else 0.0)
            if lines[-1] and not unit[2] and line_width + extra > width:
                lines.append([])
                line_width = 0.0
                extra = unit_width
            lines[-1].append(unit)
            line_width += extra
        for line in lines:
            cursor = float(x)
            for text, key, glued in line:
                if glued:
                    cursor -= space
                box = self.text(cursor, y, text, font, fill, key=key)
                cursor = box[2] + space
            y += pitch
        return y

    def rect(
        self,
        box: tuple[float, float, float, float],
        fill: Color | None = None,
        outline: Color | None = None,
        width: int = 1,
    ) -> None:
        """Draw a rectangle (no text)."""
        self.draw.rectangle(
            [box[0], box[1], box[2], box[3]], fill=fill, outline=outline, width=width
        )

    def line(self, points: list[tuple[float, float]], fill: Color = INK, width: int = 1) -> None:
        """Draw a polyline (no text)."""
        self.draw.line(points, fill=fill, width=width)

    def png_bytes(self, compress_level: int = 1) -> bytes:
        """The page as PNG bytes (zlib level 1: fast, and still deterministic)."""
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG", compress_level=compress_level)
        return buffer.getvalue()


def tint(color: Color, amount: float) -> Color:
    """Blend ``color`` towards white (``amount`` 0 keeps it, 1 gives white)."""
    r, g, b = color
    return (
        round(r + (255 - r) * amount),
        round(g + (255 - g) * amount),
        round(b + (255 - b) * amount),
    )
