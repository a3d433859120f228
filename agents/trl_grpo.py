"""GRPO for a VLM agent on VRAG with TRL's ``GRPOTrainer`` and image-returning tools.

Paper: VRAG-RL, https://arxiv.org/abs/2505.22019 (search / crop / answer over page images, reward =
answer + retrieval NDCG + format). Trainer: https://huggingface.co/docs/trl/grpo_trainer ("Agent
Training", "Multimodal Tool Responses").

Each GRPO rollout is one ``VRAG`` episode: :class:`agents.vlm.trl_env.VRAGToolEnv` is the
``environment_factory``; its ``search``/``crop``/``answer`` methods are the tools (their docstrings
are the schemas), the tools return page images, and ``get_reward()`` is the env's own return.
The run ends with an evaluation of the trained model on a benchmark spec, written to
``results/<benchmark>/grpo.json`` for the leaderboard.

    # CPU smoke run on the tiny corpus (after SFT, see scripts/cpu_sft_grpo.py)
    uv run python agents/trl_grpo.py --config agents/configs/grpo_tiny_cpu.yaml
    # one GPU, Qwen2.5-VL-3B + LoRA + vLLM colocate
    uv run accelerate launch agents/trl_grpo.py --config agents/configs/grpo_qwen2.5vl_3b_1gpu.yaml
    # eight GPUs, Qwen2.5-VL-7B, DeepSpeed ZeRO-3
    uv run accelerate launch --config_file agents/configs/accelerate_zero3_8gpu.yaml \
        agents/trl_grpo.py --config agents/configs/grpo_qwen2.5vl_7b_8gpu.yaml

Any ``Args`` field is a flag (``--max_steps 50``) and overrides the ``--config`` file.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# The environment_factory API is marked experimental in TRL; silence its banner before importing.
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


@dataclass
class Args:
    """Options of a GRPO run (one command-line flag each; ``--config`` reads them from YAML)."""

    # ---------------------------------------------------------------- model
    model: str = "Qwen/Qwen2.5-VL-3B-Instruct"
    """Model id or local folder; a path is required with ``beta > 0`` (the reference model is
    reloaded from it)."""
    chat_template: str = "qwen3_vl"
    """``qwen3_vl``: TRL's Qwen3-VL template, which renders images in tool messages (the
    Qwen2/2.5-VL templates drop them, trl#5663) and whose tool calls TRL parses; ``model``: keep."""
    dtype: str = "bfloat16"
    """Weights dtype (``bfloat16`` on GPU, ``float32`` on CPU)."""
    attn_implementation: str | None = None
    """``sdpa``, ``flash_attention_2``, ... (default: transformers' choice)."""
    output_dir: str = "runs/grpo"
    """Run folder: the final model and processor go to ``<output_dir>/final`` (where the ``grpo``
    agent looks by default), checkpoints to ``<output_dir>/checkpoints``."""

    # ---------------------------------------------------------------- environment and data
    env_id: str = "VRAG-v0"
    """Registered env id (``VRAG-Tiny-v0`` for CPU runs)."""
    corpus: str | None = None
    """Corpus folder (``vrag ingest``); default: the built-in synthetic corpus."""
    split: str = "train"
    """Question split trained on."""
    num_questions: int | None = None
    """Train on this many questions of the split (seeded order); all when unset."""
    view_size: int = 448
    """Side of the square tool images. Qwen2.5-VL spends one token per 28x28 pixels, so 448 costs
    256 tokens per image, all counted in ``max_completion_length``."""
    max_view_pixels: int | None = None
    """Resolution budget of a view (default: ``view_size**2``)."""
    reward: str = "default"
    """Reward preset of the env (``default``: 0.7 ANLS + 0.2 NDCG + 0.1 format; ``vrag-rl``: LLM
    judge)."""
    max_episode_steps: int = 10
    """Env step limit per rollout."""

    # ---------------------------------------------------------------- GRPO
    max_steps: int = 300
    """Optimizer steps."""
    per_device_train_batch_size: int = 8
    """Completions per device and micro-batch."""
    gradient_accumulation_steps: int = 1
    """Micro-batches per optimizer step."""
    num_generations: int = 8
    """Rollouts per question (the GRPO group)."""
    max_completion_length: int = 2048
    """Tokens of a whole multi-turn rollout, tool results and their image tokens included."""
    max_tool_calling_iterations: int = 6
    """Tool-calling turns per rollout."""
    learning_rate: float = 1e-6
    """Peak learning rate."""
    lr_scheduler_type: str = "constant_with_warmup"
    """Learning-rate schedule."""
    warmup_steps: int = 0
    """Warm-up steps."""
    beta: float = 0.0
    """KL coefficient (0: no reference model)."""
    loss_type: str = "dapo"
    """``grpo``, ``dapo``, ``dr_grpo``, ``bnpo``, ``cispo``, ``sapo``, ..."""
    epsilon: float = 0.2
    """Clipping range."""
    scale_rewards: str = "group"
    """``group``, ``batch`` or ``none``."""
    temperature: float = 1.0
    """Sampling temperature (about 1 keeps the groups diverse)."""
    num_iterations: int = 1
    """Optimisation passes per generated batch."""
    mask_truncated_completions: bool = False
    """Leave rollouts cut by ``max_completion_length`` out of the loss."""
    gradient_checkpointing: bool = True
    """Recompute activations in the backward pass."""
    bf16: bool = True
    """bfloat16 mixed precision."""
    use_cpu: bool = False
    """Run on the CPU."""
    seed: int = 0
    """Seed of data order, sampling and initialisation."""

    # ---------------------------------------------------------------- LoRA
    use_lora: bool = False
    """Train LoRA adapters (peft) instead of all weights; merged into the saved model."""
    lora_r: int = 64
    """LoRA rank."""
    lora_alpha: int = 128
    """LoRA scaling numerator."""
    lora_dropout: float = 0.05
    """LoRA dropout."""
    lora_target_modules: list[str] = field(
        default_factory=lambda: [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ]
    )
    """Modules that get adapters (the language model's linear layers)."""

    # ---------------------------------------------------------------- vLLM
    use_vllm: bool = False
    """Generate with vLLM (GPU only; needs the ``vllm`` extra)."""
    vllm_mode: str = "colocate"
    """``colocate`` (vLLM in the training process) or ``server`` (``trl vllm-serve --model ...``)."""
    vllm_gpu_memory_utilization: float = 0.3
    """GPU memory share of the colocated vLLM engine."""
    vllm_tensor_parallel_size: int = 1
    """Tensor parallelism of the colocated engine."""
    vllm_enable_sleep_mode: bool = False
    """Offload the colocated engine during the optimizer step (saves memory, costs time)."""
    vllm_max_model_length: int | None = None
    """Context of the vLLM engine (prompt + ``max_completion_length``)."""
    vllm_server_base_url: str | None = None
    """Server mode: URL of ``trl vllm-serve`` (e.g. ``http://10.0.0.2:8000``)."""

    # ---------------------------------------------------------------- checkpoints and logging
    save_steps: int = 50
    """Checkpoint every this many steps."""
    save_total_limit: int = 2
    """Checkpoints kept."""
    resume_from_checkpoint: str | None = None
    """``auto`` (latest checkpoint in ``output_dir``, if any) or a checkpoint folder."""
    logging_steps: int = 1
    """Log every this many steps."""
    wandb: bool = False
    """Log to Weights & Biases."""
    wandb_project: str = "vrag-env"
    """W&B project."""
    wandb_mode: str = "offline"
    """``offline`` (default: nothing leaves the machine; ``wandb sync`` later) or ``online``."""
    log_completions: bool = False
    """Print sampled rollouts at each logging step."""

    # ---------------------------------------------------------------- final evaluation
    benchmark: str | None = "synth-test"
    """Benchmark spec evaluated after training (``synth-tiny`` for the tiny corpus; unset: skip)."""
    eval_limit: int | None = None
    """Evaluate only the first questions of the benchmark."""
    results_dir: str = "results"
    """The results file goes to ``<results_dir>/<benchmark>/grpo.json``."""

    def __post_init__(self) -> None:
        if self.num_generations < 2:
            raise ValueError(
                f"num_generations must be >= 2 (GRPO compares a group), got {self.num_generations}"
            )
        if self.use_vllm and self.use_cpu:
            raise ValueError("use_vllm needs a GPU; drop --use_cpu or --use_vllm")
        if self.vllm_mode not in ("colocate", "server"):
            raise ValueError(f"vllm_mode must be 'colocate' or 'server', got {self.vllm_mode!r}")
        if self.use_cpu and (self.bf16 or self.gradient_checkpointing):
            # bf16 autocast and activation recomputation only cost time on a CPU.
            self.bf16 = False
            self.gradient_checkpointing = False

    def env_kwargs(self, split: str | None = None) -> dict[str, Any]:
        """``gym.make`` keyword arguments of the training env."""
        kwargs: dict[str, Any] = {
            "split": split or self.split,
            "reward": self.reward,
            "view_size": (self.view_size, self.view_size),
            "max_view_pixels": self.max_view_pixels or self.view_size * self.view_size,
        }
        if self.corpus is not None:
            kwargs["corpus"] = self.corpus
        return kwargs


