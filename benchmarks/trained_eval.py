"""Train the GRPO agent and evaluate the trained model on a benchmark (one results file).

``python -m benchmarks.trained_eval --config agents/configs/grpo_tiny_cpu.yaml`` does what
``agents/trl_grpo.py`` does and then writes ``<results_dir>/<benchmark>/grpo.json``. The evaluation
step lives here because agents never import the benchmarks package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vrag_env._entry_points import load_entry_point

from .runner import evaluate, write_results
from .specs import get_benchmark

if TYPE_CHECKING:
    from agents.trl_grpo import Args


def evaluate_trained(args: Args, model_dir: str | Path) -> Path | None:
    """Evaluate the trained model as the ``grpo`` agent on ``args.benchmark``; return the file."""
    if not args.benchmark:
        return None
    spec = get_benchmark(args.benchmark).to_eval_spec(limit=args.eval_limit)
    # Show the model its observations at the pixel budget of its training tool images.
    options = {"model": str(model_dir), "max_image_pixels": args.view_size * args.view_size}
    results = evaluate("grpo", spec, options, progress=True)
    return write_results(results, Path(args.results_dir) / args.benchmark / "grpo.json")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line: train (same options as ``agents/trl_grpo.py``), then evaluate."""
    make_parser = load_entry_point("agents.vlm.train_common:make_parser")
    args_cls = load_entry_point("agents.trl_grpo:Args")
    (args,) = make_parser(args_cls).parse_args_and_config(args=argv)
    summary = load_entry_point("agents.trl_grpo:train")(args)
    if summary["is_main_process"]:
        path = evaluate_trained(args, summary["model_dir"])
        if path is not None:
            result = json.loads(path.read_text(encoding="utf-8"))["summary"]
            print(f"evaluation on {args.benchmark}: ANLS {result.get('anls')} -> {path}")
            summary["results_file"] = str(path)
    return summary


if __name__ == "__main__":
    main()
