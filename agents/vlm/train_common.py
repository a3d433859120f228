"""Helpers shared by the VLM training scripts (:mod:`agents.vlm.sft`, :mod:`agents.trl_grpo`).

Command-line parsing of config dataclasses, the processor and chat template used in training, the
held-out question ids, and learning-curve files.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import json
import logging
import textwrap
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import ProcessorMixin

logger = logging.getLogger(__name__)


def attribute_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a dataclass (the string literal after each field)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for node, nxt in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def make_parser(*dataclass_types: type) -> Any:
    """A ``trl.TrlParser`` (``--config file.yaml`` plus flags) whose help comes from docstrings.

    The attribute docstrings of each dataclass become the ``--help`` text, so help is written once.
    """
    from trl import TrlParser

    for cls in dataclass_types:
        docs = attribute_docs(cls)
        for f in dataclasses.fields(cls):
            if f.name in docs and "help" not in f.metadata:
                f.metadata = MappingProxyType({**f.metadata, "help": docs[f.name]})
    types: Any = list(dataclass_types)
    return TrlParser(dataclass_types=types)


def training_chat_template(processor: ProcessorMixin) -> str | None:
    """TRL's generation-marked version of the processor's chat template (``None``: not needed)."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if processor.chat_template and has_generation_markers(processor.chat_template):
        return None
    return get_training_chat_template(processor)


def write_curve(points: list[dict[str, Any]], stem: str | Path, title: str) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and a ``<stem>.png`` plot (valid action rate, answered rate, loss)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    json_path = stem.with_suffix(".json")
    json_path.write_text(json.dumps(points, indent=1) + "\n", encoding="utf-8")
    steps = [p["step"] for p in points]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(steps, [p["valid_action_rate"] for p in points], "o-", label="valid action rate")
    ax.plot(steps, [p["answered_rate"] for p in points], "s--", label="answered rate")
    ax.axhline(0.8, color="grey", lw=0.8, ls=":")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("SFT step")
    ax.set_ylabel("rate (held-out questions)")
    losses = [(p["step"], p["train_loss"]) for p in points if p.get("train_loss") is not None]
    if losses:
        ax2 = ax.twinx()
        ax2.plot(
            [s for s, _ in losses],
            [v for _, v in losses],
            color="tab:red",
            alpha=0.6,
            label="train loss",
        )
        ax2.set_ylabel("train loss")
        ax2.legend(loc="center right")
    ax.legend(loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    png_path = stem.with_suffix(".png")
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return json_path, png_path


def load_processor(model: str, chat_template: str = "qwen3_vl") -> ProcessorMixin:
    """Load a processor and, with ``chat_template="qwen3_vl"``, give it TRL's Qwen3-VL template.

    The Qwen2-VL / Qwen2.5-VL checkpoints' own templates drop images inside ``tool`` messages
    (huggingface/trl#5663); TRL's ``qwen3_vl.jinja`` renders them with the same special tokens and
    is one TRL recognises for tool-call parsing.
    """
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(model)
    if chat_template == "qwen3_vl":
        from trl.chat_template_utils import qwen3_vl_chat_template

        processor.chat_template = qwen3_vl_chat_template
        processor.tokenizer.chat_template = qwen3_vl_chat_template
    elif chat_template != "model":
        raise ValueError(f"chat_template must be 'qwen3_vl' or 'model', got {chat_template!r}")
    return processor


def eval_question_ids(env_id: str, env_kwargs: dict[str, Any], n: int, seed: int = 0) -> list[str]:
    """``n`` question ids of a split in a seeded order."""
    import gymnasium as gym
    import numpy as np

    env = gym.make(env_id, **env_kwargs)
    try:
        uids = [q.uid for q in env.unwrapped.questions]  # type: ignore[attr-defined]
    finally:
        env.close()
    order = np.random.default_rng(seed).permutation(len(uids))
    return [uids[int(i)] for i in order[:n]]