LOGGED_SCORE_TERMS = ("anls", "ndcg", "format")
"""Env score terms logged as ``rewards/<term>/mean`` (weight 0)."""


# ==================================================================================================
# Setup (plumbing: configs for TRL, peft and the dataset)
# ==================================================================================================


def make_grpo_config(args: Args) -> Any:
    """The ``GRPOConfig`` of a run."""
    from trl import GRPOConfig

    vllm: dict[str, Any] = {}
    if args.use_vllm:
        vllm = {
            "use_vllm": True,
            "vllm_mode": args.vllm_mode,
            "vllm_gpu_memory_utilization": args.vllm_gpu_memory_utilization,
            "vllm_tensor_parallel_size": args.vllm_tensor_parallel_size,
            "vllm_enable_sleep_mode": args.vllm_enable_sleep_mode,
            "vllm_max_model_length": args.vllm_max_model_length,
        }
        if args.vllm_server_base_url:
            vllm["vllm_server_base_url"] = args.vllm_server_base_url
    model_init_kwargs: dict[str, Any] = {"dtype": "float32" if args.use_cpu else args.dtype}
    if args.attn_implementation:
        model_init_kwargs["attn_implementation"] = args.attn_implementation
    return GRPOConfig(
        output_dir=str(Path(args.output_dir) / "checkpoints"),
        model_init_kwargs=model_init_kwargs,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.per_device_train_batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        num_generations=args.num_generations,
        max_completion_length=args.max_completion_length,
        max_tool_calling_iterations=args.max_tool_calling_iterations,
        learning_rate=args.learning_rate,
        lr_scheduler_type=args.lr_scheduler_type,
        warmup_steps=args.warmup_steps,
        beta=args.beta,
        loss_type=args.loss_type,
        epsilon=args.epsilon,
        scale_rewards=args.scale_rewards,
        temperature=args.temperature,
        num_iterations=args.num_iterations,
        mask_truncated_completions=args.mask_truncated_completions,
        # The env-score terms are logged as extra reward columns with weight 0; the trained reward
        # is the env return that TRL adds from VRAGToolEnv.get_reward (weight 1).
        reward_weights=[0.0] * len(LOGGED_SCORE_TERMS),
        gradient_checkpointing=args.gradient_checkpointing,
        bf16=args.bf16,
        use_cpu=args.use_cpu,
        seed=args.seed,
        save_strategy="steps",
        save_steps=args.save_steps,
        save_total_limit=args.save_total_limit,
        logging_steps=args.logging_steps,
        report_to=["wandb"] if args.wandb else "none",
        run_name=Path(args.output_dir).name,
        log_completions=args.log_completions,
        **vllm,
    )


