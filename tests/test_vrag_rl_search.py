"""``retriever="vrag-rl+URL"``: searching through a VRAG-RL search engine's HTTP protocol.

The engine is a stand-in served on a real loopback socket with the same URL and JSON shapes as
VRAG-RL's ``search_engine/search_engine_api.py``: ``GET /search?queries=Q1&queries=Q2`` answers
``[[{"idx": 0, "image_file": "./search_engine/corpus/img/slide_2_1024.jpg"}, ...], ...]``. Its ranking
is a fixed keyword table, so the test knows which page each query must show.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image, ImageDraw

import vrag_env  # noqa: F401 - registers the env ids
from vrag_env.corpora.ingest import ingest
from vrag_env.corpora.sources import FileSource

SLIDES = {
    "slide_1_1024.jpg": "revenue",
    "slide_2_1024.jpg": "outbound trips",
    "slide_3_1024.jpg": "team",
}
IMG_DIR = "./search_engine/corpus/img"


def _ranking(query: str) -> list[str]:
    """The engine's results for a query: the slide whose keyword it contains first, then the rest."""
    first = [name for name, word in SLIDES.items() if word in query.lower()]
    return first + [name for name in SLIDES if name not in first]


class _Engine(BaseHTTPRequestHandler):
    requests: ClassVar[list[list[str]]] = []
    mode = "ok"

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/search":
            self.send_error(404)
            return
        queries = urllib.parse.parse_qs(url.query).get("queries", [])
        type(self).requests.append(queries)
        if type(self).mode == "not-json":
            body = b"<html>oops</html>"
        elif type(self).mode == "unknown-file":
            body = json.dumps([[{"idx": 0, "image_file": f"{IMG_DIR}/other_9.jpg"}]]).encode()
        else:
            results = [
                [{"idx": i, "image_file": f"{IMG_DIR}/{f}"} for i, f in enumerate(_ranking(q))]
                for q in queries
            ]
            body = json.dumps(results).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Engine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/search"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def slide_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus ingested from three 1024x768 JPEG slides named as in VRAG-RL's demo corpus."""
    root = tmp_path_factory.mktemp("slides")
    src = root / "img"
    src.mkdir()
    for i, (name, word) in enumerate(SLIDES.items()):
        image = Image.new("RGB", (1024, 768), (250, 250, 250 - 40 * i))
        ImageDraw.Draw(image).text((60, 60), f"{word} {i}", fill=(0, 0, 0))
        image.save(src / name, quality=90)
    examples = [
        {
            "uid": f"q{i}",
            "query": f"How many {word}?",
            "reference_answer": str(i),
            "meta_info": {"file_name": name, "reference_page": [1]},
            "split": "test",
        }
        for i, (name, word) in enumerate(SLIDES.items())
    ]
    queries = root / "rag_dataset.json"
    queries.write_text(json.dumps({"examples": examples}), encoding="utf-8")
    out = root / "corpus"
    ingest(FileSource([src]), out, queries=[queries], ocr="never", progress=False)
    return out


def test_env_shows_the_page_the_engine_ranked_first(engine: str, slide_corpus: Path) -> None:
    env = gym.make("VRAG-v0", corpus=str(slide_corpus), split="test", retriever=f"vrag-rl+{engine}")
    _Engine.mode = "ok"
    _Engine.requests.clear()
    env.reset(seed=0, options={"question_id": "q1"})
    obs, _, _, _, info = env.step("<search>how many outbound trips</search>")
    assert info["action_error"] is None, info["feedback"]
    real = env.unwrapped.real_page_id  # type: ignore[attr-defined] # info ids are opaque
    assert real(info["current_page"]) == "slide_2_1024_1"
    assert _Engine.requests[-1] == ["how many outbound trips"]
    # The page shown is the engine's image: the ingested JPEG's pixels (blue channel differs).
    shown = np.asarray(obs["image"])
    assert shown.shape[2] == 3 and shown[5, 5, 2] < shown[5, 5, 0]
    # The next search skips the page already shown and takes the engine's next result.
    _, _, _, _, info = env.step("<search>how many outbound trips</search>")
    assert real(info["current_page"]) == "slide_1_1024_1"
    env.close()


def test_batch_search_is_one_request(engine: str, slide_corpus: Path) -> None:
    from vrag_env.loading import load_corpus
    from vrag_env.retrieval.vrag_rl_http import VragRLSearchEngine

    corpus = load_corpus(slide_corpus)
    client = VragRLSearchEngine(f"vrag-rl+{engine}", corpus)
    _Engine.mode = "ok"
    _Engine.requests.clear()
    found = client.search_batch(["team photo", "revenue table"], k=2)
    assert [[p.page_id for p in f] for f in found] == [
        ["slide_3_1024_1", "slide_1_1024_1"],
        ["slide_1_1024_1", "slide_2_1024_1"],
    ]
    assert _Engine.requests == [["team photo", "revenue table"]]


def test_unknown_image_names_the_file_and_the_fix(
    engine: str, slide_corpus: Path, tmp_path: Path
) -> None:
    from vrag_env.loading import load_corpus
    from vrag_env.retrieval.vrag_rl_http import VragRLSearchEngine

    corpus = load_corpus(slide_corpus)
    _Engine.mode = "unknown-file"
    try:
        with pytest.raises(ValueError, match=r"other_9\.jpg.*page_map"):
            VragRLSearchEngine(engine, corpus).search("anything", 1)
        mapping = tmp_path / "map.json"
        mapping.write_text(json.dumps({"other_9.jpg": "slide_3_1024_1"}), encoding="utf-8")
        mapped = VragRLSearchEngine(engine, corpus, page_map=mapping).search("anything", 1)
        assert [p.page_id for p in mapped] == ["slide_3_1024_1"]
        mapping.write_text(json.dumps({"other_9.jpg": "nope_1"}), encoding="utf-8")
        with pytest.raises(ValueError, match="nope_1"):
            VragRLSearchEngine(engine, corpus, page_map=mapping)
    finally:
        _Engine.mode = "ok"


def test_bad_answers_and_unreachable_engines_are_clear_errors(
    engine: str, slide_corpus: Path
) -> None:
    from vrag_env.loading import load_corpus
    from vrag_env.retrieval.vrag_rl_http import VragRLSearchEngine

    corpus = load_corpus(slide_corpus)
    _Engine.mode = "not-json"
    try:
        with pytest.raises(ValueError, match="not JSON"):
            VragRLSearchEngine(engine, corpus).search("revenue", 1)
    finally:
        _Engine.mode = "ok"
    with pytest.raises(ConnectionError, match="cannot reach the VRAG-RL search engine"):
        VragRLSearchEngine("http://127.0.0.1:9/search", corpus, retries=0).search("x", 1)
    with pytest.raises(ValueError, match="timeout"):
        VragRLSearchEngine(engine, corpus, timeout=0)
    with pytest.raises(ValueError, match="unknown retriever_options"):
        gym.make(
            "VRAG-v0",
            corpus=str(slide_corpus),
            split="test",
            retriever=f"vrag-rl+{engine}",
            retriever_options={"k": 3},
        )
