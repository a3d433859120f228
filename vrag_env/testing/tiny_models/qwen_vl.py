"""Tiny, offline Qwen2-VL / Qwen2.5-VL checkpoints for tests and CPU smoke runs.

The development and CI machines cannot download weights (see ``DESIGN.md``, "Machines"), so every
component that loads a VLM by path (the prompted VLM agent, SFT and GRPO trainers, the evaluation
runner) is exercised against a checkpoint built here from configs:

* a byte-level BPE tokenizer trained in code on a few hundred strings that cover the action
  grammar (``<search>``, ``<bbox>``, ``<answer>``, ``<think>``, digits, JSON tool calls) and the
  text the chat template adds, with the Qwen special tokens;
* TRL's ``qwen3_vl.jinja`` chat template, which renders both assistant ``tool_calls`` and images
  inside ``role: "tool"`` messages (templates that drop tool images crash training with "Image
  features and image tokens do not match", huggingface/trl#5663; Qwen2/2.5-VL's own template
  ignores ``tool_calls``), and whose ``<tool_call>`` blocks TRL can parse
  (``trl.chat_template_utils.add_response_schema`` recognises it by exact match);
* the standard ``Qwen2VLProcessor`` / ``Qwen2_5_VLProcessor`` with a small pixel budget, so an
  image costs a handful of tokens;
* a randomly initialised (seeded) model small enough to generate and train in well under a second
  per step on two CPU cores, yet wide enough to be fine-tuned to emit the action grammar.

The result is written with ``save_pretrained`` and loads exactly like a real checkpoint::

    >>> from vrag_env.testing.tiny_models.qwen_vl import build_tiny_vlm  # doctest: +SKIP
    >>> path = build_tiny_vlm("/tmp/tiny-qwen2-vl", arch="qwen2_vl")  # doctest: +SKIP
    >>> model = AutoModelForImageTextToText.from_pretrained(path)  # doctest: +SKIP
    >>> processor = AutoProcessor.from_pretrained(path)  # doctest: +SKIP

Command line: ``python -m vrag_env.testing.tiny_models.qwen_vl --out DIR --arch qwen2_vl``.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from vrag_env._atomic import make_staging_dir, publish_dir
from vrag_env.testing.tiny_models.chat_corpus import tokenizer_training_corpus
from vrag_env.testing.tiny_models.qwen_family import (
    SPECIAL_TOKENS,  # noqa: F401 - re-exported
    check_sizes,
    mrope_section,
    qwen_config_dicts,
    special_token_ids,
    train_bpe_tokenizer,
)

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast, ProcessorMixin

Arch = Literal["qwen2_vl", "qwen2_5_vl"]
ARCHS: tuple[str, ...] = ("qwen2_vl", "qwen2_5_vl")

# Added but not "special": they must survive ``decode(..., skip_special_tokens=True)`` so that tool
# calls can be parsed from decoded completions (as in the real Qwen tokenizers).
TOOL_TOKENS: tuple[str, ...] = (
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
)

# Qwen2's pre-tokenisation: letters grouped, every digit on its own (so coordinates and numbers are
# spelled digit by digit), punctuation runs, newlines and spaces.
_QWEN2_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def qwen3_vl_chat_template() -> str:
    """Return TRL's Qwen3-VL chat template text (``trl/chat_templates/qwen3_vl.jinja``).

    It is used verbatim: TRL recognises chat templates by exact string comparison
    (``add_response_schema``, ``get_training_chat_template``).
    """
    path = importlib.resources.files("trl") / "chat_templates" / "qwen3_vl.jinja"
    return path.read_text(encoding="utf-8")


@dataclass
class TinyVLMConfig:
    """Sizes of a tiny Qwen2-VL / Qwen2.5-VL checkpoint.

    The defaults give roughly 0.3 M parameters: a 64-wide, 2-layer text decoder (head_dim 16) and a
    32-wide, 2-block vision tower. An image of at most ``max_pixels`` costs at most
    ``max_pixels // (28 * 28)`` placeholder tokens after the 2x2 merge.
    """

    arch: Arch = "qwen2_vl"
    """Model family: ``"qwen2_vl"`` or ``"qwen2_5_vl"``."""
    seed: int = 0
    """Seed for the random weights (the tokenizer does not depend on it)."""
    vocab_size: int = 1024
    """Upper bound on the trained BPE vocabulary (988 with the built-in corpus, which runs out of
    merges first); the four tool tokens come on top."""
    hidden_size: int = 64
    """Text decoder width."""
    intermediate_size: int = 128
    """Text decoder MLP width."""
    num_hidden_layers: int = 2
    """Text decoder layers."""
    num_attention_heads: int = 4
    """Text attention heads; ``hidden_size / num_attention_heads`` is the head dim."""
    num_key_value_heads: int = 2
    """Text key/value heads (grouped-query attention)."""
    max_position_embeddings: int = 4096
    """Longest sequence the text decoder is configured for."""
    rope_theta: float = 10000.0
    """Rotary base of the text decoder."""
    vision_hidden_size: int = 32
    """Vision tower width (``embed_dim`` for Qwen2-VL, ``hidden_size`` for Qwen2.5-VL)."""
    vision_depth: int = 2
    """Vision tower blocks."""
    vision_num_heads: int = 4
    """Vision attention heads."""
    patch_size: int = 14
    """Vision patch size (14 for this family)."""
    merge_size: int = 2
    """Spatial merge of vision patches into one language token (2 for this family)."""
    temporal_patch_size: int = 2
    """Frames per temporal patch (images are repeated to fill it)."""
    min_pixels: int = 4 * 28 * 28
    """Smallest image area after resizing (at least 4 image tokens)."""
    max_pixels: int = 64 * 28 * 28
    """Largest image area after resizing (at most 64 image tokens)."""
    tie_word_embeddings: bool = False
    """Share the input embedding and the LM head."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Extra text-config keyword arguments, passed through unchanged."""

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {list(ARCHS)}, got {self.arch!r}")
        check_sizes(
            hidden_size=self.hidden_size,
            num_attention_heads=self.num_attention_heads,
            num_key_value_heads=self.num_key_value_heads,
            vision_hidden_size=self.vision_hidden_size,
            vision_num_heads=self.vision_num_heads,
            min_pixels=self.min_pixels,
            max_pixels=self.max_pixels,
            pixel_factor=self.patch_size * self.merge_size,
        )

    @property
    def head_dim(self) -> int:
        """Text attention head dimension."""
        return self.hidden_size // self.num_attention_heads

    @property
    def mrope_section(self) -> list[int]:
        """Multimodal rotary sections (temporal, height, width); they sum to ``head_dim / 2``.

        Qwen2-VL uses ``[16, 24, 24]`` for head_dim 128: a quarter for time, the rest split evenly.
        """
        return mrope_section(self.head_dim)


