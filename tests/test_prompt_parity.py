"""Training and evaluation prompt a tool-calling model the same way (same text, same tool list)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import pytest

pytest.importorskip("transformers")

from agents.vlm import tiny
from agents.vlm.agent import GRPOAgent
from agents.vlm.backends import Backend, GenerationSettings
from agents.vlm.chat import Message
from agents.vlm.sft_data import oracle_episode
from agents.vlm.trl_env import VRAGToolEnv, build_prompt, tool_methods

ENV_ID = "VRAG-Tiny-v0"
ENV_KWARGS = {"split": "train", "view_size": (112, 112), "max_view_pixels": 112 * 112}


class RecordingBackend(Backend):
    """Records the conversation and tools of each request and answers with a fixed tool call."""

    kind = "recording"

    def __init__(self) -> None:
        super().__init__(GenerationSettings(max_new_tokens=16))
        self.seen: list[tuple[list[Message], Any]] = []

    def generate(
        self, messages: Sequence[Message], *, tools: Any = None, seed: int | None = None
    ) -> str:
        self.seen.append((list(messages), tools))
        return '<tool_call>\n{"name": "answer", "arguments": {"answer": "42"}}\n</tool_call>'


def test_evaluation_prompt_equals_training_prompt() -> None:
    processor = tiny.build_tiny_processor()

    def render(messages: list[Message], tools: Any) -> str:
        return str(
            processor.apply_chat_template(
                messages, tools=tools, tokenize=False, add_generation_prompt=True
            )
        )

    tool_env = VRAGToolEnv.factory(ENV_ID, ENV_KWARGS)()
    question_id = sorted(tool_env.env.unwrapped.corpus.queries)[0]  # type: ignore[attr-defined]
    example = oracle_episode(tool_env, question_id, seed=0)
    sft_prompt = render(example["messages"][:1], json.loads(example["tools"]))

    # GRPO renders the dataset row's prompt with the adapter's methods as tools.
    grpo_prompt = render(build_prompt(tool_env.question), tool_methods(tool_env))

    env = gym.make(ENV_ID, **ENV_KWARGS)
    backend = RecordingBackend()
    agent = GRPOAgent.from_env(env, backend=backend)
    obs, info = env.reset(seed=0, options={"question_id": question_id})
    agent.reset()
    agent.act(obs, info)
    messages, tools = backend.seen[0]
    eval_prompt = render(messages, tools)

    assert tool_env.question in eval_prompt
    assert '"name": "crop"' in eval_prompt  # the tools are rendered at all
    assert eval_prompt == sft_prompt == grpo_prompt
