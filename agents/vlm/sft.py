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

import ast
import dataclasses
import inspect
import itertools
import json
import logging
import math
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from .sft_data import fill_images, oracle_examples, to_dataset
from .trl_env import INSTRUCTIONS, VRAGToolEnv, build_prompt, tool_methods

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, ProcessorMixin

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------
# Command-line plumbing (shared with agents/trl_grpo.py)
# --------------------------------------------------------------------------------------------------


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


def training_chat_template(processor: ProcessorMixin) -> str | None:
    """TRL's generation-marked version of the processor's chat template (``None``: not needed)."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if processor.chat_template and has_generation_markers(processor.chat_template):
        return None
    return get_training_chat_template(processor)


# --------------------------------------------------------------------------------------------------
# Sampled rollouts: the valid action rate of the model's own turns
# --------------------------------------------------------------------------------------------------


@dataclass
class RolloutStats:
    """What sampled rollouts did (see :func:`sample_rollouts`).

    Attributes:
        episodes: Episodes played.
        turns: Assistant turns counted (the turn after an accepted answer is not counted).
        valid_turns: Turns with at least one tool call, every call accepted by the env.
        tool_calls: Tool calls made.
        answered: Episodes that ended with an accepted answer.
        returns: Env return of each episode.
        anls: ANLS of each episode.
        samples: A few decoded turns, for inspection.
        seconds: Wall time.
    """

    episodes: int = 0
    turns: int = 0
    valid_turns: int = 0
    tool_calls: int = 0
    answered: int = 0
    returns: list[float] = field(default_factory=list)
    anls: list[float] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def valid_action_rate(self) -> float:
        """Valid turns over counted turns."""
        return self.valid_turns / self.turns if self.turns else 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable means."""
        n = max(1, self.episodes)
        return {
            "episodes": self.episodes,
            "turns": self.turns,
            "valid_action_rate": round(self.valid_action_rate, 4),
            "tool_calls_per_episode": round(self.tool_calls / n, 4),
            "answered_rate": round(self.answered / n, 4),
            "mean_return": round(sum(self.returns) / n, 4),
            "mean_anls": round(sum(self.anls) / n, 4),
            "seconds": round(self.seconds, 2),
        }


def _run_call(env: VRAGToolEnv, methods: dict[str, Any], call: dict[str, Any]) -> tuple[bool, Any]:
    """Execute one parsed tool call as ``GRPOTrainer`` does; return ``(accepted, result)``.

    A call is accepted when the tool exists, its arguments bind to the tool's signature, the
    episode is still running and the env applied the action without an error.
    """
    function = call.get("function", call)
    name, arguments = function.get("name"), function.get("arguments", {})
    if name not in methods or not isinstance(arguments, dict):
        return False, {"error": f"Tool {name} not found."}
    try:
        inspect.signature(methods[name]).bind(**arguments)
    except TypeError as exc:
        return False, {"error": str(exc)}
    was_done = env.done
    result = methods[name](**arguments)
    return not was_done and env.info.get("action_error") is None, result


