"""PPO on VRAG with stable-baselines3, through the discrete macro-action wrapper.

PPO: Schulman et al., 2017, https://arxiv.org/abs/1707.06347
SB3 PPO: https://stable-baselines3.readthedocs.io/en/master/modules/ppo.html
Wrapper (actions, observations, how it reads the page): ``vrag_env/wrappers.py``.

One readable file in the cleanrl style: the :class:`Args` dataclass on top holds every setting, and
the script trains, evaluates, saves the policy (``checkpoints/ppo/policy.zip`` plus ``policy.json`` with the
settings and the evaluation) and, with ``--wandb``, logs to Weights & Biases (offline unless
``WANDB_MODE=online``: no account needed)::

    uv run python agents/sb3_ppo.py                       # the default small budget (a few minutes)
    uv run python agents/sb3_ppo.py --total-timesteps 64  # smoke test
    uv run python agents/sb3_ppo.py --wandb --total-timesteps 50000

``vrag eval --agent ppo`` (and ``vrag leaderboard``) load the saved policy; ``--policy PATH`` picks
another one. Loading a policy unpickles part of the zip (stable-baselines3's format): load only
policies you trust; the ``ppo`` agent refuses policy files that lie inside a corpus folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vrag_env.corpora.verify import sha256_file

if __package__ in (None, ""):  # `python agents/sb3_ppo.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

logger = logging.getLogger(__name__)

DEFAULT_POLICY = Path("checkpoints") / "ppo" / "policy.zip"
"""Where the policy is saved and where ``vrag eval --agent ppo`` looks for it (committed, with its
settings and SHA-256 in ``policy.json`` beside it; see ``docs/baselines.md``)."""


@dataclass
class Args:
    """Settings of one training run (every field is a ``--kebab-case`` command-line option)."""

    env_id: str = "VRAG-v0"
    """Registered env id to train on (the built-in corpus: the same pages as ``synth-test``)."""
    split: str = "train"
    """Question split to train on (``synth-test`` holds test and validation questions only)."""
    dialect: str = "vrag"
    """Action dialect of the env (the wrapper formats its actions in it)."""
    candidates: str = "ocr"
    """Answer candidates: ``ocr`` (RapidOCR of the view) or ``text-layer`` (privileged ground truth)."""
    seed: int = 0
    """Seeds the policy initialisation, the envs and the evaluation."""
    total_timesteps: int = 16_384
    """Environment steps to train for (the default trains in a few minutes on 2 CPU cores)."""
    num_envs: int = 4
    """Envs stepped together (in one process)."""
    n_steps: int = 128
    """Steps per env per rollout."""
    batch_size: int = 128
    """Minibatch size of the PPO update."""
    n_epochs: int = 4
    """Passes over each rollout."""
    learning_rate: float = 1e-3
    """Adam learning rate."""
    gamma: float = 0.95
    """Discount factor (episodes are a handful of steps)."""
    gae_lambda: float = 0.9
    """GAE lambda."""
    clip_range: float = 0.2
    """PPO clipping."""
    ent_coef: float = 0.01
    """Entropy bonus."""
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden layers of the policy and value heads."""
    cnn_output_dim: int = 32
    """Features from the view image (SB3's NatureCNN)."""
    time_limit_s: float = 0.0
    """Stop training after this many seconds (at the end of a step; 0: no limit)."""
    torch_threads: int = 1
    """Torch CPU threads (small networks run fastest, and deterministically, on one)."""
    eval_episodes: int = 100
    """Episodes of the evaluation after training (0: skip)."""
    eval_split: str = "val"
    """Split of the evaluation after training."""
    policy_path: str = str(DEFAULT_POLICY)
    """Where to save the policy (a ``.json`` with the settings is written beside it)."""
    untrained: bool = False
    """Save the initial policy without training (the baseline that training must beat)."""
    wandb: bool = False
    """Log training curves and the evaluation to wandb (offline unless ``WANDB_MODE`` says so)."""
    wandb_project: str = "vrag-env"
    """wandb project."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self) -> None:
        if self.total_timesteps < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {self.total_timesteps}")
        if self.batch_size > self.n_steps * self.num_envs:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be <= n_steps * num_envs "
                f"({self.n_steps * self.num_envs}); lower --batch-size or raise --n-steps"
            )
        self.net_arch = tuple(int(v) for v in self.net_arch)


# ------------------------------------------------------------------------------------ plumbing
# (building envs, command line, logging; the algorithm is SB3's PPO, configured in `make_model`)


def make_env(args: Args, split: str | None = None) -> Any:
    """One wrapped env: ``gym.make(env_id)`` -> :class:`~vrag_env.wrappers.MacroActionWrapper`."""
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor

    import vrag_env  # noqa: F401 - registers the ids
    from vrag_env.wrappers import MacroActionWrapper

    env = gym.make(args.env_id, split=split or args.split, dialect=args.dialect)
    return Monitor(MacroActionWrapper(env, candidates=args.candidates))


def make_model(args: Args, vec_env: Any) -> Any:
    """The PPO model (``MultiInputPolicy``: NatureCNN on the image, MLP on the feature vectors)."""
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(args.torch_threads)
    return PPO(
        "MultiInputPolicy",
        vec_env,
        learning_rate=args.learning_rate,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        gamma=args.gamma,
        gae_lambda=args.gae_lambda,
        clip_range=args.clip_range,
        ent_coef=args.ent_coef,
        policy_kwargs={
            "net_arch": list(args.net_arch),
            "features_extractor_kwargs": {"cnn_output_dim": args.cnn_output_dim},
        },
        seed=args.seed,
        device="cpu",
        verbose=0,
    )


def _progress_callback(total: int, enabled: bool, time_limit_s: float = 0.0) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback
    from tqdm.auto import tqdm

    class ProgressCallback(BaseCallback):
        """A tqdm bar over environment steps, with the recent mean episode return.

        Stops training (returns ``False``) once ``time_limit_s`` seconds have passed, if set.
        """

        def _on_training_start(self) -> None:
            self.t0 = time.perf_counter()
            self.bar = tqdm(
                total=total, desc="train ppo", unit="step", disable=not enabled, dynamic_ncols=True
            )

        def _on_step(self) -> bool:
            self.bar.update(self.training_env.num_envs)
            buffer = self.model.ep_info_buffer
            if buffer and self.n_calls % 20 == 0:
                self.bar.set_postfix(ep_return=f"{sum(e['r'] for e in buffer) / len(buffer):.3f}")
            return not (time_limit_s > 0 and time.perf_counter() - self.t0 > time_limit_s)

        def _on_training_end(self) -> None:
            self.bar.close()

    return ProgressCallback()


def _wandb_logger(run: Any) -> Any:
    """An SB3 logger that also sends every recorded value to a wandb run."""
    from stable_baselines3.common.logger import KVWriter, Logger

    class WandbWriter(KVWriter):
        def write(
            self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0
        ) -> None:
            values = {k: v for k, v in key_values.items() if isinstance(v, (int, float))}
            if values:
                run.log({**values, "global_step": step})

    return Logger(folder=None, output_formats=[WandbWriter()])


def parse_args(argv: list[str] | None = None) -> Args:
    """``Args`` from the command line: every field is ``--field-name`` (booleans: ``--x/--no-x``)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    docs = _field_docs()
    for f in dataclasses.fields(Args):
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        if f.type in ("bool", bool):
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=default, help=docs.get(f.name)
            )
        elif f.name == "net_arch":
            parser.add_argument(
                flag, type=int, nargs="+", default=list(Args().net_arch), help=docs.get(f.name)
            )
        else:
            kind = {"int": int, "float": float, "str": str}[str(f.type)]
            parser.add_argument(flag, type=kind, default=default, help=docs.get(f.name))
    return Args(**vars(parser.parse_args(argv)))


