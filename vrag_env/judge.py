"""An optional LLM judge of answer correctness over an OpenAI-compatible chat-completions endpoint.

VRAG-RL (https://arxiv.org/abs/2505.22019) rewards the answer with a judgement by a language model
rather than with string overlap, because free-form answers ("12.4 million", "$12.4M") defeat exact
matching. This module asks any OpenAI-compatible server (OpenAI, a local vLLM or llama.cpp
server, ...) whether a prediction matches the gold answers and turns the reply into ``1.0`` or
``0.0``.

It uses only the standard library (``urllib.request`` and ``json``): no client package is needed,
and the judge pickles with the environment.

The request is ``POST {base_url}/chat/completions`` with one user message (the prompt below),
``temperature=0`` (the same question gets the same judgement from a deterministic server) and a
small ``max_tokens``. The default prompt, :data:`DEFAULT_JUDGE_PROMPT`, shows the question, the
reference answers (one per line) and the candidate answer, and asks for a one-word ``yes``/``no``
reply; :func:`parse_judgement` also accepts ``true``/``false``, ``correct``/``incorrect`` and
``1``/``0``.

Example:
    >>> config = JudgeConfig(base_url="http://localhost:8000/v1", model="Qwen/Qwen2.5-7B-Instruct")
    >>> config.endpoint
    'http://localhost:8000/v1/chat/completions'
    >>> judge = LLMJudge(config)  # no request is sent until judge() is called
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Protocol

logger = logging.getLogger(__name__)

BASE_URL_ENV = "VRAG_JUDGE_BASE_URL"
"""Environment variable read for :attr:`JudgeConfig.base_url` when the field is ``None``."""

MODEL_ENV = "VRAG_JUDGE_MODEL"
"""Environment variable read for :attr:`JudgeConfig.model` when the field is ``None``."""

API_KEY_ENV = "VRAG_JUDGE_API_KEY"
"""Default environment variable holding the API key (optional: local servers need none)."""

DEFAULT_JUDGE_PROMPT = """\
You are grading the answer to a question about a document.

Question: {question}

Reference answer(s), any of which is correct:
{golds}

Candidate answer: {prediction}

Is the candidate answer correct, i.e. does it state the same fact as one of the reference answers? \
Ignore differences in wording, letter case, formatting, units written out or abbreviated, and \
rounding that keeps the meaning. An answer that adds a wrong or contradictory fact is incorrect.

Reply with exactly one word: yes or no."""
"""The default judge prompt. Placeholders: ``{question}``, ``{golds}`` (one ``- answer`` line per
gold answer) and ``{prediction}``. A custom template must keep these names and double any literal
braces (``{{``/``}}``), as :meth:`str.format` requires."""

_YES = frozenset({"yes", "true", "correct", "right", "1"})
_NO = frozenset({"no", "not", "false", "incorrect", "wrong", "0"})
# Reasoning models (DeepSeek-R1, QwQ, Qwen3) may prefix their verdict with a think block.
_THINK_RE = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_WORD_RE = re.compile(r"[a-z0-9]+")
# HTTP statuses worth retrying: rate limiting, and server-side failures that are often transient.
_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class JudgeError(RuntimeError):
    """A judge request failed (after retries) or the server's response could not be read."""


class Judge(Protocol):
    """Anything that grades a prediction against gold answers with a score in ``[0, 1]``."""

    def judge(self, question: str, prediction: str, golds: Sequence[str]) -> float:
        """Return the score of ``prediction`` for ``question`` given the accepted ``golds``."""
        ...


