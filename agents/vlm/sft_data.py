r"""Oracle trajectories as tool-calling chat data for supervised warm-starting (before GRPO).

VRAG-RL fine-tunes its policy on expert trajectories before reinforcement learning, so that RL
starts from a model that already speaks the action grammar. Here the expert is the privileged
:class:`agents.oracle.OracleAgent`, and each of its episodes is replayed through
:class:`agents.vlm.trl_env.VRAGToolEnv`, so every tool result (page image, crop, feedback text) is
exactly what the model will later see from ``GRPOTrainer(environment_factory=...)``.

One example is one episode::

    {"messages": [
        {"role": "user", "content": [{"type": "text", "text": "<instructions>\\nQuestion: ..."}]},
        {"role": "assistant", "content": [], "tool_calls": [
            {"type": "function", "function": {"name": "search", "arguments": "{\\"query\\": \\"...\\"}"}}]},
        {"role": "tool", "name": "search", "content": [{"type": "image"}, {"type": "text", "text": "..."}]},
        ...
        {"role": "assistant", "content": [], "tool_calls": [... "answer" ...]},
        {"role": "tool", "name": "answer", "content": [{"type": "text", "text": "Answer submitted."}]},
        {"role": "assistant", "content": [{"type": "text", "text": ""}]}],
     "images": [<PIL>, ...],          # one per {"type": "image"} placeholder, in order
     "tools": "[{...}, ...]",         # JSON schemas of the tools, as GRPOTrainer renders them
     "question_id": "...", "reward": 0.97}

This is TRL's conversational vision format (``messages`` + ``images``) with two additions TRL's
default vision collator does not handle: image placeholders inside ``tool`` messages and the
``tools`` column. :class:`agents.vlm.sft.ToolChatCollator` fills both. Tool-call arguments are
stored as JSON strings (the chat template prints them verbatim, byte-identical to its ``tojson``),
so that Arrow does not merge the argument dicts of different tools into one struct with nulls.
The final empty assistant turn teaches the model to stop after the answer is accepted, which is
what the trainer's tool loop expects.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PIL import Image

from vrag_env.actions import Action, Answer, Search

from .trl_env import INSTRUCTIONS, VRAGToolEnv, build_prompt, tool_methods, tool_schemas

if TYPE_CHECKING:
    from datasets import Dataset

Message = dict[str, Any]

CROP_DECIMALS = 2
"""Crop coordinates in the targets are rounded outwards to this many decimals (shorter targets)."""


def tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """One entry of an assistant message's ``tool_calls``, arguments as a JSON string."""
    return {
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
    }


def action_to_call(
    action: Action, decimals: int = CROP_DECIMALS, view_size: tuple[int, int] = (640, 640)
) -> tuple[str, dict[str, Any]]:
    """Map a parsed ``tool``-dialect action to the adapter's tool name and keyword arguments.

    Crop boxes are rounded outwards (floor the top-left, ceil the bottom-right), so the rounded
    box still contains the evidence the oracle aimed at.

    Args:
        action: A :class:`Search`, :class:`Crop` (observation-image pixels) or :class:`Answer`.
        decimals: Decimals kept in crop coordinates.
        view_size: ``(height, width)`` of the observation image the crop's pixels belong to.

    Returns:
        ``(name, arguments)``, e.g. ``("crop", {"x1": 0.1, "y1": 0.2, "x2": 0.6, "y2": 0.45})``.
    """
    if isinstance(action, Search):
        return "search", {"query": action.query}
    if isinstance(action, Answer):
        return "answer", {"answer": action.text}
    scale = 10**decimals
    h, w = view_size
    x1, y1, x2, y2 = (action.box[0] / w, action.box[1] / h, action.box[2] / w, action.box[3] / h)
    eps = 1e-6  # float error from the pixel round trip does not round a fraction outwards
    box = (
        max(0.0, math.floor(x1 * scale + eps) / scale),
        max(0.0, math.floor(y1 * scale + eps) / scale),
        min(1.0, math.ceil(x2 * scale - eps) / scale),
        min(1.0, math.ceil(y2 * scale - eps) / scale),
    )
    return "crop", dict(zip(("x1", "y1", "x2", "y2"), box, strict=True))