def sample_rollouts(
    model: PreTrainedModel,
    processor: ProcessorMixin,
    question_ids: Sequence[str],
    *,
    env_id: str = "VRAG-v0",
    env_kwargs: dict[str, Any] | None = None,
    max_episode_steps: int | None = None,
    max_turns: int = 6,
    max_new_tokens: int = 256,
    temperature: float = 1.0,
    batch_size: int = 8,
    seed: int = 0,
    instructions: str | None = INSTRUCTIONS,
    keep_samples: int = 4,
) -> RolloutStats:
    """Play episodes with the model's own sampled turns, as ``GRPOTrainer``'s tool loop does.

    Each turn is generated with real ``model.generate`` (sampling, ``temperature``, no top-k or
    top-p), parsed with TRL's ``parse_response`` (the trainer's parser) and every tool call is run
    on a :class:`VRAGToolEnv`; the results go back as ``tool`` messages with images. An episode
    ends when a turn has no tool call, or after ``max_turns`` turns.

    Args:
        model: The policy.
        processor: Its processor (chat template with tool support).
        question_ids: Questions, one episode each.
        env_id: Registered env id.
        env_kwargs: ``gym.make`` keyword arguments (same image size as in training).
        max_episode_steps: Env step limit.
        max_turns: Assistant turns per episode at most.
        max_new_tokens: Tokens per turn at most.
        temperature: Sampling temperature.
        batch_size: Episodes generated together.
        seed: Torch seed for sampling.
        instructions: Task text of the prompt.
        keep_samples: Decoded turns kept in the result.

    Returns:
        The counts; ``valid_action_rate`` is the headline number.
    """
    import torch
    from trl.chat_template_utils import add_response_schema, parse_response

    start = time.perf_counter()
    tokenizer = processor.tokenizer
    if (
        getattr(tokenizer, "response_template", None) is None
        and getattr(tokenizer, "response_schema", None) is None
    ):
        add_response_schema(processor)
    stats = RolloutStats()
    was_training = model.training
    model.eval()
    generate: Any = model.generate
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    eos = model.generation_config.eos_token_id
    pad = tokenizer.pad_token_id
    try:
        for chunk_start in range(0, len(question_ids), batch_size):
            chunk = list(question_ids[chunk_start : chunk_start + batch_size])
            envs = [VRAGToolEnv(env_id, env_kwargs, max_episode_steps) for _ in chunk]
            conversations: list[list[dict[str, Any]]] = []
            for k, (env, uid) in enumerate(zip(envs, chunk, strict=True)):
                env.reset(question_id=uid, seed=seed + chunk_start + k)
                prompt = build_prompt(env.question, instructions)[0]
                conversations.append(
                    [{"role": "user", "content": [{"type": "text", "text": prompt["content"]}]}]
                )
            tools: list[Any] = tool_methods(envs[0])
            active = list(range(len(chunk)))
            for _ in range(max_turns):
                if not active:
                    break
                rendered: Any = processor.apply_chat_template(
                    [conversations[i] for i in active],
                    tools=tools,
                    add_generation_prompt=True,
                    tokenize=True,
                    return_dict=True,
                    return_tensors="pt",
                    processor_kwargs={"padding": True, "padding_side": "left"},
                )
                inputs = rendered.to(model.device)
                with torch.no_grad():
                    output = generate(
                        **inputs,
                        do_sample=True,
                        temperature=temperature,
                        top_k=0,
                        top_p=1.0,
                        max_new_tokens=max_new_tokens,
                        eos_token_id=eos,
                        pad_token_id=pad,
                    )
                prompt_length = inputs["input_ids"].shape[1]
                new_tokens = output[:, prompt_length:]
                still_active = []
                for row, i in enumerate(active):
                    ids = [t for t in new_tokens[row].tolist() if t != pad]
                    # The parser anchors on the assistant header, so it needs the (unpadded) prompt.
                    prefix = inputs["input_ids"][row][inputs["attention_mask"][row].bool()].tolist()
                    parsed = parse_response(tokenizer, ids, prefix=prefix, tools=tools)
                    if len(stats.samples) < keep_samples:
                        stats.samples.append(tokenizer.decode(ids, skip_special_tokens=False))
                    env = envs[i]
                    calls = parsed.get("tool_calls") or []
                    if not calls and env.done:
                        continue  # the stop turn after an accepted answer
                    stats.turns += 1
                    if not calls:
                        continue  # no tool call: the rollout ends, as in the trainer
                    conversations[i].append(parsed)
                    methods = {f.__name__: f for f in tool_methods(env)}
                    all_valid = True
                    for call in calls:
                        stats.tool_calls += 1
                        valid, result = _run_call(env, methods, call)
                        all_valid = all_valid and valid
                        name = call.get("function", call).get("name", "unknown")
                        content = result if isinstance(result, list) else str(result)
                        conversations[i].append({"role": "tool", "name": name, "content": content})
                    stats.valid_turns += int(all_valid)
                    still_active.append(i)
                active = still_active
            for env in envs:
                stats.episodes += 1
                stats.answered += int(_answered(env))
                stats.returns.append(env.get_reward())
                stats.anls.append(float(env.score.get("anls", 0.0)))
                env.env.close()
    finally:
        torch.random.set_rng_state(generator_state)
        model.train(was_training)
    stats.seconds = time.perf_counter() - start
    return stats


def _answered(env: VRAGToolEnv) -> bool:
    unwrapped: Any = env.env.unwrapped
    return bool(unwrapped.episode_outcome().answered)


class ValidActionCallback(TrainerCallback):
    """Measures the valid action rate of sampled turns before, during and after training.

    Args:
        processor: The processor.
        question_ids: Held-out questions.
        every: Evaluate every ``every`` optimizer steps (and at the start and the end).
        out_dir: Where ``valid_action_curve.json`` and ``.png`` are written after each evaluation.
        **rollout_kwargs: Passed to :func:`sample_rollouts`.
    """

    def __init__(
        self,
        processor: ProcessorMixin,
        question_ids: Sequence[str],
        every: int,
        out_dir: str | Path,
        **rollout_kwargs: Any,
    ) -> None:
        self.processor = processor
        self.question_ids = list(question_ids)
        self.every = max(1, every)
        self.out_dir = Path(out_dir)
        self.rollout_kwargs = rollout_kwargs
        self.curve: list[dict[str, Any]] = []

    def _evaluate(self, state: Any, model: Any) -> None:
        if self.curve and self.curve[-1]["step"] == state.global_step:
            return
        stats = sample_rollouts(model, self.processor, self.question_ids, **self.rollout_kwargs)
        losses = [h["loss"] for h in state.log_history if "loss" in h]
        point = {
            "step": state.global_step,
            **stats.summary(),
            "train_loss": losses[-1] if losses else None,
            "samples": stats.samples[:2],
        }
        self.curve.append(point)
        logger.info("sampled-turn evaluation at step %d: %s", state.global_step, point)
        print(
            f"[sft] step {state.global_step:4d}: valid action rate {point['valid_action_rate']:.3f} "
            f"({point['turns']} turns), answered {point['answered_rate']:.2f}, "
            f"return {point['mean_return']:+.3f}, loss {point['train_loss']}",
            flush=True,
        )
        write_curve(
            self.curve,
            self.out_dir / "valid_action_curve",
            "SFT: valid action rate of sampled turns",
        )

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Evaluate the model before any update."""
        self._evaluate(state, kwargs["model"])

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Evaluate every ``every`` steps."""
        if state.global_step % self.every == 0:
            self._evaluate(state, kwargs["model"])

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Evaluate the final model."""
        self._evaluate(state, kwargs["model"])


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


def train_sft(args: Args) -> dict[str, Any]:
    """Build the oracle data, fine-tune, evaluate sampled turns and save the model.

    Returns:
        ``{"output_dir", "curve", "num_examples", "seconds", "log_history"}``.
    """
    from trl import SFTConfig, SFTTrainer

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
    config = SFTConfig(
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
