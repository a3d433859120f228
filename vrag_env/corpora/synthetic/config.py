"""Configuration of the built-in synthetic corpus: the config dataclass, presets and version."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any

GENERATOR_VERSION: int = 2
"""Version of the generator's output. Bump it whenever the same config would produce different
pages, images or questions, so cached corpora are regenerated."""


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of a synthetic corpus. The corpus is a pure function of these and the generator.

    The world is a set of fictional listed companies. Every company publishes one annual report per
    year (overview, financial tables, charts and an at-a-glance infographic), one results slide deck
    per year, and a few filled-in forms. Questions are drawn from templates over what is printed.
    """

    name: str = "default"
    """Corpus name written to the manifest (and part of the cache folder name)."""

    seed: int = 0
    """Seed of every random choice (names, figures, layout variants, questions, splits)."""

    num_companies: int = 12
    """Number of fictional companies (at most 16). Each has its own annual reports and decks."""

    first_year: int = 2020
    """First fiscal year covered by annual reports and results decks."""

    num_years: int = 4
    """Number of consecutive fiscal years, so near-duplicate reports exist for every company."""

    forms_per_company: int = 2
    """Filled-in forms (supplier registration, expense claim, equipment loan) per company."""

    table_questions_per_page: int = 10
    """Single-hop questions drawn from each financial-table page (table cells and footnotes)."""

    chart_questions_per_page: int = 5
    """Single-hop questions drawn from each chart page (value labels and tick labels)."""

    text_questions_per_page: int = 2
    """Single-hop questions drawn from each report overview and each infographic page."""

    slide_questions_per_deck: int = 3
    """Single-hop questions drawn from each results slide deck (bullets and source footers)."""

    form_questions_per_form: int = 2
    """Single-hop questions drawn from each form (field values and the office-use box)."""

    multi_hop_per_company: int = 18
    """Two-page questions per company (year-on-year differences, cross-page look-ups)."""

    split_fractions: tuple[float, float, float] = (0.65, 0.1, 0.25)
    """Fractions of *companies* in the train, val and test splits (rounded; test takes the rest).

    The split is by company: every question about a company, and so every page it reads, is in one
    split, and no train statistic about a company can predict a test answer."""

    def __post_init__(self) -> None:
        if not 1 <= self.num_companies <= 16:
            raise ValueError(f"num_companies must be in 1..16, got {self.num_companies}")
        if self.num_years < 2:
            raise ValueError(
                f"num_years must be >= 2 (multi-hop questions compare years), got {self.num_years}"
            )
        if not 1990 <= self.first_year <= 2090:
            raise ValueError(f"first_year must be in 1990..2090, got {self.first_year}")
        counts = {
            "forms_per_company": self.forms_per_company,
            "table_questions_per_page": self.table_questions_per_page,
            "chart_questions_per_page": self.chart_questions_per_page,
            "text_questions_per_page": self.text_questions_per_page,
            "slide_questions_per_deck": self.slide_questions_per_deck,
            "form_questions_per_form": self.form_questions_per_form,
            "multi_hop_per_company": self.multi_hop_per_company,
        }
        for field_name, value in counts.items():
            if value < 0:
                raise ValueError(f"{field_name} must be >= 0, got {value}")
        fractions = tuple(self.split_fractions)
        if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
            raise ValueError(
                "split_fractions must be three non-negative numbers (train, val, test) summing to "
                f"1, got {self.split_fractions!r}"
            )

    @property
    def years(self) -> tuple[int, ...]:
        """The fiscal years covered, in order."""
        return tuple(range(self.first_year, self.first_year + self.num_years))

    def to_json(self) -> dict[str, Any]:
        """JSON form (``dataclasses.asdict`` with the tuple as a list)."""
        record = asdict(self)
        record["split_fractions"] = list(self.split_fractions)
        return record

    def fingerprint(self) -> str:
        """A short hash of the generator version and every parameter (names cache folders)."""
        payload = json.dumps(
            {"generator_version": GENERATOR_VERSION, "config": self.to_json()}, sort_keys=True
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


SYNTHETIC_PRESETS: Mapping[str, SyntheticConfig] = MappingProxyType(
    {
        # 408 pages and about 1,300 questions (300+ test): the corpus `VRAG-v0` and the leaderboard use.
        "default": SyntheticConfig(),
        # 57 pages and about 270 questions, one company per split with every page kind and question type: for tests.
        "tiny": SyntheticConfig(
            name="tiny",
            num_companies=3,
            num_years=2,
            first_year=2022,
            forms_per_company=3,
            table_questions_per_page=10,
            chart_questions_per_page=4,
            text_questions_per_page=4,
            slide_questions_per_deck=6,
            multi_hop_per_company=16,
            split_fractions=(0.4, 0.3, 0.3),  # one company per split
        ),
    }
)
"""Named configs accepted by :func:`~vrag_env.corpora.synthetic.builtin_corpus`."""


def resolve_config(config: str | SyntheticConfig) -> SyntheticConfig:
    """Turn a preset name or a config into a config.

    Raises:
        ValueError: If ``config`` names no preset; the message lists the presets.
        TypeError: If ``config`` is neither a string nor a :class:`SyntheticConfig`.
    """
    if isinstance(config, SyntheticConfig):
        return config
    if isinstance(config, str):
        if config not in SYNTHETIC_PRESETS:
            raise ValueError(
                f"unknown synthetic corpus preset {config!r}; available: {sorted(SYNTHETIC_PRESETS)}"
            )
        return SYNTHETIC_PRESETS[config]
    raise TypeError(
        f"expected a preset name or a SyntheticConfig, got {type(config).__name__} {config!r:.80}"
    )
