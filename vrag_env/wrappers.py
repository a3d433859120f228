"""Wrappers: discrete macro-actions and Box observations for stable-baselines3.

:class:`MacroActionWrapper` turns ``VRAG-v0`` into an env SB3 can train on (SB3 supports neither text
actions nor text observations, see ``stable_baselines3/common/preprocessing.py``):

* **Actions**: ``Discrete(K)`` macro-actions, each translated into the env's own action string with
  ``env.unwrapped.action_set.format(...)``, so rewards, termination and ``info`` are exactly the
  underlying env's (``info`` is passed through unchanged).
* **Observations**: a flat ``Dict`` of ``Box`` spaces: a downscaled view image (``uint8``), features of
  the answer candidates, and a state vector.

How the wrapper "reads"
-----------------------
A policy trained from pixels alone would need an OCR model inside it, so the wrapper reads for it.
Two readers, chosen with ``candidates``:

* ``"ocr"`` (the default, honest): RapidOCR (:func:`vrag_env.corpora.ocr.ocr_image`, the engine
  the ``heuristic`` agent runs) on the **view image the env shows**. Small print is read only when
  the OCR reads it, typically after a crop. OCR results are cached per view image (by a hash of
  its pixels; :data:`OCR_CACHE_SIZE` images per process), so a page view seen again in training
  costs nothing.
* ``"text-layer"`` (**privileged**): the page's text layer (``corpus.pages[pid].words``: for the
  synthetic corpus the generator's exact words, i.e. perfect OCR) restricted to the words inside
  the view region whose box height times the view scale reaches
  :data:`vrag_env.rendering.LEGIBLE_PX`. It reads ground-truth text an agent cannot see, so agents
  built on it declare themselves privileged (``ppo-text-layer``).

Neither reader looks at gold answers, evidence boxes or page ids.

The reading helpers (:mod:`vrag_env.reading`: :func:`~vrag_env.reading.analyze_question`,
:func:`~vrag_env.reading.segments_from_words`, :func:`~vrag_env.reading.rank_candidates`) are used by the OCR heuristic agent on real OCR output, so the two baselines
share one answer-span extractor and differ in how they see (OCR vs. text layer) and decide (rules vs.
a learned policy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from vrag_env.actions import Answer, Crop, Search
from vrag_env.described_env import DescribedEnv
from vrag_env.reading import (
    ANSWER_KINDS,
    CANDIDATE_FEATURES,
    Candidate,
    QuestionAnalysis,
    Segment,
    analyze_question,
    match_score,
    rank_candidates,
    segments_from_words,
)
from vrag_env.rendering import LEGIBLE_PX, ViewTransform
from vrag_env.types import BBox
from vrag_env.view_ocr import OCR_CACHE_SIZE, ocr_view

__all__ = [
    "CANDIDATE_SOURCES",
    "GRID",
    "IMAGE_SIZE",
    "NUM_CANDIDATES",
    "OCR_CACHE_SIZE",
    "DescribedEnv",
    "MacroAction",
    "MacroActionWrapper",
    "macro_actions",
    "ocr_view",
]

# ---------------------------------------------------------------------------------------------
# The SB3 wrapper
# ---------------------------------------------------------------------------------------------

GRID = 2
"""The crop grid is ``GRID x GRID`` cells of the current view (a 2x2 cell of a report page or a
slide is shown at a scale where its small print is legible)."""

NUM_CANDIDATES = 8
"""Answer macro-actions: one per ranked candidate."""

IMAGE_SIZE = 64
"""Side of the downscaled view image in the observation."""

CANDIDATE_SOURCES = ("ocr", "text-layer")
"""Readers of :class:`MacroActionWrapper` (``candidates=``); ``"text-layer"`` is privileged."""

_KINDS = ("none", "search", "crop", "answer", "invalid")
_EXPECTS = ("any", *ANSWER_KINDS)


@dataclass(frozen=True)
class MacroAction:
    """One discrete macro-action.

    Attributes:
        kind: ``"search"``, ``"crop_cell"``, ``"crop_best"`` or ``"answer"``.
        index: Grid cell (row-major) for ``crop_cell``, candidate rank for ``answer``.
    """

    kind: str
    index: int = 0

    @property
    def name(self) -> str:
        """A short readable name (``"search"``, ``"crop_cell_4"``, ``"answer_0"``)."""
        return self.kind if self.kind in ("search", "crop_best") else f"{self.kind}_{self.index}"


def macro_actions(
    grid: int = GRID, num_candidates: int = NUM_CANDIDATES
) -> tuple[MacroAction, ...]:
    """The macro-action list: search, the grid crops, crop-best-line, then one answer per candidate."""
    return (
        MacroAction("search"),
        *(MacroAction("crop_cell", i) for i in range(grid * grid)),
        MacroAction("crop_best"),
        *(MacroAction("answer", k) for k in range(num_candidates)),
    )


class MacroActionWrapper(gym.Wrapper[dict[str, np.ndarray], np.int64, dict[str, Any], str]):
    """``VRAG`` with ``Discrete`` macro-actions and a flat ``Dict`` of ``Box`` observations (for SB3).

    ## Action Space

    ``Discrete(2 + grid**2 + num_candidates)``; with the defaults (``grid=2``, 8 candidates), 14:

    | action | macro | env action |
    |---|---|---|
    | 0 | search | ``<search>{question}</search>``: the retriever's best page not shown yet, so repeating it shows the next result |
    | 1..4 | crop grid cell ``i`` | ``<bbox>`` of cell ``i`` (row-major) of a 2x2 grid over the current view |
    | 5 | crop around the best line | a band below the legible line that best matches the question: the full view width, from one line above it down by ``best_band`` x the width (a table or chart under its title, a paragraph); the cell with the most small print when nothing legible matches |
    | 6..13 | answer candidate ``k`` | ``<answer>{candidate k}</answer>``; an empty (invalid) answer when there are fewer candidates |

    Actions that cannot apply (crop before any search, a missing candidate) are passed on as the
    env's invalid actions, so they cost the env's penalty and the episode goes on.

    ## Observation Space

    | key | space | content |
    |---|---|---|
    | ``image`` | ``Box(0, 255, (64, 64, 3), uint8)`` | the view image, downscaled |
    | ``candidates`` | ``Box(-1, 1, (num_candidates * 11,), float32)`` | per candidate: the features of :data:`CANDIDATE_FEATURES`, zeros for missing ones |
    | ``state`` | ``Box(-1, 1, (state_size,), float32)`` | step fraction, page shown, searches, crops, zoom, the expected answer kind (one-hot), the best line's match, the question terms found in the view, legible/small-print amounts, per grid cell its best match and small-print density, the last action kind (one-hot) |

    Candidates come from :func:`rank_candidates` over the words read in the current view: RapidOCR
    of the view image by default, the legible text-layer words with ``candidates="text-layer"``
    (privileged; see the module docstring).

    ## Info

    The env's ``info``, unchanged.

    Args:
        env: A ``VRAG`` env (``gym.make("VRAG-v0")``, any dialect).
        grid: Crop grid size.
        num_candidates: Answer macro-actions.
        image_size: Side of the observation image.
        best_band: Height of the crop-best-line band, as a fraction of the view region's width.
        max_steps: Step budget used for the step fraction (default: the env's ``TimeLimit``, else 10).
        candidates: Where answer candidates are read from: ``"ocr"`` (RapidOCR of the view image,
            the default) or ``"text-layer"`` (the corpus text layer: privileged).

    Raises:
        ValueError: For a bad ``grid``, ``num_candidates``, ``image_size`` or ``candidates``.
    """

    def __init__(
        self,
        env: gym.Env[dict[str, Any], str],
        grid: int = GRID,
        num_candidates: int = NUM_CANDIDATES,
        image_size: int = IMAGE_SIZE,
        best_band: float = 0.6,
        max_steps: int | None = None,
        candidates: str = "ocr",
    ) -> None:
        # gymnasium annotates ``Wrapper.__init__``'s env with the wrapper's own (outer) types.
        super().__init__(env)  # type: ignore[arg-type]
        if grid < 1 or num_candidates < 1 or image_size < 36:
            raise ValueError(
                f"need grid >= 1, num_candidates >= 1 and image_size >= 36 (SB3's CNN minimum); got "
                f"grid={grid}, num_candidates={num_candidates}, image_size={image_size}"
            )
        if candidates not in CANDIDATE_SOURCES:
            raise ValueError(
                f"candidates must be one of {', '.join(CANDIDATE_SOURCES)}, got {candidates!r}: "
                "use 'ocr' (RapidOCR of the view) or 'text-layer' (privileged ground-truth text)"
            )
        self.candidates = candidates
        self.grid = grid
        self.num_candidates = num_candidates
        self.image_size = image_size
        self.best_band = best_band
        spec_steps = env.spec.max_episode_steps if env.spec is not None else None
        spec_steps = spec_steps or getattr(env.unwrapped, "max_steps", None)
        self.max_steps = int(max_steps or spec_steps or 10)
        self.actions = macro_actions(grid, num_candidates)
        self.state_size = 5 + len(_EXPECTS) + 5 + 2 * grid * grid + len(_KINDS)
        self.action_space = spaces.Discrete(len(self.actions))
        self.observation_space = spaces.Dict(  # type: ignore[assignment]
            {
                "image": spaces.Box(0, 255, (image_size, image_size, 3), np.uint8),
                "candidates": spaces.Box(
                    -1.0, 1.0, (num_candidates * len(CANDIDATE_FEATURES),), np.float32
                ),
                "state": spaces.Box(-1.0, 1.0, (self.state_size,), np.float32),
            }
        )
        self._qa: QuestionAnalysis | None = None
        self._question = ""
        self._candidates: list[Candidate] = []
        self._segments: list[Segment] = []
        self._illegible: list[BBox] = []
        self._last_info: dict[str, Any] = {}
        self._view: ViewTransform | None = None

    # ------------------------------------------------------------------ Gym API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset the env and read the (blank) first view."""
        obs, info = self.env.reset(seed=seed, options=options)
        self.start_episode(str(obs["question"]))
        return self.observe(obs, info), info

    def step(
        self, action: np.int64 | int
    ) -> tuple[dict[str, np.ndarray], SupportsFloat, bool, bool, dict[str, Any]]:
        """Translate the macro-action into an env action string and step the env."""
        text = self.action_text(int(action))
        obs, reward, terminated, truncated, info = self.env.step(text)  # type: ignore[arg-type]
        return self.observe(obs, info), reward, terminated, truncated, info

    # ------------------------------------------------------------------ for agents that step the env

    def start_episode(self, question: str) -> None:
        """Start reading for a new question.

        ``reset`` calls it; so do agents that drive the underlying env themselves and use this
        wrapper only to observe and translate.
        """
        self._question = question
        self._qa = analyze_question(question)
        self._candidates = []
        self._view = None

    # ------------------------------------------------------------------ translation

    def action_text(self, action: int) -> str:
        """The env action string for macro-action ``action`` in the current state."""
        if not 0 <= action < len(self.actions):
            raise gym.error.InvalidAction(
                f"macro-action must be in [0, {len(self.actions)}), got {action}"
            )
        macro = self.actions[action]
        action_set = self.env.unwrapped.action_set  # type: ignore[attr-defined]
        if macro.kind == "search":
            return str(action_set.format(Search(self._question[: action_set.max_query_chars])))
        if macro.kind == "answer":
            k = macro.index
            answer = self._candidates[k].text if k < len(self._candidates) else ""
            return str(action_set.format(Answer(answer)))
        view = self._view
        if view is None:
            # Nothing to crop yet: the env rejects this crop (an invalid action, with its penalty).
            return str(action_set.format(self._view_crop((0.0, 0.0, 1.0, 1.0), None)))
        region = self._crop_region(macro, view.region)
        return str(action_set.format(self._view_crop(region, view)))

    def _crop_region(self, macro: MacroAction, region: BBox) -> BBox:
        """The page-pixel region a crop macro-action asks for."""
        x1, y1, x2, y2 = region
        w, h = x2 - x1, y2 - y1
        if macro.kind == "crop_best":
            best = self._best_segment()
            if best is not None:
                return self._band_below(best[0], region)
            cell = (
                int(np.argmax(self._cell_density()))
                if self._illegible
                else (self.grid * self.grid) // 2
            )
        else:
            cell = macro.index
        row, col = divmod(cell, self.grid)
        return (
            x1 + w * col / self.grid,
            y1 + h * row / self.grid,
            x1 + w * (col + 1) / self.grid,
            y1 + h * (row + 1) / self.grid,
        )

    def _band_below(self, seg: Segment, region: BBox) -> BBox:
        """The crop-best-line region below ``seg``.

        The view's full width, from one line above ``seg`` down by ``best_band`` times the view's
        width (a table or chart under its title, a paragraph with its notes). With the width
        fixed, the band's height barely changes the zoom, so it is generous.
        """
        x1, y1, x2, y2 = region
        top = max(y1, seg.box[1] - seg.height)
        bottom = min(y2, top + self.best_band * (x2 - x1))
        return (x1, top, x2, bottom)

    def _view_crop(self, region: BBox, view: ViewTransform | None) -> Crop:
        """A :class:`Crop` (observation-image pixels) for a page-pixel region of the current view."""
        if view is None:
            height, width = self.env.unwrapped.action_set.view_size  # type: ignore[attr-defined]
            return Crop((0.0, 0.0, float(width), float(height)))
        return Crop(view.crop_box(region))

    # ------------------------------------------------------------------ reading

    @property
    def privileged(self) -> bool:
        """Whether the wrapper reads ground truth (the text layer) rather than the view image."""
        return self.candidates == "text-layer"

    def _read_view(self, image: np.ndarray, info: dict[str, Any]) -> None:
        """Read segments and small-print boxes of the current view (page pixels)."""
        self._segments, self._illegible = [], []
        view = self._view = _view_of(info)
        if view is None or info.get("current_page") is None:
            return
        if self.candidates == "text-layer":
            words = self._text_layer_words(view, str(info["current_page"]))
        else:
            words = self._ocr_words(image, view)
        rx1, ry1, rx2, ry2 = view.region
        legible: list[tuple[str, BBox]] = []
        for text, box, readable in words:
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            if not (rx1 <= cx <= rx2 and ry1 <= cy <= ry2):
                continue
            if readable:
                legible.append((text, box))
            if (box[3] - box[1]) * view.scale < LEGIBLE_PX:
                self._illegible.append(box)
        self._segments = segments_from_words(legible)

    def _text_layer_words(self, view: ViewTransform, page_id: str) -> list[tuple[str, BBox, bool]]:
        """Privileged: the page's text-layer words, readable when legible at the view's scale."""
        u: Any = self.env.unwrapped
        page = u.corpus.pages[u.real_page_id(page_id)]  # info shows opaque page ids
        return [
            (w.text, w.box, (w.box[3] - w.box[1]) * view.scale >= LEGIBLE_PX) for w in page.words
        ]

    def _ocr_words(self, image: np.ndarray, view: ViewTransform) -> list[tuple[str, BBox, bool]]:
        """RapidOCR of the view image, mapped to page pixels; every word read is readable."""
        return [(text, view.view_to_page(box), True) for text, box in ocr_view(image)]

    def _best_segment(self) -> tuple[Segment, float] | None:
        if self._qa is None or not self._segments:
            return None
        scored = [(seg, match_score(self._qa, seg.text)) for seg in self._segments]
        seg, score = max(scored, key=lambda p: (p[1], -p[0].box[1]))
        return (seg, score) if score > 0 else None

    def _cells(self) -> list[BBox]:
        view = self._view
        if view is None:
            return []
        x1, y1, x2, y2 = view.region
        w, h = (x2 - x1) / self.grid, (y2 - y1) / self.grid
        return [
            (x1 + c * w, y1 + r * h, x1 + (c + 1) * w, y1 + (r + 1) * h)
            for r in range(self.grid)
            for c in range(self.grid)
        ]

    def _cell_density(self) -> np.ndarray:
        cells = self._cells()
        counts = np.zeros(self.grid * self.grid, np.float32)
        for bx1, by1, bx2, by2 in self._illegible:
            cx, cy = (bx1 + bx2) / 2, (by1 + by2) / 2
            for i, (x1, y1, x2, y2) in enumerate(cells):
                if x1 <= cx < x2 and y1 <= cy < y2:
                    counts[i] += 1
                    break
        return counts

    def observe(self, obs: dict[str, Any], info: dict[str, Any]) -> dict[str, np.ndarray]:
        """The wrapper's observation for an env observation and info.

        Also ranks the answer candidates that :meth:`action_text` answers with.
        """
        self._read_view(np.asarray(obs["image"]), info)
        qa = self._qa
        assert qa is not None
        self._candidates = rank_candidates(self._segments, qa, self.num_candidates)
        feats = np.zeros((self.num_candidates, len(CANDIDATE_FEATURES)), np.float32)
        for k, cand in enumerate(self._candidates):
            feats[k] = [cand.features.get(name, 0.0) for name in CANDIDATE_FEATURES]
        image = _downscale(obs["image"], self.image_size)
        return {
            "image": image,
            "candidates": np.clip(feats.reshape(-1), -1.0, 1.0),
            "state": np.clip(self._state(info), -1.0, 1.0),
        }

    def _state(self, info: dict[str, Any]) -> np.ndarray:
        qa = self._qa
        assert qa is not None
        view = self._view
        best = self._best_segment()
        text = " ".join(s.text for s in self._segments)
        kind = info.get("action_kind") or "none"
        cells = self._cells()
        cell_match = np.zeros(self.grid * self.grid, np.float32)
        for seg in self._segments:
            cx, cy = (seg.box[0] + seg.box[2]) / 2, seg.cy
            for i, (x1, y1, x2, y2) in enumerate(cells):
                if x1 <= cx < x2 and y1 <= cy < y2:
                    cell_match[i] = max(cell_match[i], match_score(qa, seg.text))
                    break
        density = self._cell_density()
        density = density / max(1.0, float(density.sum()))
        values = [
            info.get("step", 0) / self.max_steps,
            float(info.get("current_page") is not None),
            min(1.0, info.get("num_searches", 0) / 4),
            min(1.0, info.get("num_crops", 0) / 4),
            0.0 if view is None else float(np.clip(math.log2(max(view.scale, 1e-3)) / 2, -1, 1)),
            *(float(qa.expects == e) for e in _EXPECTS),
            0.0 if best is None else best[1],
            match_score(qa, text),
            min(1.0, len(self._segments) / 60),
            min(1.0, len(self._illegible) / 200),
            float(bool(self._candidates)),
            *cell_match,
            *density,
            *(float(kind == k) for k in _KINDS),
        ]
        return np.asarray(values, np.float32)


def _downscale(image: np.ndarray, size: int) -> np.ndarray:
    """Box-filter a ``(H, W, 3)`` uint8 image down to ``(size, size, 3)``."""
    from PIL import Image

    pil = Image.fromarray(image)
    h, w = image.shape[:2]
    if h % size == 0 and w % size == 0 and h // size == w // size:
        return np.asarray(pil.reduce(h // size), np.uint8)
    return np.asarray(pil.resize((size, size), Image.Resampling.BOX), np.uint8)


def _view_of(info: dict[str, Any]) -> ViewTransform | None:
    """The current view's transform from ``info["view"]`` (``None`` before the first page)."""
    view = info.get("view")
    return ViewTransform.from_info(view) if view else None
