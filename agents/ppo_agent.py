"""The ``ppo`` agent: a stable-baselines3 PPO policy over the macro-action wrapper.

The agent drives the env it is given like any other agent (one action string per step): it keeps a
:class:`~vrag_env.wrappers.MacroActionWrapper` beside the env only to build the policy's observation
from ``(observation, info)`` and to translate the chosen macro-action into the env's action string.

The policy comes from ``policy`` (a path), else from the default location written by
``agents/sb3_ppo.py`` (``checkpoints/ppo/policy.zip``, committed). When there is none, the agent
first trains one with the training script's default small budget and says so in the log.

Answer candidates come from RapidOCR of the view the env shows (``candidates="ocr"``, the default).
``ppo-text-layer`` (:class:`PPOTextLayerAgent`) reads them from the corpus text layer instead: ground
truth an agent cannot see, so it declares itself privileged and the leaderboard never ranks it.

Security: stable-baselines3 saves a policy as a zip whose ``data`` entry holds cloudpickled objects,
and ``PPO.load`` unpickles them, which can run arbitrary code. Load only policies you trained
yourself or otherwise trust. A policy file inside a corpus folder (corpora come from strangers) is
refused before it is opened. ``untrained=True`` builds the
policy as initialised before training (same seed and architecture): the baseline that training must
beat, reported on the leaderboard as ``ppo-untrained``.

``ppo`` is built from the env's public description: its wrapper sits on a
:class:`~vrag_env.wrappers.DescribedEnv` and reads only the observation image and ``info``.
``ppo-text-layer`` gets the real env through the harness's
:class:`~vrag_env.agent_api.PrivilegedChannel`; its results are marked privileged.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym

from vrag_env.agent_api import EnvDescription, PrivilegedChannel, describe_env
from vrag_env.corpora.verify import sha256_file

from .base import Agent

logger = logging.getLogger(__name__)


def _refuse_policy_inside_a_corpus(path: Path) -> None:
    """Refuse a policy file that lies inside a corpus folder (``PPO.load`` unpickles it).

    Raises:
        ValueError: Naming the corpus folder.
    """
    from vrag_env.corpora.corpus import is_corpus

    real = path.resolve()
    for folder in real.parents:
        if is_corpus(folder):
            raise ValueError(
                f"refusing to load the PPO policy {path}: it lies inside the corpus folder {folder}, "
                "and loading a stable-baselines3 policy unpickles it (arbitrary code). Load only "
                "policies you trained or trust, from outside corpus folders"
            )


class PPOAgent(Agent):
    """Acts with a trained (or freshly initialised) SB3 PPO policy.

    Args:
        env: The env the agent will act in (its corpus is read through the wrapper's legibility
            model, see :mod:`vrag_env.wrappers`).
        policy: Path of a saved policy (``.zip``); ``None`` uses the default location.
        untrained: Use the initial, untrained policy instead (built with the training defaults).
        deterministic: Take the most likely macro-action (else sample, seeded with ``seed``).
        train_if_missing: Train a policy with the default budget when none is saved.
        seed: Seed of the untrained policy's initialisation and of sampling.
        candidates: Where the wrapper reads answer candidates: ``"ocr"`` (RapidOCR of the view) or
            ``"text-layer"`` (the corpus text layer; privileged).
    """

    name = "ppo"
    privileged: ClassVar[bool] = False
    description = "PPO (stable-baselines3) over macro-actions; answer candidates from RapidOCR"
    checkpoint_sha256: str | None = None

    def __init__(
        self,
        env: gym.Env[Any, Any],
        policy: str | None = None,
        untrained: bool = False,
        deterministic: bool = True,
        train_if_missing: bool = True,
        seed: int = 0,
        candidates: str = "ocr",
    ) -> None:
        from vrag_env.wrappers import MacroActionWrapper

        self.wrapper = MacroActionWrapper(env, candidates=candidates)
        self.candidates = candidates
        if self.wrapper.privileged:
            self.name = "ppo-text-layer"
            self.privileged = True
            self.description = (
                "PPO over macro-actions; PRIVILEGED: answer candidates from the corpus text layer "
                "(the generator's exact words)"
            )
        self.deterministic = deterministic
        self.untrained = untrained
        self.seed = seed
        self.policy_path: Path | None = None
        self.policy_meta: dict[str, Any] = {}
        if untrained:
            self.name = "ppo-untrained"
            self.model = self._initial_model()
        else:
            self.policy_path = self._resolve(policy, train_if_missing)
            self.model = self._load(self.policy_path)
            self.checkpoint_sha256 = sha256_file(self.policy_path)
        self._started = False

    @classmethod
    def from_env(cls, description: EnvDescription, **options: Any) -> PPOAgent:
        """Build the agent from the env's public description (options: see the class arguments).

        Raises:
            ValueError: For ``candidates="text-layer"``, which needs the corpus: use the
                privileged ``ppo-text-layer`` agent.
        """
        from vrag_env.wrappers import DescribedEnv

        if options.get("candidates", "ocr") != "ocr":
            raise ValueError(
                f"the ppo agent reads candidates with OCR only, got candidates="
                f"{options['candidates']!r}; use the privileged agent 'ppo-text-layer' for the text layer"
            )
        return cls(DescribedEnv(describe_env(description)), **options)

    @classmethod
    def from_privileged(
        cls, description: EnvDescription, channel: PrivilegedChannel, **options: Any
    ) -> PPOAgent:
        """Build the agent over the channel's env (options: see the class arguments)."""
        return cls(channel.env, **options)

    # ------------------------------------------------------------------ policy

    def _resolve(self, policy: str | None, train_if_missing: bool) -> Path:
        from .sb3_ppo import DEFAULT_POLICY

        path = Path(policy) if policy else DEFAULT_POLICY
        _refuse_policy_inside_a_corpus(path)
        if path.is_file():
            return path
        if policy:
            raise FileNotFoundError(
                f"no PPO policy at {path}; train one with `uv run python agents/sb3_ppo.py`"
            )
        if not train_if_missing:
            raise FileNotFoundError(
                f"no PPO policy at the default location {path}; train one with "
                "`uv run python agents/sb3_ppo.py` or pass --policy PATH"
            )
        return ensure_default_policy()

    def _load(self, path: Path) -> Any:
        _refuse_policy_inside_a_corpus(path)
        import torch
        from stable_baselines3 import PPO

        torch.set_num_threads(1)
        meta_path = path.with_suffix(".json")
        if meta_path.is_file():
            self.policy_meta = json.loads(meta_path.read_text(encoding="utf-8"))
        model = PPO.load(str(path), device="cpu")
        self._check_spaces(model)
        return model

    def _initial_model(self) -> Any:
        from stable_baselines3.common.vec_env import DummyVecEnv

        from .sb3_ppo import Args, make_model

        args = Args(seed=self.seed)
        vec_env = DummyVecEnv([lambda: self.wrapper])
        model = make_model(args, vec_env)
        self.policy_meta = {"args": {"seed": self.seed}, "trained_timesteps": 0}
        return model

    def _check_spaces(self, model: Any) -> None:
        if model.action_space != self.wrapper.action_space:
            raise ValueError(
                f"the policy's action space {model.action_space} does not match this env's macro "
                f"actions {self.wrapper.action_space}; retrain with `uv run python agents/sb3_ppo.py`"
            )
        spaces: dict[str, Any] = dict(self.wrapper.observation_space.spaces)  # type: ignore[union-attr]
        for key, space in spaces.items():
            # SB3 stores image spaces channels-first; compare shapes up to that transposition.
            if sorted(model.observation_space[key].shape) != sorted(space.shape):
                raise ValueError(
                    f"the policy expects observation {key!r} of shape "
                    f"{model.observation_space[key].shape}, the wrapper gives {space.shape}; retrain "
                    "with `uv run python agents/sb3_ppo.py`"
                )

    # ------------------------------------------------------------------ acting

    def reset(self) -> None:
        """Start a new episode."""
        self._started = False

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Observe through the wrapper, pick a macro-action, return its env action string."""
        if not self._started:
            self.wrapper.start_episode(str(observation["question"]))
            self._started = True
        obs = self.wrapper.observe(observation, info)
        action, _ = self.model.predict(obs, deterministic=self.deterministic)
        return self.wrapper.action_text(int(action))

    def config(self) -> dict[str, Any]:
        """The policy file (path and SHA-256), how it was trained, and the decoding."""
        cfg: dict[str, Any] = {
            "candidates": self.candidates,
            "privileged": self.privileged,
            "untrained": self.untrained,
            "deterministic": self.deterministic,
            "trained_timesteps": self.policy_meta.get("trained_timesteps"),
            "train_args": self.policy_meta.get("args"),
        }
        if self.policy_path is not None:
            cfg["policy"] = self.policy_path.as_posix()
            cfg["policy_sha256"] = self.checkpoint_sha256
            cfg["trained_with_candidates"] = (self.policy_meta.get("args") or {}).get("candidates")
        return cfg


class PPOTextLayerAgent(PPOAgent):
    """``ppo-text-layer``: the PPO agent reading candidates from the text layer (privileged).

    The text layer of the synthetic corpus is the generator's exact words (perfect OCR), which no
    agent looking at the images has: results of this agent are marked ``privileged: true`` and
    never ranked.

    Args:
        env: The env the agent will act in.
        **options: :class:`PPOAgent` options (``candidates`` is always ``"text-layer"``).
    """

    name = "ppo-text-layer"
    privileged: ClassVar[bool] = True

    def __init__(self, env: gym.Env[Any, Any], **options: Any) -> None:
        options.pop("candidates", None)
        super().__init__(env, candidates="text-layer", **options)


def ensure_default_policy() -> Path:
    """The default policy's path, training one with the default budget first if none is saved.

    ``vrag leaderboard`` calls it before it starts the processes that evaluate ``ppo``, so that
    a missing policy is trained once, not by every process.
    """
    from .sb3_ppo import DEFAULT_POLICY, Args, train

    if DEFAULT_POLICY.is_file():
        return DEFAULT_POLICY
    args = Args(policy_path=str(DEFAULT_POLICY))
    logger.warning(
        "no saved PPO policy at %s: training one now with the default budget (%d steps; "
        "`uv run python agents/sb3_ppo.py` does the same)",
        DEFAULT_POLICY,
        args.total_timesteps,
    )
    return train(args)
