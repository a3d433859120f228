"""Prompted vision-language-model agents: ``vlm`` (any VLM) and ``grpo`` (a VLM trained with GRPO).

The agent holds one multi-turn chat per episode. The first user turn is the instructions, built from
the action grammar (:meth:`vrag_env.actions.ActionSet.describe`), and the question; each following
turn carries what the environment returned: the new view image (after a search or crop) and the
env's ``feedback`` text. The model's reply is the action; the environment parses it, so a malformed
reply simply costs the env's penalty. This is the VRAG-RL interaction loop (arXiv 2505.22019): the
released ``autumncc/Qwen2.5-VL-7B-VRAG`` checkpoint emits ``<think>``, ``<search>``, ``<bbox>`` and
``<answer>`` tags, and generation stops at the first closing action tag.

Images are the env's ``image`` observations, downscaled to ``max_image_pixels`` (each side a multiple
of 28, the Qwen2/2.5-VL patch grid, so the model's processor keeps the size as is). Only the last
``max_images`` images stay in the chat (older ones become a short placeholder), optionally under a
total pixel budget. Pixel boxes in ``<bbox>`` replies are in the frame of the image the model saw
and are rescaled to the observation's frame before the env sees them, so the prompt can state the
true size of the image the model is shown.

Backends (:mod:`agents.vlm.backends`): a local transformers model (``model=`` path or hub id) or any
OpenAI-compatible endpoint (``base_url=``, e.g. ``vllm serve``). See ``docs/vlm.md``.

Example:
    ``vrag eval --agent vlm --model Qwen/Qwen2.5-VL-7B-Instruct --benchmark synth-test`` or
    ``vrag eval --agent vlm --base-url http://127.0.0.1:8000/v1 --benchmark synth-test``.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import Any

from PIL import Image

from vrag_env.actions import Action, ActionParseError, ActionSet, Crop
from vrag_env.agent_api import EnvDescription, describe_env
from vrag_env.corpora.verify import sha256_file
from vrag_env.rendering import vrag_rl_size

from ..base import Agent
from .backends import Backend, GenerationSettings, TransformersBackend
from .boxes import convert_crop, rescale_first_box
from .chat import (
    Message,
    action_message,
    image_block,
    text_block,
    to_pil,
)
from .config import (
    CHAT_FORMATS,
    DEFAULT_MAX_IMAGE_PIXELS,
    IMAGE_FACTOR,
    VLMAgentConfig,
)
from .image_budget import qwen_resized_size, trim_images
from .openai_backend import OpenAIBackend

STOP_STRINGS: dict[str, tuple[str, ...]] = {
    "vrag": ("</search>", "</bbox>", "</region>", "</answer>"),
    "tool": ("</tool_call>",),
}
"""Where a reply ends, per dialect: at the first closing action tag (only the first action of a reply
is executed; VRAG-RL's sampler does not stop there, see :mod:`agents.vlm.backends`)."""

PROMPT_TEMPLATE = "{instructions}\nQuestion: {question}"
"""First user turn (also the format of :func:`agents.vlm.trl_env.build_prompt`)."""

VRAG_RL_INSTRUCTIONS = (
    "Answer the question below using a search engine over a collection of document page images.\n"
    "Each turn, first reason step by step inside <think> and </think>. Then write exactly one "
    "action:\n"
    "- <search> your query </search> to retrieve a page image you have not seen yet;\n"
    "- <bbox>[x1, y1, x2, y2]</bbox> to zoom into a region of the last image, in its pixels "
    "(left, top, right, bottom);\n"
    "- <answer> a short answer </answer> once you know it.\n"
    "Search as often as you need, and zoom when the text is too small to read."
)
"""The first user turn of ``style="vrag-rl"``: VRAG-RL's conversation format, in our own words."""

VRAG_RL_RETRY = (
    "That action could not be carried out. Reason inside <think> and </think>, then write one "
    "action: <search> query </search>, <bbox>[x1, y1, x2, y2]</bbox> on the last image, or "
    "<answer> answer </answer>."
)
"""The user turn after an invalid action in ``style="vrag-rl"`` (VRAG-RL sends a fixed text too)."""

VRAG_RL_MIN_PIXELS = 256 * 28 * 28
"""VRAG-RL's lower bound on the pixels of an image it shows."""


class VLMAgent(Agent):
    """A vision-language model prompted to act in the environment.

    Args:
        action_set: The env's action set (its dialect and observation image size).
        config: The settings (:class:`~agents.vlm.config.VLMAgentConfig`; default: its defaults).
        **options: Fields of :class:`~agents.vlm.config.VLMAgentConfig` that replace ``config``'s
            (how ``vrag eval --agent-arg KEY=VALUE`` passes them).

    Raises:
        ValueError: For an unknown option, a value out of range or an invalid combination.
    """

    name = "vlm"
    default_model: str | None = None
    default_dialect: str | None = None
    default_chat_format: str = "prompt"

    def __init__(
        self, action_set: ActionSet, config: VLMAgentConfig | None = None, **options: Any
    ) -> None:
        cfg = (config or VLMAgentConfig()).updated(**options)
        self.settings = cfg
        self.env_actions = action_set
        self.dialect = cfg.dialect or self.default_dialect or action_set.dialect
        self.chat_format = cfg.chat_format or self.default_chat_format
        if self.chat_format == "tools" and self.dialect != "tool":
            raise ValueError(
                "chat_format='tools' needs dialect='tool' (the model writes tool calls)"
            )
        self.max_images = cfg.max_images
        self.max_total_image_pixels = cfg.max_total_image_pixels
        self.seed = int(cfg.seed)
        self.system_prompt = cfg.system_prompt
        self.stop = tuple(STOP_STRINGS[self.dialect] if cfg.stop is None else cfg.stop)
        self.backend = cfg.backend or self._make_backend(cfg)
        if cfg.model_description:
            self.description = " ".join(cfg.model_description.split())

        # The image the model sees: the observation downscaled into the pixel budget (and into the
        # processor's own budget when it is known, so the processor never resizes it again).
        limit = self.backend.max_image_pixels
        self.max_image_pixels = min(cfg.max_image_pixels, limit) if limit else cfg.max_image_pixels
        self.min_image_pixels = min(cfg.min_image_pixels, self.max_image_pixels)
        view_h, view_w = action_set.view_size
        self.image_size: tuple[int, int] = qwen_resized_size(
            view_h,
            view_w,
            min_pixels=self.min_image_pixels,
            max_pixels=self.max_image_pixels,
            factor=IMAGE_FACTOR,
        )
        self.model_actions = ActionSet(self.dialect, view_size=self.image_size)
        self.style = cfg.style
        if self.style == "vrag-rl" and (self.dialect != "vrag" or self.chat_format != "prompt"):
            raise ValueError(
                "style='vrag-rl' needs dialect='vrag' and chat_format='prompt', got "
                f"{self.dialect!r} and {self.chat_format!r}"
            )
        self.verbatim_prompt: str | None = None
        if cfg.instructions_file is not None:
            self.verbatim_prompt = Path(cfg.instructions_file).read_text(encoding="utf-8")
            self.instructions = self.verbatim_prompt
        elif cfg.instructions is not None:
            self.instructions = cfg.instructions
        else:
            self.instructions = self._default_instructions()
        # style="vrag-rl": (height, width) of the last image sent and of the view it shows.
        self._sent: tuple[tuple[int, int], tuple[int, int]] | None = None
        self.tools = self._tool_schemas() if self.chat_format == "tools" else None
        self._messages: list[Message] = []
        self._last_reply_parsed = False

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_env(cls, description: EnvDescription, **options: Any) -> VLMAgent:
        """Build the agent for the description's action set with keyword ``options`` (see the class).

        Raises:
            ValueError: For an unknown option (the message lists the known ones), or an argument
                that is neither an :class:`EnvDescription` nor a VRAG env.
        """
        unknown = sorted(set(options) - set(VLMAgentConfig.field_names()))
        if unknown:
            raise ValueError(
                f"unknown {cls.name} agent option(s) {unknown}; "
                f"options: {VLMAgentConfig.field_names()}"
            )
        try:
            action_set = describe_env(description).action_set
        except TypeError:
            raise ValueError(
                f"the {cls.name} agent needs a VRAG env's description with an action_set, "
                f"got {description!r:.100}"
            ) from None
        return cls(action_set, **options)

    def _make_backend(self, cfg: VLMAgentConfig) -> Backend:
        """The backend ``cfg`` names: a server (``base_url``) or a local model (``model``)."""
        settings = GenerationSettings(
            max_new_tokens=int(cfg.max_new_tokens),
            temperature=float(cfg.temperature),
            top_p=float(cfg.top_p),
            stop=self.stop,
        )
        model = cfg.model or (None if cfg.base_url else self.default_model)
        if (model is None) == (cfg.base_url is None):
            raise ValueError(
                f"the {self.name} agent needs exactly one of model= (a checkpoint folder or hub "
                "id, `vrag eval --model PATH`) and base_url= (an OpenAI-compatible server, "
                "`vrag eval --base-url http://127.0.0.1:8000/v1`)"
            )
        if cfg.base_url is not None:
            return OpenAIBackend(
                cfg.base_url,
                settings,
                api_key=cfg.api_key,
                served_model=cfg.served_model,
                timeout=cfg.timeout,
                retries=cfg.retries,
                extra_body=dict(cfg.extra_body) if cfg.extra_body is not None else None,
                server_stop=cfg.server_stop,
            )
        assert model is not None
        return TransformersBackend(
            model,
            settings,
            device=cfg.device,
            dtype=cfg.dtype,
            model_kwargs=dict(cfg.model_kwargs) if cfg.model_kwargs is not None else None,
        )

    def _default_instructions(self) -> str:
        if self.style == "vrag-rl":
            return VRAG_RL_INSTRUCTIONS
        if self.chat_format == "tools":
            from .trl_env import INSTRUCTIONS

            return INSTRUCTIONS
        return self.model_actions.describe()

    def _tool_schemas(self) -> list[dict[str, Any]]:
        """Function schemas of the tools, exactly as training renders them (same order)."""
        from .trl_env import tool_schemas

        return tool_schemas()

    # ------------------------------------------------------------------ agent API

    def reset(self) -> None:
        """Start a new chat."""
        self._messages = []
        self._last_reply_parsed = False
        self._sent = None

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Append the observation to the chat, query the model and return its reply as the action."""
        if not self._messages:
            self._messages = self._first_messages(observation, info)
        else:
            self._messages.append(self._observation_message(observation, info))
        messages = trim_images(
            self._messages, keep_last=self.max_images, max_pixels=self.max_total_image_pixels
        )
        # Surrounding whitespace is dropped: servers that parse replies strip it, local decoding
        # keeps it, and the env ignores it; the chat history stays the same for both backends.
        reply = self.backend.generate(
            messages, tools=self.tools, seed=self._call_seed(observation, info)
        ).strip()
        self._messages.append(action_message(reply))
        parsed = self._parse(reply)
        self._last_reply_parsed = parsed is not None
        return self._to_env_action(reply, parsed, info)

    def config(self) -> dict[str, Any]:
        """Backend, prompt and image settings (deterministic; no API key)."""
        return {
            **self.backend.config(),
            "dialect": self.dialect,
            "env_dialect": self.env_actions.dialect,
            "chat_format": self.chat_format,
            "max_images": self.max_images,
            "max_image_pixels": self.max_image_pixels,
            "min_image_pixels": self.min_image_pixels,
            "max_total_image_pixels": self.max_total_image_pixels,
            "image_size": list(self.image_size),
            "seed": self.seed,
            "system_prompt": self.system_prompt,
            "instructions": self.instructions,
            "style": self.style,
            "instructions_verbatim": self.verbatim_prompt is not None,
        }

    # ------------------------------------------------------------------ chat building

    def prompt_messages(self, question: str) -> list[Message]:
        """The opening messages for ``question`` (system message if any, then the user turn)."""
        messages: list[Message] = []
        if self.system_prompt:
            messages.append({"role": "system", "content": [text_block(self.system_prompt)]})
        if self.verbatim_prompt is not None and "{question}" in self.verbatim_prompt:
            text = self.verbatim_prompt.replace("{question}", question)
        else:
            text = PROMPT_TEMPLATE.format(instructions=self.instructions, question=question)
        messages.append({"role": "user", "content": [text_block(text)]})
        return messages

    def _first_messages(self, observation: dict[str, Any], info: dict[str, Any]) -> list[Message]:
        messages = self.prompt_messages(str(observation["question"]))
        if info.get("current_page") is not None:  # a view is already shown (not the env's default)
            image = self._image_for(observation, info)
            messages[-1]["content"].insert(0, image_block(image))
        return messages

    def _image_for(self, observation: dict[str, Any], info: dict[str, Any]) -> Image.Image:
        if self.style == "vrag-rl":
            return self.vrag_rl_image(observation["image"], info)
        return self.model_image(observation["image"])

    def _observation_message(self, observation: dict[str, Any], info: dict[str, Any]) -> Message:
        if self.style == "vrag-rl":
            # VRAG-RL's turns: the new image alone after a search or crop, else a fixed retry text.
            ok = info.get("action_error") is None
            if ok and info.get("action_kind") in ("search", "crop"):
                return {
                    "role": "user",
                    "content": [image_block(self._image_for(observation, info))],
                }
            return {"role": "user", "content": [text_block(VRAG_RL_RETRY)]}
        content = []
        # Only a successful search or crop changes the view; after anything else the model already
        # has the current image and only gets the feedback text.
        if info.get("action_kind") in ("search", "crop") and info.get("action_error") is None:
            content.append(image_block(self.model_image(observation["image"])))
        content.append(text_block(str(observation.get("feedback", ""))))
        role = "tool" if self.chat_format == "tools" and self._last_reply_parsed else "user"
        return {"role": role, "content": content}

    def model_image(self, image: Any) -> Image.Image:
        """The observation image at the size the model is shown (:attr:`image_size`)."""
        pil = to_pil(image)
        height, width = qwen_resized_size(
            pil.height,
            pil.width,
            min_pixels=self.min_image_pixels,
            max_pixels=self.max_image_pixels,
            factor=IMAGE_FACTOR,
        )
        if (height, width) == (pil.height, pil.width):
            return pil
        return pil.resize((width, height), Image.Resampling.BICUBIC)

    def vrag_rl_image(self, image: Any, info: dict[str, Any]) -> Image.Image:
        """The view as VRAG-RL shows it: the observation cut to its content box, at VRAG-RL's size.

        VRAG-RL resizes the page region itself, so the size sent is VRAG-RL's rule
        (:func:`vrag_env.rendering.vrag_rl_size`, within ``[256*28*28, max_image_pixels]``
        pixels) applied to ``info["view"]["region"]`` (to the view when the region is unknown).
        With the ``vrag-rl`` env preset the view already has that size and is sent unchanged,
        except a crop the env had to shrink into its canvas, which is scaled back up. The size sent
        is remembered, so a ``<bbox>`` in the model's reply is mapped from that image to the
        observation.
        """
        pil = to_pil(image)
        view = info.get("view") or {}
        box = view.get("content_box") if isinstance(view, dict) else None
        if box:
            x1, y1, x2, y2 = (round(float(v)) for v in box)
            if (x1, y1, x2, y2) != (0, 0, pil.width, pil.height):
                pil = pil.crop((x1, y1, x2, y2))
        shown = (pil.height, pil.width)
        source = (pil.width, pil.height)
        region = view.get("region") if isinstance(view, dict) else None
        if region:  # VRAG-RL crops whole page pixels and resizes that crop
            rx1, ry1, rx2, ry2 = (round(float(v)) for v in region)
            if rx2 > rx1 and ry2 > ry1:
                source = (rx2 - rx1, ry2 - ry1)
        low = min(VRAG_RL_MIN_PIXELS, self.max_image_pixels)
        width, height = vrag_rl_size(*source, self.max_image_pixels, low)
        if (width, height) != (pil.width, pil.height):
            pil = pil.resize((width, height), Image.Resampling.BICUBIC)
        self._sent = ((height, width), shown)
        return pil

    def _call_seed(self, observation: dict[str, Any], info: dict[str, Any]) -> int:
        """Per-call sampling seed: depends on the seed, the question and the step, not on run order."""
        question = str(observation.get("question", "")).encode("utf-8")
        return (
            self.seed * 1_000_003 + zlib.crc32(question) * 131 + int(info.get("step", 0))
        ) % 2**31

    # ------------------------------------------------------------------ replies to actions

    def _parse(self, reply: str) -> Action | None:
        try:
            return self.model_actions.parse(reply)
        except ActionParseError:
            return None

    def _to_env_action(self, reply: str, parsed: Action | None, info: dict[str, Any]) -> str:
        """Map a reply from the model's frame and dialect to the env's."""
        if self.style == "vrag-rl":
            # The view sits at the observation's top-left corner: a box in the image sent maps
            # to the observation by the ratio of the view's size to the size sent.
            if self._sent is None or self._sent[0] == self._sent[1]:
                return reply
            return rescale_first_box(reply, self._sent[0], self._sent[1])
        if self.dialect != self.env_actions.dialect:
            if parsed is None:
                return reply  # the env rejects it and explains why
            converted = convert_crop(parsed, self.image_size, self.env_actions.view_size, info)
            return self.env_actions.format(converted) if converted is not None else reply
        if (
            self.dialect == "vrag"
            and isinstance(parsed, Crop)
            and self.image_size != self.env_actions.view_size
        ):
            return rescale_first_box(reply, self.image_size, self.env_actions.view_size)
        return reply


class GRPOAgent(VLMAgent):
    """A VLM trained with TRL's GRPO on the env's tools (``agents/trl_grpo.py``).

    Same as :class:`VLMAgent` with the training format as defaults: the ``tool`` dialect, the search,
    crop and answer function schemas in the chat template, observations as ``tool`` messages and
    the checkpoint ``runs/grpo/final``. On a ``vrag``-dialect env its tool calls are re-written as
    tags, so it can be evaluated on every benchmark.
    """

    name = "grpo"
    default_model = "runs/grpo/final"
    default_dialect = "tool"
    default_chat_format = "tools"

    def __init__(
        self, action_set: ActionSet, config: VLMAgentConfig | None = None, **options: Any
    ) -> None:
        cfg = (config or VLMAgentConfig()).updated(**options)
        served = cfg.base_url is not None or cfg.backend is not None
        if not served and not cfg.model and not Path(self.default_model or "").is_dir():
            raise ValueError(
                f"no GRPO checkpoint at {self.default_model}: train one with "
                "`uv run python agents/trl_grpo.py`, or pass --model PATH (or --base-url URL of a "
                "server that serves it)"
            )
        super().__init__(action_set, cfg)
        folder = Path(cfg.model or self.default_model or "")
        if not served and folder.is_dir():
            self.checkpoint_sha256 = checkpoint_folder_sha256(folder)

    def config(self) -> dict[str, Any]:
        """The VLM agent's settings plus the checkpoint folder's hash (when it is a local folder)."""
        cfg = super().config()
        if getattr(self, "checkpoint_sha256", None):
            cfg["checkpoint_sha256"] = self.checkpoint_sha256
        return cfg


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def checkpoint_folder_sha256(folder: str | Path) -> str:
    """SHA-256 over a checkpoint folder: every file's relative path and content hash, in path order.

    Args:
        folder: A saved model folder (weights, config, processor files).

    Returns:
        A hex digest that changes when any file is added, removed, renamed or modified.
    """
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        digest.update(f"{rel}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


__all__ = [
    "CHAT_FORMATS",
    "DEFAULT_MAX_IMAGE_PIXELS",
    "PROMPT_TEMPLATE",
    "STOP_STRINGS",
    "GRPOAgent",
    "VLMAgent",
    "VLMAgentConfig",
]
