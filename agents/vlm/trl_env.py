"""The VRAG environment as tools for TRL's ``GRPOTrainer(environment_factory=...)``.

TRL turns every public method of an environment object into a tool: the JSON schema the model sees
comes from the method's type hints and Google docstring (``transformers.utils.get_json_schema``), so
the docstrings of :meth:`VRAGToolEnv.search`, :meth:`VRAGToolEnv.crop` and
:meth:`VRAGToolEnv.answer` are part of the prompt. ``reset(**row)`` is called with the dataset row
before each rollout, and ``get_reward()`` scores the finished rollout. A tool that returns a list of
content blocks becomes a multimodal ``role: "tool"`` message, so the page the retriever returns is
shown to the model as an image (TRL's "Multimodal Tool Responses").

Every tool call is one ``env.step`` of a ``VRAG-v0`` episode in the ``tool`` dialect: the env parses
and validates the call, applies its penalty when the call is malformed or illegal, and explains the
problem in its ``feedback``. The adapter returns that feedback to the model as the tool result; it
never raises, so a bad call costs what it costs in the env and the rollout goes on. The reward is
the env's own (terms in :mod:`vrag_env.rewards`): nothing is recomputed here.

Nothing from TRL is imported: the adapter is a plain class, tested directly against a real env.

Example:
    >>> env = VRAGToolEnv("VRAG-Tiny-v0", env_kwargs={"view_size": (224, 224)})  # doctest: +SKIP
    >>> env.reset(question_id="synth-000134")  # doctest: +SKIP
    >>> blocks = env.search("Fenwick workforce 2022")  # doctest: +SKIP
    >>> [b["type"] for b in blocks]  # doctest: +SKIP
    ['image', 'text']
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image

import vrag_env  # noqa: F401 - registers the env ids

DEFAULT_ENV_ID = "VRAG-v0"
"""Env the adapter drives unless told otherwise."""

INSTRUCTIONS = (
    "Answer the question from the document pages: search retrieves a page image, crop zooms into "
    "the image you see, answer submits a short final answer."
)
"""Task text put before the question in the user message (tool schemas come from the template)."""

ENDED_MESSAGE = "The episode has ended; no further actions are possible."

Block = dict[str, Any]


def build_prompt(question: str, instructions: str | None = INSTRUCTIONS) -> list[dict[str, Any]]:
    r"""Return the conversation a rollout starts from: one user message with the question.

    The same prompt is used by the SFT data, the GRPO dataset and the evaluation rollouts, so the
    model is trained and tested on one format.

    Args:
        question: The question.
        instructions: Task text placed before the question (``None``: the question alone).

    Returns:
        ``[{"role": "user", "content": "<instructions>\\nQuestion: <question>"}]``.
    """
    text = f"Question: {question}" if not instructions else f"{instructions}\nQuestion: {question}"
    return [{"role": "user", "content": text}]


class VRAGToolEnv:
    """One ``VRAG-v0`` episode driven through tool calls (an ``environment_factory`` product).

    Pass ``VRAGToolEnv.factory(...)`` (or any zero-argument callable returning an instance) as
    ``GRPOTrainer(environment_factory=...)``. The trainer keeps a pool of instances and calls
    :meth:`reset` with each dataset row: a row with a ``question_id`` column pins the question,
    otherwise one is drawn from the env's split with ``seed``.

    Tool images are the env's ``image`` observation (the current view, at the top left of the fixed
    ``view_size``). Keep them small for small models: ``max_completion_length`` counts the image
    tokens of every tool result (a Qwen2-VL image costs one token per 28x28 pixels), so pass e.g.
    ``env_kwargs={"view_size": (224, 224), "max_view_pixels": 224 * 224}``. A fixed size also keeps
    every image the same shape, which vLLM's colocate mode needs for Qwen-VL models
    (huggingface/trl#6401).

    Args:
        env_id: Registered env id (``"VRAG-v0"``, ``"VRAG-Tiny-v0"``, ...).
        env_kwargs: Keyword arguments for ``gym.make`` (``corpus``, ``split``, ``view_size``,
            ``max_view_pixels``, ``reward``, ...). The dialect is always ``"tool"``.
        max_episode_steps: Step limit (default: the registered one). Calls after the episode ended
            (answered or truncated) change nothing and return :data:`ENDED_MESSAGE`.
    """

    def __init__(
        self,
        env_id: str = DEFAULT_ENV_ID,
        env_kwargs: dict[str, Any] | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        kwargs = dict(env_kwargs or {})
        dialect = kwargs.pop("dialect", "tool")
        if dialect != "tool":
            raise ValueError(f"VRAGToolEnv drives the 'tool' dialect, got dialect={dialect!r}")
        self.env_id = env_id
        self.env_kwargs: dict[str, Any] = {**kwargs, "dialect": "tool"}
        self.max_episode_steps = max_episode_steps
        self._env: gym.Env[dict[str, Any], str] | None = None
        self._return = 0.0
        self._active = False
        self._info: dict[str, Any] = {}
        self._question = ""

    @classmethod
    def factory(
        cls,
        env_id: str = DEFAULT_ENV_ID,
        env_kwargs: dict[str, Any] | None = None,
        max_episode_steps: int | None = None,
    ) -> Callable[[], VRAGToolEnv]:
        """Return a zero-argument callable that builds instances (for ``environment_factory``).

        A classmethod, so TRL does not mistake it for a tool (it only collects plain functions).

        Args:
            env_id: Registered env id.
            env_kwargs: Keyword arguments for ``gym.make``.
            max_episode_steps: Step limit (default: the registered one).
        """
        frozen = dict(env_kwargs or {})

        def make() -> VRAGToolEnv:
            return cls(env_id, dict(frozen), max_episode_steps)

        return make

    # ------------------------------------------------------------------ episode control

    @property
    def env(self) -> gym.Env[dict[str, Any], str]:
        """The wrapped Gymnasium env, built on first use (corpus and index are shared per process)."""
        if self._env is None:
            kwargs: dict[str, Any] = dict(self.env_kwargs)
            if self.max_episode_steps is not None:
                kwargs["max_episode_steps"] = self.max_episode_steps
            self._env = gym.make(self.env_id, **kwargs)
        return self._env

    def reset(
        self, question_id: str | None = None, seed: int | None = None, **row: Any
    ) -> str | None:
        """Start an episode for one dataset row (called by the trainer, not a tool).

        Args:
            question_id: Question to pose (a uid of the env's corpus); drawn from the split when
                ``None``.
            seed: Seed for ``env.reset``.
            **row: The other columns of the row (``prompt``, ...), ignored.

        Returns:
            ``None`` when the row has a ``prompt`` (it already holds the question); otherwise the
            instructions and question as text, which the trainer appends to the user message.
        """
        options = {"question_id": question_id} if question_id is not None else None
        obs, info = self.env.reset(seed=None if seed is None else int(seed), options=options)
        self._return = 0.0
        self._active = True
        self._info = info
        self._question = str(obs["question"])
        if row.get("prompt") is not None:
            return None
        return str(build_prompt(self._question)[0]["content"])

    def get_reward(self) -> float:
        """The episode's return in the env: the sum of its step rewards (not a tool).

        That is the terminal reward of :class:`vrag_env.rewards.RewardConfig` for an answered
        episode, plus the env's penalty for each malformed or illegal call; an episode that never
        answered earns only its penalties, as in the env.
        """
        return float(self._return)

    @property
    def done(self) -> bool:
        """Whether the episode has ended (answered or truncated)."""
        return not self._active

    @property
    def info(self) -> dict[str, Any]:
        """The env's latest ``info`` dict."""
        return self._info

    @property
    def question(self) -> str:
        """The current question."""
        return self._question

    @property
    def score(self) -> dict[str, float]:
        """The env's reward breakdown of the current episode (``anls``, ``ndcg``, ...)."""
        unwrapped: Any = self.env.unwrapped
        return dict(unwrapped.episode_score())

    # ------------------------------------------------------------------ tools

    def search(self, query: str) -> list:
        """Search the document pages and show the best match not shown yet.

        Args:
            query: Keywords for the page, e.g. a name, a year and a quantity.

        Returns:
            The page image and a note, or an error.
        """
        return self._call("search", {"query": query})

    def crop(self, x1: float, y1: float, x2: float, y2: float) -> list:
        """Zoom into a region of the image shown now to read small print.

        Args:
            x1: Left edge, a fraction 0-1 of the width.
            y1: Top edge, a fraction 0-1 of the height.
            x2: Right edge (0-1).
            y2: Bottom edge (0-1).

        Returns:
            The zoomed image and a note, or an error.
        """
        return self._call("crop", {"box": [x1, y1, x2, y2]})

    def answer(self, answer: str) -> str:
        """Submit the final answer; this ends the episode.

        Args:
            answer: A short answer: a number, name or phrase.

        Returns:
            A confirmation or an error.
        """
        blocks = self._call("answer", {"answer": answer})
        return "\n".join(b["text"] for b in blocks if b.get("type") == "text")

    # ------------------------------------------------------------------ internals

    def _call(self, name: str, arguments: dict[str, Any]) -> list[Block]:
        """Apply one tool call as an env step and return the tool result blocks."""
        if not self._active:
            return [{"type": "text", "text": ENDED_MESSAGE}]
        try:
            action = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
        except (TypeError, ValueError):
            # Arguments TRL parsed from JSON always serialise; anything else is rendered as text so
            # that the env rejects it with its own message and penalty.
            action = json.dumps(
                {"name": name, "arguments": {k: str(v) for k, v in arguments.items()}}
            )
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._return += float(reward)
        self._info = info
        feedback = str(obs["feedback"])
        if terminated or truncated:
            self._active = False
            if truncated and not terminated:
                feedback += " The step limit is reached: the episode is over."
        text: Block = {"type": "text", "text": feedback}
        if info["action_error"] is not None or name == "answer":
            return [text]
        return [image_block(obs["image"]), text]


def tool_methods(env: VRAGToolEnv) -> list[Callable[..., Any]]:
    """The adapter's tools, as ``GRPOTrainer`` collects them from an environment instance.

    Public plain methods other than ``reset`` and ``get_reward``, sorted by name (the order of
    ``inspect.getmembers``, hence the order of the tool schemas in the prompt). SFT data and
    evaluation rollouts render the prompt with this list so that it matches GRPO's.
    """
    return [
        getattr(env, name)
        for name, _ in inspect.getmembers(type(env), predicate=inspect.isfunction)
        if name not in ("reset", "get_reward") and not name.startswith("_")
    ]


def tool_schemas(env: VRAGToolEnv | None = None) -> list[dict[str, Any]]:
    """The JSON schemas of the adapter's tools, in the order ``GRPOTrainer`` renders them.

    The one source of the tool descriptions: the GRPO trainer (through :func:`tool_methods`), the
    SFT data (:mod:`agents.vlm.sft_data`) and the prompted agent at evaluation
    (:class:`agents.vlm.agent.VLMAgent` with ``chat_format="tools"``) all render these, so a model
    is prompted at evaluation exactly as it was trained.

    Args:
        env: An adapter instance (a default one is made; nothing is loaded).
    """
    from transformers.utils import get_json_schema

    return [get_json_schema(f) for f in tool_methods(env or VRAGToolEnv())]


def image_block(image: np.ndarray | Image.Image) -> Block:
    """Return ``{"type": "image", "image": <PIL RGB image>}`` for an observation image."""
    pil = image if isinstance(image, Image.Image) else Image.fromarray(np.ascontiguousarray(image))
    return {"type": "image", "image": pil.convert("RGB") if pil.mode != "RGB" else pil}


def environment_reward(
    completions: Sequence[Any], environments: Sequence[Any] | None = None, **kwargs: Any
) -> list[float | None]:
    """TRL reward function: each rollout's env return (``None`` where there is no env).

    Only needed when the reward is combined with others explicitly; ``GRPOTrainer`` already adds
    :meth:`VRAGToolEnv.get_reward` as a reward column by itself.

    Args:
        completions: The rollouts' completions (unused; the env holds the episode).
        environments: The rollouts' env instances, passed by ``GRPOTrainer``.
        **kwargs: Other dataset columns and trainer state, ignored.

    Returns:
        One reward per completion.
    """
    if environments is None:
        return [None] * len(completions)
    return [e.get_reward() if isinstance(e, VRAGToolEnv) else None for e in environments]


def score_reward(key: str) -> Callable[..., list[float | None]]:
    """Return a TRL reward function reporting one term of the env's score (e.g. ``"anls"``).

    Give it weight 0 in ``GRPOConfig.reward_weights`` to log the term
    (``rewards/<key>/mean``) without training on it twice.

    Args:
        key: A key of ``env.unwrapped.episode_score()``: ``anls``, ``exact_match``, ``f1``,
            ``ndcg``, ``format``, ``answer`` or ``reward``.
    """

    def reward(
        completions: Sequence[Any], environments: Sequence[Any] | None = None, **kwargs: Any
    ) -> list[float | None]:
        if environments is None:
            return [None] * len(completions)
        return [
            float(e.score.get(key, 0.0)) if isinstance(e, VRAGToolEnv) else None
            for e in environments
        ]

    reward.__name__ = key
    return reward


def question_rows(
    env_id: str = DEFAULT_ENV_ID,
    env_kwargs: dict[str, Any] | None = None,
    *,
    limit: int | None = None,
    seed: int = 0,
    instructions: str | None = INSTRUCTIONS,
) -> list[dict[str, Any]]:
    """Dataset rows for GRPO from the env's questions: ``prompt`` and ``question_id`` columns.

    Args:
        env_id: Registered env id.
        env_kwargs: Keyword arguments for ``gym.make`` (``split`` chooses the questions).
        limit: Keep this many questions (a seeded permutation of the split); all when ``None``.
        seed: Seed of the permutation.
        instructions: Task text before each question.

    Returns:
        A list of ``{"prompt": [...], "question_id": uid}``; ``datasets.Dataset.from_list`` turns
        it into a training dataset.
    """
    env = gym.make(env_id, **{**(env_kwargs or {}), "dialect": "tool"})
    try:
        questions = list(env.unwrapped.questions)  # type: ignore[attr-defined]
    finally:
        env.close()
    order = np.random.default_rng(seed).permutation(len(questions))
    if limit is not None:
        order = order[:limit]
    return [
        {
            "prompt": build_prompt(questions[int(i)].question, instructions),
            "question_id": questions[int(i)].uid,
        }
        for i in order
    ]
