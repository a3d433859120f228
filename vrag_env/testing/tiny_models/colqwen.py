"""Tiny, randomly initialised ColQwen2 / ColQwen2.5 checkpoints for offline tests and smoke runs.

Development and CI machines cannot download hub weights, so the model-based retrievers are exercised
against a checkpoint built here from configs and saved with ``save_pretrained``; the backend then
loads it by path exactly like a real one (``retriever="colqwen2:/tmp/tiny-colqwen2"``):

* a byte-level BPE tokenizer trained in code on a few hundred deterministic strings, with the
  Qwen2-VL special tokens at ids 0..6 (``<|endoftext|>`` pads, as in the real checkpoints);
* colpali-engine's ``ColQwen2Processor`` (it serves ColQwen2.5 too) around a Qwen2-VL image processor
  with a small pixel budget, so a page costs at most ``max_pixels / 784`` image tokens;
* ``ColQwen2`` (``Qwen2VLModel`` + a 128-d projection) or ``ColQwen2_5`` with a 2-layer, 64-wide text
  decoder and a 2-block, 32-wide vision tower, seeded.

Its rankings are meaningless (random weights); it checks mechanics: loading, batching, masks,
indexing, persistence and determinism.

Command line: ``python -m vrag_env.testing.tiny_models.colqwen --out DIR [--arch colqwen2.5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vrag_env._atomic import make_staging_dir, publish_dir
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

ARCHS: tuple[str, ...] = ("colqwen2", "colqwen2.5")
"""Architectures :func:`build_tiny_colqwen` can build (the backend names that load them)."""

MARKER_FILE = "tiny_colqwen.json"
"""Written into every tiny checkpoint folder (its config and parameter count)."""


_WORDS = (
    "what which who when where how many much was is are the of in for to and by from on at per "
    "revenue profit margin sales employees growth rate market share price budget population "
    "survey cost tax total invoice form chart table slide report page figure section summary "
    "annual quarter year month date name address phone number percent million billion "
    "Aurora Borealis Cobalt Delta Evergreen Fjord Granite Helix Juniper Kestrel Lumen Nimbus "
    "Describe the image user assistant"
).split()


@dataclass(frozen=True)
class TinyColQwenConfig:
    """Sizes of a tiny ColQwen checkpoint (about 0.3 M parameters with the defaults)."""

    arch: str = "colqwen2"
    """``"colqwen2"`` (Qwen2-VL backbone) or ``"colqwen2.5"`` (Qwen2.5-VL backbone)."""
    seed: int = 0
    """Seed of the random weights (the tokenizer does not depend on it)."""
    vocab_size: int = 512
    """Target BPE vocabulary size, special tokens included."""
    hidden_size: int = 64
    """Text decoder width."""
    intermediate_size: int = 128
    """Text decoder MLP width."""
    num_hidden_layers: int = 2
    """Text decoder layers."""
    num_attention_heads: int = 4
    """Text attention heads (head dim = hidden_size / heads; must be even and >= 8)."""
    num_key_value_heads: int = 2
    """Text key/value heads."""
    vision_hidden_size: int = 32
    """Vision tower width."""
    vision_depth: int = 2
    """Vision tower blocks."""
    vision_num_heads: int = 4
    """Vision attention heads."""
    min_pixels: int = 4 * 28 * 28
    """Smallest resized image area (at least 4 image tokens)."""
    max_pixels: int = 64 * 28 * 28
    """Largest resized image area (at most 64 image tokens)."""

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
        )
        if self.vocab_size < 300:
            raise ValueError(
                f"vocab_size must be >= 300 (256 bytes + specials), got {self.vocab_size}"
            )

    @property
    def mrope_section(self) -> list[int]:
        """Multimodal rotary sections (time, height, width), summing to head_dim / 2."""
        return mrope_section(self.hidden_size // self.num_attention_heads)


def training_strings(n: int = 300, seed: int = 0) -> list[str]:
    """Deterministic strings the tiny tokenizer is trained on (questions, numbers, prompts)."""
    rng = random.Random(seed)
    out = ["<|im_start|>user\nDescribe the image.<|im_end|>", "Query: ", " ".join(_WORDS)]
    for _ in range(n):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(4, 12)))
        out.append(f"{words.capitalize()} {rng.randrange(1990, 2030)} {rng.uniform(0, 100):.1f}%?")
    return out


def build_tiny_tokenizer(vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer with the Qwen2-VL special tokens.

    Returns:
        A fast tokenizer with ``<|endoftext|>`` as pad token (id 0), ``<|im_end|>`` as eos, left
        padding and no BOS token, like the Qwen2-VL tokenizers.
    """
    return train_bpe_tokenizer(vocab_size, training_strings())


