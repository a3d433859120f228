"""Tiny offline Qwen2-VL / Qwen2.5-VL checkpoints (old path; see :mod:`vrag_env.testing.tiny_models`).

``python -m agents.vlm.tiny --out DIR`` still works.
"""

from __future__ import annotations

from vrag_env.testing.tiny_models.qwen_vl import (
    ARCHS,
    SPECIAL_TOKENS,
    TOOL_TOKENS,
    TinyVLMConfig,
    build_tiny_model,
    build_tiny_processor,
    build_tiny_tokenizer,
    build_tiny_vlm,
    main,
    qwen3_vl_chat_template,
    tokenizer_training_corpus,
)

__all__ = [
    "ARCHS",
    "SPECIAL_TOKENS",
    "TOOL_TOKENS",
    "TinyVLMConfig",
    "build_tiny_model",
    "build_tiny_processor",
    "build_tiny_tokenizer",
    "build_tiny_vlm",
    "main",
    "qwen3_vl_chat_template",
    "tokenizer_training_corpus",
]

if __name__ == "__main__":
    main()
