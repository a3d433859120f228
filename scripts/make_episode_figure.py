"""Render docs/episode.png: the page a search returned (with the crop box) and the zoomed view.

Run: ``uv run python scripts/make_episode_figure.py [--out docs/episode.png] [--question-id UID]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import vrag_env  # noqa: F401
from agents.oracle import OracleAgent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="docs/episode.png")
    parser.add_argument("--question-id", default=None)
    parser.add_argument("--env-id", default="VRAG-v0")
    args = parser.parse_args()

    env = gym.make(args.env_id, split="test", render_mode="rgb_array")
    oracle = OracleAgent.from_env(env)
    corpus = env.unwrapped.corpus
    uid = args.question_id or next(
        q.uid for q in env.unwrapped.questions if q.small_print and q.query_type == "single-hop"
    )
    obs, info = env.reset(seed=0, options={"question_id": uid})
    frames = []
    while True:
        action = oracle.act(obs, info)
        obs, reward, terminated, truncated, info = env.step(action)
        frames.append((action, obs["image"], env.render(), info))
        if terminated or truncated:
            break
    search = next(f for f in frames if f[3]["action_kind"] == "search")
    crop = next(f for f in frames if f[3]["action_kind"] == "crop")
    _, w = env.unwrapped.view_size
    short = search[0] if len(search[0]) <= 60 else search[0][:48] + "...</search>"
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.6))
    panels = [
        (search[1], f"1. {short}\n(the view the agent sees: small print unreadable)"),
        (crop[2][:, :w], f"2. {crop[0]}\n(the crop box on the full page)"),
        (crop[1], f"3. zoomed view, then {frames[-1][0]}"),
    ]
    for ax, (image, title) in zip(axes, panels, strict=True):
        ax.imshow(image)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"Q: {corpus.queries[uid].question}", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out} (question {uid}, reward {reward:.3f})")


if __name__ == "__main__":
    main()
