"""Supervised warm-start of a VLM on oracle tool-calling trajectories, with TRL's ``SFTTrainer``.

VRAG-RL (https://arxiv.org/abs/2505.22019) fine-tunes on expert trajectories before RL so that
rollouts contain well-formed actions from the first RL step. This module:

* trains on :mod:`agents.vlm.sft_data` examples (oracle episodes replayed through the GRPO tool
  adapter), with the loss on assistant turns only;
* measures, during training, the **valid action rate of the model's own sampled turns** on
  held-out questions: real ``generate`` (sampling at temperature 1, as GRPO samples), the reply
  parsed with TRL's response parser, and each tool call executed in a real env. A turn is valid when
  it holds at least one tool call and every call was accepted by the env (right tool name and
  arguments, parseable and legal action). The curve is written as JSON and PNG.

Command line (``Args`` below; ``--config file.yaml`` works too)::

    uv run python -m agents.vlm.sft --model runs/tiny --output_dir runs/sft --env_id VRAG-Tiny-v0
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .rollouts import RolloutStats, ValidActionCallback, sample_rollouts
from .sft_data import fill_images, oracle_examples, to_dataset
from .train_common import (
    attribute_docs,
    eval_question_ids,
    load_processor,
    make_parser,
    training_chat_template,
    write_curve,
)

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

# Re-exported: they lived here before the split, and the CPU training script imports them from here.
__all__ = [
    "Args",
    "RolloutStats",
    "ToolChatCollator",
    "ValidActionCallback",
    "attribute_docs",
    "eval_question_ids",
    "load_processor",
    "make_parser",
    "sample_rollouts",
    "train_sft",
    "training_chat_template",
    "write_curve",
]


# --------------------------------------------------------------------------------------------------
# Collator
# --------------------------------------------------------------------------------------------------


@dataclass
class ToolChatCollator:
    """Batches :mod:`agents.vlm.sft_data` examples: images in every role, tools, assistant-only loss.

    TRL's ``DataCollatorForVisionLanguageModeling`` renders neither a ``tools`` column nor images
    inside ``tool`` messages, both of which a tool-calling VLM trajectory has; this collator renders
    each conversation with the tool schemas (the same system prompt ``GRPOTrainer`` shows) and a
    training chat template with ``{% generation %}`` markers, and keeps the loss on assistant
    tokens (the tool calls and the end-of-turn token).

    Attributes:
        processor: The VLM processor.
        chat_template: Template with generation markers (e.g. TRL's ``qwen3_vl_training.jinja``);
            it must render the same tokens as the processor's template.
        max_length: Truncate longer sequences (``None``: never; truncation can cut image tokens,
            so prefer smaller images).
    """

    processor: Any
    chat_template: str | None = None
    max_length: int | None = None

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Render, tokenise and label a batch."""
        conversations = [fill_images(ex["messages"], ex["images"]) for ex in examples]
        tools = examples[0].get("tools")
        tools = json.loads(tools) if isinstance(tools, str) else tools
        out = self.processor.apply_chat_template(
            conversations,
            tools=tools,
            chat_template=self.chat_template,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            return_assistant_tokens_mask=True,
            processor_kwargs={
                "padding": True,
                "padding_side": "right",
                "truncation": self.max_length is not None,
                "max_length": self.max_length,
                # The template already writes every special token.
                "add_special_tokens": False,
            },
        )
        labels = out["input_ids"].clone()
        labels[out["attention_mask"] == 0] = -100
        labels[out.pop("assistant_masks") == 0] = -100
        out["labels"] = labels
        return dict(out)


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------


@dataclass
class Args:
    """Options of :func:`train_sft` (one per command-line flag)."""

    model: str = "Qwen/Qwen2.5-VL-3B-Instruct"
    """Model id or local folder (e.g. one written by ``python -m agents.vlm.tiny``)."""
    output_dir: str = "runs/sft"
    """Where the fine-tuned model, processor and curves are saved."""
    env_id: str = "VRAG-v0"
    """Registered env id whose questions and oracle give the trajectories."""
    train_split: str = "train"
    """Split the trajectories come from."""
    eval_split: str = "val"
    """Split of the held-out questions for the sampled-turn evaluation."""
    view_size: int = 448
    """Side of the square tool images (the env's ``view_size``); must match GRPO's."""
    max_view_pixels: int | None = None
    """Resolution budget of a view (default: ``view_size**2``)."""
    max_episode_steps: int | None = None
    """Env step limit (default: the registered one)."""
    num_train_questions: int | None = None
    """Oracle episodes to train on (default: the whole split)."""
    crop_decimals: int = 2
    """Decimals of the crop coordinates in the targets (rounded outwards; 1 for tiny models)."""
    chat_template: str = "qwen3_vl"
    """``qwen3_vl``: use TRL's ``qwen3_vl.jinja`` (renders tool images; TRL parses its tool calls); ``model``: keep the checkpoint's."""
    max_steps: int = 300
    """Optimizer steps."""
    per_device_train_batch_size: int = 4
    """Episodes per device and step."""
    gradient_accumulation_steps: int = 1
    """Steps accumulated per update."""
    learning_rate: float = 1e-5
    """Peak learning rate (a tiny random model wants ~2e-3)."""
    lr_scheduler_type: str = "cosine"
    """Learning-rate schedule."""
    warmup_steps: int = 10
    """Linear warm-up steps."""
    use_lora: bool = False
    """Train LoRA adapters instead of all weights (peft)."""
    lora_r: int = 64
    """LoRA rank."""
    gradient_checkpointing: bool = True
    """Recompute activations in the backward pass (saves memory; slower)."""
    bf16: bool = True
    """bfloat16 mixed precision (GPU)."""
    use_cpu: bool = False
    """Train on the CPU."""
    eval_every: int = 50
    """Sampled-turn evaluation every this many steps (0: only before and after training)."""
    eval_episodes: int = 16
    """Held-out episodes per evaluation."""
    eval_max_new_tokens: int = 256
    """Tokens per sampled turn (a tool call with a long search query needs ~150 with a small
    vocabulary)."""
    eval_max_turns: int = 6
    """Turns per evaluation episode."""
    logging_steps: int = 10
    """Log every this many steps."""
    report_to: str = "none"
    """``none`` or ``wandb`` (set ``WANDB_MODE=offline`` to stay offline)."""
    seed: int = 0
    """Seed of data order, initialisation and sampling."""

    def env_kwargs(self, split: str) -> dict[str, Any]:
        """``gym.make`` keyword arguments for one split."""
        return {
            "split": split,
            "view_size": (self.view_size, self.view_size),
            "max_view_pixels": self.max_view_pixels or self.view_size * self.view_size,
        }


def _sft_config(args: Args, out: Path) -> Any:
    """TRL's ``SFTConfig`` for ``args`` (checkpoints under ``out/checkpoints``)."""
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(out / "checkpoints"),
        max_steps=args.max_steps,
        per_device_train_batch_size=args.per_device_train_batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        learning_rate=args.learning_rate,
        lr_scheduler_type=args.lr_scheduler_type,
        warmup_steps=args.warmup_steps,
        logging_steps=args.logging_steps,
        save_strategy="no",
        report_to=args.report_to,
        use_cpu=args.use_cpu,
        bf16=args.bf16 and not args.use_cpu,
        gradient_checkpointing=args.gradient_checkpointing,
        seed=args.seed,
        # The collator needs the raw columns; there is nothing for TRL to pre-tokenise.
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": True},
        max_length=None,
        dataloader_num_workers=0,
    )


