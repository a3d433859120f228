"""Tiny, offline, randomly initialised checkpoints built from configs (no download).

* :mod:`~vrag_env.testing.tiny_models.qwen_vl`: a tiny Qwen2-VL / Qwen2.5-VL (the VLM agents, SFT and
  GRPO tests): ``build_tiny_vlm(DIR)``.
* :mod:`~vrag_env.testing.tiny_models.colqwen`: a tiny ColQwen2 / ColQwen2.5 (the visual retrievers'
  tests): ``build_tiny_colqwen(DIR)``.
* :mod:`~vrag_env.testing.tiny_models.qwen_family`: what both share (the Qwen2-VL special tokens, the
  byte-level BPE tokenizer trainer, size checks and the model config dictionaries).

Real checkpoints load through the same code paths, so tests exercise the real loading code.
"""
