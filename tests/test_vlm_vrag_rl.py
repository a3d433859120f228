"""The ``vlm`` agent in VRAG-RL style, end to end through ``vrag eval`` and a loopback server.

The corpus is ingested (with real OCR) from 1024x768 slide images; the model is a scripted one behind
an OpenAI-compatible chat-completions server on 127.0.0.1 that replies as VRAG-RL's SFT data does
(reasoning, a newline, one tag; a sentence as the answer) and records every request. The test reads
the images out of the requests and checks their sizes against VRAG-RL's resize rule.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

from agents.vlm.agent import VRAG_RL_RETRY
from vrag_env.cli import main
from vrag_env.corpora.ingest import ingest
from vrag_env.corpora.sources import FileSource
from vrag_env.rendering import vrag_rl_size

SENTENCE = "China is forecast to make 134 million outbound trips in 2020."
SCRIPTS = {
    "good": [
        "<think>I should find the slide about outbound trips.</think>\n<search>outbound trips 2020</search>",
        "<think>The number is small; zoom in on the top.</think>\n<bbox>[0, 0, 420, 160]</bbox>",
        f"<think>It reads 134 million.</think>\n<answer>{SENTENCE}</answer>",
    ],
    "invalid-first": [
        "<think>I am not sure what to do.</think>\nlet me think more",
        "<think>Search.</think>\n<search>outbound trips 2020</search>",
        f"<think>Done.</think>\n<answer>{SENTENCE}</answer>",
    ],
}


class _ChatServer(BaseHTTPRequestHandler):
    """OpenAI chat completions with a scripted model: reply n to the request with n assistant turns."""

    script: ClassVar[list[str]] = SCRIPTS["good"]
    bodies: ClassVar[list[dict[str, Any]]] = []

    def _send(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._send({"object": "list", "data": [{"id": "scripted-vrag-rl", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        reply = type(self).script[min(turn, len(type(self).script) - 1)]
        stop = body.get("stop") or []
        for s in stop:  # a server cuts at the first stop string and drops it (vLLM's way)
            if s in reply:
                reply = reply[: reply.index(s)]
                break
        self._send(
            {
                "id": "cmpl",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def chat_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def slide_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 1024x768 slides, OCR'd at ingest, and one question with a numeric answer."""
    root = tmp_path_factory.mktemp("vrag_rl_slides")
    src = root / "slides"
    src.mkdir()
    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), 40)
    texts = {
        "slide_1_1024.png": ["China outbound trips 2020", "134 million trips"],
        "slide_2_1024.png": ["Hotel occupancy by region", "Europe 71 percent"],
    }
    for name, lines in texts.items():
        image = Image.new("RGB", (1024, 768), "white")
        draw = ImageDraw.Draw(image)
        for i, line in enumerate(lines):
            draw.text((40, 40 + 70 * i), line, fill="black", font=font)
        image.save(src / name)
    example = {
        "uid": "q1",
        "query": "How many outbound trips will China make in 2020?",
        "reference_answer": "134 million",
        "meta_info": {"file_name": "slide_1_1024.png", "reference_page": [1]},
        "split": "test",
    }
    queries = root / "rag_dataset.json"
    queries.write_text(json.dumps({"examples": [example]}), encoding="utf-8")
    out = root / "corpus"
    ingest(FileSource([src]), out, queries=[queries], ocr="auto", progress=False, workers=1)
    return out


def _images(message: dict[str, Any]) -> list[Image.Image]:
    content = message["content"]
    if not isinstance(content, list):
        return []
    return [
        Image.open(io.BytesIO(base64.b64decode(b["image_url"]["url"].split(",", 1)[1])))
        for b in content
        if b["type"] == "image_url"
    ]


def _eval(chat_server: str, corpus: Path, out: Path, *extra: str) -> dict[str, Any]:
    args = ["eval", "--agent", "vlm", "--style", "vrag-rl", "--base-url", chat_server]
    args += ["--corpus", str(corpus), "--split", "test", "--preset", "vrag-rl", "--episodes", "1"]
    args += ["--quiet", "--out", str(out), *extra]
    assert main(args) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def test_vrag_rl_style_sends_vrag_rl_sized_views_alone(
    chat_server: str, slide_corpus: Path, tmp_path: Path
) -> None:
    _ChatServer.script, _ChatServer.bodies = SCRIPTS["good"], []
    results = _eval(chat_server, slide_corpus, tmp_path / "vlm.json")
    episode = results["episodes"][0]
    assert episode["action_kinds"] == ["search", "crop", "answer"]
    # A sentence that states the gold number is a correct answer (numeric-aware accuracy).
    assert results["summary"]["accuracy"] == 1.0
    assert results["metadata"]["agent"]["config"]["style"] == "vrag-rl"

    bodies = _ChatServer.bodies
    assert len(bodies) == 3
    first = bodies[0]["messages"]
    assert [m["role"] for m in first] == ["user"] and not _images(first[0])
    # Each observation turn is one user message holding the image alone (no feedback text).
    for body in bodies[1:]:
        last = body["messages"][-1]
        assert last["role"] == "user"
        assert [b["type"] for b in last["content"]] == ["image_url"]
    page = _images(bodies[1]["messages"][-1])[0]
    assert page.size == vrag_rl_size(1024, 768)
    # The crop: VRAG-RL resizes the page region it cut (integer box) by the same rule.
    x1, y1, x2, y2 = episode["view_regions"][1]
    crop = _images(bodies[2]["messages"][-1])[0]
    assert crop.size == vrag_rl_size(round(x2) - round(x1), round(y2) - round(y1))
    # The region is the model's box padded by 28 shown pixels, mapped onto the 1024x768 page.
    scale = 1024 / page.size[0]
    assert x1 == pytest.approx(0, abs=1) and y1 == pytest.approx(0, abs=1)
    assert x2 == pytest.approx((420 + 28) * scale, abs=2)
    assert y2 == pytest.approx((160 + 28) * scale, abs=2)


def test_invalid_action_gets_the_fixed_retry_turn(
    chat_server: str, slide_corpus: Path, tmp_path: Path
) -> None:
    _ChatServer.script, _ChatServer.bodies = SCRIPTS["invalid-first"], []
    results = _eval(chat_server, slide_corpus, tmp_path / "vlm.json")
    assert results["episodes"][0]["action_kinds"][0] == "invalid"
    retry = _ChatServer.bodies[1]["messages"][-1]
    assert retry["role"] == "user"
    assert retry["content"] == [{"type": "text", "text": VRAG_RL_RETRY}]


def test_instructions_file_is_used_verbatim(
    chat_server: str, slide_corpus: Path, tmp_path: Path
) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Use tags {like} these.\nThe question is: {question}\n", encoding="utf-8")
    _ChatServer.script, _ChatServer.bodies = SCRIPTS["good"], []
    _eval(
        chat_server,
        slide_corpus,
        tmp_path / "vlm.json",
        "--agent-arg",
        f"instructions_file={prompt}",
    )
    first = _ChatServer.bodies[0]["messages"][0]
    texts = [b["text"] for b in first["content"] if b["type"] == "text"]
    assert texts == [
        "Use tags {like} these.\nThe question is: How many outbound trips will China make in "
        "2020?\n"
    ]