@dataclass(frozen=True)
class JudgeConfig:
    """Where and how to ask an LLM judge. All fields are JSON-serialisable.

    ``base_url`` and ``model`` may be left ``None`` so that a preset can name the judge without
    knowing the endpoint: they are then read from ``VRAG_JUDGE_BASE_URL`` and ``VRAG_JUDGE_MODEL``
    when the judge is built (:meth:`resolve`).
    """

    base_url: str | None = None
    """Server root such as ``http://localhost:8000/v1`` (``/chat/completions`` is appended), or the
    full ``.../chat/completions`` URL; ``None``: read ``VRAG_JUDGE_BASE_URL``."""

    model: str | None = None
    """Model name sent in the request; ``None``: read ``VRAG_JUDGE_MODEL``."""

    api_key: str | None = field(default=None, repr=False)
    """The API key itself. Prefer ``api_key_env``: a literal key is never written by
    :meth:`to_dict`, so it does not end up in results files."""

    api_key_env: str | None = API_KEY_ENV
    """Environment variable holding the API key, used when ``api_key`` is ``None``. A missing
    variable means no ``Authorization`` header (local servers usually need none)."""

    timeout: float = 60.0
    """Seconds to wait for one HTTP response."""

    max_retries: int = 2
    """Further attempts after a failed one (connection errors, timeouts, HTTP 408/409/429/5xx)."""

    retry_backoff: float = 1.0
    """Seconds to wait before the first retry; doubled before each further one."""

    max_tokens: int = 16
    """Completion budget of the reply; raise it for models that reason before answering."""

    prompt_template: str = DEFAULT_JUDGE_PROMPT
    """The user message; see :data:`DEFAULT_JUDGE_PROMPT` for its placeholders."""

    def __post_init__(self) -> None:
        if not (isinstance(self.timeout, (int, float)) and math.isfinite(self.timeout)) or (
            self.timeout <= 0
        ):
            raise ValueError(f"timeout must be a positive number of seconds, got {self.timeout!r}")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"max_retries must be an int >= 0, got {self.max_retries!r}")
        if not (
            isinstance(self.retry_backoff, (int, float)) and math.isfinite(self.retry_backoff)
        ) or (self.retry_backoff < 0):
            raise ValueError(f"retry_backoff must be a number >= 0, got {self.retry_backoff!r}")
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise ValueError(f"max_tokens must be an int >= 1, got {self.max_tokens!r}")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"base_url must start with http:// or https:// (or be None to read "
                f"{BASE_URL_ENV}), got {self.base_url!r}"
            )
        try:
            self.prompt_template.format(question="", golds="", prediction="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                "prompt_template may only use the placeholders {question}, {golds} and "
                f"{{prediction}} (double literal braces); formatting failed with {exc!r}"
            ) from exc

    @property
    def endpoint(self) -> str | None:
        """The chat-completions URL, or ``None`` while ``base_url`` is unresolved."""
        if self.base_url is None:
            return None
        url = self.base_url.rstrip("/")
        return url if url.endswith("/chat/completions") else url + "/chat/completions"

    def resolve(self) -> JudgeConfig:
        """Fill ``base_url`` and ``model`` from the environment where they are ``None``.

        Returns:
            A config whose ``base_url`` and ``model`` are set.

        Raises:
            ValueError: A needed environment variable is unset; the message names them all.
        """
        base_url = self.base_url or os.environ.get(BASE_URL_ENV) or None
        model = self.model or os.environ.get(MODEL_ENV) or None
        missing = [
            name for name, value in ((BASE_URL_ENV, base_url), (MODEL_ENV, model)) if value is None
        ]
        if missing:
            raise ValueError(
                "the LLM judge needs an OpenAI-compatible endpoint: set "
                + " and ".join(missing)
                + f" (e.g. {BASE_URL_ENV}=http://localhost:8000/v1"
                f" {MODEL_ENV}=Qwen/Qwen2.5-7B-Instruct,"
                f" plus {self.api_key_env or API_KEY_ENV} if the server needs a key), or pass a "
                "JudgeConfig with base_url and model, or use a reward preset without a judge "
                "(e.g. 'vrag-rl-offline')"
            )
        return replace(self, base_url=base_url, model=model)

    def to_dict(self) -> dict[str, Any]:
        """JSON form. A literal ``api_key`` is left out (secrets stay out of results files)."""
        data = asdict(self)
        data.pop("api_key")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JudgeConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` listing the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown JudgeConfig field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)


def parse_judgement(reply: str) -> float | None:
    """Read a yes/no verdict from a judge's reply.

    A leading ``<think>...</think>`` block is ignored. The first word that is a verdict decides:
    ``yes``, ``true``, ``correct``, ``right``, ``1`` give ``1.0``; ``no``, ``not``, ``false``,
    ``incorrect``, ``wrong``, ``0`` give ``0.0`` (so "not correct" reads as ``0.0``).

    Args:
        reply: The assistant message content.

    Returns:
        ``1.0``, ``0.0``, or ``None`` when no verdict word appears.

    Example:
        >>> parse_judgement("Yes.")
        1.0
        >>> parse_judgement("<think>units differ but same value</think> correct")
        1.0
        >>> parse_judgement("The answer is not correct.")
        0.0
        >>> parse_judgement("I cannot tell") is None
        True
    """
    text = _THINK_RE.sub(" ", reply).lower()
    for word in _WORD_RE.findall(text):
        if word in _YES:
            return 1.0
        if word in _NO:
            return 0.0
    return None


class LLMJudge:
    """Grades answers by asking an OpenAI-compatible chat model.

    Args:
        config: Where and how to ask; ``None`` fields are filled from the environment
            (see :meth:`JudgeConfig.resolve`), so a misconfiguration fails here, not mid-episode.

    Raises:
        ValueError: The endpoint or model is neither configured nor set in the environment.
    """

    def __init__(self, config: JudgeConfig | None = None) -> None:
        self.config = (config or JudgeConfig()).resolve()
        self.endpoint: str = self.config.endpoint or ""

    def __repr__(self) -> str:
        return f"LLMJudge(endpoint={self.endpoint!r}, model={self.config.model!r})"

    def prompt(self, question: str, prediction: str, golds: Sequence[str]) -> str:
        """The user message sent for one judgement."""
        gold_lines = "\n".join(f"- {g}" for g in golds)
        return self.config.prompt_template.format(
            question=question, golds=gold_lines, prediction=prediction
        )

    def judge(self, question: str, prediction: str, golds: Sequence[str]) -> float:
        """Ask whether ``prediction`` answers ``question`` as one of ``golds`` does.

        An empty prediction or an empty gold list scores ``0.0`` without a request. A reply without
        a verdict (see :func:`parse_judgement`) scores ``0.0`` and is logged as a warning.

        Args:
            question: The question.
            prediction: The agent's answer.
            golds: The accepted answers.

        Returns:
            ``1.0`` if the judge says the prediction is correct, else ``0.0``.

        Raises:
            JudgeError: The request failed after ``max_retries`` retries, or the server answered
                with something that is not a chat completion; the message names the URL.
        """
        if not prediction.strip() or not golds:
            return 0.0
        reply = self.complete(self.prompt(question, prediction, golds))
        verdict = parse_judgement(reply)
        if verdict is None:
            logger.warning("judge at %s gave no yes/no verdict: %.200r", self.endpoint, reply)
            return 0.0
        return verdict

    def complete(self, prompt: str) -> str:
        """Send one user message and return the reply text (retrying transient failures)."""
        payload = {
            "model": self.config.model,
            "messages": [{"role": "user", "content": prompt}],
            # Greedy decoding: a deterministic server gives the same judgement to the same question.
            "temperature": 0,
            "max_tokens": self.config.max_tokens,
        }
        body = json.dumps(payload).encode("utf-8")
        attempts = self.config.max_retries + 1
        last_error = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.config.retry_backoff * 2 ** (attempt - 1))
            try:
                raw = self._post(body)
            except urllib.error.HTTPError as exc:
                detail = exc.read(500).decode("utf-8", "replace") if exc.fp else ""
                last_error = f"HTTP {exc.code} {exc.reason}: {detail}".strip()
                if exc.code not in _RETRY_STATUS:
                    raise JudgeError(
                        f"LLM judge request to {self.endpoint} failed: {last_error}"
                    ) from exc
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                # URLError wraps refused connections and DNS failures; socket timeouts are OSErrors;
                # a connection dropped mid-response raises an HTTPException (IncompleteRead, ...).
                reason = getattr(exc, "reason", exc)
                last_error = f"{type(exc).__name__}: {reason}"
            else:
                return self._read_reply(raw)
            logger.info(
                "judge request %d/%d to %s failed: %s",
                attempt + 1,
                attempts,
                self.endpoint,
                last_error,
            )
        raise JudgeError(
            f"LLM judge request to {self.endpoint} failed after {attempts} attempt(s): {last_error}"
        )

    def _post(self, body: bytes) -> bytes:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = self.config.api_key
        if key is None and self.config.api_key_env:
            key = os.environ.get(self.config.api_key_env) or None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
            data: bytes = response.read()
        return data

    def _read_reply(self, raw: bytes) -> str:
        try:
            data = json.loads(raw)
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise JudgeError(
                f"LLM judge at {self.endpoint} returned no chat completion: {raw[:300]!r}"
            ) from exc
        if isinstance(content, list):
            # Some servers return content parts: [{"type": "text", "text": "..."}].
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content if isinstance(content, str) else ""
