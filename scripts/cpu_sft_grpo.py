"""CPU end-to-end run: tiny VLM -> SFT on oracle trajectories -> GRPO through environment_factory.

Everything is real: a tiny Qwen2-VL is built from configs (random weights, no download), SFT
trains on oracle episodes of ``VRAG-v0`` (built-in synthetic corpus, train split: ~800 questions)
replayed through the GRPO tool adapter, the valid
action rate of the model's *sampled* turns is measured on held-out questions with real
``generate``, and GRPO runs through ``GRPOTrainer(environment_factory=VRAGToolEnv)`` with page
images returned by the tools. Curves go to ``<out>/`` as JSON and PNG; the numbers are printed.
Finally the trained model is evaluated as the ``grpo`` agent on the leaderboard benchmark
(``results/synth-test/grpo.json``).

    uv run python scripts/cpu_sft_grpo.py --out runs/cpu_sft_grpo

On a shared 2-core machine, one torch thread is much faster than two (``--threads 1``): with
more runnable threads than cores, OpenMP's spinning workers stall each other.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("WANDB_MODE", "offline")

ENV_ID = "VRAG-v0"


def grpo_curves(
    log_history: list[dict[str, Any]], stem: Path, title: str
) -> dict[str, list[float]]:
    """Write the trainer's per-step metrics as ``<stem>.json`` and a 2x2 ``<stem>.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [h for h in log_history if "reward" in h and "step" in h]
    keys = {
        "reward": "reward",
        "reward_std": "reward_std",
        "env_return": "rewards/VRAGToolEnv/mean",
        "anls": "rewards/anls/mean",
        "ndcg": "rewards/ndcg/mean",
        "tool_call_frequency": "tools/call_frequency",
        "tool_failure_frequency": "tools/failure_frequency",
        "frac_reward_zero_std": "frac_reward_zero_std",
        "loss": "loss",
        "completion_length": "completions/mean_length",
    }
    curves: dict[str, list[float]] = {"step": [h["step"] for h in rows]}
    for name, key in keys.items():
        curves[name] = [float(h.get(key, math.nan)) for h in rows]
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(curves, indent=1) + "\n", encoding="utf-8")
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True)
    steps = curves["step"]
    ax = axes[0][0]
    ax.plot(steps, curves["reward"], label="reward (env return)")
    ax.fill_between(
        steps,
        [m - s for m, s in zip(curves["reward"], curves["reward_std"], strict=True)],
        [m + s for m, s in zip(curves["reward"], curves["reward_std"], strict=True)],
        alpha=0.2,
        label="± reward std",
    )
    ax.plot(steps, curves["ndcg"], "--", label="NDCG term")
    ax.plot(steps, curves["anls"], ":", label="ANLS term")
    ax.set_title("rewards")
    ax.legend(fontsize=8)
    ax = axes[0][1]
    ax.plot(steps, curves["tool_call_frequency"], label="tool calls / rollout")
    ax.plot(steps, curves["tool_failure_frequency"], label="failed calls / rollout")
    ax.set_title("tool calls")
    ax.legend(fontsize=8)
    ax = axes[1][0]
    ax.plot(steps, curves["loss"], color="tab:red")
    ax.set_title("GRPO loss")
    ax.set_xlabel("step")
    ax = axes[1][1]
    ax.plot(steps, curves["reward_std"], label="reward std (groups)")
    ax.plot(steps, curves["frac_reward_zero_std"], label="fraction of zero-std groups")
    ax.set_title("group diversity")
    ax.set_xlabel("step")
    ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(stem.with_suffix(".png"), dpi=110)
    plt.close(fig)
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/cpu_sft_grpo", help="output folder")
    parser.add_argument("--arch", default="qwen2_vl", choices=["qwen2_vl", "qwen2_5_vl"])
    parser.add_argument("--hidden-size", type=int, default=256, help="tiny model width")
    parser.add_argument("--layers", type=int, default=4, help="tiny model decoder layers")
    parser.add_argument("--env-id", default=ENV_ID, help="env whose questions train and test")
    parser.add_argument("--sft-steps", type=int, default=1000)
    parser.add_argument("--sft-lr", type=float, default=1.5e-3)
    parser.add_argument("--sft-eval-every", type=int, default=100)
    parser.add_argument("--grpo-steps", type=int, default=40)
    parser.add_argument("--grpo-lr", type=float, default=5e-5)
    parser.add_argument("--view-size", type=int, default=112, help="tool image side (pixels)")
    parser.add_argument("--eval-episodes", type=int, default=24, help="held-out sampled episodes")
    parser.add_argument("--crop-decimals", type=int, default=1, help="crop target precision")
    parser.add_argument("--benchmark", default="synth-test", help="final evaluation ('' to skip)")
    parser.add_argument("--eval-limit", type=int, default=None, help="first N benchmark questions")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    cli = parser.parse_args()

    import torch

    torch.set_num_threads(cli.threads)

    from agents.trl_grpo import Args as GRPOArgs
    from agents.trl_grpo import train as train_grpo
    from agents.vlm.sft import Args as SFTArgs
    from agents.vlm.sft import eval_question_ids, load_processor, sample_rollouts, train_sft
    from agents.vlm.tiny import TinyVLMConfig, build_tiny_vlm
    from benchmarks.trained_eval import evaluate_trained

    out = Path(cli.out)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    config = TinyVLMConfig(
        arch=cli.arch,
        seed=cli.seed,
        hidden_size=cli.hidden_size,
        intermediate_size=2 * cli.hidden_size,
        num_hidden_layers=cli.layers,
        num_attention_heads=8,
        num_key_value_heads=4,
    )
    tiny = build_tiny_vlm(out / "tiny", config=config)
    timings["build"] = time.perf_counter() - t0

    # ---------------------------------------------------------------- SFT
    t0 = time.perf_counter()
    sft_args = SFTArgs(
        model=str(tiny),
        output_dir=str(out / "sft"),
        env_id=cli.env_id,
        view_size=cli.view_size,
        max_steps=cli.sft_steps,
        per_device_train_batch_size=4,
        learning_rate=cli.sft_lr,
        warmup_steps=20,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        eval_every=cli.sft_eval_every,
        eval_episodes=cli.eval_episodes,
        crop_decimals=cli.crop_decimals,
        logging_steps=10,
        seed=cli.seed,
    )
    sft = train_sft(sft_args)
    timings["sft"] = time.perf_counter() - t0

    # ---------------------------------------------------------------- GRPO
    t0 = time.perf_counter()
    grpo_args = GRPOArgs(
        model=sft["output_dir"],
        output_dir=str(out / "grpo"),
        env_id=cli.env_id,
        view_size=cli.view_size,
        max_steps=cli.grpo_steps,
        per_device_train_batch_size=8,
        num_generations=4,
        max_completion_length=1024,
        max_tool_calling_iterations=6,
        learning_rate=cli.grpo_lr,
        beta=0.0,
        loss_type="dapo",
        temperature=1.0,
        use_cpu=True,
        save_steps=max(10, cli.grpo_steps // 2),
        benchmark=cli.benchmark or None,
        eval_limit=cli.eval_limit,
        seed=cli.seed,
    )
    grpo = train_grpo(grpo_args)
    timings["grpo"] = time.perf_counter() - t0
    curves = grpo_curves(
        grpo["log_history"], out / "grpo_curves", f"GRPO on {cli.env_id} (tiny Qwen2-VL, CPU)"
    )

    # ---------------------------------------------------------------- after GRPO
    t0 = time.perf_counter()
    from transformers import AutoModelForImageTextToText

    eval_ids = eval_question_ids(
        cli.env_id, sft_args.env_kwargs("val"), cli.eval_episodes, cli.seed
    )
    model = AutoModelForImageTextToText.from_pretrained(grpo["model_dir"])
    after_grpo = sample_rollouts(
        model,
        load_processor(grpo["model_dir"]),
        eval_ids,
        env_id=cli.env_id,
        env_kwargs=sft_args.env_kwargs("val"),
        seed=cli.seed,
    ).summary()
    timings["eval_after_grpo"] = time.perf_counter() - t0
    results_file = None
    if cli.benchmark:
        t0 = time.perf_counter()
        try:
            results_file = evaluate_trained(grpo_args, grpo["model_dir"])
        except (ImportError, ValueError) as exc:  # the grpo agent may not be installed yet
            print(f"final evaluation skipped: {type(exc).__name__}: {exc}")
        timings["benchmark_eval"] = time.perf_counter() - t0

    # ---------------------------------------------------------------- report
    before, after_sft = sft["curve"][0], sft["curve"][-1]
    finite = [v for v in curves["loss"] if math.isfinite(v)]
    summary = {
        "valid_action_rate": {
            "before_sft": before["valid_action_rate"],
            "after_sft": after_sft["valid_action_rate"],
            "after_grpo": after_grpo["valid_action_rate"],
        },
        "sft_curve": sft["curve"],
        "after_grpo_rollouts": after_grpo,
        "grpo_steps": len(curves["step"]),
        "grpo_first5": {k: v[:5] for k, v in curves.items()},
        "grpo_last5": {k: v[-5:] for k, v in curves.items()},
        "grpo_mean": {
            k: round(sum(x for x in v if math.isfinite(x)) / max(1, sum(map(math.isfinite, v))), 4)
            for k, v in curves.items()
            if k != "step"
        },
        "groups_with_nonzero_std": sum(1 for s in curves["reward_std"] if s > 0),
        "loss_finite": len(finite) == len(curves["loss"]),
        "results_file": str(results_file) if results_file else None,
        "timings_seconds": {k: round(v, 1) for k, v in timings.items()},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=1))
    print(
        f"\nvalid action rate of sampled turns: before SFT {before['valid_action_rate']:.3f}, "
        f"after SFT {after_sft['valid_action_rate']:.3f}, after GRPO "
        f"{after_grpo['valid_action_rate']:.3f}\n"
        f"GRPO: {summary['grpo_steps']} steps, mean reward {summary['grpo_mean']['reward']:.3f}, "
        f"mean reward std {summary['grpo_mean']['reward_std']:.3f} "
        f"({summary['groups_with_nonzero_std']} steps with non-zero std), tool calls/rollout "
        f"{summary['grpo_mean']['tool_call_frequency']:.2f}, mean loss {summary['grpo_mean']['loss']:.4f}\n"
        f"curves: {out / 'sft' / 'valid_action_curve.png'}, {out / 'grpo_curves.png'}"
    )


if __name__ == "__main__":
    main()
