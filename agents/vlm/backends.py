"""Text generation backends for the VLM agents: a local transformers model or an OpenAI-compatible server.

Both implement :class:`Backend`: ``generate(messages) -> str`` takes one conversation in the chat
format of :mod:`agents.vlm.chat` (content blocks with PIL images) and returns the model's reply.

* :class:`TransformersBackend` loads a checkpoint folder or hub id with ``AutoProcessor`` and
  ``AutoModelForImageTextToText`` and renders the conversation with the processor's chat template.
* :class:`~agents.vlm.openai_backend.OpenAIBackend` (its own module) posts to
  ``{base_url}/chat/completions`` of any OpenAI-compatible server (``vllm serve``,
  ``transformers serve``, ...), images as ``data:image/png;base64`` URLs.

Stop strings end a reply at its first closing action tag. That is our choice, not VRAG-RL's: its
sampler generates on and keeps every complete tag it finds, but only the first action of a reply is
ever executed (here and there), so the text after it is never used and stopping saves the tokens.
The reply ends *with* the stop string that ended it, whichever backend produced it (servers such as
vLLM drop the matched stop string from the text, so it is restored from the response's
``stop_reason`` or from the open tag).

torch, transformers and httpx are imported inside the backends that need them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .chat import (
    Message,
    build_model_inputs,
    count_images,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationSettings:
    """How replies are decoded, shared by every backend.

    Attributes:
        max_new_tokens: Most tokens generated per reply.
        temperature: ``0`` decodes greedily (deterministic); above ``0`` samples.
        top_p: Nucleus-sampling mass (only when sampling).
        stop: Strings that end a reply; the reply keeps the one that ended it.
    """

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        object.__setattr__(self, "stop", tuple(self.stop))

    @property
    def greedy(self) -> bool:
        """Whether decoding is greedy."""
        return self.temperature == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        out = asdict(self)
        out["stop"] = list(self.stop)
        return out


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, str | None]:
    """Cut ``text`` after the earliest stop string, keeping it.

    Args:
        text: Generated text.
        stop: Stop strings.

    Returns:
        ``(text up to and including the stop string, the stop string)``, or ``(text, None)`` when
        no stop string occurs.

    Example:
        >>> cut_at_stop("<search>q</search> more", ["</answer>", "</search>"])
        ('<search>q</search>', '</search>')
    """
    best: tuple[int, str] | None = None
    for s in stop:
        if not s:
            continue
        i = text.find(s)
        if i >= 0 and (best is None or i < best[0]):
            best = (i, s)
    if best is None:
        return text, None
    return text[: best[0] + len(best[1])], best[1]


_OPEN_TAG = re.compile(r"<([A-Za-z_]+)>")


def restore_stop(text: str, stop: Sequence[str], matched: str | None = None) -> str:
    """Put back the stop string a server removed from a reply.

    Servers following OpenAI's convention (vLLM by default) return the text *before* the matched
    stop string. ``matched`` (vLLM's ``stop_reason``) names it; without it, a reply whose last
    opened tag ``<x>`` is unclosed gets ``</x>`` when that is one of the stop strings.

    Args:
        text: The reply as returned by the server.
        stop: The stop strings of the request.
        matched: The stop string the server reports, if any.

    Returns:
        The reply ending with its stop string (unchanged when none applies).

    Example:
        >>> restore_stop("<think>find it</think><search>q", ["</search>", "</answer>"])
        '<think>find it</think><search>q</search>'
    """
    if not stop or any(text.endswith(s) for s in stop if s):
        return text
    if matched is not None:
        return text + matched if matched in stop else text
    opened = list(_OPEN_TAG.finditer(text))
    if opened:
        closing = f"</{opened[-1].group(1)}>"
        if closing in stop and closing not in text[opened[-1].end() :]:
            return text + closing
    return text


class Backend(ABC):
    """Generates one reply for one conversation.

    Attributes:
        settings: Decoding settings.
        requests: Number of :meth:`generate` calls so far.
        images_sent: Number of images passed to the model so far.
    """

    kind: str = "backend"

    def __init__(self, settings: GenerationSettings | None = None) -> None:
        self.settings = settings or GenerationSettings()
        self.requests = 0
        self.images_sent = 0

    @property
    def max_image_pixels(self) -> int | None:
        """Largest image area the model's processor keeps without resizing, when known."""
        return None

    @abstractmethod
    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: list[dict[str, Any]] | None = None,
        seed: int | None = None,
    ) -> str:
        """Return the model's reply to ``messages``.

        Args:
            messages: One conversation (:mod:`agents.vlm.chat` format, images as PIL blocks).
            tools: JSON function schemas (``{"type": "function", "function": {...}}``) rendered by
                the chat template, or ``None``.
            seed: Seed for sampling (ignored when decoding greedily).
        """

    def config(self) -> dict[str, Any]:
        """JSON-serialisable description recorded in results files."""
        return {"backend": self.kind, **self.settings.to_dict()}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (connections)."""


# --------------------------------------------------------------------------------------------------
# Local transformers model
# --------------------------------------------------------------------------------------------------


def _resolve_device(device: str | None) -> str:
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


class TransformersBackend(Backend):
    """A local Hugging Face VLM (Qwen2-VL, Qwen2.5-VL, ... or a checkpoint saved by the trainers).

    Loading is offline-friendly: a folder is read with ``local_files_only=True``; a hub id is taken
    from the local cache when ``HF_HUB_OFFLINE=1`` is set, and fetched otherwise.

    Args:
        model: Checkpoint folder or hub id (``Qwen/Qwen2.5-VL-7B-Instruct``,
            ``autumncc/Qwen2.5-VL-7B-VRAG``).
        settings: Decoding settings.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, or ``"auto"``/``None`` (CUDA when available).
        dtype: Weight dtype (``"auto"`` = as saved, ``"bfloat16"``, ``"float32"``, ...).
        model_kwargs: Extra keyword arguments for ``from_pretrained`` (e.g.
            ``{"attn_implementation": "flash_attention_2"}``).

    Raises:
        OSError: The checkpoint cannot be found or read; the message says where it looked.
    """

    kind = "transformers"

    def __init__(
        self,
        model: str | os.PathLike[str],
        settings: GenerationSettings | None = None,
        *,
        device: str | None = None,
        dtype: str = "auto",
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(settings)
        try:
            import torch
            from transformers import AutoModelForImageTextToText, AutoProcessor
        except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installation
            raise ModuleNotFoundError(
                f'the transformers backend needs torch and transformers: pip install "vrag-env[vlm]" ({exc})'
            ) from exc

        self.model_name = str(model)
        local = Path(self.model_name).expanduser()
        is_local = local.is_dir()
        source = str(local) if is_local else self.model_name
        offline = is_local or os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false")
        self.device = _resolve_device(device)
        self.dtype = dtype
        self.model_kwargs = dict(model_kwargs or {})
        torch_dtype: Any = dtype if dtype == "auto" else getattr(torch, dtype)
        try:
            self.processor = AutoProcessor.from_pretrained(source, local_files_only=offline)
            self.model = AutoModelForImageTextToText.from_pretrained(
                source, dtype=torch_dtype, local_files_only=offline, **self.model_kwargs
            )
        except OSError as exc:
            where = f"folder {local}" if is_local else f"hub id {self.model_name!r}"
            hint = (
                " It is not in the local Hugging Face cache and HF_HUB_OFFLINE is set: download it "
                f"first (hf download {self.model_name}) or pass a checkpoint folder."
                if offline and not is_local
                else ""
            )
            raise OSError(f"cannot load the VLM from {where}: {exc}{hint}") from exc
        self.model.to(self.device)  # type: ignore[arg-type]
        self.model.eval()
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)

    @property
    def max_image_pixels(self) -> int | None:
        """The image processor's ``longest_edge`` pixel budget (Qwen2-VL family), when it has one."""
        image_processor = getattr(self.processor, "image_processor", None)
        size: Any = getattr(image_processor, "size", None)
        value = size.get("longest_edge") if size is not None and hasattr(size, "get") else None
        value = value or getattr(image_processor, "max_pixels", None)
        return int(value) if value else None

    def _generation_config(self) -> Any:
        import copy

        config = copy.deepcopy(self.model.generation_config)
        config.max_new_tokens = self.settings.max_new_tokens
        if self.settings.greedy:
            # Clear the checkpoint's sampling defaults (Qwen2.5-VL ships top_k=1, temperature=0.1)
            # so greedy decoding is explicit and transformers does not warn about unused flags.
            config.do_sample = False
            config.temperature = None
            config.top_p = None
            config.top_k = None
        else:
            config.do_sample = True
            config.temperature = self.settings.temperature
            config.top_p = self.settings.top_p
        if self.settings.stop:
            config.stop_strings = list(self.settings.stop)
        return config

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: list[dict[str, Any]] | None = None,
        seed: int | None = None,
    ) -> str:
        """Render ``messages`` with the processor's chat template and generate one reply."""
        import torch

        inputs = build_model_inputs(self.processor, list(messages), tools=tools).to(self.device)
        self.requests += 1
        self.images_sent += count_images(messages)
        rng = contextlib.nullcontext() if self.settings.greedy else _seeded(seed, self.device)
        with torch.inference_mode(), rng:
            output = self.model.generate(
                **inputs, generation_config=self._generation_config(), tokenizer=self.tokenizer
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        text = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)[0]
        return cut_at_stop(text, self.settings.stop)[0]

    def config(self) -> dict[str, Any]:
        """Model, device, dtype and decoding settings."""
        return {
            **super().config(),
            "model": self.model_name,
            "device": self.device,
            "dtype": self.dtype,
            **({"model_kwargs": self.model_kwargs} if self.model_kwargs else {}),
        }


@contextlib.contextmanager
def _seeded(seed: int | None, device: str) -> Iterator[None]:
    """Seed torch's generators for one call without disturbing the caller's random state."""
    import torch

    devices = [torch.device(device)] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.manual_seed(seed)
        yield


__all__ = [
    "Backend",
    "GenerationSettings",
    "TransformersBackend",
    "cut_at_stop",
    "restore_stop",
]
