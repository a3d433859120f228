"""Environment presets: named, frozen configurations behind the registered ids.

``gym.make("VRAG-v0")`` resolves ``preset="default"``; keyword arguments override single fields, e.g.
``gym.make("VRAG-v0", corpus="path/to/corpus", retriever="bm25", dialect="tool")``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from vrag_env.rendering import DEFAULT_MAX_VIEW_PIXELS, DEFAULT_MAX_ZOOM, DEFAULT_VIEW_SIZE


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

    view_size: tuple[int, int] = DEFAULT_VIEW_SIZE
    """``(height, width)`` of the observation image."""

    max_view_pixels: int = DEFAULT_MAX_VIEW_PIXELS
    """Resolution budget of one view in pixels (VRAG-RL: ``512 * 28 * 28``)."""

    max_zoom: float = DEFAULT_MAX_ZOOM
    """Largest view scale (view pixels per page pixel) a crop is enlarged to."""

    crop_padding: float = 0.1
    """Padding added on each side of a crop box, as a fraction of the box's width and height."""

    min_crop_size: int = 32
    """Smallest crop side in page pixels; smaller boxes are grown around their centre."""

    max_searches: int | None = None
    """Searches allowed per episode (``None``: unlimited; a further search is an illegal action)."""

    max_question_chars: int = 1024
    """Longest question (and the ``question`` observation's ``max_length``)."""

    def __post_init__(self) -> None:
        if self.dialect not in ("vrag", "tool"):
            raise ValueError(f"dialect must be 'vrag' or 'tool', got {self.dialect!r}")
        if self.split not in ("train", "val", "test", "all"):
            raise ValueError(f"split must be one of train, val, test, all; got {self.split!r}")
        view = tuple(self.view_size)
        if len(view) != 2 or not all(isinstance(v, int) and v >= 32 for v in view):
            raise ValueError(
                f"view_size must be (height, width) ints >= 32, got {self.view_size!r}"
            )
        object.__setattr__(self, "view_size", view)
        if self.max_view_pixels < 32 * 32:
            raise ValueError(f"max_view_pixels must be >= 1024, got {self.max_view_pixels}")
        if not self.max_zoom > 0:
            raise ValueError(f"max_zoom must be > 0, got {self.max_zoom}")
        if not 0 <= self.crop_padding <= 1:
            raise ValueError(f"crop_padding is a fraction in [0, 1], got {self.crop_padding}")
        if self.max_searches is not None and self.max_searches < 1:
            raise ValueError(f"max_searches must be None or >= 1, got {self.max_searches}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        out = asdict(self)
        out["view_size"] = list(self.view_size)
        return out


ENV_PRESETS: dict[str, VRAGConfig] = {
    "default": VRAGConfig(),
    "tiny": VRAGConfig(synthetic="tiny"),
    "tool": VRAGConfig(dialect="tool"),
}
"""Presets behind the registered ids (``VRAG-v0``, ``VRAG-Tiny-v0``, ``VRAG-Tool-v0``)."""


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
