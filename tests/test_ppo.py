"""PPO: a smoke training run with a tiny budget, and the ``ppo`` agent that loads the policy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3")

from agents.sb3_ppo import Args, parse_args, train
from benchmarks.runner import evaluate
from benchmarks.specs import get_benchmark, with_limit

ROOT = Path(__file__).resolve().parent.parent
SMOKE = [
    "--env-id", "VRAG-Tiny-v0", "--total-timesteps", "64", "--num-envs", "2", "--n-steps", "16",
    "--batch-size", "16", "--n-epochs", "1", "--eval-episodes", "2", "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ppo") / "policy.zip"
    return train(parse_args([*SMOKE, "--policy-path", str(path)]))


def test_smoke_training_saves_policy_and_settings(policy: Path) -> None:
    assert policy.is_file()
    meta = json.loads(policy.with_suffix(".json").read_text())
    assert meta["trained_timesteps"] >= 64 and meta["args"]["env_id"] == "VRAG-Tiny-v0"
    assert set(meta["eval"]) == {"episodes", "mean_return", "anls", "mean_steps"}


def test_ppo_agent_loads_the_policy_and_is_deterministic(policy: Path) -> None:
    spec = with_limit(get_benchmark("synth-tiny"), 3).to_eval_spec()
    first = evaluate("ppo", spec, {"policy": str(policy)}, progress=False)
    again = evaluate("ppo", spec, {"policy": str(policy)}, progress=False)
    assert first["metadata"]["agent"]["name"] == "ppo"
    assert first["metadata"]["agent"]["config"]["policy_sha256"]
    assert json.dumps(first["episodes"]) == json.dumps(again["episodes"])


def test_untrained_policy_is_its_own_row() -> None:
    spec = with_limit(get_benchmark("synth-tiny"), 2).to_eval_spec()
    results = evaluate("ppo", spec, {"untrained": True}, progress=False)
    assert results["metadata"]["agent"]["name"] == "ppo-untrained"
    assert results["metadata"]["agent"]["config"]["trained_timesteps"] == 0


def test_missing_policy_path_is_a_clear_error(tmp_path: Path) -> None:
    spec = with_limit(get_benchmark("synth-tiny"), 1).to_eval_spec()
    with pytest.raises(FileNotFoundError, match=r"sb3_ppo\.py"):
        evaluate("ppo", spec, {"policy": str(tmp_path / "none.zip")}, progress=False)


def test_args_validation() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        Args(batch_size=4096, n_steps=16, num_envs=1)


@pytest.mark.slow
def test_training_script_runs_as_a_subprocess(tmp_path: Path) -> None:
    cmd = [sys.executable, "agents/sb3_ppo.py", *SMOKE, "--policy-path", str(tmp_path / "p.zip")]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "p.zip").is_file()
