"""Settings of the prompted VLM agents (:class:`agents.vlm.agent.VLMAgent` and its subclasses).

Every field can be given as a keyword option (``vrag eval --agent vlm --agent-arg KEY=VALUE`` passes
them so), or as one :class:`VLMAgentConfig`. ``None`` means "the agent's default" wherever the
default depends on the agent class or the env (model, dialect, chat format).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vrag_env.actions import DIALECTS

if TYPE_CHECKING:
    from .backends import Backend

DEFAULT_MAX_IMAGE_PIXELS = 512 * 28 * 28
"""Per-image pixel budget: VRAG-RL's ``max_pixels`` for Qwen2.5-VL (401,408 pixels, 512 tokens)."""

DEFAULT_MIN_IMAGE_PIXELS = 4 * 28 * 28
"""Smallest image area sent (the Qwen2-VL processors' lower bound is 56 * 56)."""

IMAGE_FACTOR = 28
"""Image sides are rounded to multiples of this (Qwen2/2.5-VL patch size 14 x merge size 2)."""

STYLES = ("default", "vrag-rl")
"""How the ``prompt`` chat is built. ``default``: each observation turn holds the new view (the whole
observation image) and the env's feedback text. ``vrag-rl``: VRAG-RL's conversation, each observation
turn is the view alone, cut to its content box, at VRAG-RL's size; an invalid action gets a fixed
instruction turn instead of the env's feedback."""

CHAT_FORMATS = ("prompt", "tools")
"""``prompt``: the grammar is described in the first user turn and every observation is a user
turn (VRAG-RL). ``tools``: search/crop/answer are function schemas rendered by the chat template and
observations are ``tool`` messages (the format :mod:`agents.vlm.trl_env` trains with)."""


@dataclass(frozen=True)
class VLMAgentConfig:
    """Backend, prompt, generation and image settings of a prompted VLM agent.

    Raises:
        ValueError: From ``__post_init__``, for a value out of range or an invalid combination; the
            message names the field.
    """

    model: str | None = None
    """Checkpoint folder or hub id for the local transformers backend."""
    base_url: str | None = None
    """OpenAI-compatible API root (``http://HOST:PORT/v1``) for the server backend."""
    api_key: str | None = None
    """Bearer token for ``base_url`` (default: ``$OPENAI_API_KEY``, else ``"EMPTY"``)."""
    served_model: str | None = None
    """Model name sent to ``base_url`` (default: the first of ``GET /models``)."""
    dialect: str | None = None
    """Dialect the model writes (default: the agent's, else the env's). When it differs from the
    env's, each parsed reply is re-written in the env's dialect; unparseable replies pass through."""
    chat_format: str | None = None
    """``"prompt"`` or ``"tools"`` (see :data:`CHAT_FORMATS`); default: the agent's."""
    max_new_tokens: int = 512
    """Most tokens per reply."""
    temperature: float = 0.0
    """``0`` = greedy and deterministic; above ``0`` samples with a seed derived from ``seed``, the
    question and the step."""
    top_p: float = 1.0
    """Nucleus-sampling mass."""
    max_images: int | None = 4
    """Keep at most this many (most recent) images in the chat (``None``: all)."""
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    """Downscale each image to at most this many pixels."""
    min_image_pixels: int = DEFAULT_MIN_IMAGE_PIXELS
    """Upscale smaller images to at least this many pixels."""
    max_total_image_pixels: int | None = None
    """Optional budget over all kept images (the newest always stays)."""
    seed: int = 0
    """Base seed for sampling."""
    system_prompt: str | None = None
    """Optional system message (VRAG-RL puts everything in the user turn)."""
    instructions: str | None = None
    """Replaces the grammar text of the first user turn."""
    instructions_file: str | None = None
    """A file whose text is the first user turn, used verbatim; ``{question}`` in it is replaced by
    the question (without it, the question follows on a new line as ``Question: ...``). Paste any
    prompt, VRAG-RL's included."""
    style: str = "default"
    """``"default"`` or ``"vrag-rl"`` (see :data:`STYLES`)."""
    stop: tuple[str, ...] | None = None
    """Replaces the dialect's stop strings (``()`` for none)."""
    server_stop: bool | None = None
    """Send stop strings to the server (``None``: try, and fall back to cutting replies client-side
    when the server rejects them; ``transformers serve`` does)."""
    device: str | None = None
    """Torch device of the local backend (default: CUDA when available)."""
    dtype: str = "auto"
    """Weight dtype of the local backend."""
    model_kwargs: Mapping[str, Any] | None = None
    """Extra ``from_pretrained`` arguments of the local backend."""
    timeout: float = 300.0
    """Seconds per server request."""
    retries: int = 3
    """Retries per failed server request."""
    extra_body: Mapping[str, Any] | None = None
    """Extra fields of every server request (e.g. vLLM's ``{"top_k": 1}``)."""
    backend: Backend | None = None
    """A ready backend (replaces ``model``/``base_url``)."""
    model_description: str | None = None
    """What the model is (how it was trained), recorded as the results file's ``description``
    (``description`` itself names ``from_env``'s env description)."""

    def __post_init__(self) -> None:
        if self.stop is not None and not isinstance(self.stop, tuple):
            object.__setattr__(self, "stop", tuple(self.stop))
        if self.dialect is not None and self.dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {list(DIALECTS)}, got {self.dialect!r}")
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {list(STYLES)}, got {self.style!r}")
        if self.instructions is not None and self.instructions_file is not None:
            raise ValueError("give instructions or instructions_file, not both")
        if self.instructions_file is not None and not Path(self.instructions_file).is_file():
            raise ValueError(f"instructions_file {self.instructions_file!r} is not a file")
        if self.style == "vrag-rl" and self.chat_format == "tools":
            raise ValueError(
                "style='vrag-rl' is a prompt conversation; it needs chat_format='prompt'"
            )
        if self.style == "vrag-rl" and self.dialect not in (None, "vrag"):
            raise ValueError("style='vrag-rl' writes VRAG-RL's tags; it needs dialect='vrag'")
        if self.chat_format is not None and self.chat_format not in CHAT_FORMATS:
            raise ValueError(
                f"chat_format must be one of {list(CHAT_FORMATS)}, got {self.chat_format!r}"
            )
        if self.max_images is not None and self.max_images < 0:
            raise ValueError(f"max_images must be >= 0 or None, got {self.max_images}")
        if self.min_image_pixels < IMAGE_FACTOR**2 or self.max_image_pixels < self.min_image_pixels:
            raise ValueError(
                f"need {IMAGE_FACTOR**2} <= min_image_pixels <= max_image_pixels, got "
                f"{self.min_image_pixels} and {self.max_image_pixels}"
            )
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(
                f"need temperature >= 0 and 0 < top_p <= 1, got {self.temperature} and {self.top_p}"
            )

    @classmethod
    def field_names(cls) -> list[str]:
        """The option names, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]

    def updated(self, **options: Any) -> VLMAgentConfig:
        """A copy with ``options`` replaced (the ``--agent-arg KEY=VALUE`` options).

        Raises:
            ValueError: For an unknown option; the message lists the known ones.
        """
        unknown = sorted(set(options) - set(self.field_names()))
        if unknown:
            raise ValueError(f"unknown option(s) {unknown}; options: {self.field_names()}")
        return dataclasses.replace(self, **options)
