"""Chat messages with images: from environment observations to model inputs and back.

Messages follow the structured format that transformers processors and TRL use::

    {"role": "user", "content": [{"type": "image", "image": <PIL>}, {"type": "text", "text": "Q"}]}
    {"role": "assistant", "content": [{"type": "text", "text": "<search>revenue 2021</search>"}]}
    {"role": "tool", "content": [{"type": "image", "image": <PIL>}, {"type": "text", "text": "p"}]}

* :func:`image_block`, :func:`text_block`, :func:`observation_message`, :func:`action_message` and
  :func:`tool_call_message` build messages from observations and actions; :func:`message_to_action`
  turns an assistant message back into the action string the environment parses.
* :func:`~agents.vlm.image_budget.trim_images` keeps the last ``K`` images (and optionally a pixel or token budget) and
  replaces older ones with a short text placeholder, so long episodes fit the context.
* :func:`to_openai_messages` converts messages for OpenAI-compatible servers (vLLM, ...): images
  become ``data:image/png;base64`` URLs.
* :func:`build_model_inputs` renders a conversation with the processor's chat template, collects
  its images in order and returns model inputs, refusing when the template dropped an image (the
  cause of "Image features and image tokens do not match", huggingface/trl#5663).

Only numpy and Pillow are imported at module level; processors are passed in by the caller.
"""

from __future__ import annotations

import base64
import copy
import io
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from transformers import BatchFeature, ProcessorMixin

Message = dict[str, Any]
ContentBlock = dict[str, Any]

IMAGE_PLACEHOLDER = "[earlier image omitted]"
"""Text that replaces an image dropped by :func:`~agents.vlm.image_budget.trim_images`."""

IMAGE_BLOCK_TYPES = ("image", "image_url")
"""Content-block types counted as images."""

VISION_PLACEHOLDER = "<|vision_start|><|image_pad|><|vision_end|>"
"""What the Qwen-VL chat templates render for one image, before the processor expands it."""


# --------------------------------------------------------------------------------------------------
# Blocks and messages
# --------------------------------------------------------------------------------------------------


def to_pil(image: np.ndarray | Image.Image) -> Image.Image:
    """Return ``image`` as an RGB PIL image.

    Args:
        image: A PIL image or a ``uint8`` array of shape ``(H, W, 3)`` (the env's ``image``
            observation), ``(H, W, 4)`` or ``(H, W)``.

    Returns:
        An RGB ``PIL.Image.Image`` (a new object for arrays, converted only when not RGB).

    Raises:
        TypeError: ``image`` is neither a PIL image nor a numpy array.
        ValueError: The array has an unsupported shape or dtype.
    """
    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else image.convert("RGB")
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a PIL image or a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"image arrays must be uint8, got {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4)):
        return Image.fromarray(np.ascontiguousarray(image)).convert("RGB")
    raise ValueError(f"image arrays must be (H, W), (H, W, 3) or (H, W, 4), got {image.shape}")


def image_block(image: np.ndarray | Image.Image) -> ContentBlock:
    """Return an image content block ``{"type": "image", "image": <PIL RGB image>}``."""
    return {"type": "image", "image": to_pil(image)}


def text_block(text: str) -> ContentBlock:
    """Return a text content block ``{"type": "text", "text": text}``."""
    return {"type": "text", "text": text}


def observation_message(
    observation: dict[str, Any],
    *,
    role: str = "user",
    include_question: bool = False,
    include_image: bool = True,
    include_feedback: bool = True,
    prefix: str | None = None,
) -> Message:
    """Turn an environment observation into one chat message.

    The image comes first, then the text, as the Qwen-VL examples order them.

    Args:
        observation: The env observation (``question``, ``image``, ``feedback``).
        role: ``"user"`` (the ``vrag`` dialect, as VRAG-RL feeds observations back) or ``"tool"``
            (the response to a tool call, as TRL's ``environment_factory`` does).
        include_question: Put the question text in the message (for the first turn).
        include_image: Put the view image in the message (set False before the first search, when
            the view is blank).
        include_feedback: Put the ``feedback`` text in the message when it is not empty.
        prefix: Extra text placed before the question and feedback (e.g. the action instructions).

    Returns:
        A message whose content is a list of blocks.
    """
    if role not in ("user", "tool"):
        raise ValueError(f"role must be 'user' or 'tool', got {role!r}")
    content: list[ContentBlock] = []
    if include_image and observation.get("image") is not None:
        content.append(image_block(observation["image"]))
    parts = [prefix] if prefix else []
    if include_question and observation.get("question"):
        parts.append(f"Question: {observation['question']}")
    if include_feedback and observation.get("feedback"):
        parts.append(str(observation["feedback"]))
    if parts or not content:
        content.append(text_block("\n".join(parts)))
    return {"role": role, "content": content}


def action_message(action: str) -> Message:
    """Return the assistant message for an action string (``vrag`` dialect or raw text)."""
    return {"role": "assistant", "content": [text_block(action)]}