def oracle_episode(
    tool_env: VRAGToolEnv,
    question_id: str,
    *,
    seed: int | None = None,
    zoom: bool = True,
    instructions: str | None = INSTRUCTIONS,
    decimals: int = CROP_DECIMALS,
) -> dict[str, Any]:
    """Play one oracle episode through the adapter and record it as a chat example.

    Args:
        tool_env: The adapter (its env's corpus and retriever are the oracle's).
        question_id: The question.
        seed: Seed for the env reset.
        zoom: Let the oracle crop onto the evidence before answering.
        instructions: Task text of the prompt (as in the GRPO dataset).
        decimals: Decimals kept in crop coordinates.

    Returns:
        The example (see the module docstring); ``reward`` is the env's episode return and
        ``answered`` whether the episode ended with an answer.
    """
    from ..oracle import OracleAgent

    tool_env.reset(question_id=question_id, seed=seed)
    oracle = OracleAgent.from_env(tool_env.env, zoom=zoom)
    oracle.reset()
    action_set = tool_env.env.unwrapped.action_set  # type: ignore[attr-defined]
    prompt = build_prompt(tool_env.question, instructions)[0]
    messages: list[Message] = [
        {"role": "user", "content": [{"type": "text", "text": prompt["content"]}]}
    ]
    images: list[Image.Image] = []
    methods = {f.__name__: f for f in tool_methods(tool_env)}
    while not tool_env.done:
        action = action_set.parse(oracle.act({}, tool_env.info))
        name, arguments = action_to_call(action, decimals, action_set.view_size)
        messages.append(
            {"role": "assistant", "content": [], "tool_calls": [tool_call(name, arguments)]}
        )
        result = methods[name](**arguments)
        content: list[dict[str, Any]] = []
        for block in result if isinstance(result, list) else [{"type": "text", "text": result}]:
            if block["type"] == "image":
                images.append(block["image"])
                content.append({"type": "image"})
            else:
                content.append({"type": "text", "text": block["text"]})
        messages.append({"role": "tool", "name": name, "content": content})
    messages.append({"role": "assistant", "content": [{"type": "text", "text": ""}]})
    return {
        "messages": messages,
        "images": images,
        "tools": json.dumps(tool_schemas(tool_env)),
        "question_id": question_id,
        "reward": tool_env.get_reward(),
        "answered": tool_env.info.get("action_kind") == "answer",
    }


def oracle_examples(
    env_id: str = "VRAG-v0",
    env_kwargs: dict[str, Any] | None = None,
    *,
    question_ids: Sequence[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
    min_reward: float | None = 0.5,
    max_episode_steps: int | None = None,
    instructions: str | None = INSTRUCTIONS,
    decimals: int = CROP_DECIMALS,
) -> list[dict[str, Any]]:
    """Oracle episodes on the questions of a split, as chat examples.

    Args:
        env_id: Registered env id.
        env_kwargs: Keyword arguments for ``gym.make`` (``split`` picks the questions;
            ``view_size``/``max_view_pixels`` set the tool image size, which must match GRPO's).
        question_ids: Questions to play (default: the split's, in a seeded order).
        limit: Keep at most this many questions.
        seed: Seed of the question order and of the env resets.
        min_reward: Drop episodes whose env return is below this (``None`` keeps all); the
            oracle occasionally misses a page that the retriever cannot surface.
        max_episode_steps: Step limit (default: the registered one).
        instructions: Task text of the prompt.
        decimals: Decimals kept in crop coordinates (1 makes ``y1 < y2`` a one-digit comparison,
            which a very small model learns far sooner).

    Returns:
        The examples.
    """
    import numpy as np

    tool_env = VRAGToolEnv(env_id, env_kwargs, max_episode_steps)
    if question_ids is None:
        questions = [q.uid for q in tool_env.env.unwrapped.questions]  # type: ignore[attr-defined]
        order = np.random.default_rng(seed).permutation(len(questions))
        question_ids = [questions[int(i)] for i in order]
    ids = list(question_ids)[:limit] if limit is not None else list(question_ids)
    examples = []
    for i, uid in enumerate(ids):
        example = oracle_episode(
            tool_env, uid, seed=seed + i, instructions=instructions, decimals=decimals
        )
        if min_reward is None or example["reward"] >= min_reward:
            examples.append(example)
    tool_env.env.close()
    return examples


def to_dataset(examples: Sequence[dict[str, Any]]) -> Dataset:
    """A ``datasets.Dataset`` of examples (``messages``, ``images``, ``tools``, ...)."""
    from datasets import Dataset

    return Dataset.from_list(list(examples))


def fill_images(messages: Sequence[Message], images: Sequence[Image.Image]) -> list[Message]:
    """Put ``images`` into the ``{"type": "image"}`` placeholders of every role, in order.

    Unlike ``trl.data_utils.prepare_multimodal_messages``, placeholders in ``tool`` messages are
    filled too. Keys that Arrow added as ``None`` (``text`` of an image block, ``tool_calls`` of a
    plain message, ...) are dropped, so the chat template sees the same messages as before storage.

    Args:
        messages: One conversation with placeholders.
        images: One image per placeholder.

    Returns:
        A new conversation whose image blocks carry their PIL image.

    Raises:
        ValueError: The number of placeholders differs from the number of images.
    """
    out: list[Message] = []
    index = 0
    for message in messages:
        new = {k: copy.copy(v) for k, v in message.items() if v is not None}
        content = new.get("content")
        if isinstance(content, list):
            blocks = []
            for block in content:
                block = {k: v for k, v in block.items() if v is not None}
                if block.get("type") == "image" and "image" not in block:
                    if index >= len(images):
                        raise ValueError(
                            f"more image placeholders than the {len(images)} images given"
                        )
                    block["image"] = images[index]
                    index += 1
                blocks.append(block)
            new["content"] = blocks
        if "tool_calls" in new:
            new["tool_calls"] = [
                {k: v for k, v in call.items() if v is not None} for call in new["tool_calls"]
            ]
        out.append(new)
    if index != len(images):
        raise ValueError(f"{index} image placeholders for {len(images)} images")
    return out
