"""The HTTP retriever service: a real server on loopback, env episodes through it."""

from __future__ import annotations

import json
import threading
import urllib.request

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import data_equivalence

import vrag_env  # noqa: F401
from vrag_env.loading import load_corpus, load_retriever
from vrag_env.retrieval.client import RemoteRetriever
from vrag_env.retrieval.server import make_server


@pytest.fixture(scope="module")
def service():
    corpus = load_corpus(None, "tiny")
    server = make_server(corpus, load_retriever("bm25", corpus), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}", corpus
    server.shutdown()
    server.server_close()


def test_remote_search_equals_local(service):
    url, corpus = service
    remote = RemoteRetriever(url, corpus)
    local = load_retriever("bm25", corpus)
    for query in ("annual report revenue", "chart", "", "Fenwick 2022 employees"):
        assert remote.search(query, 7) == local.search(query, 7)


def test_env_episodes_through_the_service_match_local(service):
    url, corpus = service
    remote_env = gym.make("VRAG-Tiny-v0", retriever=url)
    local_env = gym.make("VRAG-Tiny-v0")
    actions = [
        "<search>annual report</search>",
        "<search>revenue by region</search>",
        "<answer>x</answer>",
    ]
    for env in (remote_env, local_env):
        env.reset(seed=4)
    for action in actions:
        assert data_equivalence(remote_env.step(action), local_env.step(action), exact=True)


def test_bad_requests_get_clear_errors(service):
    url, _ = service
    request = urllib.request.Request(url + "/search", data=json.dumps({"k": 3}).encode())
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 400 and b"query" in info.value.read()


def test_unreachable_service_says_how_to_start_it():
    with pytest.raises(ConnectionError, match="vrag serve-retriever"):
        RemoteRetriever("http://127.0.0.1:9", load_corpus(None, "tiny"), timeout=1, retries=0)