def build_tiny_processor(
    tokenizer: PreTrainedTokenizerFast, config: TinyColQwenConfig | None = None
) -> ProcessorMixin:
    """The colpali-engine ``ColQwen2Processor`` around ``tokenizer`` with a small pixel budget."""
    from colpali_engine.models import ColQwen2Processor
    from transformers import Qwen2VLImageProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    cfg = config if config is not None else TinyColQwenConfig()
    size = {"shortest_edge": cfg.min_pixels, "longest_edge": cfg.max_pixels}
    return ColQwen2Processor(
        image_processor=Qwen2VLImageProcessor(size=size, patch_size=14, merge_size=2),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(size=size, patch_size=14, merge_size=2),
    )


def build_tiny_model(
    config: TinyColQwenConfig, tokenizer: PreTrainedTokenizerFast
) -> PreTrainedModel:
    """A seeded random ``ColQwen2`` / ``ColQwen2_5`` whose vocabulary and token ids match ``tokenizer``."""
    import torch
    from colpali_engine.models import ColQwen2, ColQwen2_5
    from transformers import Qwen2_5_VLConfig, Qwen2VLConfig

    ids = special_token_ids(tokenizer)
    pad = ids["<|endoftext|>"]
    text, vision, common = qwen_config_dicts(
        config, qwen2_5=config.arch == "colqwen2.5", ids=ids, vocab_size=len(tokenizer)
    )
    torch.manual_seed(config.seed)
    if config.arch == "colqwen2":
        model: PreTrainedModel = ColQwen2(
            Qwen2VLConfig(text_config=text, vision_config=vision, **common)
        )
    else:
        model = ColQwen2_5(Qwen2_5_VLConfig(text_config=text, vision_config=vision, **common))
    # Random init zeroes the padding embedding row and the projection bias, so a query made only
    # of <|endoftext|> augmentation tokens (an empty query) would embed to 0/0 = NaN. Real
    # checkpoints have a trained row there; give the tiny one a random row too.
    weight: torch.Tensor = model.get_input_embeddings().weight  # type: ignore[assignment]
    with torch.no_grad():
        weight[pad] = torch.randn(config.hidden_size) * weight.std()
    return model.eval()


def build_tiny_colqwen(
    out_dir: str | os.PathLike[str],
    arch: str = "colqwen2",
    seed: int = 0,
    *,
    overwrite: bool = False,
    config: TinyColQwenConfig | None = None,
) -> Path:
    """Build a tiny ColQwen checkpoint (model + processor) into ``out_dir``.

    The folder is written to a temporary sibling and renamed into place. Load it like any checkpoint:
    ``make_retriever("colqwen2", model=str(out_dir))`` or ``ColQwen2.from_pretrained(out_dir)``.

    Args:
        out_dir: Destination folder.
        arch: ``"colqwen2"`` or ``"colqwen2.5"`` (ignored when ``config`` is given).
        seed: Seed of the random weights (ignored when ``config`` is given).
        overwrite: Replace an existing folder. Without it, an existing tiny checkpoint is returned
            as is, and any other existing path raises ``FileExistsError``.
        config: All sizes; overrides ``arch`` and ``seed``.

    Returns:
        ``out_dir`` as a ``Path``.
    """
    out = Path(out_dir)
    cfg = config if config is not None else TinyColQwenConfig(arch=arch, seed=seed)
    if out.exists() and not overwrite:
        if (out / MARKER_FILE).is_file():
            return out
        raise FileExistsError(f"{out} exists and is not a tiny ColQwen checkpoint; pass overwrite")
    tokenizer = build_tiny_tokenizer(cfg.vocab_size)
    processor = build_tiny_processor(tokenizer, cfg)
    model = build_tiny_model(cfg, tokenizer)
    tmp = make_staging_dir(out)
    try:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        marker = {
            "kind": "tiny_colqwen",
            "config": asdict(cfg),
            "num_parameters": sum(p.numel() for p in model.parameters()),
        }
        (tmp / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    publish_dir(tmp, out, replace=True, done_marker=MARKER_FILE)
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m vrag_env.testing.tiny_models.colqwen --out DIR [--arch colqwen2.5]``."""
    import logging

    parser = argparse.ArgumentParser(description="Build a tiny random ColQwen checkpoint.")
    parser.add_argument("--out", required=True, help="destination folder")
    parser.add_argument("--arch", choices=ARCHS, default="colqwen2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = build_tiny_colqwen(args.out, args.arch, args.seed, overwrite=args.overwrite)
    logging.getLogger(__name__).info("tiny %s checkpoint in %s", args.arch, path)


if __name__ == "__main__":
    main()