# --------------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------------


def build_tiny_tokenizer(
    vocab_size: int = 1024,
    chat_template: str | None = None,
    corpus: list[str] | None = None,
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer with the Qwen2-VL special tokens.

    Args:
        vocab_size: Target vocabulary size of the BPE model, special tokens included. The four tool
            tokens are added on top. The result is smaller when the corpus runs out of merges.
        chat_template: Chat template to attach; defaults to :func:`qwen3_vl_chat_template`.
        corpus: Training strings; defaults to :func:`tokenizer_training_corpus`.

    Returns:
        A fast tokenizer: ``eos_token="<|im_end|>"``, ``pad_token="<|endoftext|>"``, left padding,
        no BOS token (as in Qwen2-VL), ``<|endoftext|>`` at id 0.
    """
    corpus = corpus if corpus is not None else tokenizer_training_corpus()
    tokenizer = train_bpe_tokenizer(vocab_size, corpus, split_pattern=_QWEN2_SPLIT_PATTERN)
    tokenizer.add_tokens(list(TOOL_TOKENS))
    tokenizer.chat_template = (
        chat_template if chat_template is not None else qwen3_vl_chat_template()
    )
    return tokenizer


# --------------------------------------------------------------------------------------------------
# Processor
# --------------------------------------------------------------------------------------------------


def build_tiny_processor(
    tokenizer: PreTrainedTokenizerFast | None = None,
    arch: Arch = "qwen2_vl",
    min_pixels: int = 4 * 28 * 28,
    max_pixels: int = 64 * 28 * 28,
    chat_template: str | None = None,
    patch_size: int = 14,
    merge_size: int = 2,
    temporal_patch_size: int = 2,
) -> ProcessorMixin:
    """Build the standard Qwen2-VL / Qwen2.5-VL processor around a tiny tokenizer.

    Args:
        tokenizer: Tokenizer from :func:`build_tiny_tokenizer` (built when omitted).
        arch: ``"qwen2_vl"`` or ``"qwen2_5_vl"``.
        min_pixels: Smallest image area after resizing.
        max_pixels: Largest image area after resizing; an image then costs at most
            ``max_pixels // 784`` ``<|image_pad|>`` tokens.
        chat_template: Processor chat template; defaults to the tokenizer's.
        patch_size: Vision patch size; must match the model's.
        merge_size: Spatial merge size; must match the model's.
        temporal_patch_size: Frames per temporal patch; must match the model's.

    Returns:
        A ``Qwen2VLProcessor`` or ``Qwen2_5_VLProcessor``.
    """
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {list(ARCHS)}, got {arch!r}")
    if tokenizer is None:
        tokenizer = build_tiny_tokenizer(chat_template=chat_template)
    size = {"shortest_edge": min_pixels, "longest_edge": max_pixels}
    patches = {
        "patch_size": patch_size,
        "merge_size": merge_size,
        "temporal_patch_size": temporal_patch_size,
    }
    image_processor = Qwen2VLImageProcessor(size=size, **patches)
    video_processor = Qwen2VLVideoProcessor(size=size, **patches)
    cls = Qwen2VLProcessor if arch == "qwen2_vl" else Qwen2_5_VLProcessor
    template = chat_template if chat_template is not None else tokenizer.chat_template
    return cls(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=template,
    )


# --------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------


def build_tiny_model(config: TinyVLMConfig, tokenizer: PreTrainedTokenizerFast) -> PreTrainedModel:
    """Build a randomly initialised tiny model whose vocabulary matches ``tokenizer``.

    Token ids in the config (``bos``/``eos``/``pad``, image/video/vision-start/end) are the
    tokenizer's, so nothing points outside the tiny vocabulary.

    Args:
        config: Model sizes and seed.
        tokenizer: Tokenizer from :func:`build_tiny_tokenizer`.

    Returns:
        A ``Qwen2VLForConditionalGeneration`` or ``Qwen2_5_VLForConditionalGeneration``, in eval
        mode.
    """
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
    )

    ids = special_token_ids(tokenizer)
    eos, pad = ids["<|im_end|>"], ids["<|endoftext|>"]
    text_config, vision, common = qwen_config_dicts(
        config, qwen2_5=config.arch == "qwen2_5_vl", ids=ids, vocab_size=len(tokenizer)
    )
    text_config.update(config.extra)
    common["tie_word_embeddings"] = config.tie_word_embeddings
    model_config: Qwen2VLConfig | Qwen2_5_VLConfig
    if config.arch == "qwen2_vl":
        model_config = Qwen2VLConfig(text_config=text_config, vision_config=vision, **common)
        model_cls: type[PreTrainedModel] = Qwen2VLForConditionalGeneration
    else:
        model_config = Qwen2_5_VLConfig(text_config=text_config, vision_config=vision, **common)
        model_cls = Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(config.seed)
    model = model_cls(model_config)
    model.generation_config = GenerationConfig(
        bos_token_id=pad, eos_token_id=[eos, pad], pad_token_id=pad
    )
    return model.eval()


# --------------------------------------------------------------------------------------------------
# Checkpoint folder
# --------------------------------------------------------------------------------------------------


def build_tiny_vlm(
    out_dir: str | os.PathLike[str],
    arch: Arch = "qwen2_vl",
    seed: int = 0,
    hidden_size: int = 64,
    overwrite: bool = False,
    config: TinyVLMConfig | None = None,
) -> Path:
    """Build a tiny VLM checkpoint (model, tokenizer, processor) and save it to ``out_dir``.

    The folder is written to a temporary sibling and renamed into place, so a reader never sees a
    half-written checkpoint. Load it like any checkpoint:
    ``AutoModelForImageTextToText.from_pretrained(out_dir)`` and
    ``AutoProcessor.from_pretrained(out_dir)``.

    Args:
        out_dir: Destination folder.
        arch: ``"qwen2_vl"`` or ``"qwen2_5_vl"`` (ignored when ``config`` is given).
        seed: Seed of the random weights (ignored when ``config`` is given).
        hidden_size: Text decoder width (ignored when ``config`` is given).
        overwrite: Replace an existing ``out_dir``. Without it, an existing checkpoint built with
            the same config is returned as is (so the function doubles as a cache), and any other
            existing folder raises ``FileExistsError``.
        config: Full set of sizes; overrides ``arch``, ``seed`` and ``hidden_size``.

    Returns:
        ``out_dir`` as a ``Path``.

    Raises:
        FileExistsError: ``out_dir`` exists, is not a tiny-VLM checkpoint of the same config,
            and ``overwrite`` is False.
    """
    out = Path(out_dir)
    cfg = (
        config
        if config is not None
        else TinyVLMConfig(arch=arch, seed=seed, hidden_size=hidden_size)
    )
    if out.exists() and not overwrite:
        existing = _read_manifest(out)
        if existing is None:
            raise FileExistsError(
                f"{out} exists and is not a tiny VLM checkpoint; pass overwrite=True"
            )
        if existing.get("config") != asdict(cfg):
            raise FileExistsError(
                f"{out} holds a tiny VLM built with {existing.get('config')}, not {asdict(cfg)}; "
                "pass overwrite=True or another out_dir"
            )
        return out

    tokenizer = build_tiny_tokenizer(vocab_size=cfg.vocab_size)
    processor = build_tiny_processor(
        tokenizer,
        arch=cfg.arch,
        min_pixels=cfg.min_pixels,
        max_pixels=cfg.max_pixels,
        patch_size=cfg.patch_size,
        merge_size=cfg.merge_size,
        temporal_patch_size=cfg.temporal_patch_size,
    )
    model = build_tiny_model(cfg, tokenizer)

    tmp = make_staging_dir(out)
    try:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        manifest = {
            "kind": "tiny_vlm",
            "config": asdict(cfg),
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "vocab_size": len(tokenizer),
        }
        (tmp / "tiny_vlm.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        # An existing `out` is swapped out only when overwriting; when another process finished the
        # same checkpoint first, its folder is kept.
        publish_dir(tmp, out, replace=overwrite, done_marker="tiny_vlm.json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    """Return the ``tiny_vlm.json`` manifest of a checkpoint folder, or None when absent/invalid."""
    try:
        manifest = json.loads((folder / "tiny_vlm.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("kind") == "tiny_vlm" else None


def main(argv: list[str] | None = None) -> None:
    """Command line entry point: ``python -m vrag_env.testing.tiny_models.qwen_vl --out DIR --arch qwen2_vl``."""
    parser = argparse.ArgumentParser(
        description="Build a tiny offline Qwen2-VL / Qwen2.5-VL checkpoint (random weights)."
    )
    parser.add_argument("--out", required=True, help="destination folder")
    parser.add_argument("--arch", choices=ARCHS, default="qwen2_vl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    path = build_tiny_vlm(
        args.out, arch=args.arch, seed=args.seed, hidden_size=args.hidden_size,
        overwrite=args.overwrite,
    )  # fmt: skip
    manifest = json.loads((path / "tiny_vlm.json").read_text(encoding="utf-8"))
    print(  # noqa: T201 - the command's output
        f"{path}: {manifest['config']['arch']}, {manifest['num_parameters']:,} parameters, "
        f"vocab {manifest['vocab_size']} ({time.perf_counter() - start:.2f} s)"
    )


if __name__ == "__main__":
    main()