def _field_docs() -> dict[str, str]:
    """The attribute docstrings of :class:`Args` (for ``--help``)."""
    import ast
    import inspect
    import itertools
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(Args)))
    docs: dict[str, str] = {}
    body = tree.body[0].body  # type: ignore[attr-defined]
    for node, nxt in itertools.pairwise(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
                docs[node.target.id] = str(nxt.value.value)
    return docs


# ------------------------------------------------------------------------------------ algorithm


def evaluate_policy(model: Any, args: Args, episodes: int) -> dict[str, float]:
    """Deterministic episodes on ``args.eval_split``: mean return, ANLS and steps."""
    env = make_env(args, args.eval_split)
    returns, anls, steps = [], [], []
    try:
        for i in range(episodes):
            obs, info = env.reset(seed=args.seed + 10_000 + i)
            done, total, n = False, 0.0, 0
            while not done:
                action, _ = model.predict(obs, deterministic=True)
                obs, reward, terminated, truncated, info = env.step(int(action))
                total += float(reward)
                n += 1
                done = terminated or truncated
            score = info.get("score") or env.unwrapped.episode_score()
            returns.append(total)
            anls.append(float(score["anls"]))
            steps.append(n)
    finally:
        env.close()
    count = max(1, len(returns))
    return {
        "episodes": len(returns),
        "mean_return": round(sum(returns) / count, 6),
        "anls": round(sum(anls) / count, 6),
        "mean_steps": round(sum(steps) / count, 6),
    }


def train(args: Args) -> Path:
    """Train (or, with ``args.untrained``, only initialise) a policy, evaluate it and save it.

    Returns:
        The saved policy's path.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv

    from vrag_env.provenance import git_sha

    run = None
    if args.wandb:
        import wandb

        run = wandb.init(
            project=args.wandb_project,
            mode=os.environ.get("WANDB_MODE", "offline"),  # type: ignore[arg-type]
            job_type="train",
            name=f"ppo-{args.env_id}-s{args.seed}",
            config=dataclasses.asdict(args),
            settings=wandb.Settings(console="off", silent=True),
        )
    t0 = time.perf_counter()
    # PPO(seed=...) seeds the vector env: env i is reset with seed + i, then draws its questions.
    vec_env = DummyVecEnv([lambda: make_env(args) for _ in range(args.num_envs)])
    model = make_model(args, vec_env)
    if run is not None:
        model.set_logger(_wandb_logger(run))
    if not args.untrained:
        model.learn(
            args.total_timesteps,
            callback=_progress_callback(args.total_timesteps, args.progress, args.time_limit_s),
        )
    train_seconds = time.perf_counter() - t0
    vec_env.close()
    results = evaluate_policy(model, args, args.eval_episodes) if args.eval_episodes > 0 else {}
    if results:
        print(f"eval on {args.eval_split} ({results['episodes']} episodes): {results}")
    path = Path(args.policy_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(path))
    meta = {
        "checkpoint_sha256": sha256_file(path),
        "privileged": args.candidates == "text-layer",
        "args": dataclasses.asdict(args),
        "trained_timesteps": 0 if args.untrained else int(model.num_timesteps),
        "train_seconds": round(train_seconds, 1),
        "eval": results,
        "git_sha": git_sha(),
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    if run is not None:
        run.summary.update({f"eval/{k}": v for k, v in results.items()})
        run.summary["train_seconds"] = round(train_seconds, 1)
        run.finish()
    print(
        f"policy saved to {path} (trained {meta['trained_timesteps']} steps in {train_seconds:.0f} s)"
    )
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