def tool_call_message(name: str, arguments: dict[str, Any], content: str = "") -> Message:
    """Return an assistant message that calls one tool, in the transformers/TRL format.

    Args:
        name: Tool name (``"search"``, ``"crop"``, ``"answer"``).
        arguments: Tool arguments.
        content: Text before the call (e.g. reasoning).

    Returns:
        ``{"role": "assistant", "content": [...], "tool_calls": [{"type": "function", ...}]}``.
    """
    return {
        "role": "assistant",
        "content": [text_block(content)] if content else [],
        "tool_calls": [{"type": "function", "function": {"name": name, "arguments": arguments}}],
    }


def message_text(message: Message) -> str:
    """Return the concatenated text of a message (string content or text blocks)."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if block.get("type") == "text")


def message_to_action(message: Message) -> str:
    """Turn an assistant message back into the action string the environment parses.

    A message with ``tool_calls`` gives the first call as the ``tool`` dialect's JSON
    (``{"name": ..., "arguments": {...}}``); otherwise the message text is returned unchanged (the
    ``vrag`` dialect parses ``<search>``, ``<bbox>`` and ``<answer>`` from free text).

    Args:
        message: An assistant message (e.g. from ``tokenizer.parse_response`` or an OpenAI client).

    Returns:
        The action string.
    """
    calls = message.get("tool_calls") or []
    if calls:
        call = calls[0].get("function", calls[0])
        arguments = call.get("arguments", {})
        if isinstance(arguments, str):  # OpenAI clients send arguments as a JSON string
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                return json.dumps({"name": call.get("name"), "arguments": arguments})
        return json.dumps({"name": call.get("name"), "arguments": arguments})
    return message_text(message)


# --------------------------------------------------------------------------------------------------
# Images in conversations
# --------------------------------------------------------------------------------------------------


def iter_image_blocks(messages: Sequence[Message]) -> Iterator[tuple[int, int, ContentBlock]]:
    """Yield ``(message index, block index, block)`` for every image block, in render order."""
    for i, message in enumerate(messages):
        content = message.get("content")
        if isinstance(content, list):
            for j, block in enumerate(content):
                if isinstance(block, dict) and block.get("type") in IMAGE_BLOCK_TYPES:
                    yield i, j, block


def collect_images(messages: Sequence[Message]) -> list[Image.Image]:
    """Return the PIL images of a conversation in the order a chat template renders them.

    Args:
        messages: One conversation.

    Returns:
        The images as RGB PIL images.

    Raises:
        ValueError: An image block holds no image (e.g. an ``image_url`` block).
    """
    images = []
    for i, _, block in iter_image_blocks(messages):
        payload = block.get("image")
        if payload is None:
            raise ValueError(
                f"message {i} has an image block without an 'image' payload ({sorted(block)}); "
                "build blocks with image_block()"
            )
        images.append(to_pil(payload))
    return images


def count_images(messages: Sequence[Message]) -> int:
    """Return the number of image blocks (``image`` and ``image_url``) in a conversation."""
    return sum(1 for _ in iter_image_blocks(messages))


def image_data_url(image: np.ndarray | Image.Image, image_format: str = "PNG") -> str:
    """Encode an image as a ``data:image/...;base64,`` URL."""
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format=image_format)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/{image_format.lower()};base64,{encoded}"


# Long by design: the whole conversion (images to data URLs, tool-call ids, tool images moved to a
# user turn) in one pass, so it can be checked against the chat-completions format in one place.
def to_openai_messages(
    messages: Sequence[Message],
    *,
    image_format: str = "PNG",
    tool_images: str = "user",
) -> list[Message]:
    """Convert messages for an OpenAI-compatible chat-completions endpoint.

    * ``{"type": "image", "image": PIL}`` becomes
      ``{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}``.
    * Assistant ``tool_calls`` get ids and JSON-string arguments, and each ``tool`` message gets the
      ``tool_call_id`` of the call it answers (in order) when it has none.
    * The chat-completions API allows only text in ``tool`` messages; with ``tool_images="user"``
      their images move into a ``user`` message right after the tool message(s). ``"keep"`` leaves
      them in place for servers that accept them.

    Args:
        messages: One conversation (not modified).
        image_format: Pillow format for the data URLs (``"PNG"`` is lossless).
        tool_images: ``"user"`` or ``"keep"``.

    Returns:
        New messages, JSON-serialisable.
    """
    if tool_images not in ("user", "keep"):
        raise ValueError(f"tool_images must be 'user' or 'keep', got {tool_images!r}")
    out: list[Message] = []
    pending_ids: list[str] = []
    moved: list[ContentBlock] = []
    call_index = 0

    def flush() -> None:
        if moved:
            out.append({"role": "user", "content": list(moved)})
            moved.clear()

    for message in messages:
        role = message.get("role")
        if role != "tool":
            flush()
        new = {k: v for k, v in message.items() if k not in ("content", "tool_calls")}
        content = message.get("content")
        if isinstance(content, list):
            blocks: list[ContentBlock] = []
            for block in content:
                if block.get("type") == "image":
                    url = image_data_url(block["image"], image_format)
                    url_block: ContentBlock = {"type": "image_url", "image_url": {"url": url}}
                    if role == "tool" and tool_images == "user":
                        moved.append(url_block)
                    else:
                        blocks.append(url_block)
                else:
                    blocks.append(copy.deepcopy(block))
            if role == "tool" and tool_images == "user":
                text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
                new["content"] = text or "(see the image below)"
            else:
                new["content"] = blocks
        else:
            new["content"] = content if content is not None else ""
        if message.get("tool_calls"):
            calls = []
            for call in message["tool_calls"]:
                function = call.get("function", call)
                arguments = function.get("arguments", {})
                call_id = call.get("id") or f"call_{call_index}"
                call_index += 1
                pending_ids.append(call_id)
                calls.append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": function["name"],
                            "arguments": arguments
                            if isinstance(arguments, str)
                            else json.dumps(arguments),
                        },
                    }
                )
            new["tool_calls"] = calls
        if role == "tool":
            new.setdefault("tool_call_id", pending_ids.pop(0) if pending_ids else "call_0")
            if new["tool_call_id"] in pending_ids:
                pending_ids.remove(new["tool_call_id"])
        out.append(new)
    flush()
    return out


# --------------------------------------------------------------------------------------------------
# Model inputs
# --------------------------------------------------------------------------------------------------


def render_chat(
    processor: ProcessorMixin,
    messages: Sequence[Message],
    *,
    add_generation_prompt: bool = True,
    tools: list[Any] | None = None,
    chat_template: str | None = None,
) -> str:
    """Render one conversation to text with the processor's chat template (images unexpanded).

    Args:
        processor: A VLM processor with a chat template.
        messages: The conversation.
        add_generation_prompt: End with the assistant header so the model answers next.
        tools: Tool functions or JSON schemas, rendered into the system prompt.
        chat_template: Template overriding the processor's.

    Returns:
        The prompt text.
    """
    return processor.apply_chat_template(
        list(messages),
        tokenize=False,
        add_generation_prompt=add_generation_prompt,
        tools=tools,
        chat_template=chat_template,
    )


def build_model_inputs(
    processor: ProcessorMixin,
    conversations: Sequence[Message] | Sequence[Sequence[Message]],
    *,
    add_generation_prompt: bool = True,
    tools: list[Any] | None = None,
    chat_template: str | None = None,
    return_tensors: str = "pt",
) -> BatchFeature:
    """Apply the chat template to conversations with images and return model inputs.

    Each conversation is rendered to text, its images are collected in render order, and the
    processor expands each image placeholder into ``image_grid_thw.prod() // merge_size**2``
    ``<|image_pad|>`` tokens. Before calling the processor the number of rendered images is checked
    against the number of image blocks: a template that silently drops images (some drop them
    inside ``tool`` messages, huggingface/trl#5663) would otherwise surface later as a processor
    error or as "Image features and image tokens do not match" in the model's forward pass.

    Args:
        processor: A Qwen2-VL-family processor with a chat template.
        conversations: One conversation (a list of messages) or a batch of them (padded on the
            tokenizer's padding side).
        add_generation_prompt: End with the assistant header so the model answers next.
        tools: Tool functions or JSON schemas for the system prompt.
        chat_template: Template overriding the processor's.
        return_tensors: Tensor type, ``"pt"`` by default.

    Returns:
        A ``BatchFeature`` with ``input_ids``, ``attention_mask`` and, when there are images,
        ``pixel_values`` and ``image_grid_thw`` (plus what the processor adds, e.g.
        ``mm_token_type_ids``).

    Raises:
        ValueError: The template rendered a different number of images than the conversation has.
    """
    batch: list[Sequence[Message]]
    if conversations and isinstance(conversations[0], dict):
        batch = [conversations]  # type: ignore[list-item]
    else:
        batch = list(conversations)  # type: ignore[arg-type]
    image_token = getattr(processor, "image_token", "<|image_pad|>")
    texts: list[str] = []
    images: list[Image.Image] = []
    for k, messages in enumerate(batch):
        text = render_chat(
            processor, messages, add_generation_prompt=add_generation_prompt, tools=tools,
            chat_template=chat_template,
        )  # fmt: skip
        conversation_images = collect_images(messages)
        rendered = text.count(image_token)
        if rendered != len(conversation_images):
            raise ValueError(
                f"conversation {k}: the chat template rendered {rendered} image placeholder(s) "
                f"for {len(conversation_images)} image block(s); it drops images in some roles. "
                "Use a template that renders images in every role (TRL's qwen3_vl.jinja does)."
            )
        texts.append(text)
        images.extend(conversation_images)
    return processor(text=texts, images=images or None, padding=True, return_tensors=return_tensors)