def make_peft_config(args: Args) -> Any:
    """A LoRA config, or ``None`` for full fine-tuning."""
    if not args.use_lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=args.lora_target_modules,
        task_type="CAUSAL_LM",
    )


def make_dataset(args: Args) -> Any:
    """The training prompts: one row per question (``prompt``, ``question_id``)."""
    from datasets import Dataset

    from .vlm.trl_env import question_rows

    rows = question_rows(args.env_id, args.env_kwargs(), limit=args.num_questions, seed=args.seed)
    return Dataset.from_list(rows)


def resolve_checkpoint(args: Args) -> str | bool | None:
    """What ``trainer.train(resume_from_checkpoint=...)`` gets."""
    if args.resume_from_checkpoint in (None, ""):
        return None
    if args.resume_from_checkpoint == "auto":
        from transformers.trainer_utils import get_last_checkpoint

        folder = Path(args.output_dir) / "checkpoints"
        last = get_last_checkpoint(str(folder)) if folder.is_dir() else None
        return last
    return args.resume_from_checkpoint


# ==================================================================================================
# Training (the algorithm: GRPO over env rollouts)
# ==================================================================================================


def train(args: Args) -> dict[str, Any]:
    """Run GRPO and save the final model; returns a summary with TRL's ``log_history``."""
    from trl import GRPOTrainer

    from .vlm.train_common import load_processor
    from .vlm.trl_env import VRAGToolEnv, score_reward

    if args.wandb:
        os.environ.setdefault("WANDB_MODE", args.wandb_mode)
        os.environ.setdefault("WANDB_PROJECT", args.wandb_project)
    start = time.perf_counter()
    processor = load_processor(args.model, args.chat_template)
    trainer = GRPOTrainer(
        model=args.model,
        reward_funcs=[score_reward(term) for term in LOGGED_SCORE_TERMS],
        args=make_grpo_config(args),
        train_dataset=make_dataset(args),
        processing_class=processor,
        peft_config=make_peft_config(args),
        environment_factory=VRAGToolEnv.factory(
            args.env_id, args.env_kwargs(), max_episode_steps=args.max_episode_steps
        ),
    )
    trainer.train(resume_from_checkpoint=resolve_checkpoint(args))

    out = Path(args.output_dir) / "final"
    if args.use_lora:
        # Agents load a plain checkpoint by path, so the adapters are merged into the weights.
        if trainer.accelerator.is_main_process:
            trainer.accelerator.unwrap_model(trainer.model).merge_and_unload().save_pretrained(out)
    else:
        trainer.save_model(str(out))  # every rank calls it: ZeRO-3 gathers the shards
    if trainer.accelerator.is_main_process:
        processor.save_pretrained(out)
    trainer.accelerator.wait_for_everyone()
    summary = {
        "args": asdict(args),
        "output_dir": args.output_dir,
        "model_dir": str(out),
        "seconds": round(time.perf_counter() - start, 1),
        "log_history": trainer.state.log_history,
        "is_main_process": trainer.accelerator.is_main_process,
    }
    if trainer.accelerator.is_main_process:
        (Path(args.output_dir) / "log_history.json").write_text(
            json.dumps(trainer.state.log_history, indent=1) + "\n", encoding="utf-8"
        )
    return summary


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    from .vlm.train_common import make_parser

    (args,) = make_parser(Args).parse_args_and_config(args=argv)
    summary = train(args)
    logs = [h for h in summary["log_history"] if "reward" in h]
    if logs:
        last = logs[-1]
        print(
            f"GRPO: {len(logs)} logged steps in {summary['seconds']:.0f} s; last step reward "
            f"{last['reward']:.3f} (std {last.get('reward_std', float('nan')):.3f}), tool calls "
            f"{last.get('tools/call_frequency', float('nan')):.2f}, loss {last.get('loss', float('nan'))}"
        )
    if summary["is_main_process"] and args.benchmark:
        # The evaluation runner lives in `benchmarks` (which agents never import).
        print(
            f"evaluate on {args.benchmark}: python -m benchmarks.trained_eval --config ... "
            f"(or: vrag eval --agent grpo --model {summary['model_dir']} --benchmark {args.benchmark})"
        )
    return summary


if __name__ == "__main__":
    # Run as a file (`python agents/trl_grpo.py`, `accelerate launch agents/trl_grpo.py`): import the
    # module under its package name so that its package-relative imports resolve.
    import importlib

    importlib.import_module("agents.trl_grpo").main()
