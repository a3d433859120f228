"""Environment presets: named, frozen configurations behind the registered ids.

``gym.make("VRAG-v0")`` resolves ``preset="default"``; keyword arguments override single fields, e.g.
``gym.make("VRAG-v0", corpus="path/to/corpus", retriever="bm25", dialect="tool")``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from vrag_env.judge import BASE_URL_ENV, MODEL_ENV
from vrag_env.rendering import DEFAULT_MAX_VIEW_PIXELS, DEFAULT_MAX_ZOOM
from vrag_env.rewards import ANSWER_METRICS, RewardConfig, get_reward_config

logger = logging.getLogger(__name__)

GEOMETRIES = ("default", "vrag-rl")
"""View sizing and crop mapping rules (see :attr:`VRAGConfig.geometry`)."""


@dataclass(frozen=True)
class VRAGConfig:
    """Everything that defines a ``VRAG`` environment variant. All fields are JSON-serialisable."""

    corpus: str | None = None
    """Path of a corpus folder (see ``vrag ingest``); ``None`` uses the built-in synthetic corpus."""

    synthetic: str = "default"
    """Built-in synthetic corpus preset (``"default"`` or ``"tiny"``), used when ``corpus`` is None."""

    split: str = "train"
    """Question split episodes are drawn from: ``"train"``, ``"val"``, ``"test"`` or ``"all"``."""

    retriever: str = "bm25"
    """Retriever backend name (see ``vrag_env.retrieval.registered_retrievers()``) or the URL of a
    ``vrag serve-retriever`` service (``http://host:port``)."""

    retriever_options: dict[str, Any] | None = None
    """Options of a retriever service client (``{"timeout": seconds, "retries": n}``)."""

    dialect: str = "vrag"
    """Action dialect: ``"vrag"`` (VRAG-RL tags, pixel boxes) or ``"tool"`` (JSON tool calls)."""

    strict_actions: bool = False
    """Reject text outside the action tag and multiple actions per step."""

    reward: str = "default"
    """Reward preset name (see ``vrag_env.rewards.REWARD_PRESETS``)."""

    view_size: tuple[int, int] | None = None
    """``(height, width)`` of the observation image (the canvas views are drawn on, top-left
    anchored). ``None`` derives it from the budget and the corpus's page sizes
    (:func:`vrag_env.rendering.canvas_size`), so that a whole-page view is never cut by the
    canvas."""

    geometry: str = "default"
    """How views are sized and crops mapped.

    ``"default"``: the largest scale within ``max_view_pixels``, the canvas and ``max_zoom``; a
    ``<bbox>`` is mapped through the current view onto the page region it shows, padded by
    ``crop_padding`` and grown to ``min_crop_size``. ``"vrag-rl"``: VRAG-RL's resize
    (:func:`vrag_env.rendering.vrag_rl_size`, with ``min_view_pixels``, no zoom cap) and crop
    mapping (the box, padded by ``crop_pad_view_px`` in the shown image, is scaled by page size /
    shown size onto the last retrieved full page, padded by ``crop_pad_page_px``, truncated to ints
    and clipped to the page); see ``docs/vrag_rl.md``."""

    max_view_pixels: int = DEFAULT_MAX_VIEW_PIXELS
    """Resolution budget of one view in pixels (VRAG-RL: ``512 * 28 * 28``)."""

    min_view_pixels: int | None = None
    """``"vrag-rl"`` geometry: smaller views are scaled up to this many pixels (VRAG-RL:
    ``256 * 28 * 28``). Unused by the default geometry."""

    max_zoom: float | None = DEFAULT_MAX_ZOOM
    """Largest view scale (view pixels per page pixel) a crop is enlarged to (``None``: no cap).
    Unused by the ``"vrag-rl"`` geometry, which has none."""

    crop_padding: float = 0.1
    """Default geometry: padding added on each side of a crop box, as a fraction of the box's width
    and height."""

    min_crop_size: int = 32
    """Default geometry: smallest crop side in page pixels; smaller boxes are grown around their
    centre."""

    crop_pad_view_px: int = 28
    """``"vrag-rl"`` geometry: pixels added on each side of a ``<bbox>`` in the shown image before
    it is mapped (VRAG-RL's validation rollouts: 28; its training rollouts: 0)."""

    crop_pad_page_px: int = 0
    """``"vrag-rl"`` geometry: page pixels added on each side of the mapped crop (VRAG-RL's demo:
    56, with ``crop_pad_view_px=0``)."""

    max_steps: int | None = None
    """Actions per episode after which the env truncates (``None``: only the registered step
    limit). VRAG-RL's training rollouts allow 4 turns plus a final one: 5."""

    max_searches: int | None = None
    """Searches allowed per episode (``None``: unlimited; a further search is an illegal action)."""

    max_question_chars: int = 1024
    """Longest question (and the ``question`` observation's ``max_length``)."""

    def __post_init__(self) -> None:
        if self.dialect not in ("vrag", "tool"):
            raise ValueError(f"dialect must be 'vrag' or 'tool', got {self.dialect!r}")
        if self.split not in ("train", "val", "test", "all"):
            raise ValueError(f"split must be one of train, val, test, all; got {self.split!r}")
        if self.view_size is not None:
            view = tuple(self.view_size)
            if len(view) != 2 or not all(isinstance(v, int) and v >= 32 for v in view):
                raise ValueError(
                    f"view_size must be None or (height, width) ints >= 32, got {self.view_size!r}"
                )
            object.__setattr__(self, "view_size", view)
        if self.geometry not in GEOMETRIES:
            raise ValueError(f"geometry must be one of {list(GEOMETRIES)}, got {self.geometry!r}")
        if self.max_view_pixels < 32 * 32:
            raise ValueError(f"max_view_pixels must be >= 1024, got {self.max_view_pixels}")
        if (
            self.min_view_pixels is not None
            and not 1 <= self.min_view_pixels <= self.max_view_pixels
        ):
            raise ValueError(
                "min_view_pixels must be None or in [1, max_view_pixels], got "
                f"{self.min_view_pixels}"
            )
        if self.max_zoom is not None and not self.max_zoom > 0:
            raise ValueError(f"max_zoom must be None or > 0, got {self.max_zoom}")
        if self.crop_pad_view_px < 0 or self.crop_pad_page_px < 0:
            raise ValueError(
                "crop_pad_view_px and crop_pad_page_px must be >= 0, got "
                f"{self.crop_pad_view_px} and {self.crop_pad_page_px}"
            )
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be None or >= 1, got {self.max_steps}")
        if not 0 <= self.crop_padding <= 1:
            raise ValueError(f"crop_padding is a fraction in [0, 1], got {self.crop_padding}")
        if self.max_searches is not None and self.max_searches < 1:
            raise ValueError(f"max_searches must be None or >= 1, got {self.max_searches}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        out = asdict(self)
        out["view_size"] = None if self.view_size is None else list(self.view_size)
        return out


ENV_PRESETS: dict[str, VRAGConfig] = {
    "default": VRAGConfig(),
    "tiny": VRAGConfig(synthetic="tiny"),
    "tool": VRAGConfig(dialect="tool"),
    # VRAG-RL's rollout environment (Alibaba-NLP/VRAG, VRAG-RL/vrag_agent/generation.py); the
    # choices and the differences are listed in docs/vrag_rl.md.
    "vrag-rl": VRAGConfig(
        geometry="vrag-rl",
        max_view_pixels=512 * 28 * 28,
        min_view_pixels=256 * 28 * 28,
        max_zoom=None,
        crop_pad_view_px=28,
        crop_pad_page_px=0,
        reward="vrag-rl",
        max_steps=5,
    ),
}
"""Presets: ``default``, ``tiny`` and ``tool`` are behind the registered ids (``VRAG-v0``,
``VRAG-Tiny-v0``, ``VRAG-Tool-v0``); ``vrag-rl`` is VRAG-RL's rollout environment
(``gym.make("VRAG-v0", preset="vrag-rl", corpus=..., split=..., retriever=...)``)."""


def resolve_reward(name: str) -> RewardConfig:
    """The reward configuration of preset ``name``, with VRAG-RL's offline fallback.

    ``"vrag-rl"`` asks an LLM judge (VRAG-RL's answer term) when one is configured
    (``VRAG_JUDGE_BASE_URL`` and ``VRAG_JUDGE_MODEL``); without one it falls back, with a warning,
    to the same weights and gate with the numeric-aware ``accuracy`` matcher as the answer term
    (:func:`vrag_env.rewards.accuracy`; ANLS while that metric is not available).
    """
    config = get_reward_config(name)
    judge = config.judge
    if name != "vrag-rl" or judge is None:
        return config
    if (judge.base_url or os.environ.get(BASE_URL_ENV)) and (
        judge.model or os.environ.get(MODEL_ENV)
    ):
        return config
    metric = "accuracy" if "accuracy" in ANSWER_METRICS else "anls"
    logger.warning(
        "reward 'vrag-rl': no LLM judge configured (set %s and %s), so the answer term is the "
        "%r matcher instead of the judge",
        BASE_URL_ENV,
        MODEL_ENV,
        metric,
    )
    return replace(config, answer_metric=metric, judge=None)


def resolve_config(preset: VRAGConfig | str = "default", **overrides: Any) -> VRAGConfig:
    """Build a config from a preset (name or object) and field overrides.

    Raises:
        ValueError: For an unknown preset or field name; the message lists the valid ones.
    """
    if isinstance(preset, str):
        if preset not in ENV_PRESETS:
            raise ValueError(
                f"unknown env preset {preset!r}. Available presets: {sorted(ENV_PRESETS)}"
            )
        base = ENV_PRESETS[preset]
    elif isinstance(preset, VRAGConfig):
        base = preset
    else:
        raise TypeError(
            f"preset must be a VRAGConfig or a preset name, got {type(preset).__name__}"
        )
    names = {f.name for f in fields(VRAGConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown env argument(s) {unknown}. Valid arguments: {sorted(names)}")
    if "view_size" in overrides and overrides["view_size"] is not None:
        overrides["view_size"] = tuple(overrides["view_size"])
    return replace(base, **overrides)
