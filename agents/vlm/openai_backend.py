"""The VLM agents' backend for any OpenAI-compatible chat-completions server.

``vllm serve``, ``transformers serve`` and other servers that speak ``POST
{base_url}/chat/completions``; images travel as ``data:image/png;base64`` URLs. httpx is imported
when a backend is built.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from .backends import Backend, GenerationSettings, cut_at_stop, restore_stop
from .chat import Message, count_images, message_to_action, to_openai_messages

logger = logging.getLogger(__name__)

__all__ = ["EndpointError", "EndpointHTTPError", "OpenAIBackend"]


def _reply_text(message: dict[str, Any]) -> str:
    """The reply as the model wrote it, from a chat-completions ``message``.

    ``reasoning_content`` (or vLLM's ``reasoning``) comes back inside ``<think>...</think>``, and
    the first structured tool call comes back as ``<tool_call>{"name": ..., "arguments": ...}
    </tool_call>`` (the ``tool`` dialect; the environment executes one action per step).
    """
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    text = f"<think>{reasoning}</think>" if reasoning else ""
    text += str(message.get("content") or "")
    if message.get("tool_calls"):
        text += f"<tool_call>\n{message_to_action(message)}\n</tool_call>"
    return text


class EndpointError(ConnectionError):
    """An OpenAI-compatible endpoint could not be reached or answered with an error."""


class EndpointHTTPError(EndpointError):
    """An OpenAI-compatible endpoint answered with an HTTP error status.

    Attributes:
        status: The HTTP status code.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class OpenAIBackend(Backend):
    """Any OpenAI-compatible chat-completions endpoint (``vllm serve``, ``transformers serve``, ...).

    Each call is one ``POST {base_url}/chat/completions`` with the whole conversation; images are
    sent as ``{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}`` parts.
    Connection failures, timeouts and 408/429/5xx answers are retried with exponential backoff;
    then :class:`EndpointError` names the URL and the last error.

    Args:
        base_url: The API root, e.g. ``http://127.0.0.1:8000/v1``.
        settings: Decoding settings (``temperature``, ``top_p``, ``max_tokens``, ``stop``).
        api_key: Bearer token; defaults to ``$OPENAI_API_KEY`` or ``"EMPTY"`` (what ``vllm serve``
            accepts without ``--api-key``).
        served_model: Model name of the requests; defaults to the first id of ``GET /models``.
        timeout: Seconds per request.
        retries: Retries after a failed attempt.
        extra_body: Extra request fields, e.g. vLLM's ``{"top_k": 1}`` or
            ``{"mm_processor_kwargs": {...}}`` (servers may reject fields they do not know).
        server_stop: Send the stop strings in the request. ``None`` (default) sends them until a
            server answers such a request with an HTTP error, then cuts replies client-side:
            ``transformers serve`` (5.24) fails with HTTP 500 on ``stop`` for VLM processors
            (its ``StopStringCriteria`` receives the processor instead of the tokenizer).
            Replies are always cut after the first stop string, whatever the server did.
    """

    kind = "openai"
    _RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})

    def __init__(
        self,
        base_url: str,
        settings: GenerationSettings | None = None,
        *,
        api_key: str | None = None,
        served_model: str | None = None,
        timeout: float = 300.0,
        retries: int = 3,
        extra_body: dict[str, Any] | None = None,
        server_stop: bool | None = None,
    ) -> None:
        super().__init__(settings)
        try:
            import httpx
        except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installation
            raise ModuleNotFoundError(
                f"the OpenAI-compatible backend needs httpx: pip install httpx ({exc})"
            ) from exc
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.extra_body = dict(extra_body or {})
        self.server_stop = server_stop
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        if logging.getLogger("httpx").level == logging.NOTSET:
            # httpx logs every request at INFO; one line per model call drowns evaluation output.
            logging.getLogger("httpx").setLevel(logging.WARNING)
        self._client = httpx.Client(
            base_url=self.base_url, timeout=timeout, headers={"Authorization": f"Bearer {key}"}
        )
        self.request_bytes = 0
        self.served_model = served_model or self._first_model()

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, retry_http: bool = True
    ) -> dict[str, Any]:
        """Send one request with retries and return the decoded JSON answer.

        Args:
            method: HTTP method.
            path: Path below ``base_url``.
            body: JSON body.
            retry_http: Retry 408/429/5xx answers (connection failures are always retried).

        Raises:
            EndpointHTTPError: The server answered with an HTTP error.
            EndpointError: The server could not be reached or returned no JSON.
        """
        import httpx

        url = f"{self.base_url}{path}"
        payload = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"} if payload is not None else None
        last = "no attempt made"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
            try:
                response = self._client.request(method, path, content=payload, headers=headers)
            except httpx.TransportError as exc:  # connection refused, reset, timeout, ...
                last = f"{type(exc).__name__}: {exc}"
                logger.warning("%s %s failed (attempt %d): %s", method, url, attempt + 1, last)
                continue
            if payload is not None:
                self.request_bytes += len(payload)
            if retry_http and response.status_code in self._RETRY_STATUS:
                last = f"HTTP {response.status_code}: {response.text[:300]}"
                logger.warning("%s %s failed (attempt %d): %s", method, url, attempt + 1, last)
                continue
            if response.status_code >= 400:
                raise EndpointHTTPError(
                    f"{method} {url} answered HTTP {response.status_code}: {response.text[:500]}",
                    response.status_code,
                )
            try:
                return dict(response.json())
            except ValueError as exc:
                raise EndpointError(
                    f"{method} {url} returned no JSON: {response.text[:200]!r}"
                ) from exc
        raise EndpointError(
            f"{method} {url} failed after {self.retries + 1} attempt(s): {last}. Is an "
            "OpenAI-compatible server (e.g. `vllm serve MODEL`) running at this base URL?"
        )

    def _first_model(self) -> str:
        models = self._request("GET", "/models").get("data") or []
        if not models or "id" not in models[0]:
            raise EndpointError(f"GET {self.base_url}/models lists no model; pass served_model=")
        return str(models[0]["id"])

    def generate(
        self,
        messages: Sequence[Message],
        *,
        tools: list[dict[str, Any]] | None = None,
        seed: int | None = None,
    ) -> str:
        """Send the conversation to ``/chat/completions`` and return the reply text.

        Servers that parse replies (``transformers serve`` for Qwen models, vLLM with a reasoning or
        tool parser) return ``<think>`` text as ``reasoning_content`` and tool calls as
        ``tool_calls``; both are put back in the text as the model wrote them (see
        :func:`_reply_text`).
        """
        s = self.settings
        body: dict[str, Any] = {
            "model": self.served_model,
            "messages": to_openai_messages(list(messages)),
            "max_tokens": s.max_new_tokens,
            "temperature": s.temperature,
        }
        if not s.greedy:
            body["top_p"] = s.top_p
            if seed is not None:
                body["seed"] = int(seed)
        if s.stop and self.server_stop is not False:
            body["stop"] = list(s.stop)
        if tools:
            body["tools"] = tools
        body.update(self.extra_body)
        self.requests += 1
        self.images_sent += count_images(messages)
        answer = self._post_chat(body)
        try:
            choice = answer["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError) as exc:
            raise EndpointError(
                f"POST {self.base_url}/chat/completions returned no choice: {json.dumps(answer)[:300]}"
            ) from exc
        text = _reply_text(message)
        text, matched = cut_at_stop(text, s.stop)
        stop_sent = bool(s.stop) and self.server_stop is True
        if matched is None and stop_sent and choice.get("finish_reason") == "stop":
            if "stop_reason" in choice:  # vLLM: the matched stop string, or None for EOS
                reason = choice["stop_reason"]
                if isinstance(reason, str):
                    text = restore_stop(text, s.stop, reason)
            else:
                text = restore_stop(text, s.stop)
        return text

    def _post_chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST a chat request; on the first one with ``stop``, fall back when the server fails on it.

        The probe is not retried: any HTTP error on it (even a transient one) switches to cutting
        replies client-side, which gives the same replies and only costs generated tokens.
        """
        if "stop" not in body or self.server_stop is not None:
            return self._request("POST", "/chat/completions", body)
        try:
            answer = self._request("POST", "/chat/completions", body, retry_http=False)
        except EndpointHTTPError as exc:
            logger.warning(
                "%s failed on a request with stop strings (%s); retrying without them and cutting "
                "replies at the stop strings client-side from now on (pass server_stop=False to "
                "skip this probe)",
                self.base_url,
                str(exc)[:200],
            )
            self.server_stop = False
            body = {k: v for k, v in body.items() if k != "stop"}
            return self._request("POST", "/chat/completions", body)
        self.server_stop = True
        return answer

    def config(self) -> dict[str, Any]:
        """Endpoint, served model and decoding settings (never the API key)."""
        return {
            **super().config(),
            "base_url": self.base_url,
            "served_model": self.served_model,
            "server_stop": self.server_stop,
            **({"extra_body": self.extra_body} if self.extra_body else {}),
        }

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()
