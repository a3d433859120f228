"""Smoke test of the training path: tiny VLM -> SFT on oracle trajectories -> GRPO with tools.

Real generation throughout (no patched ``generate``): the SFT-ed tiny model samples tool calls,
``GRPOTrainer(environment_factory=VRAGToolEnv)`` executes them in the env and shows the returned
page images to the model. The full-length run is ``scripts/cpu_sft_grpo.py``.
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip("trl")
pytest.importorskip("datasets")
torch = pytest.importorskip("torch")

ENV_ID = "VRAG-Tiny-v0"


@pytest.fixture(scope="module")
def single_thread():
    # Two cores shared with other jobs: one torch thread avoids OpenMP workers stalling each other.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.slow
def test_sft_then_grpo_with_environment_factory(tmp_path, single_thread) -> None:
    from safetensors.torch import load_file

    from agents.trl_grpo import Args as GRPOArgs
    from agents.trl_grpo import train as train_grpo
    from agents.vlm.sft import Args as SFTArgs
    from agents.vlm.sft import train_sft
    from agents.vlm.tiny import build_tiny_vlm

    tiny = build_tiny_vlm(tmp_path / "tiny", seed=0, hidden_size=128)
    sft = train_sft(
        SFTArgs(
            model=str(tiny),
            output_dir=str(tmp_path / "sft"),
            env_id=ENV_ID,
            view_size=56,
            num_train_questions=4,
            max_steps=100,
            per_device_train_batch_size=2,
            learning_rate=3e-3,
            lr_scheduler_type="constant_with_warmup",
            warmup_steps=2,
            use_cpu=True,
            eval_every=0,
            eval_split="train",
            eval_episodes=2,
            eval_max_turns=1,
            eval_max_new_tokens=192,
            logging_steps=10,
        )
    )
    sft_losses = [h["loss"] for h in sft["log_history"] if "loss" in h]
    assert sft_losses and all(math.isfinite(v) for v in sft_losses)
    assert sft_losses[-1] < sft_losses[0]
    assert [p["step"] for p in sft["curve"]] == [0, 100]
    assert (tmp_path / "sft" / "valid_action_curve.png").is_file()

    grpo = train_grpo(
        GRPOArgs(
            model=sft["output_dir"],
            output_dir=str(tmp_path / "grpo"),
            env_id=ENV_ID,
            view_size=56,
            num_questions=4,
            max_steps=2,
            per_device_train_batch_size=8,
            num_generations=4,
            max_completion_length=768,
            max_tool_calling_iterations=6,
            learning_rate=1e-3,
            temperature=0.8,
            use_cpu=True,
            save_steps=100,
            benchmark=None,
        )
    )
    logs = [h for h in grpo["log_history"] if "reward" in h]
    assert len(logs) == 2
    assert all(math.isfinite(h["loss"]) for h in logs)
    assert all("tools/call_frequency" in h for h in logs)
    assert sum(h["tools/call_frequency"] for h in logs) > 0, logs
    assert any(h["reward_std"] > 0 for h in logs), repr(logs)
    before = load_file(str(tmp_path / "sft" / "model.safetensors"))
    after = load_file(str(tmp_path / "grpo" / "final" / "model.safetensors"))
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "GRPO did not change any parameter"
