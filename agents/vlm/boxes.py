"""Crop boxes between the image a VLM was shown and the env's observation image."""

from __future__ import annotations

import re
from typing import Any

from vrag_env.actions import Action, ActionParseError, ActionSet, Crop

__all__ = ["convert_crop", "rescale_first_box"]

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_ACTION_TAG = re.compile(r"<(search|bbox|region|answer)>(.*?)</\1>", re.DOTALL)


def _format_number(value: float) -> str:
    return str(round(value)) if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def rescale_first_box(reply: str, shown: tuple[int, int], view: tuple[int, int]) -> str:
    """Rewrite the first action's ``<bbox>``/``<region>`` box from the shown image's to the view's pixels.

    Only the box changes: the reply keeps its reasoning and tags, so the env parses the same action.
    """
    thinks = [m.span() for m in _THINK.finditer(reply)]
    for match in _ACTION_TAG.finditer(reply):
        if any(start <= match.start() < end for start, end in thinks):
            continue
        if match.group(1) not in ("bbox", "region"):
            return reply
        try:
            box = ActionSet("vrag", view_size=shown).parse(match.group(0))
        except ActionParseError:
            return reply
        assert isinstance(box, Crop)
        sy, sx = view[0] / shown[0], view[1] / shown[1]
        x1, y1, x2, y2 = box.box
        scaled = [x1 * sx, y1 * sy, x2 * sx, y2 * sy]
        text = "[" + ", ".join(_format_number(v) for v in scaled) + "]"
        start, end = match.span(2)
        return reply[:start] + text + reply[end:]
    return reply


def convert_crop(
    action: Action,
    shown: tuple[int, int],
    view_size: tuple[int, int],
    info: dict[str, Any],
) -> Action | None:
    """Map a crop from the shown image's pixels to the observation image's pixels.

    Both action sets parse crops into pixels of their image (:class:`~vrag_env.actions.ActionSet`
    converts the ``tool`` dialect's fractions), so only the scale between the image the model was
    shown (``shown``) and the observation (``view_size``) remains; searches and answers are
    unchanged. Returns ``None`` when the crop cannot be expressed (no view yet, empty box).
    """
    if not isinstance(action, Crop):
        return action
    if not info.get("view"):
        return None
    sy, sx = view_size[0] / shown[0], view_size[1] / shown[1]
    x1, y1, x2, y2 = action.box
    box = (
        min(float(view_size[1]), max(0.0, x1 * sx)),
        min(float(view_size[0]), max(0.0, y1 * sy)),
        min(float(view_size[1]), max(0.0, x2 * sx)),
        min(float(view_size[0]), max(0.0, y2 * sy)),
    )
    if box[2] <= box[0] or box[3] <= box[1]:
        return None
    return Crop(box)
