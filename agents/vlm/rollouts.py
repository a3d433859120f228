"""Sampled rollouts: the valid action rate of a model's own tool-calling turns.

Real ``generate`` (sampling at temperature 1, as GRPO samples), the reply parsed with TRL's response
parser, and each tool call executed in a real env. A turn is valid when it holds at least one tool
call and every call was accepted by the env. Used during SFT (:class:`ValidActionCallback`) and by
the CPU training script.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from .train_common import write_curve
from .trl_env import INSTRUCTIONS, VRAGToolEnv, build_prompt, tool_methods

if TYPE_CHECKING:
    from transformers import PreTrainedModel, ProcessorMixin

logger = logging.getLogger(__name__)


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


# Long by design: one rollout loop (prompt, generate, parse, step, record) as VRAG-RL runs it; the
# steps share per-rollout state that splitting would have to pass around.
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

    (Over 80 lines with its argument list and docstring; the code itself is one ~60-line loop over
    batches, turns and rows, kept together so the order of RNG draws stays obvious.)

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
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
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
                inputs, output = _generate(
                    model,
                    processor,
                    [conversations[i] for i in active],
                    tools,
                    temperature=temperature,
                    max_new_tokens=max_new_tokens,
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
                    if _apply_turn(stats, envs[i], conversations[i], parsed):
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


def _generate(
    model: PreTrainedModel,
    processor: ProcessorMixin,
    conversations: list[list[dict[str, Any]]],
    tools: list[Any],
    *,
    temperature: float,
    max_new_tokens: int,
) -> tuple[Any, Any]:
    """Sample one assistant turn for each conversation (left-padded batch); (inputs, output ids)."""
    import torch

    rendered: Any = processor.apply_chat_template(
        conversations,
        tools=tools,
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        processor_kwargs={"padding": True, "padding_side": "left"},
    )
    inputs = rendered.to(model.device)
    generate: Any = model.generate
    with torch.no_grad():
        output = generate(
            **inputs,
            do_sample=True,
            temperature=temperature,
            top_k=0,
            top_p=1.0,
            max_new_tokens=max_new_tokens,
            eos_token_id=model.generation_config.eos_token_id,
            pad_token_id=processor.tokenizer.pad_token_id,
        )
    return inputs, output


def _apply_turn(
    stats: RolloutStats,
    env: VRAGToolEnv,
    conversation: list[dict[str, Any]],
    parsed: dict[str, Any],
) -> bool:
    """Run the tool calls of one parsed turn in ``env``; return whether the episode goes on."""
    calls = parsed.get("tool_calls") or []
    if not calls and env.done:
        return False  # the stop turn after an accepted answer
    stats.turns += 1
    if not calls:
        return False  # no tool call: the rollout ends, as in the trainer
    conversation.append(parsed)
    methods = {f.__name__: f for f in tool_methods(env)}
    all_valid = True
    for call in calls:
        stats.tool_calls += 1
        valid, result = _run_call(env, methods, call)
        all_valid = all_valid and valid
        name = call.get("function", call).get("name", "unknown")
        content = result if isinstance(result, list) else str(result)
        conversation.append({"role": "tool", "name": name, "content": content})
    stats.valid_turns += int(all_valid)
    return True


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
