"""Tiny offline ColQwen checkpoints (old path; see :mod:`vrag_env.testing.tiny_models`).

``python -m vrag_env.retrieval.tiny_colqwen --out DIR`` still works.
"""

from __future__ import annotations

from vrag_env.testing.tiny_models.colqwen import (
    ARCHS,
    MARKER_FILE,
    TinyColQwenConfig,
    build_tiny_colqwen,
    build_tiny_model,
    build_tiny_processor,
    build_tiny_tokenizer,
    main,
)

__all__ = [
    "ARCHS",
    "MARKER_FILE",
    "TinyColQwenConfig",
    "build_tiny_colqwen",
    "build_tiny_model",
    "build_tiny_processor",
    "build_tiny_tokenizer",
    "main",
]

if __name__ == "__main__":
    main()
