"""Fuzz the env with hostile action strings in both dialects and count what goes wrong.

Run: ``uv run python -m benchmarks.fuzz --steps 100000 --out benchmarks/results/fuzz.json``

Half of the steps go to a ``vrag``-dialect env and half to a ``tool``-dialect env (``VRAG-Tiny-v0``).
Every action is a string (a non-``str`` action is a programming error and raises ``InvalidAction`` by
design): valid actions of both dialects (so episodes move on and end), actions of the other dialect,
huge and malformed numbers, deeply nested JSON, lone surrogates and other odd Unicode, unclosed and
nested tags, random bytes decoded as text, and strings up to twice the length limit. Every few
episodes ``reset`` gets hostile ``options`` too (a ``ValueError`` is the expected answer).

Counted: ``uncaught_exceptions`` (anything ``step`` raises), ``obs_outside_space`` (an observation
not in ``observation_space``), ``info_not_serialisable`` (``info`` that ``json.dumps`` refuses or that
is not encodable as strict UTF-8), ``reset_unexpected_exceptions`` (``reset`` raising anything but
``ValueError``); the first few failures are saved with the action that caused them.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import traceback
from pathlib import Path
from typing import Any

import gymnasium as gym

import vrag_env  # noqa: F401
from vrag_env._atomic import write_json_atomic

MAX_EXAMPLES = 20


def _random_text(rng: random.Random, n: int) -> str:
    pools = [
        "abc xyz 0123456789",
        '<>[]{}",:/\\ \n\t',
        "\ud800\udfff\ud83d\u0000\u200b\ufeff\u202e",
        "é漢字🙂\U0010ffff",
    ]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(n))


def _nested(rng: random.Random, depth: int) -> str:
    opener = rng.choice(["[", '{"a":'])
    closer = "]" if opener == "[" else "}"
    return opener * depth + "1" + closer * depth


def fuzz_action(rng: random.Random) -> str:
    """One hostile (or sometimes valid) action string."""
    big = "9" * rng.choice([20, 310, 4301, 10000])
    r = rng.randrange(22)
    q = _random_text(rng, rng.randint(0, 40))
    cases = [
        lambda: f"<search>{q}</search>",
        lambda: f"<answer>{q}</answer>",
        lambda: (
            f"<bbox>[{rng.randint(0, 700)}, {rng.randint(0, 700)}, {rng.randint(0, 700)}, {rng.randint(0, 700)}]</bbox>"
        ),
        lambda: json.dumps({"name": "search", "arguments": {"query": q}}),
        lambda: json.dumps({"name": "answer", "arguments": {"answer": q}}),
        lambda: json.dumps(
            {"name": "crop", "arguments": {"box": sorted(rng.random() for _ in range(4))}}
        ),
        lambda: f"<bbox>[{big}, 1, 2, 3]</bbox>",
        lambda: f"<bbox>[-{big}.5e{big[:3]}, 0, 1, 1]</bbox>",
        lambda: f'{{"name": "crop", "arguments": {{"box": [{big}, 0, 1, 1]}}}}',
        lambda: f'{{"name": "crop", "arguments": {{"box": [1e{big[:4]}, 0, 1, 1]}}}}',
        lambda: f'{{"name": "crop", "arguments": {_nested(rng, rng.choice([20, 1000, 50000]))}}}',
        lambda: '{"name": "crop", "arguments": "%s"}' % ("[" * rng.choice([20, 5000])),
        lambda: f"<bbox>{_nested(rng, rng.choice([20, 3000]))}</bbox>",
        lambda: "<answer>" + "\ud800" * rng.randint(1, 5) + q + "</answer>",
        lambda: '{"name": "answer", "arguments": {"answer": "\\ud800\\udbff x"}}',
        lambda: "<tool_call>" + json.dumps({"name": "search", "arguments": {"query": q}}),
        lambda: f"<think>{q}</think><search>a</search><answer>b</answer>",
        lambda: _random_text(rng, rng.randint(0, 200)),
        lambda: bytes(rng.randrange(256) for _ in range(rng.randint(1, 200))).decode(
            "utf-8", "surrogateescape"
        ),
        lambda: "<search>" + "x" * rng.choice([511, 513, 20000]) + "</search>",
        lambda: '{"name": "crop", "arguments": {"box": [NaN, Infinity, -Infinity, 1]}}',
        lambda: '{{"name": {}, "arguments": {{"query": [1, {{"q": null}}], "box": true}}}}'.format(
            rng.choice(["1", "null", "[]", '"search"', '"crop"'])
        ),
    ]
    return cases[r]()


def _hostile_options(rng: random.Random) -> Any:
    return rng.choice(
        [
            {"question_id": ["x"]},
            {"question_id": 3},
            {"question_id": "\ud800"},
            {"question_id": {"a": 1}},
            {"nope": 1},
            {1: 2, "a": 3},
            ["question_id"],
        ]
    )


def _serialisable(info: dict[str, Any]) -> bool:
    try:
        json.dumps(info, ensure_ascii=False, allow_nan=False).encode("utf-8")
        return True
    except (TypeError, ValueError, UnicodeEncodeError):
        return False


def run(steps: int, seed: int = 0, env_id: str = "VRAG-Tiny-v0") -> dict[str, Any]:
    """Run ``steps`` fuzzed steps (split over both dialects) and return the counts."""
    rng = random.Random(seed)
    counts = {
        "steps": 0,
        "episodes": 0,
        "uncaught_exceptions": 0,
        "obs_outside_space": 0,
        "info_not_serialisable": 0,
        "reset_calls_with_hostile_options": 0,
        "reset_unexpected_exceptions": 0,
    }
    kinds: dict[str, int] = {}
    examples: list[dict[str, str]] = []

    def note(problem: str, action: str, detail: str) -> None:
        if len(examples) < MAX_EXAMPLES:
            examples.append({"problem": problem, "action": repr(action[:200]), "detail": detail})

    envs = {d: gym.make(env_id, dialect=d) for d in ("vrag", "tool")}
    for i, env in enumerate(envs.values()):
        env.reset(seed=seed + i)
    start = time.perf_counter()
    for step in range(steps):
        dialect = "vrag" if step % 2 == 0 else "tool"
        env = envs[dialect]
        action = fuzz_action(rng)
        try:
            obs, _, terminated, truncated, info = env.step(action)
        except Exception as exc:
            counts["uncaught_exceptions"] += 1
            note("uncaught", action, "".join(traceback.format_exception_only(exc))[-300:])
            env.reset()
            continue
        finally:
            counts["steps"] += 1
        kind = info.get("action_kind") or "none"
        kinds[kind] = kinds.get(kind, 0) + 1
        if not env.observation_space.contains(obs):
            counts["obs_outside_space"] += 1
            note("obs_outside_space", action, "")
        if not _serialisable(info):
            counts["info_not_serialisable"] += 1
            note("info_not_serialisable", action, repr(info)[:300])
        if terminated or truncated:
            counts["episodes"] += 1
            if rng.random() < 0.1:
                counts["reset_calls_with_hostile_options"] += 1
                try:
                    env.reset(options=_hostile_options(rng))
                except ValueError:
                    pass
                except Exception as exc:
                    counts["reset_unexpected_exceptions"] += 1
                    note("reset", "", "".join(traceback.format_exception_only(exc))[-300:])
            env.reset()
    elapsed = time.perf_counter() - start
    for env in envs.values():
        env.close()
    return {
        **counts,
        "action_kinds": kinds,
        "seconds": round(elapsed, 1),
        "steps_per_s": round(counts["steps"] / max(elapsed, 1e-9), 1),
        "env_id": env_id,
        "seed": seed,
        "examples": examples,
    }


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env-id", default="VRAG-Tiny-v0")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/fuzz.json"))
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    result = run(args.steps, args.seed, args.env_id)
    write_json_atomic(args.out, result)
    summary = {k: v for k, v in result.items() if k != "examples"}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
