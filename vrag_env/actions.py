"""The action grammar: the one place that parses, describes, formats and samples actions.

Two dialects, chosen with ``dialect=``:

``vrag`` (default)
    The tags the released VRAG-RL checkpoints emit: ``<search>query</search>``,
    ``<bbox>[x1, y1, x2, y2]</bbox>`` (pixel coordinates of the observation image last shown; the paper's
    ``<region>`` tag is accepted as a synonym) and ``<answer>text</answer>``. ``<think>...</think>`` is
    allowed and ignored. Generation in VRAG-RL stops at the first closing action tag, so in non-strict
    mode the first complete action wins.

``tool``
    One JSON tool call, optionally wrapped in ``<tool_call>...</tool_call>`` as Qwen-style templates
    emit it (then text and ``<think>`` around it are ignored unless strict): ``{"name": "search", "arguments": {"query": "..."}}``,
    ``{"name": "crop", "arguments": {"box": [x1, y1, x2, y2]}}`` with fractions ``0..1`` of the width
    and height of the observation image shown now, or ``{"name": "answer", "arguments": {"answer": "..."}}``.

One crop frame: whatever the dialect, a parsed :class:`Crop` holds pixels of the observation image
(``view_size``). The ``tool`` dialect's fractions are converted here, in :meth:`ActionSet.parse` and
:meth:`ActionSet.format`, and nowhere else (see :mod:`vrag_env.rendering` for mapping view pixels to
page pixels).

Agents build their prompts from :meth:`ActionSet.describe`; the environment owns no prompt strings and
no chat template.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from vrag_env.types import BBox

Dialect = Literal["vrag", "tool"]
DIALECTS: tuple[str, ...] = ("vrag", "tool")

MAX_ACTION_CHARS = 16_384
"""Longer action strings are rejected unparsed (a penalty, not a crash)."""


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_utf8(text: str) -> str:
    """``text`` with lone surrogates (which UTF-8 cannot encode) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


MAX_JSON_DEPTH = 16
"""Deepest nesting of arrays and objects accepted in an action's JSON."""

MAX_INT_DIGITS = 64
"""Longest integer literal accepted in an action's JSON (Python refuses > 4300 digits anyway)."""

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _bounded_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(literal)} digits (at most {MAX_INT_DIGITS})")
    return int(literal)


def _load_json(text: str) -> Any:
    """``json.loads`` bounded in size, nesting depth and integer length.

    Raises:
        json.JSONDecodeError: For invalid or over-limit JSON (never another exception).
    """
    if len(text) > MAX_ACTION_CHARS:
        raise json.JSONDecodeError(f"over {MAX_ACTION_CHARS} characters", text[:20], 0)
    depth = deepest = 0
    for bracket in _NOT_BRACKET.sub("", _JSON_STRING.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    if deepest > MAX_JSON_DEPTH:
        raise json.JSONDecodeError(f"nested deeper than {MAX_JSON_DEPTH} levels", text[:20], 0)
    try:
        return json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError, OverflowError, TypeError) as exc:
        raise json.JSONDecodeError(str(exc)[:100], text[:20], 0) from None


class ActionParseError(ValueError):
    """The action text does not follow the grammar. The episode goes on with a penalty."""


class IllegalActionError(ValueError):
    """The action parsed, but cannot be applied in the current state (e.g. crop before any search)."""


@dataclass(frozen=True)
class Search:
    """Retrieve the best-ranked page not shown yet in this episode.

    Attributes:
        query: The search query.
    """

    query: str


@dataclass(frozen=True)
class Crop:
    """Zoom into a region of the current view.

    Attributes:
        box: ``(x1, y1, x2, y2)`` in pixels of the observation image, in every dialect.
    """

    box: BBox


@dataclass(frozen=True)
class Answer:
    """Submit the final answer; ends the episode.

    Attributes:
        text: The answer.
    """

    text: str


Action = Search | Crop | Answer

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_TAG = re.compile(r"<(search|bbox|region|answer)>(.*?)</\1>", re.DOTALL)
_OPEN_TAG = re.compile(r"<(search|bbox|region|answer|think)>")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TOOL_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)


def _check_box(values: list[Any], what: str) -> BBox:
    if len(values) != 4:
        raise ActionParseError(f"{what} needs 4 numbers [x1, y1, x2, y2], got {len(values)}")
    try:
        box = tuple(float(v) for v in values)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ActionParseError(f"{what} must hold numbers, got {values!r:.80}") from exc
    if not all(math.isfinite(v) for v in box):
        raise ActionParseError(f"{what} has a non-finite coordinate: {list(box)}")
    x1, y1, x2, y2 = box
    if min(box) < 0:
        raise ActionParseError(f"{what} has a negative coordinate: {list(box)}")
    if x2 <= x1 or y2 <= y1:
        raise ActionParseError(f"{what} must satisfy x1 < x2 and y1 < y2, got {list(box)}")
    return (x1, y1, x2, y2)


