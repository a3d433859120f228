"""Env performance: step latency, vector-env throughput, BM25 at scale, memory, and a reference step.

Run: ``uv run python -m benchmarks.env_perf --out benchmarks/results/env_perf.json [--quick]``

Measures, on the default corpus (``VRAG-v0``, test split):

- p50/p95 of ``reset``, a search step, a crop step and an answer step (one env, warm page cache:
  every page is shown once before timing, as in a long training run; the cold numbers are
  reported too), and the CPU time of those steps (``cpu_ms_p50``: the step's cost without the time
  other processes hold the core, for shared machines);
- aggregate steps/s of ``gymnasium.vector.SyncVectorEnv`` and ``AsyncVectorEnv`` with 1, 2, 4 and
  8 sub-envs on random valid actions (searches with words of the corpus's questions, crops inside
  the shown page, an answer every few steps; no agent cost);
- BM25 search latency over 1k, 10k and 100k synthetic text pages;
- resident memory of one env in a fresh process (after a warm-up run), and its page-cache bytes;
- **the reference**: a step in the style of VRAG-RL's rollout loop, measured in the same run: a
  search is an HTTP round trip to a search service on loopback (this package's service, same BM25
  index) followed by re-opening the page image from disk and resizing it to VRAG-RL's size; a crop
  re-opens the page image, crops and resizes it. ``speedup_vs_reference`` is our best aggregate
  steps/s over the reference's steps/s (the same search/crop mix, one process).

``--profile`` also prints cProfile's top functions for search and crop steps. ``--quick`` runs
everything smaller (< 60 s): the 100k-page BM25 point is left out and vector envs use 1 and 2
sub-envs.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image

import vrag_env  # noqa: F401 - registers the env ids

ENV_ID = "VRAG-v0"
ANSWER_EVERY = 6
"""Random valid episodes: search, then crops and searches, an answer at this step."""


def machine() -> dict[str, Any]:
    """The machine the numbers were measured on."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem_gb = float("nan")
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "pillow": Image.__version__,
        "gymnasium": gym.__version__,
    }


def pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile of seconds, in milliseconds."""
    return round(1000 * float(np.percentile(values, q)), 3) if values else float("nan")


def _crop_action(info: dict[str, Any], rng: np.random.Generator) -> str:
    """A crop box inside the content of the page shown (a quarter to half of each side)."""
    x1, y1, x2, y2 = info["view"]["content_box"]
    w, h = x2 - x1, y2 - y1
    cw, ch = int(w * rng.uniform(0.25, 0.5)), int(h * rng.uniform(0.25, 0.5))
    cx, cy = x1 + int(rng.integers(0, w - cw)), y1 + int(rng.integers(0, h - ch))
    return f"<bbox>[{cx}, {cy}, {cx + cw}, {cy + ch}]</bbox>"


class RandomValidPolicy:
    """Random valid actions for one (sub-)env: search first, then crops/searches, then an answer.

    Args:
        words: Words to build search queries from.
        seed: Seed of the choices.
    """

    def __init__(self, words: list[str], seed: int) -> None:
        self.words = words
        self.rng = np.random.default_rng(seed)
        self.t = 0

    def reset(self) -> None:
        """Start a new episode."""
        self.t = 0

    def act(self, view_box: list[int] | None) -> str:
        """The next action, given the content box of the page shown (``None``: no page yet)."""
        self.t += 1
        if self.t >= ANSWER_EVERY:
            return "<answer>42</answer>"
        if view_box is None or self.t == 1 or self.rng.random() < 0.4:
            n = int(self.rng.integers(2, 5))
            return "<search>" + " ".join(self.rng.choice(self.words, n)) + "</search>"
        return _crop_action({"view": {"content_box": view_box}}, self.rng)


def question_words(env: gym.Env[Any, Any]) -> list[str]:
    """Words (3+ letters) of the env's questions: realistic search terms."""
    words = {
        w.strip("?,.'\"()").lower()
        for q in env.unwrapped.questions  # type: ignore[attr-defined]
        for w in q.question.split()
    }
    return sorted(w for w in words if len(w) >= 3 and w.isalpha())


def warm_pages(env: gym.Env[Any, Any]) -> float:
    """Show every page once, as a long run does (fills the page cache); returns seconds."""
    from vrag_env.rendering import render_view

    u: Any = env.unwrapped
    corpus = u.corpus
    source = getattr(corpus, "page_pyramid", corpus.page_image)
    t = time.perf_counter()
    for pid, page in corpus.pages.items():
        whole = u._fit((0.0, 0.0, float(page.width), float(page.height)))
        render_view(source(pid), whole, u.view_size)
    return time.perf_counter() - t


