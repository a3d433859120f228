"""Shared pieces of the tests that run the ``vlm`` agent against a real model and a real server.

A random tiny VLM never writes a valid action. :func:`fit_replies` fits its output layer (features
frozen) so that greedy decoding gives scripted replies on given conversations; the conversations
are recorded first by driving the same evaluation with a :class:`ScriptedBackend`
(:func:`record_chats`). :class:`ServerProcess` serves such a checkpoint with ``transformers serve``
on 127.0.0.1, and :func:`record_exchanges` keeps every chat-completions request the agent sends
with the server's answer.

torch, transformers and httpx are imported inside the functions, so that collecting this module
needs none of them (test modules skip first when they are missing).
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from agents.vlm.backends import Backend, GenerationSettings
from agents.vlm.chat import Message, action_message, build_model_inputs
from agents.vlm.openai_backend import OpenAIBackend

Policy = Callable[[Sequence[Message]], str]
"""A scripted model: the reply to a conversation."""


class ScriptedBackend(Backend):
    """Replies from a function of the conversation and records every conversation it gets.

    Args:
        reply: A fixed reply, or a function of the conversation that returns one.
    """

    kind = "scripted"

    def __init__(self, reply: str | Policy = "<search>annual report</search>") -> None:
        super().__init__(GenerationSettings(max_new_tokens=16))
        self.reply = reply
        self.seen: list[list[Message]] = []
        self.tools: list[Any] = []

    def generate(
        self, messages: Sequence[Message], *, tools: Any = None, seed: int | None = None
    ) -> str:
        """Record the conversation and return the scripted reply to it."""
        self.seen.append(list(messages))
        self.tools.append(tools)
        self.requests += 1
        return self.reply(messages) if callable(self.reply) else self.reply


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a test module (tiny matrices gain nothing from intra-op threads)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def record_chats(agent_name: str, spec: Any, policy: Policy, **options: Any) -> list[list[Message]]:
    """The conversations a ``vlm``-family agent sends during ``spec``'s evaluation, given ``policy``.

    Args:
        agent_name: Registered agent name (``"vlm"``).
        spec: The :class:`benchmarks.runner.EvalSpec` to run.
        policy: The scripted model.
        **options: Agent options (as ``--agent-arg``), without a backend.

    Returns:
        Every conversation, in request order.
    """
    from agents.vlm.agent import VLMAgent
    from benchmarks.runner import evaluate

    env = spec.make_env()
    scripted = ScriptedBackend(policy)
    try:
        agent = VLMAgent.from_env(env, backend=scripted, **options)
    finally:
        env.close()
    evaluate(agent_name, spec, agent=agent, progress=False)
    return scripted.seen


def fit_replies(
    model_dir: Path,
    chats: Sequence[Sequence[Message]],
    replies: Sequence[str],
    out: Path,
    *,
    margin: float = 2.0,
    max_steps: int = 3000,
) -> Path:
    """Fit the output layer of the checkpoint at ``model_dir`` so that it greedily writes ``replies``.

    The features before every reply token (teacher forcing, reply tokens up to ``<|im_end|>``) are
    taken from one forward pass per conversation, unpadded as a server runs it, with the output
    layer's input hooked; the layer is then fitted by
    cross-entropy (a convex problem) until every reply token wins by ``margin`` logits.

    Args:
        model_dir: A VLM checkpoint folder (model and processor).
        chats: The conversations, each ending with the turn the model answers.
        replies: The reply to each conversation.
        out: Where to save the fitted checkpoint.
        margin: Logit margin of every reply token over the runner-up.
        max_steps: Optimiser steps before giving up.

    Returns:
        ``out``.
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    head = model.get_output_embeddings()
    captured: dict[str, Any] = {}
    hook = head.register_forward_hook(lambda _m, inputs, _o: captured.update(h=inputs[0]))
    # One conversation per forward pass, as a server gets them (no padding): (feature before each
    # reply token, reply token) pairs, reply tokens up to <|im_end|>.
    features, targets = [], []
    for chat, reply in zip(chats, replies, strict=True):
        start = build_model_inputs(processor, [list(chat)])["input_ids"].shape[1]
        full = build_model_inputs(
            processor, [[*chat, action_message(reply)]], add_generation_prompt=False
        )
        with torch.no_grad():
            model(**full)
        ids = full["input_ids"][0]
        for t in range(start, ids.shape[0] - 1):
            features.append(captured["h"][0, t - 1])
            targets.append(ids[t])
    hook.remove()
    x, y = torch.stack(features), torch.stack(targets)
    optimizer = torch.optim.Adam([head.weight], lr=1.0)
    for _ in range(max_steps):
        logits = x @ head.weight.T
        scores = logits.detach()
        others = scores.scatter(1, y[:, None], float("-inf")).max(1).values
        if float((scores.gather(1, y[:, None])[:, 0] - others).min()) > margin:
            break
        loss = torch.nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    else:
        pytest.fail(
            f"could not fit the output layer to {len(replies)} scripted replies "
            f"({len(targets)} tokens) within {max_steps} steps"
        )
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``transformers serve`` on 127.0.0.1 serving a checkpoint (started, maybe not ready).

    Args:
        model: The checkpoint folder.
        log: File that receives the server's output.
    """

    def __init__(self, model: Path, log: Path) -> None:
        exe = shutil.which("transformers", path=str(Path(sys.executable).parent))
        exe = exe or shutil.which("transformers")
        if exe is None:
            pytest.skip("the `transformers` command line is not installed")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        cmd = [exe, "serve", str(model), "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--device", "cpu", "--dtype", "float32", "--log-level", "info"]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
        with log.open("w") as log_file:
            self.proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Poll ``/health`` until the server answers (bounded), failing with its log otherwise."""
        import httpx

        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready within {timeout} s:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Terminate the process (kill it if it does not exit)."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


def record_exchanges(
    monkeypatch: pytest.MonkeyPatch,
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Keep every chat-completions request body an :class:`OpenAIBackend` sends, with the answer.

    Returns:
        The list the ``(request body, response)`` pairs are appended to, in request order.
    """
    exchanges: list[tuple[dict[str, Any], dict[str, Any]]] = []
    original = OpenAIBackend._request

    def spy(self: OpenAIBackend, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        answer = original(self, method, path, body, **kwargs)
        if path == "/chat/completions":
            exchanges.append((body, answer))
        return answer

    monkeypatch.setattr(OpenAIBackend, "_request", spy)
    return exchanges


def decode_image_url(url: str) -> Image.Image:
    """The image of a ``data:image/...;base64,`` URL."""
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def decode_openai(messages: list[dict[str, Any]]) -> list[Message]:
    """OpenAI messages back to chat messages with PIL images (data URLs decoded)."""
    out = []
    for message in messages:
        content = message["content"]
        if isinstance(content, list):
            blocks = []
            for block in content:
                if block["type"] == "image_url":
                    image = decode_image_url(block["image_url"]["url"]).convert("RGB")
                    blocks.append({"type": "image", "image": image})
                else:
                    blocks.append(block)
            content = blocks
        out.append({**message, "content": content})
    return out
