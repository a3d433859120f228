"""Pieces shared by the tiny Qwen2-VL-family builders (:mod:`.qwen_vl` and :mod:`.colqwen`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
"""Special tokens of the Qwen2-VL family, given the lowest ids (0..6) in this order. Real checkpoints
use ``<|endoftext|>`` as pad and bos, ``<|im_end|>`` as the end of an assistant turn."""


def train_bpe_tokenizer(
    vocab_size: int, corpus: list[str], *, split_pattern: str | None = None
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer with :data:`SPECIAL_TOKENS` on ``corpus``.

    Args:
        vocab_size: Target vocabulary size, special tokens included (>= 300).
        corpus: Training strings.
        split_pattern: A regex pre-tokenisation (Qwen2's); ``None`` uses ByteLevel's own regex.

    Returns:
        A fast tokenizer: ``eos_token="<|im_end|>"``, ``pad_token="<|endoftext|>"``, left padding,
        no BOS token (as in Qwen2-VL), ``<|endoftext|>`` at id 0.

    Raises:
        ValueError: If ``vocab_size`` is below 300.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 300:
        raise ValueError(
            f"vocab_size must be >= 300 (256 bytes + special tokens), got {vocab_size}"
        )
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    if split_pattern is None:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(split_pattern), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
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


def special_token_ids(tokenizer: PreTrainedTokenizerFast) -> dict[str, int]:
    """The ids of :data:`SPECIAL_TOKENS`.

    Raises:
        ValueError: When the tokenizer lacks one of them.
    """
    ids: dict[str, int] = {}
    for token in SPECIAL_TOKENS:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if not isinstance(token_id, int) or token_id == tokenizer.unk_token_id:
            raise ValueError(f"tokenizer lacks the Qwen2-VL special token {token}")
        ids[token] = token_id
    return ids


def mrope_section(head_dim: int) -> list[int]:
    """Multimodal rotary sections (temporal, height, width); they sum to ``head_dim / 2``.

    Qwen2-VL uses ``[16, 24, 24]`` for head_dim 128: a quarter for time, the rest split evenly.
    """
    half = head_dim // 2
    temporal = max(1, half // 4)
    height = (half - temporal) // 2
    return [temporal, height, half - temporal - height]


def check_sizes(
    *,
    hidden_size: int,
    num_attention_heads: int,
    num_key_value_heads: int,
    vision_hidden_size: int,
    vision_num_heads: int,
    min_pixels: int,
    max_pixels: int,
    pixel_factor: int = 28,
) -> None:
    """Check that tiny model sizes fit together.

    Raises:
        ValueError: Naming the sizes that do not fit and how to fix them.
    """
    if hidden_size % num_attention_heads:
        raise ValueError(
            f"hidden_size ({hidden_size}) must be divisible by num_attention_heads "
            f"({num_attention_heads})"
        )
    head_dim = hidden_size // num_attention_heads
    if head_dim % 2 or head_dim < 8:
        raise ValueError(
            f"head_dim = hidden_size / num_attention_heads must be even and >= 8 (multimodal "
            f"rotary sections), got {head_dim}; change hidden_size or num_attention_heads"
        )
    if num_attention_heads % num_key_value_heads:
        raise ValueError(
            f"num_attention_heads ({num_attention_heads}) must be a multiple of "
            f"num_key_value_heads ({num_key_value_heads})"
        )
    if vision_hidden_size % vision_num_heads:
        raise ValueError(
            f"vision_hidden_size ({vision_hidden_size}) must be divisible by "
            f"vision_num_heads ({vision_num_heads})"
        )
    if not pixel_factor * pixel_factor <= min_pixels <= max_pixels:
        raise ValueError(
            f"need {pixel_factor * pixel_factor} <= min_pixels <= max_pixels, got min_pixels="
            f"{min_pixels}, max_pixels={max_pixels}"
        )


class QwenSizes(Protocol):
    """The sizes a tiny Qwen2(.5)-VL config is built from (both builders' config dataclasses)."""

    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vision_hidden_size: int
    vision_depth: int
    vision_num_heads: int


def qwen_config_dicts(
    sizes: QwenSizes, *, qwen2_5: bool, ids: dict[str, int], vocab_size: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Text config, vision config and top-level keyword arguments of a tiny Qwen2(.5)-VL config.

    Every token id is the tokenizer's (``ids`` from :func:`special_token_ids`): the defaults
    (151643, ...) would lie outside the tiny vocabulary. ``sizes`` may also set
    ``max_position_embeddings``, ``rope_theta``, ``patch_size``, ``merge_size`` and
    ``temporal_patch_size`` (defaults: 4096, 10000.0, 14, 2, 2).
    """
    hidden_size, vision_hidden_size = sizes.hidden_size, sizes.vision_hidden_size
    num_hidden_layers, vision_depth = sizes.num_hidden_layers, sizes.vision_depth
    patch_size: int = getattr(sizes, "patch_size", 14)
    merge_size: int = getattr(sizes, "merge_size", 2)
    pad = ids["<|endoftext|>"]
    text: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": hidden_size,
        "intermediate_size": sizes.intermediate_size,
        "num_hidden_layers": num_hidden_layers,
        "num_attention_heads": sizes.num_attention_heads,
        "num_key_value_heads": sizes.num_key_value_heads,
        "max_position_embeddings": getattr(sizes, "max_position_embeddings", 4096),
        "max_window_layers": num_hidden_layers,
        "bos_token_id": pad,  # as in real Qwen2-VL checkpoints
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": pad,
        "rope_parameters": {
            "rope_type": "default",
            "mrope_section": mrope_section(hidden_size // sizes.num_attention_heads),
            "rope_theta": getattr(sizes, "rope_theta", 10000.0),
        },
    }
    common: dict[str, Any] = {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }
    vision: dict[str, Any] = {
        "depth": vision_depth,
        "num_heads": sizes.vision_num_heads,
        "patch_size": patch_size,
        "spatial_merge_size": merge_size,
        "temporal_patch_size": getattr(sizes, "temporal_patch_size", 2),
    }
    if not qwen2_5:
        # The merger projects to the text width.
        vision |= {"embed_dim": vision_hidden_size, "hidden_size": hidden_size, "mlp_ratio": 2}
    else:
        vision |= {
            "hidden_size": vision_hidden_size,
            "intermediate_size": 2 * vision_hidden_size,
            "out_hidden_size": hidden_size,
            # One window of 2x2 merged patches, full attention in the last block (the real model
            # has 112-pixel windows and full attention every 8th block).
            "window_size": 2 * patch_size * merge_size,
            "fullatt_block_indexes": [vision_depth - 1],
        }
    return text, vision, common
