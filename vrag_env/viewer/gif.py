"""``vrag view --gif``: one episode as an animated GIF.

One frame per step: the page with the shown region outlined (left), the view the agent saw (right)
and a caption with the step, the action and the feedback; a first frame with the question and a last
one with the prediction against the gold answers.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from vrag_env.viewer.images import agent_view, page_thumbnail, shrink
from vrag_env.viewer.trajectory import Episode, Run

PANEL = 360
"""Height of the page and view panels of a frame, in pixels."""

CAPTION_LINES = 5
FONT_SIZE = 14
MARGIN = 8


def _font(size: int = FONT_SIZE) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:  # DejaVu ships with matplotlib, which renders the synthetic corpus
        from matplotlib import font_manager

        return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)
    except (ImportError, OSError, ValueError):
        return ImageFont.load_default()


def _caption(draw: ImageDraw.ImageDraw, lines: list[str], top: int, width: int) -> None:
    font = _font()
    chars = max(20, (width - 2 * MARGIN) // (FONT_SIZE // 2 + 1))
    wrapped: list[str] = []
    for line in lines:
        wrapped.extend(textwrap.wrap(line, chars) or [""])
    for i, line in enumerate(wrapped[:CAPTION_LINES]):
        draw.text((MARGIN, top + MARGIN + i * (FONT_SIZE + 4)), line, fill=(20, 20, 20), font=font)


def _frame(
    width: int, lines: list[str], left: Image.Image | None, right: Image.Image | None
) -> Image.Image:
    caption_h = 2 * MARGIN + CAPTION_LINES * (FONT_SIZE + 4)
    frame = Image.new("RGB", (width, PANEL + caption_h), (245, 245, 245))
    if left is not None:
        frame.paste(left, (MARGIN, (PANEL - left.height) // 2))
    if right is not None:
        x = 2 * MARGIN + (left.width if left is not None else 0)
        frame.paste(right, (x, (PANEL - right.height) // 2))
    _caption(ImageDraw.Draw(frame), lines, PANEL, width)
    return frame


def episode_frames(run: Run, episode: Episode) -> list[Image.Image]:
    """The frames of ``episode``: question, one per step, outcome."""
    views: list[tuple[Image.Image | None, Image.Image | None]] = []
    for step in episode.steps:
        if step.page is None or step.region is None:
            views.append((None, None))
            continue
        page = run.corpus.page_image(step.page)
        thumb = page_thumbnail(page, PANEL - 2 * MARGIN, step.region)
        view = shrink(agent_view(page, step.region, run.config, run.view_size), PANEL - 2 * MARGIN)
        views.append((thumb, view))
    width = max(
        [640]
        + [2 * MARGIN + (a.width if a else 0) + (b.width if b else 0) + MARGIN for a, b in views]
    )
    frames = [_frame(width, [f"Q: {episode.question}", f"({episode.question_id})"], None, None)]
    for step, (left, right) in zip(episode.steps, views, strict=True):
        reward = "" if step.reward is None else f" · reward {step.reward:.2f}"
        lines = [
            f"step {step.index} · {step.kind}{reward} · {step.page or 'no page'}",
            step.action.replace("\n", " "),
            step.feedback,
        ]
        frames.append(_frame(width, lines, left, right))
    last_left, last_right = views[-1] if views else (None, None)
    outcome = (
        "correct" if episode.correct else "wrong" if episode.prediction is not None else "no answer"
    )
    frames.append(
        _frame(
            width,
            [
                f"prediction: {episode.prediction} ({outcome})",
                f"gold: {' | '.join(episode.answers)}",
                " · ".join(f"{k} {v:.2f}" for k, v in episode.score.items()),
            ],
            last_left,
            last_right,
        )
    )
    return frames


def write_gif(
    run: Run, episode: Episode, out: str | os.PathLike[str], seconds_per_frame: float = 1.6
) -> Path:
    """Write ``episode`` as an animated GIF to ``out`` and return the path."""
    frames = [
        f.quantize(colors=128, dither=Image.Dither.NONE) for f in episode_frames(run, episode)
    ]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(
        out,
        save_all=True,
        append_images=frames[1:],
        duration=int(seconds_per_frame * 1000),
        loop=0,
        optimize=True,
    )
    return out
