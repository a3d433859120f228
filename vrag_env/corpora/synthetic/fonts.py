"""Fonts: the DejaVu family that matplotlib ships as package data.

matplotlib is located with :func:`importlib.util.find_spec` and never imported: importing it costs
time and may pick a GUI backend, while only its font files are needed.
"""

from __future__ import annotations

import importlib.util
from functools import cache, lru_cache
from pathlib import Path

from PIL import ImageFont

FONT_FILES: dict[str, str] = {
    "sans": "DejaVuSans.ttf",
    "sans-bold": "DejaVuSans-Bold.ttf",
    "serif": "DejaVuSerif.ttf",
    "serif-bold": "DejaVuSerif-Bold.ttf",
    "mono": "DejaVuSansMono.ttf",
}
"""Font styles used by the page renderers, and their files."""


@lru_cache(maxsize=1)
def fonts_dir() -> Path:
    """The folder holding matplotlib's DejaVu TrueType fonts.

    Raises:
        FileNotFoundError: If matplotlib (a core dependency) is missing or ships no DejaVu fonts.
    """
    spec = importlib.util.find_spec("matplotlib")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "mpl-data" / "fonts" / "ttf"
        if all((candidate / name).is_file() for name in FONT_FILES.values()):
            return candidate
    raise FileNotFoundError(
        "the synthetic corpus is rendered with the DejaVu fonts shipped in matplotlib's package "
        f"data ({', '.join(FONT_FILES.values())}), but they were not found "
        f"(searched {locations or 'nothing: matplotlib is not installed'}); "
        "install them with `pip install matplotlib`"
    )


@cache
def get_font(style: str, size: int) -> ImageFont.FreeTypeFont:
    """A cached font object.

    The basic layout engine is forced: with libraqm present Pillow would shape text differently,
    and the corpus must render byte-identically on every machine.

    Args:
        style: A key of :data:`FONT_FILES`.
        size: Font size in pixels.

    Raises:
        ValueError: On an unknown style.
    """
    if style not in FONT_FILES:
        raise ValueError(f"unknown font style {style!r}; available: {sorted(FONT_FILES)}")
    return ImageFont.truetype(
        str(fonts_dir() / FONT_FILES[style]), size, layout_engine=ImageFont.Layout.BASIC
    )
