"""``vrag eval``: run one agent and write a results JSON with provenance."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``vrag eval`` options."""
    parser.add_argument(
        "--agent", required=True, help="agent name (random, oracle, ...) or module:Class"
    )
    parser.add_argument(
        "--agent-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="agent option (VALUE parsed as JSON when possible); repeatable",
    )
    parser.add_argument("--model", help="vlm agents: model path or id")
    parser.add_argument(
        "--base-url", help="vlm agents: OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"
    )
    parser.add_argument("--policy", help="ppo agent: path of a saved policy")
    parser.add_argument(
        "--benchmark", help="a benchmark spec name from benchmarks/specs.py (e.g. synth-test)"
    )
    parser.add_argument("--env-id", default="VRAG-v0", help="registered env id (default: VRAG-v0)")
    parser.add_argument("--corpus", help="corpus folder (default: the built-in synthetic corpus)")
    parser.add_argument("--split", default="test", help="question split (default: test)")
    parser.add_argument(
        "--episodes", type=int, default=100, help="number of episodes (default: 100)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of question selection and resets")
    parser.add_argument(
        "--dialect", choices=["vrag", "tool"], help="action dialect (default: the env id's)"
    )
    parser.add_argument("--reward", help="reward preset (default: the env id's)")
    parser.add_argument(
        "--preset", help="env preset, e.g. vrag-rl (VRAG-RL's views, crops, reward and turns)"
    )
    parser.add_argument(
        "--style",
        choices=["default", "vrag-rl"],
        help="vlm agents: conversation style (vrag-rl: the view alone per turn, VRAG-RL's sizes)",
    )
    parser.add_argument("--max-steps", type=int, help="override the step limit")
    parser.add_argument(
        "--out", help="results JSON path (default: results/<benchmark or split>/<agent>.json)"
    )
    parser.add_argument(
        "--wandb",
        action="store_true",
        help="log summary and episodes to wandb (offline by default)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--workers",
        type=int,
        help="run episodes in N processes (same results as 1; default: 1, or the Ray cluster's CPUs)",
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run episodes as Ray tasks on the cluster at ADDRESS (none: a local Ray); needs the "
        "ray extra",
    )


def _agent_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in args.agent_arg:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--agent-arg must look like KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    for key in ("model", "base_url", "policy", "style"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    return options


def run(args: argparse.Namespace) -> int:
    """Run the evaluation and write the results file."""
    from .runner import EvalSpec, evaluate, write_results

    if args.benchmark:
        from .specs import get_benchmark

        spec = get_benchmark(args.benchmark).to_eval_spec()
    else:
        env_kwargs: dict[str, Any] = {"split": args.split}
        if args.corpus:
            env_kwargs["corpus"] = args.corpus
        if args.dialect:
            env_kwargs["dialect"] = args.dialect
        if args.reward:
            env_kwargs["reward"] = args.reward
        if args.preset:
            env_kwargs["preset"] = args.preset
        if args.episodes < 1:
            raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
        spec = EvalSpec(
            env_id=args.env_id,
            env_kwargs=env_kwargs,
            episodes=args.episodes,
            seed=args.seed,
            max_episode_steps=args.max_steps,
        )
    use_ray = args.ray is not None
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if use_ray or (args.workers or 1) > 1:
        from .parallel_eval import evaluate_parallel

        results = evaluate_parallel(
            args.agent,
            spec,
            _agent_options(args),
            workers=args.workers,
            ray_address=args.ray or None,
            use_ray=use_ray,
        )
    else:
        results = evaluate(args.agent, spec, _agent_options(args), progress=not args.quiet)
    agent_name = results["metadata"]["agent"]["name"]
    out = Path(args.out or Path("results") / (spec.name or args.split) / f"{agent_name}.json")
    write_results(results, out)
    if args.wandb:
        from .wandb_log import log_results

        log_results(results)
    summary = results["summary"]
    keys = (
        "episodes",
        "anls",
        "exact_match",
        "ndcg",
        "mean_reward",
        "mean_steps",
        "invalid_action_rate",
    )
    print(f"{agent_name}: " + ", ".join(f"{k}={summary[k]}" for k in keys))
    print(f"results written to {out}")
    return 0
