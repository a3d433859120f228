"""Vision-language-model agents and their plumbing.

* :mod:`agents.vlm.tiny` builds tiny, offline Qwen2-VL / Qwen2.5-VL checkpoints (random weights,
  in-code tokenizer) that load by path like real ones, for tests and CPU smoke runs.
* :mod:`agents.vlm.chat` turns environment observations into chat messages with images, trims old
  images under a budget, converts messages for OpenAI-compatible servers and builds model inputs.

Nothing heavy is imported here: torch and transformers load inside the functions that need them.
"""
