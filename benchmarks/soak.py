"""Soak test: many env steps in one process, watching memory, object counts and speed.

Run: ``uv run python -m benchmarks.soak --steps 1000000 [--out benchmarks/results/soak.json]``

One env (``VRAG-Tiny-v0`` by default, both dialects alternating every episode is not possible in one
env, so ``--dialect`` picks one) steps through a fixed, seeded mix of searches, crops, answers and
malformed actions; every ``--sample-every`` steps the resident set size (from ``/proc/self/statm``),
the number of live Python objects tracked by the garbage collector and the steps per second since the
last sample are recorded. The JSON is rewritten (atomically) at every sample, so a run that is stopped
early still leaves the largest N it reached; a PNG of RSS and object count over steps is written at
the end (and with ``--png-every`` samples). ``rss_growth_after_warmup`` compares the last sample with
the first sample after ``--warmup`` steps.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import gymnasium as gym

import vrag_env  # noqa: F401
from vrag_env._atomic import write_json_atomic

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident set size of this process in bytes (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * _PAGE_SIZE
    except OSError:
        return 0


def _action(rng: random.Random, dialect: str, question: str) -> str:
    """One action from a fixed mix: 30% search, 30% crop, 10% answer, 30% malformed."""
    r = rng.random()
    if dialect == "vrag":
        if r < 0.3:
            return f"<search>{question}</search>"
        if r < 0.6:
            x, y = rng.randint(0, 300), rng.randint(0, 300)
            return (
                f"<bbox>[{x}, {y}, {x + rng.randint(10, 200)}, {y + rng.randint(10, 200)}]</bbox>"
            )
        if r < 0.7:
            return f"<answer>{rng.randint(0, 9999)}</answer>"
        return rng.choice(["<bbox>[1,2]</bbox>", "hello", "<search></search>", "<answer>"])
    if r < 0.3:
        query = question.replace('"', "")
        return f'{{"name": "search", "arguments": {{"query": "{query}"}}}}'
    if r < 0.6:
        x, y = rng.random() * 0.5, rng.random() * 0.5
        box = f"[{x:.3f}, {y:.3f}, {x + 0.2:.3f}, {y + 0.2:.3f}]"
        return f'{{"name": "crop", "arguments": {{"box": {box}}}}}'
    if r < 0.7:
        return f'{{"name": "answer", "arguments": {{"answer": "{rng.randint(0, 9999)}"}}}}'
    return rng.choice(["{", '{"name": "zoom"}', "[]", '{"name": "crop", "arguments": {}}'])


def _plot(result: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = result["samples"]
    steps = [s["step"] for s in samples]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    ax1.plot(steps, [s["rss_mb"] for s in samples])
    ax1.set_ylabel("RSS (MB)")
    ax1.axvline(result["warmup_steps"], color="grey", linestyle=":")
    ax2.plot(steps, [s["gc_objects"] for s in samples], color="tab:orange")
    ax2.set_ylabel("live objects (gc)")
    ax2.set_xlabel("steps")
    fig.suptitle(f"{result['env_id']} soak ({result['dialect']} dialect)")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=80)
    plt.close(fig)


def run(
    steps: int,
    out: Path,
    env_id: str = "VRAG-Tiny-v0",
    dialect: str = "vrag",
    sample_every: int = 5000,
    warmup: int = 20000,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the soak and return (and save) its result."""
    rng = random.Random(seed)
    env = gym.make(env_id, dialect=dialect)
    obs, _ = env.reset(seed=seed)
    result: dict[str, Any] = {
        "env_id": env_id,
        "dialect": dialect,
        "steps_requested": steps,
        "steps": 0,
        "episodes": 0,
        "warmup_steps": warmup,
        "sample_every": sample_every,
        "finished": False,
        "samples": [],
    }
    t0 = last_t = time.perf_counter()
    last_step = 0
    for step in range(1, steps + 1):
        obs, _, terminated, truncated, _ = env.step(_action(rng, dialect, obs["question"]))
        if terminated or truncated:
            result["episodes"] += 1
            obs, _ = env.reset()
        if step % sample_every == 0 or step == steps:
            now = time.perf_counter()
            result["samples"].append(
                {
                    "step": step,
                    "seconds": round(now - t0, 2),
                    "rss_mb": round(rss_bytes() / 2**20, 2),
                    "gc_objects": len(gc.get_objects()),
                    "steps_per_s": round((step - last_step) / max(now - last_t, 1e-9), 1),
                }
            )
            last_t, last_step = now, step
            result["steps"] = step
            result["steps_per_s"] = round(step / max(now - t0, 1e-9), 1)
            _summarise(result)
            write_json_atomic(out, result)
    result["finished"] = True
    env.close()
    write_json_atomic(out, result)
    _plot(result, out.with_suffix(".png"))
    return result


def _summarise(result: dict[str, Any]) -> None:
    """RSS and object-count growth after warm-up (last vs first sample, window means, trend)."""
    samples = result["samples"]
    after = [s for s in samples if s["step"] >= result["warmup_steps"]]
    if len(after) >= 2:
        base, last = after[0], after[-1]
        result["rss_after_warmup_mb"] = base["rss_mb"]
        result["rss_last_mb"] = last["rss_mb"]
        result["rss_max_after_warmup_mb"] = max(s["rss_mb"] for s in after)
        result["rss_min_after_warmup_mb"] = min(s["rss_mb"] for s in after)
        result["rss_growth_after_warmup"] = round(last["rss_mb"] / base["rss_mb"] - 1, 4)
        k = max(1, min(3, len(after) // 2))
        first = sum(s["rss_mb"] for s in after[:k]) / k
        final = sum(s["rss_mb"] for s in after[-k:]) / k
        result["rss_window_growth_after_warmup"] = round(final / first - 1, 4)
        xs = [s["step"] for s in after]
        ys = [s["rss_mb"] for s in after]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
        result["rss_trend_mb_per_100k_steps"] = round(slope * 100_000, 3)
        result["gc_objects_growth_after_warmup"] = last["gc_objects"] - base["gc_objects"]


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/soak.json"))
    parser.add_argument("--env-id", default="VRAG-Tiny-v0")
    parser.add_argument("--dialect", choices=["vrag", "tool"], default="vrag")
    parser.add_argument("--sample-every", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--summarise",
        type=Path,
        metavar="FILE",
        help="recompute the summary and the PNG of a saved (possibly unfinished) run, then exit",
    )
    args = parser.parse_args()
    if args.summarise:
        saved = json.loads(args.summarise.read_text(encoding="utf-8"))
        _summarise(saved)
        write_json_atomic(args.summarise, saved)
        _plot(saved, args.summarise.with_suffix(".png"))
        print({k: v for k, v in saved.items() if k != "samples"})
        return
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    result = run(
        args.steps, args.out, args.env_id, args.dialect, args.sample_every, args.warmup, args.seed
    )
    print(
        f"{result['steps']} steps, {result['steps_per_s']} steps/s, RSS growth after warm-up "
        f"{result.get('rss_growth_after_warmup')}"
    )


if __name__ == "__main__":
    main()
