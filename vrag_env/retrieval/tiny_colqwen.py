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

Command line: ``python -m vrag_env.retrieval.tiny_colqwen --out DIR [--arch colqwen2.5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vrag_env._atomic import make_staging_dir, publish_dir

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast, ProcessorMixin

ARCHS: tuple[str, ...] = ("colqwen2", "colqwen2.5")
"""Architectures :func:`build_tiny_colqwen` can build (the backend names that load them)."""

MARKER_FILE = "tiny_colqwen.json"
"""Written into every tiny checkpoint folder (its config and parameter count)."""

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
"""Qwen2-VL special tokens, given the lowest ids in this order."""

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
        head_dim, rest = divmod(self.hidden_size, self.num_attention_heads)
        if rest or head_dim % 2 or head_dim < 8:
            raise ValueError(
                f"hidden_size / num_attention_heads must be an even integer >= 8, got "
                f"{self.hidden_size} / {self.num_attention_heads}"
            )
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        if self.vision_hidden_size % self.vision_num_heads:
            raise ValueError("vision_hidden_size must be divisible by vision_num_heads")
        if not 28 * 28 <= self.min_pixels <= self.max_pixels:
            raise ValueError(f"need 784 <= min_pixels <= max_pixels, got {self.min_pixels}, "
                             f"{self.max_pixels}")  # fmt: skip
        if self.vocab_size < 300:
            raise ValueError(
                f"vocab_size must be >= 300 (256 bytes + specials), got {self.vocab_size}"
            )

    @property
    def mrope_section(self) -> list[int]:
        """Multimodal rotary sections (time, height, width), summing to head_dim / 2."""
        half = self.hidden_size // self.num_attention_heads // 2
        temporal = max(1, half // 4)
        height = (half - temporal) // 2
        return [temporal, height, half - temporal - height]


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
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_strings(), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        padding_side="left",
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
    )


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


def _token_id(tokenizer: PreTrainedTokenizerFast, token: str) -> int:
    value = tokenizer.convert_tokens_to_ids(token)
    if not isinstance(value, int) or value == tokenizer.unk_token_id:
        raise ValueError(f"tokenizer lacks the special token {token!r}")
    return value


def build_tiny_model(
    config: TinyColQwenConfig, tokenizer: PreTrainedTokenizerFast
) -> PreTrainedModel:
    """A seeded random ``ColQwen2`` / ``ColQwen2_5`` whose vocabulary and token ids match ``tokenizer``."""
    import torch
    from colpali_engine.models import ColQwen2, ColQwen2_5
    from transformers import Qwen2_5_VLConfig, Qwen2VLConfig

    ids = {t: _token_id(tokenizer, t) for t in SPECIAL_TOKENS}
    pad = ids["<|endoftext|>"]
    text: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads,
        "max_position_embeddings": 4096,
        "max_window_layers": config.num_hidden_layers,
        # The default ids (151643, ...) would lie outside the tiny vocabulary.
        "bos_token_id": pad,
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": pad,
        "rope_parameters": {
            "rope_type": "default",
            "mrope_section": config.mrope_section,
            "rope_theta": 10000.0,
        },
    }
    common: dict[str, Any] = {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }
    vision: dict[str, Any] = {
        "depth": config.vision_depth,
        "num_heads": config.vision_num_heads,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    torch.manual_seed(config.seed)
    if config.arch == "colqwen2":
        vision |= {"embed_dim": config.vision_hidden_size, "hidden_size": config.hidden_size}
        vision["mlp_ratio"] = 2
        model: PreTrainedModel = ColQwen2(
            Qwen2VLConfig(text_config=text, vision_config=vision, **common)
        )
    else:
        vision |= {
            "hidden_size": config.vision_hidden_size,
            "intermediate_size": 2 * config.vision_hidden_size,
            "out_hidden_size": config.hidden_size,
            "window_size": 56,  # one window of 2x2 merged patches
            "fullatt_block_indexes": [config.vision_depth - 1],
        }
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
    """Command line: ``python -m vrag_env.retrieval.tiny_colqwen --out DIR [--arch colqwen2.5]``."""
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