def train_sft(args: Args) -> dict[str, Any]:
    """Build the oracle data, fine-tune, evaluate sampled turns and save the model.

    Returns:
        ``{"output_dir", "curve", "num_examples", "seconds", "log_history"}``.
    """
    from trl import SFTTrainer

    start = time.perf_counter()
    out = Path(args.output_dir)
    processor = load_processor(args.model, args.chat_template)
    examples = oracle_examples(
        args.env_id,
        args.env_kwargs(args.train_split),
        limit=args.num_train_questions,
        seed=args.seed,
        max_episode_steps=args.max_episode_steps,
        decimals=args.crop_decimals,
    )
    if not examples:
        raise ValueError(f"no oracle episodes on split {args.train_split!r} of {args.env_id}")
    dataset = to_dataset(examples)
    eval_ids = eval_question_ids(
        args.env_id, args.env_kwargs(args.eval_split), args.eval_episodes, args.seed
    )
    callback = ValidActionCallback(
        processor,
        eval_ids,
        every=args.eval_every or args.max_steps,
        out_dir=out,
        env_id=args.env_id,
        env_kwargs=args.env_kwargs(args.eval_split),
        max_episode_steps=args.max_episode_steps,
        max_new_tokens=args.eval_max_new_tokens,
        max_turns=args.eval_max_turns,
        seed=args.seed,
    )
    config = _sft_config(args, out)
    peft_config = None
    if args.use_lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=args.lora_r,
            lora_alpha=2 * args.lora_r,
            lora_dropout=0.05,
            target_modules="all-linear",
        )
    trainer = SFTTrainer(
        model=args.model,
        args=config,
        train_dataset=dataset,
        processing_class=processor,
        data_collator=ToolChatCollator(processor, chat_template=training_chat_template(processor)),
        callbacks=[callback],
        peft_config=peft_config,
    )
    trainer.train()
    model: Any = trainer.model
    if args.use_lora:
        model = model.merge_and_unload()  # GRPO and the agents load a plain checkpoint by path
    model.save_pretrained(out)
    processor.save_pretrained(out)
    seconds = time.perf_counter() - start
    summary = {
        "output_dir": str(out),
        "num_examples": len(examples),
        "curve": callback.curve,
        "seconds": round(seconds, 1),
        "log_history": trainer.state.log_history,
    }
    (out / "sft_summary.json").write_text(
        json.dumps(summary, indent=1, default=str) + "\n", encoding="utf-8"
    )
    return summary


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    parser = make_parser(Args)
    (args,) = parser.parse_args_and_config(args=argv)
    summary = train_sft(args)
    first, last = summary["curve"][0], summary["curve"][-1]
    print(
        f"SFT done in {summary['seconds']:.0f} s on {summary['num_examples']} oracle episodes: "
        f"valid action rate {first['valid_action_rate']:.3f} -> {last['valid_action_rate']:.3f}; "
        f"model in {summary['output_dir']}"
    )
    if not math.isfinite(float(last.get("train_loss") or 0.0)):
        raise SystemExit("training loss is not finite")
    return summary


if __name__ == "__main__":
    main()
