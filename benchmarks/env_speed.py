"""Environment speed: ``gym.make`` on a warm cache, and step latency against its rendering floor.

Run: ``uv run python benchmarks/env_speed.py [--env-id VRAG-v0] [--steps 300]``

Prints a table and saves ``benchmarks/results/env_speed.json``. The baseline measured in the same run
is the bare cost of what a step must do at least: decode a page image and resample it into the view
(Pillow only, no env). The env's step latency is reported beside it, so the overhead of parsing,
retrieval and bookkeeping is visible.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
from PIL import Image

import vrag_env  # noqa: F401
from vrag_env.rendering import fit_view, render_view


def time_make_in_fresh_process(env_id: str, repeats: int) -> list[float]:
    """Seconds for ``import vrag_env; gym.make(env_id)`` in fresh interpreters (warm corpus cache)."""
    code = (
        "import time; t = time.perf_counter(); import gymnasium as gym, vrag_env; "
        f"env = gym.make({env_id!r}); env.reset(seed=0); print(time.perf_counter() - t)"
    )
    out = []
    for _ in range(repeats):
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        out.append(float(res.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    """Run the benchmark and save its JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env-id", default="VRAG-v0")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", default="benchmarks/results/env_speed.json")
    args = parser.parse_args()

    gym.make(args.env_id).close()  # make sure the corpus and index caches are warm
    make_times = time_make_in_fresh_process(args.env_id, repeats=3)

    env = gym.make(args.env_id, split="test")
    u = env.unwrapped
    search_t, crop_t = [], []
    obs, info = env.reset(seed=0)
    for i in range(args.steps // 2):
        if i % 4 == 0:
            obs, info = env.reset(seed=i)
        t = time.perf_counter()
        obs, *_, info = env.step(f"<search>{obs['question']}</search>")
        search_t.append(time.perf_counter() - t)
        x, y, x2, y2 = info["view"]["content_box"]
        w, h = x2 - x, y2 - y
        t = time.perf_counter()
        env.step(f"<bbox>[{x + w // 4}, {y + h // 4}, {x + w // 2}, {y + h // 2}]</bbox>")
        crop_t.append(time.perf_counter() - t)

    # Baseline: decode one page image and resample it into the view, nothing else.
    pages = list(u.corpus.pages.values())[: args.steps // 2]
    base_t = []
    for page in pages:
        t = time.perf_counter()
        with Image.open(u.corpus.root / page.image) as img:
            rgb = img.convert("RGB")
        render_view(rgb, fit_view((0, 0, page.width, page.height)), u.view_size)
        base_t.append(time.perf_counter() - t)

    def ms(values: list[float]) -> float:
        return round(1000 * statistics.median(values), 2)

    result = {
        "env_id": args.env_id,
        "make_seconds_warm_cache": [round(v, 3) for v in make_times],
        "median_ms": {
            "baseline_decode_and_resample_page": ms(base_t),
            "env_step_search": ms(search_t),
            "env_step_crop": ms(crop_t),
        },
        "steps_per_second": round(len(search_t + crop_t) / sum(search_t + crop_t), 1),
        "pages": len(u.corpus.pages),
        "questions": len(u.corpus.queries),
    }
    print(
        f"gym.make({args.env_id!r}) + reset, fresh process, warm cache: {result['make_seconds_warm_cache']} s"
    )
    print(f"{'what':40s} {'median ms':>10s}")
    for key, value in result["median_ms"].items():
        print(f"{key:40s} {value:10.2f}")
    print(f"steps/s (search+crop mix): {result['steps_per_second']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