class ActionSet:
    """Parses, describes, formats and samples actions of one dialect.

    Example:
        >>> actions = ActionSet("vrag")
        >>> actions.parse("<think>zoom on the table</think><bbox>[10, 20, 110, 90]</bbox>")
        Crop(box=(10.0, 20.0, 110.0, 90.0))
        >>> actions.parse("<search>Aurora revenue 2022</search>")
        Search(query='Aurora revenue 2022')
        >>> ActionSet("tool").parse('{"name": "answer", "arguments": {"answer": "12.4"}}')
        Answer(text='12.4')

    Args:
        dialect: ``"vrag"`` or ``"tool"``.
        strict: Reject text outside the action (and ``<think>``) and more than one action.
        view_size: ``(height, width)`` of the observation image, used by :meth:`sample` and
            :meth:`describe` to produce in-range boxes.
        max_query_chars: Longest accepted search query.
        max_answer_chars: Longest accepted answer.
    """

    def __init__(
        self,
        dialect: str = "vrag",
        *,
        strict: bool = False,
        view_size: tuple[int, int] = (640, 640),
        max_query_chars: int = 512,
        max_answer_chars: int = 512,
    ) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"unknown action dialect {dialect!r}; choose one of {list(DIALECTS)}")
        self.dialect: Dialect = dialect  # type: ignore[assignment]
        self.strict = strict
        self.view_size = (int(view_size[0]), int(view_size[1]))
        self.max_query_chars = max_query_chars
        self.max_answer_chars = max_answer_chars

    # ------------------------------------------------------------------ parsing

    def parse(self, text: str) -> Action:
        """Parse one action.

        Raises:
            ActionParseError: With a message saying what is wrong and what is expected.
        """
        if not isinstance(text, str):
            raise ActionParseError(f"an action is a str, got {type(text).__name__}")
        if len(text) > MAX_ACTION_CHARS:
            raise ActionParseError(
                f"the action is {len(text)} characters long; the limit is {MAX_ACTION_CHARS}"
            )
        if not text.strip():
            raise ActionParseError("empty action; " + self._expected())
        try:
            if self.dialect == "vrag":
                return self._parse_vrag(text)
            return self._parse_tool(text)
        except ActionParseError:
            raise
        except Exception as exc:  # last resort: malformed input never escapes as another error
            raise ActionParseError(
                f"the action could not be parsed ({type(exc).__name__}); " + self._expected()
            ) from None

    def _expected(self) -> str:
        if self.dialect == "vrag":
            return (
                "expected one of <search>query</search>, <bbox>[x1, y1, x2, y2]</bbox> or "
                "<answer>text</answer>"
            )
        return 'expected one JSON tool call {"name": "search"|"crop"|"answer", "arguments": {...}}'

    def _parse_vrag(self, text: str) -> Action:
        body = _THINK.sub(" ", text)
        matches = list(_TAG.finditer(body))
        if not matches:
            opened = _OPEN_TAG.search(body)
            if opened:
                tag = opened.group(1)
                raise ActionParseError(f"unclosed <{tag}> tag: close it with </{tag}>")
            raise ActionParseError("no action found; " + self._expected())
        if self.strict:
            if len(matches) > 1:
                raise ActionParseError(f"found {len(matches)} actions; give exactly one per turn")
            rest = (body[: matches[0].start()] + body[matches[0].end() :]).strip()
            if rest:
                raise ActionParseError(f"unexpected text outside the action: {rest[:60]!r}")
        tag, content = matches[0].group(1), matches[0].group(2).strip()
        if tag == "search":
            return Search(self._check_text(content, "search query", self.max_query_chars))
        if tag == "answer":
            return Answer(self._check_text(content, "answer", self.max_answer_chars))
        return Crop(self._parse_pixel_box(content, tag))

    def _parse_pixel_box(self, content: str, tag: str) -> BBox:
        what = f"<{tag}>"
        try:
            values = _load_json(content)
        except (json.JSONDecodeError, RecursionError):
            values = None
        if not isinstance(values, list):
            # Be lenient about brackets and separators ("10, 20, 110, 90" or "(10 20 110 90)").
            values = _NUMBER.findall(content)
            if len(values) != 4 or re.sub(r"[\d\s.,+\-eE()\[\]]", "", content):
                raise ActionParseError(
                    f"{what} must hold [x1, y1, x2, y2] in pixels, got {content[:60]!r}"
                )
        return _check_box(values, what)

    def _check_text(self, content: str, what: str, limit: int) -> str:
        if not content:
            raise ActionParseError(f"empty {what}")
        if len(content) > limit:
            raise ActionParseError(
                f"{what} is {len(content)} characters long; the limit is {limit}"
            )
        return valid_utf8(content)

    def _tool_payload(self, text: str) -> str:
        body = _THINK.sub(" ", text)
        calls = list(_TOOL_CALL.finditer(body))
        if not calls:
            if "<tool_call>" in body:
                raise ActionParseError("unclosed <tool_call> tag: close it with </tool_call>")
            return body.strip()
        # Qwen-style templates wrap calls in <tool_call> tags, maybe after some reasoning text;
        # as in the vrag dialect, the first complete call wins unless strict.
        if self.strict:
            if len(calls) > 1:
                raise ActionParseError(f"found {len(calls)} tool calls; give exactly one per turn")
            rest = (body[: calls[0].start()] + body[calls[0].end() :]).strip()
            if rest:
                raise ActionParseError(f"unexpected text outside the tool call: {rest[:60]!r}")
        return calls[0].group(1)

    def _parse_tool(self, text: str) -> Action:
        payload = self._tool_payload(text)
        try:
            call = _load_json(payload)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ActionParseError(
                f"the tool call is not valid JSON ({exc}); " + self._expected()
            ) from None
        if not isinstance(call, dict) or "name" not in call:
            raise ActionParseError('a tool call is a JSON object with "name" and "arguments"')
        name, args = call.get("name"), call.get("arguments", {})
        if isinstance(args, str):  # some servers send arguments as a JSON string
            try:
                args = _load_json(args)
            except json.JSONDecodeError as exc:
                raise ActionParseError(f'"arguments" is not valid JSON ({exc})') from None
        if not isinstance(args, dict):
            raise ActionParseError('"arguments" must be a JSON object')
        if name == "search":
            query = args.get("query")
            if not isinstance(query, str):
                raise ActionParseError('search needs a string argument "query"')
            return Search(self._check_text(query.strip(), "search query", self.max_query_chars))
        if name == "answer":
            answer = args.get("answer", args.get("text"))
            if not isinstance(answer, str):
                raise ActionParseError('answer needs a string argument "answer"')
            return Answer(self._check_text(answer.strip(), "answer", self.max_answer_chars))
        if name == "crop":
            box = args.get("box")
            if box is None and all(k in args for k in ("x1", "y1", "x2", "y2")):
                box = [args["x1"], args["y1"], args["x2"], args["y2"]]
            if not isinstance(box, list):
                raise ActionParseError('crop needs "box": [x1, y1, x2, y2] with fractions 0..1')
            parsed = _check_box(box, "crop box")
            if max(parsed) > 1.0:
                raise ActionParseError(
                    f"crop box coordinates are fractions in [0, 1], got {list(parsed)}"
                )
            h, w = self.view_size  # fractions of the observation image -> its pixels
            x1, y1, x2, y2 = parsed
            return Crop((x1 * w, y1 * h, x2 * w, y2 * h))
        raise ActionParseError(f"unknown tool {name!r}; the tools are search, crop and answer")

    # ------------------------------------------------------------------ formatting

    def format(self, action: Action, think: str | None = None) -> str:
        """Render an action in this dialect (the inverse of :meth:`parse`).

        Args:
            action: The action. A :class:`Crop` is in pixels of the observation image; the ``tool``
                dialect writes it as fractions rounded outwards to 4 decimals and clipped to
                ``[0, 1]`` (the region asked for stays inside the region shown).
            think: Optional reasoning, emitted as ``<think>...</think>`` in the ``vrag`` dialect.
        """
        if self.dialect == "vrag":
            prefix = f"<think>{think}</think>" if think else ""
            if isinstance(action, Search):
                return f"{prefix}<search>{action.query}</search>"
            if isinstance(action, Answer):
                return f"{prefix}<answer>{action.text}</answer>"
            coords = ", ".join(str(round(v)) for v in action.box)
            return f"{prefix}<bbox>[{coords}]</bbox>"
        if isinstance(action, Search):
            call: dict[str, Any] = {"name": "search", "arguments": {"query": action.query}}
        elif isinstance(action, Answer):
            call = {"name": "answer", "arguments": {"answer": action.text}}
        else:
            call = {"name": "crop", "arguments": {"box": self._fractions(action.box)}}
        return json.dumps(call, ensure_ascii=False)

    def _fractions(self, box: BBox) -> list[float]:
        """Observation-image pixels -> fractions, rounded outwards to 4 decimals, in ``[0, 1]``."""
        h, w = self.view_size
        x1, y1, x2, y2 = box[0] / w, box[1] / h, box[2] / w, box[3] / h
        eps = 1e-6  # a fraction that is exact up to float error is not rounded outwards
        return [
            min(1.0, max(0.0, math.floor(x1 * 1e4 + eps) / 1e4)),
            min(1.0, max(0.0, math.floor(y1 * 1e4 + eps) / 1e4)),
            min(1.0, max(0.0, math.ceil(x2 * 1e4 - eps) / 1e4)),
            min(1.0, max(0.0, math.ceil(y2 * 1e4 - eps) / 1e4)),
        ]

    # ------------------------------------------------------------------ description

    def describe(self, with_examples: bool = True) -> str:
        """The grammar as prompt text for an agent (no chat-template tokens)."""
        h, w = self.view_size
        if self.dialect == "vrag":
            lines = [
                "Answer the question using the document pages you retrieve. Each turn, think inside "
                "<think>...</think> if you like, then give exactly one action:",
                "- <search>query</search>: retrieve the best matching page you have not seen yet; its "
                "image is shown to you.",
                f"- <bbox>[x1, y1, x2, y2]</bbox>: zoom into a region of the image you see now, in its "
                f"pixel coordinates (the image is {w}x{h}); small print becomes readable.",
                "- <answer>text</answer>: give the final answer (short: a number, name or phrase) and "
                "end the episode.",
            ]
            if with_examples:
                lines += [
                    "Examples:",
                    "<think>I need the 2022 revenue table.</think><search>Aurora annual report 2022 "
                    "revenue by region</search>",
                    f"<bbox>[{w // 8}, {h // 4}, {w // 2}, {h // 2}]</bbox>",
                    "<answer>1,234.5</answer>",
                ]
        else:
            lines = [
                "Answer the question using the document pages you retrieve. Each turn, call exactly "
                "one tool with a JSON object:",
                '- {"name": "search", "arguments": {"query": "..."}}: retrieve the best matching page '
                "you have not seen yet; its image is shown to you.",
                '- {"name": "crop", "arguments": {"box": [x1, y1, x2, y2]}}: zoom into a region of the '
                "image you see now, as fractions 0..1 of its width and height.",
                '- {"name": "answer", "arguments": {"answer": "..."}}: give the final answer and end '
                "the episode.",
            ]
            if with_examples:
                lines += [
                    "Examples:",
                    '{"name": "search", "arguments": {"query": "Aurora annual report 2022 revenue"}}',
                    '{"name": "crop", "arguments": {"box": [0.1, 0.25, 0.6, 0.5]}}',
                    '{"name": "answer", "arguments": {"answer": "1,234.5"}}',
                ]
        return "\n".join(lines)

    def example_action(self, kind: str = "search") -> str:
        """One valid example action of ``kind`` (``"search"``, ``"crop"`` or ``"answer"``)."""
        h, w = self.view_size
        examples: dict[str, Action] = {
            "search": Search("annual report revenue"),
            "answer": Answer("42"),
            "crop": Crop((w / 4, h / 4, 3 * w / 4, 3 * h / 4)),
        }
        if kind not in examples:
            raise ValueError(f"unknown action kind {kind!r}; choose search, crop or answer")
        return self.format(examples[kind])

    # ------------------------------------------------------------------ sampling

    _WORDS = (
        "revenue",
        "report",
        "chart",
        "total",
        "2021",
        "region",
        "growth",
        "form",
        "note",
        "q3",
    )

    def sample(self, rng: np.random.Generator) -> str:
        """Draw a random action: about 70% valid ones and 30% malformed ones.

        Used by ``action_space.sample()`` and the random baseline; deterministic given ``rng``.
        """
        h, w = self.view_size
        roll = float(rng.random())
        words = [str(x) for x in rng.choice(np.array(self._WORDS), size=int(rng.integers(1, 4)))]
        if roll < 0.3:
            return self.format(Search(" ".join(words)))
        if roll < 0.6:
            x1, x2 = sorted(float(v) for v in rng.uniform(0, 1, size=2))
            y1, y2 = sorted(float(v) for v in rng.uniform(0, 1, size=2))
            x2, y2 = max(x2, x1 + 0.05), max(y2, y1 + 0.05)
            return self.format(Crop((x1 * w, y1 * h, min(x2, 1) * w, min(y2, 1) * h)))
        if roll < 0.7:
            return self.format(Answer(words[0]))
        malformed = (
            "",
            "<search>unclosed",
            "<bbox>[1, 2, 3]</bbox>",
            "<bbox>[50, 50, 10, 10]</bbox>",
            "<answer></answer>",
            '{"name": "crop", "arguments": {"box": [0.5, NaN, 2, 1]}}',
            "{not json",
            "I think the answer is somewhere here.",
        )
        return malformed[int(rng.integers(len(malformed)))]