def step_latency(
    env: gym.Env[Any, Any],
    episodes: int,
    seed: int = 0,
    cpu_times: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """Seconds per reset, search, crop and answer step over ``episodes`` episodes.

    Wall-clock seconds are returned; ``cpu_times``, when given, is filled with this thread's CPU
    seconds per step (what the step costs without the time other processes hold the core).
    """
    rng = np.random.default_rng(seed)
    times: dict[str, list[float]] = {"reset": [], "search": [], "crop": [], "answer": []}
    cpu = cpu_times if cpu_times is not None else {}
    for key in times:
        cpu.setdefault(key, [])
    for i in range(episodes):
        t, c = time.perf_counter(), time.thread_time()
        obs, info = env.reset(seed=seed + i)
        times["reset"].append(time.perf_counter() - t)
        cpu["reset"].append(time.thread_time() - c)
        for action_kind in ("search", "crop", "crop", "search", "crop", "answer"):
            if action_kind == "search":
                action = f"<search>{obs['question']}</search>"
            elif action_kind == "crop":
                action = _crop_action(info, rng)
            else:
                action = "<answer>42</answer>"
            t, c = time.perf_counter(), time.thread_time()
            obs, _, terminated, truncated, info = env.step(action)
            dt, dc = time.perf_counter() - t, time.thread_time() - c
            if info["action_kind"] == action_kind:
                times[action_kind].append(dt)
                cpu[action_kind].append(dc)
            if terminated or truncated:
                break
    return times


def profile_steps(env: gym.Env[Any, Any], kind: str, n: int = 60, top: int = 12) -> str:
    """Top functions by cumulative time (cProfile) over ``n`` search or crop steps."""
    rng = np.random.default_rng(1)
    prof = cProfile.Profile()
    obs, info = env.reset(seed=0)
    for i in range(n):
        if i % 4 == 0:
            obs, info = env.reset(seed=i)
            obs, *_, info = env.step(f"<search>{obs['question']}</search>")
        action = (
            f"<search>{obs['question']}</search>" if kind == "search" else _crop_action(info, rng)
        )
        prof.enable()
        obs, *_, info = env.step(action)
        prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def vector_throughput(
    kind: str, num_envs: int, words: list[str], steps: int, seed: int = 0
) -> float:
    """Aggregate env steps/s of a Sync or Async vector env on random valid actions."""
    make: Callable[[], gym.Env[Any, Any]] = lambda: gym.make(ENV_ID, split="test")  # noqa: E731
    cls = gym.vector.SyncVectorEnv if kind == "sync" else gym.vector.AsyncVectorEnv
    venv = cls([make] * num_envs)
    try:
        policies = [RandomValidPolicy(words, seed + i) for i in range(num_envs)]
        _, infos = venv.reset(seed=seed)
        boxes: list[list[int] | None] = [None] * num_envs
        done = np.zeros(num_envs, dtype=bool)

        def run(n: int) -> None:
            nonlocal infos, done
            for _ in range(n):
                actions = []
                for i, p in enumerate(policies):
                    if done[i]:  # next-step autoreset: this step only resets the sub-env
                        p.reset()
                        boxes[i] = None
                    actions.append(p.act(boxes[i]))
                _, _, term, trunc, infos = venv.step(tuple(actions))
                done = np.logical_or(term, trunc)
                # Merged infos: ``infos["view"]["content_box"][i]`` where ``_content_box[i]``.
                views = infos.get("view", {})
                content = views.get("content_box")
                present = views.get("_content_box", np.zeros(num_envs, dtype=bool))
                for i in range(num_envs):
                    ok = content is not None and bool(present[i]) and not done[i]
                    boxes[i] = [int(v) for v in content[i]] if ok else None

        run(max(4, steps // 5))  # warm-up: caches, sub-process start
        t = time.perf_counter()
        run(steps)
        return round(steps * num_envs / (time.perf_counter() - t), 1)
    finally:
        venv.close()


def synthetic_pages(n: int, seed: int = 0, words_per_page: int = 120) -> list[str]:
    """``n`` page texts drawn from a Zipf-distributed vocabulary of 30k made-up words."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["".join(rng.choice(letters, int(rng.integers(4, 10)))) for _ in range(30_000)]
    ranks = np.minimum(rng.zipf(1.2, size=(n, words_per_page)), len(vocab)) - 1
    return [" ".join(vocab[r] for r in row) for row in ranks]


class _TextPages:
    """The minimum of a corpus that :meth:`BM25Retriever.index` reads (page ids and texts)."""

    def __init__(self, texts: list[str]) -> None:
        from types import SimpleNamespace

        self.root = Path("synthetic")
        self.pages = {f"s{i}": SimpleNamespace(text=t) for i, t in enumerate(texts)}

    @property
    def page_ids(self) -> list[str]:
        return list(self.pages)


def bm25_latency(n_pages: int, queries: int = 200, seed: int = 0) -> dict[str, float]:
    """Index ``n_pages`` synthetic pages, then p50/p95 ms of 3-word searches for k = 10."""
    from vrag_env.retrieval.bm25 import BM25Retriever

    texts = synthetic_pages(n_pages, seed)
    t = time.perf_counter()
    retriever = BM25Retriever()
    retriever.index(_TextPages(texts))  # type: ignore[arg-type]
    index_s = time.perf_counter() - t
    rng = np.random.default_rng(seed + 1)
    times = []
    for _ in range(queries):
        words = texts[int(rng.integers(n_pages))].split()
        query = " ".join(rng.choice(words, 3))
        t = time.perf_counter()
        retriever.search(query, 10)
        times.append(time.perf_counter() - t)
    return {"p50_ms": pct(times, 50), "p95_ms": pct(times, 95), "index_s": round(index_s, 2)}


def rss_of_one_env(steps: int) -> dict[str, float]:
    """Resident memory one env adds to a fresh process, after ``steps`` random valid steps."""
    code = f"""
import json, psutil, gymnasium as gym, numpy as np, vrag_env
from benchmarks.env_perf import RandomValidPolicy, question_words
proc = psutil.Process()
base = proc.memory_info().rss
env = gym.make({ENV_ID!r}, split="test")
policy = RandomValidPolicy(question_words(env), 0)
obs, info = env.reset(seed=0)
for _ in range({steps}):
    box = info["view"].get("content_box")
    obs, r, term, trunc, info = env.step(policy.act(list(box) if box else None))
    if term or trunc:
        policy.reset(); obs, info = env.reset()
u = env.unwrapped
cache = u.corpus._cache
print(json.dumps({{"rss_mb": (proc.memory_info().rss - base) / 2**20,
    "page_cache_mb": cache.nbytes / 2**20, "pages_cached": len(cache),
    "page_cache_budget_mb": cache.max_bytes / 2**20}}))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    values = json.loads(res.stdout.strip().splitlines()[-1])
    return {k: round(float(v), 1) for k, v in values.items()}


# ---------------------------------------------------------------------------------- the reference


def reference_steps(env: gym.Env[Any, Any], steps: int, seed: int = 0) -> dict[str, Any]:
    """VRAG-RL-style steps: HTTP search on loopback, then re-open and resize the image from disk.

    Alternates a search step and a crop step (crops re-open the page image too, crop and resize
    it), so the mix matches :func:`vector_throughput`'s closely enough to compare steps/s.
    """
    from vrag_env.rendering import vrag_rl_size
    from vrag_env.retrieval.client import RemoteRetriever
    from vrag_env.retrieval.server import make_server

    u: Any = env.unwrapped
    corpus = u.corpus
    server = make_server(corpus, u.retriever)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = int(server.server_address[1])
        client = RemoteRetriever(f"http://127.0.0.1:{port}")  # make_server binds loopback
        rng = np.random.default_rng(seed)
        words = question_words(env)
        search_t, crop_t = [], []
        page_id = None
        for i in range(steps):
            t = time.perf_counter()
            if i % 2 == 0 or page_id is None:
                query = " ".join(rng.choice(words, 3))
                results = client.search(query, 1)
                page_id = results[0].page_id if results else corpus.page_ids[0]
                with Image.open(corpus.root / corpus.pages[page_id].image) as img:
                    img = img.convert("RGB")
                    img.resize(vrag_rl_size(img.width, img.height))
                search_t.append(time.perf_counter() - t)
            else:
                with Image.open(corpus.root / corpus.pages[page_id].image) as img:
                    img = img.convert("RGB")
                    w, h = img.size
                    box = (w // 4, h // 4, w // 2, h // 2)
                    crop = img.crop(box)
                    crop.resize(vrag_rl_size(crop.width, crop.height))
                crop_t.append(time.perf_counter() - t)
        all_t = search_t + crop_t
        return {
            "label": "reference (VRAG-RL-style step: HTTP search on loopback + re-open and resize "
            "the page image from disk every step)",
            "search_ms_p50": pct(search_t, 50),
            "crop_ms_p50": pct(crop_t, 50),
            "steps_per_s": round(len(all_t) / sum(all_t), 1),
        }
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------------- main


def run(quick: bool, profile: bool = False) -> dict[str, Any]:
    """Run every measurement and return the results object."""
    t_start = time.perf_counter()
    env = gym.make(ENV_ID, split="test")
    u: Any = env.unwrapped
    words = question_words(env)
    episodes = 15 if quick else 80

    cold = step_latency(env, 5, seed=1000)
    warm_s = warm_pages(env)
    cpu: dict[str, list[float]] = {}
    lat = step_latency(env, episodes, cpu_times=cpu)
    single = {
        k: {"p50_ms": pct(v, 50), "p95_ms": pct(v, 95), "cpu_p50_ms": pct(cpu[k], 50), "n": len(v)}
        for k, v in lat.items()
    }
    all_steps = lat["search"] + lat["crop"] + lat["answer"]

    reference = reference_steps(env, 40 if quick else 300)

    vector: dict[str, dict[str, float]] = {"sync": {}, "async": {}}
    counts = (1, 2) if quick else (1, 2, 4, 8)
    for kind in ("sync", "async"):
        for n in counts:
            steps = (40 if quick else 400) // n + 10
            vector[kind][str(n)] = vector_throughput(kind, n, words, steps)
    best_kind, best_n, best = max(
        ((k, n, v) for k, d in vector.items() for n, v in d.items()), key=lambda x: x[2]
    )

    bm25_sizes = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    bm25 = {str(n): bm25_latency(n, 50 if quick else 300) for n in bm25_sizes}
    rss = rss_of_one_env(60 if quick else 400)

    result: dict[str, Any] = {
        "env_id": ENV_ID,
        "quick": quick,
        "machine": machine(),
        "pages": len(u.corpus.pages),
        "view_size": list(u.view_size),
        "reset_ms_p50": single["reset"]["p50_ms"],
        "search_ms_p50": single["search"]["p50_ms"],
        "crop_ms_p50": single["crop"]["p50_ms"],
        "answer_ms_p50": single["answer"]["p50_ms"],
        "single_env": single,
        "cpu_ms_p50": {k: v["cpu_p50_ms"] for k, v in single.items()},
        "single_env_steps_per_s": round(len(all_steps) / sum(all_steps), 1),
        "cold_cache_ms_p50": {k: pct(v, 50) for k, v in cold.items()},
        "warm_up_seconds": round(warm_s, 2),
        "vector_steps_per_s": vector,
        "steps_per_s_best": best,
        "steps_per_s_best_setting": f"{best_kind} x{best_n}",
        "reference": reference,
        "reference_steps_per_s": reference["steps_per_s"],
        "speedup_vs_reference": round(best / reference["steps_per_s"], 2),
        "single_env_speedup_vs_reference": round(
            len(all_steps) / sum(all_steps) / reference["steps_per_s"], 2
        ),
        "bm25_ms_p50_by_pages": {n: v["p50_ms"] for n, v in bm25.items()},
        "bm25": bm25,
        "rss_mb_per_env": rss["rss_mb"],
        "memory": rss,
        "seconds": 0.0,
    }
    if profile:
        result["profile"] = {k: profile_steps(env, k) for k in ("search", "crop")}
    env.close()
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line: run, print a summary and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="results JSON path")
    parser.add_argument("--quick", action="store_true", help="small run (< 60 s), e.g. for tests")
    parser.add_argument(
        "--profile", action="store_true", help="print cProfile of search/crop steps"
    )
    args = parser.parse_args(argv)
    result = run(args.quick, args.profile)
    for kind, text in result.get("profile", {}).items():
        print(f"--- cProfile: {kind} steps ---\n{text}")
    keys = (
        "reset_ms_p50",
        "search_ms_p50",
        "crop_ms_p50",
        "answer_ms_p50",
        "cpu_ms_p50",
        "single_env_steps_per_s",
        "steps_per_s_best",
        "steps_per_s_best_setting",
        "reference_steps_per_s",
        "speedup_vs_reference",
        "bm25_ms_p50_by_pages",
        "rss_mb_per_env",
        "vector_steps_per_s",
        "seconds",
    )
    for key in keys:
        print(f"{key:28s} {result[key]}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
