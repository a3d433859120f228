"""The LLM judge against a real OpenAI-compatible chat-completions server on 127.0.0.1.

The server below speaks the protocol over a real socket and answers from a script, so these tests
exercise the actual HTTP client code: request format, headers, retries, timeouts and parsing.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from vrag_env.judge import (
    DEFAULT_JUDGE_PROMPT,
    JudgeConfig,
    JudgeError,
    LLMJudge,
    parse_judgement,
)
from vrag_env.rewards import EpisodeOutcome, RewardConfig, get_reward_config

JUDGE_VARS = ("VRAG_JUDGE_BASE_URL", "VRAG_JUDGE_MODEL", "VRAG_JUDGE_API_KEY")


class ChatServer:
    """A scripted OpenAI-compatible server: each request pops the next scripted response.

    A script entry is a reply string (answered as a chat completion), an int (that HTTP status
    with an OpenAI-style error body), ``("raw", bytes)`` (a 200 with that body), ``("sleep", s,
    reply)`` (the reply after ``s`` seconds) or ``("parts", text)`` (content as a list of parts).
    """

    def __init__(self) -> None:
        self.script: deque[Any] = deque()
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                server.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                entry = server.script.popleft() if server.script else "yes"
                if isinstance(entry, tuple) and entry[0] == "sleep":
                    time.sleep(entry[1])
                    entry = entry[2]
                if isinstance(entry, int):
                    self._send(entry, {"error": {"message": "scripted failure", "code": entry}})
                elif isinstance(entry, tuple) and entry[0] == "raw":
                    self._send_bytes(200, entry[1])
                elif isinstance(entry, tuple) and entry[0] == "parts":
                    self._send(200, self._completion([{"type": "text", "text": entry[1]}], body))
                else:
                    self._send(200, self._completion(entry, body))

            @staticmethod
            def _completion(content: Any, request: dict[str, Any]) -> dict[str, Any]:
                return {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": 0,
                    "model": request.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                self._send_bytes(status, json.dumps(payload).encode())

            def _send_bytes(self, status: int, data: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        # A short poll interval keeps shutdown() (which waits for the next poll) fast.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    # The judge must reach 127.0.0.1 directly even where a proxy is configured.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for name in JUDGE_VARS:
        monkeypatch.delenv(name, raising=False)
    with ChatServer() as srv:
        yield srv


def make_judge(server: ChatServer, **overrides: Any) -> LLMJudge:
    fields = {"base_url": server.url, "model": "judge-model", "retry_backoff": 0.0}
    fields.update(overrides)
    return LLMJudge(JudgeConfig(**fields))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("yes", 1.0),
        ("Yes.", 1.0),
        ("YES", 1.0),
        ("true", 1.0),
        ("Correct", 1.0),
        ("1", 1.0),
        ("Score: 1", 1.0),
        ("The candidate answer is correct.", 1.0),
        ("<think>12.4 million equals 12,400,000, no doubt</think>yes", 1.0),
        ("no", 0.0),
        ("No, it is wrong.", 0.0),
        ("false", 0.0),
        ("incorrect", 0.0),
        ("0", 0.0),
        ("The answer is not correct.", 0.0),
        ("<think>yes? hmm</think>\nNo.", 0.0),
        ("", None),
        ("I cannot tell.", None),
        ("<think>unfinished reasoning, yes", None),
    ],
)
def test_parse_judgement(reply, expected):
    assert parse_judgement(reply) == expected


# --------------------------------------------------------------------------- requests


def test_judge_yes_and_no_and_request_format(server, monkeypatch):
    monkeypatch.setenv("VRAG_JUDGE_API_KEY", "sk-test")
    judge = make_judge(server)
    server.script.extend(["Yes.", "no"])
    assert judge.judge("What was the revenue?", "12.4 million", ["$12.4M", "12,400,000"]) == 1.0
    assert judge.judge("What was the revenue?", "13 million", ["$12.4M"]) == 0.0
    assert len(server.requests) == 2
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["headers"]["Content-Type"] == "application/json"
    body = request["body"]
    assert body["model"] == "judge-model"
    assert body["temperature"] == 0
    assert body["max_tokens"] == 16
    [message] = body["messages"]
    assert message["role"] == "user"
    assert message["content"] == DEFAULT_JUDGE_PROMPT.format(
        question="What was the revenue?", golds="- $12.4M\n- 12,400,000", prediction="12.4 million"
    )


def test_no_authorization_header_without_key(server):
    make_judge(server).judge("q", "a", ["a"])
    assert "Authorization" not in server.requests[0]["headers"]


def test_literal_api_key_and_custom_key_variable(server, monkeypatch):
    make_judge(server, api_key="sk-literal").judge("q", "a", ["a"])
    monkeypatch.setenv("OTHER_KEY", "sk-other")
    make_judge(server, api_key_env="OTHER_KEY").judge("q", "a", ["a"])
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-literal"
    assert server.requests[1]["headers"]["Authorization"] == "Bearer sk-other"


def test_full_endpoint_url_and_custom_prompt(server):
    judge = make_judge(
        server,
        base_url=server.url + "/chat/completions",
        prompt_template="Q={question} G={golds} P={prediction} {{json}}",
        max_tokens=4,
    )
    assert judge.endpoint == server.url + "/chat/completions"
    judge.judge("q?", "p", ["g"])
    assert server.requests[0]["path"] == "/v1/chat/completions"
    assert server.requests[0]["body"]["messages"][0]["content"] == "Q=q? G=- g P=p {json}"
    assert server.requests[0]["body"]["max_tokens"] == 4


def test_content_parts_are_joined(server):
    server.script.append(("parts", "yes"))
    assert make_judge(server).judge("q", "a", ["a"]) == 1.0


def test_empty_prediction_or_golds_skip_the_request(server):
    judge = make_judge(server)
    assert judge.judge("q", "   ", ["a"]) == 0.0
    assert judge.judge("q", "a", []) == 0.0
    assert server.requests == []


def test_reply_without_verdict_scores_zero_with_warning(server, caplog):
    server.script.append("I am not sure what you mean")  # "not" is a negative verdict
    server.script.append("Maybe?")
    judge = make_judge(server)
    assert judge.judge("q", "a", ["a"]) == 0.0
    with caplog.at_level(logging.WARNING, logger="vrag_env.judge"):
        assert judge.judge("q", "a", ["a"]) == 0.0
    assert "no yes/no verdict" in caplog.text and "Maybe?" in caplog.text


# --------------------------------------------------------------------------- failures and retries


def test_transient_errors_are_retried(server):
    server.script.extend([500, 429, "yes"])
    assert make_judge(server, max_retries=2).judge("q", "a", ["a"]) == 1.0
    assert len(server.requests) == 3


def test_retries_exhausted_names_the_url(server):
    server.script.extend([503, 503, 503])
    judge = make_judge(server, max_retries=2)
    with pytest.raises(JudgeError) as info:
        judge.judge("q", "a", ["a"])
    message = str(info.value)
    assert judge.endpoint in message
    assert "after 3 attempt(s)" in message and "HTTP 503" in message
    assert len(server.requests) == 3


def test_client_errors_are_not_retried(server):
    server.script.append(401)
    judge = make_judge(server, max_retries=3)
    with pytest.raises(JudgeError, match=r"HTTP 401.*scripted failure"):
        judge.judge("q", "a", ["a"])
    assert len(server.requests) == 1


def test_backoff_is_applied(server):
    server.script.extend([500, "yes"])
    start = time.perf_counter()
    assert make_judge(server, max_retries=1, retry_backoff=0.2).judge("q", "a", ["a"]) == 1.0
    assert time.perf_counter() - start >= 0.2


def test_connection_refused(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    url = f"http://127.0.0.1:{free_port()}/v1"
    judge = LLMJudge(JudgeConfig(base_url=url, model="m", max_retries=1, retry_backoff=0.0))
    with pytest.raises(JudgeError, match=r"after 2 attempt\(s\)") as info:
        judge.judge("q", "a", ["a"])
    assert url + "/chat/completions" in str(info.value)


def test_timeout(server):
    server.script.append(("sleep", 1.0, "yes"))
    judge = make_judge(server, timeout=0.2, max_retries=0)
    start = time.perf_counter()
    with pytest.raises(JudgeError, match=r"after 1 attempt\(s\).*timed out"):
        judge.judge("q", "a", ["a"])
    assert time.perf_counter() - start < 0.9


def test_malformed_response(server):
    server.script.append(("raw", b"<html>not json</html>"))
    with pytest.raises(JudgeError, match=r"returned no chat completion.*not json"):
        make_judge(server).judge("q", "a", ["a"])


# --------------------------------------------------------------------------- configuration


def test_config_from_environment(server, monkeypatch):
    monkeypatch.setenv("VRAG_JUDGE_BASE_URL", server.url)
    monkeypatch.setenv("VRAG_JUDGE_MODEL", "env-model")
    judge = LLMJudge()
    assert judge.endpoint == server.url + "/chat/completions"
    assert judge.config.model == "env-model"
    judge.judge("q", "a", ["a"])
    assert server.requests[0]["body"]["model"] == "env-model"


def test_missing_endpoint_names_the_variables(monkeypatch):
    for name in JUDGE_VARS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError) as info:
        LLMJudge(JudgeConfig())
    for name in JUDGE_VARS:
        assert name in str(info.value)
    monkeypatch.setenv("VRAG_JUDGE_BASE_URL", "http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="set VRAG_JUDGE_MODEL") as info:
        LLMJudge(JudgeConfig())
    assert "VRAG_JUDGE_BASE_URL" not in str(info.value).split("(")[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"max_retries": -1}, "max_retries must be an int >= 0"),
        ({"retry_backoff": -1.0}, "retry_backoff must be a number >= 0"),
        ({"max_tokens": 0}, "max_tokens must be an int >= 1"),
        ({"base_url": "localhost:8000"}, "base_url must start with http://"),
        ({"prompt_template": "{answer}"}, "prompt_template may only use the placeholders"),
        ({"prompt_template": "{"}, "prompt_template may only use the placeholders"),
    ],
)
def test_invalid_judge_configs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        JudgeConfig(**kwargs)


def test_judge_config_round_trip_and_secrets():
    config = JudgeConfig(base_url="http://h/v1", model="m", api_key="sk-secret", timeout=5.0)
    data = json.loads(json.dumps(config.to_dict()))
    assert "api_key" not in data and "sk-secret" not in repr(config)
    restored = JudgeConfig.from_dict(data)
    assert restored.api_key is None
    assert JudgeConfig.from_dict(JudgeConfig().to_dict()) == JudgeConfig()
    with pytest.raises(ValueError, match=r"unknown JudgeConfig field\(s\) \['url'\]"):
        JudgeConfig.from_dict({"url": "http://h"})


def test_judge_pickles(server):
    judge = make_judge(server)
    clone = pickle.loads(pickle.dumps(judge))
    assert clone.endpoint == judge.endpoint
    assert clone.judge("q", "a", ["a"]) == 1.0


# --------------------------------------------------------------------------- the vrag-rl preset


def episode(**overrides: Any) -> EpisodeOutcome:
    fields = {
        "question": "What was Aurora's revenue in 2022?",
        "prediction": "$12.4M",
        "answers": ("12.4 million",),
        "retrieved": ("aurora_3", "aurora_1"),
        "reference_pages": ("aurora_1",),
        "num_searches": 2,
        "num_crops": 1,
        "invalid_actions": 0,
        "num_actions": 4,
        "answered": True,
    }
    fields.update(overrides)
    return EpisodeOutcome(**fields)


def test_vrag_rl_preset_end_to_end(server, monkeypatch):
    monkeypatch.setenv("VRAG_JUDGE_BASE_URL", server.url)
    monkeypatch.setenv("VRAG_JUDGE_MODEL", "judge-model")
    monkeypatch.setenv("VRAG_JUDGE_API_KEY", "sk-env")
    config = get_reward_config("vrag-rl")
    judge = config.make_judge()
    assert isinstance(judge, LLMJudge)

    # The judge accepts "$12.4M" although ANLS and exact match do not (accuracy does too).
    server.script.append("yes")
    s = config.score(episode(), judge=judge)
    keys = ["accuracy", "anls", "exact_match", "f1", "ndcg", "format", "answer", "judge", "reward"]
    assert list(s) == keys
    assert s["judge"] == s["answer"] == 1.0 and s["exact_match"] == 0.0
    assert s["accuracy"] == 1.0
    # 0.7 * judge + 0.2 * NDCG (gold page at rank 2: 1/log2(3)) + 0.1 * format (4/4 valid)
    assert s["reward"] == pytest.approx(0.7 + 0.2 / math.log2(3) + 0.1)
    assert server.requests[-1]["headers"]["Authorization"] == "Bearer sk-env"
    assert "$12.4M" in server.requests[-1]["body"]["messages"][0]["content"]

    server.script.append("no")
    s = config.score(episode(prediction="13 million"), judge=judge)
    assert s["judge"] == s["answer"] == 0.0
    assert s["reward"] == pytest.approx(0.2 / math.log2(3) + 0.1)

    # VRAG-RL's gate: a correct answer without a search earns nothing.
    server.script.append("yes")
    s = config.score(episode(num_searches=0, retrieved=()), judge=judge)
    assert s["judge"] == 1.0 and s["reward"] == 0.0

    # No answer: the judge is not asked and the reward is 0.
    before = len(server.requests)
    s = config.score(episode(prediction=None, answered=False), judge=judge)
    assert s["judge"] == 0.0 and s["reward"] == 0.0 and len(server.requests) == before

    # Without an explicit judge, score() builds one from the same environment variables.
    server.script.append("yes")
    assert config.score(episode())["judge"] == 1.0


def test_vrag_rl_preset_without_endpoint_fails_early(monkeypatch):
    for name in JUDGE_VARS:
        monkeypatch.delenv(name, raising=False)
    config = get_reward_config("vrag-rl")
    with pytest.raises(ValueError, match="VRAG_JUDGE_BASE_URL and VRAG_JUDGE_MODEL"):
        config.make_judge()
    with pytest.raises(ValueError, match="VRAG_JUDGE_BASE_URL"):
        config.score(episode())


def test_judge_reported_alongside_another_metric(server):
    config = RewardConfig(
        answer_metric="anls",
        judge=JudgeConfig(base_url=server.url, model="m", retry_backoff=0.0),
    )
    server.script.append("yes")
    s = config.score(episode())
    # "$12.4M" vs "12.4 million": ANLS 0, so the answer term is 0 although the judge says yes.
    assert s["judge"] == 1.0 and s["answer"] == s["anls"] == 0.0
