"""`--episodes` beyond the number of questions warns; library DEBUG lines stay quiet without -v."""

from __future__ import annotations

import logging

import gymnasium as gym
import pytest

from benchmarks.runner import select_questions
from vrag_env.commands import _quiet_libraries


def test_more_episodes_than_questions_warns(caplog: pytest.LogCaptureFixture) -> None:
    env = gym.make("VRAG-Tiny-v0", split="test")
    n = len(env.unwrapped.questions)
    with caplog.at_level(logging.WARNING, logger="benchmarks.runner"):
        ids = select_questions(env, n, seed=0)
    assert sorted(ids) == sorted(q.uid for q in env.unwrapped.questions)
    assert not [r for r in caplog.records if r.name == "benchmarks.runner"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="benchmarks.runner"):
        ids = select_questions(env, n + 3, seed=0)
    assert len(ids) == n + 3
    warned = [r for r in caplog.records if r.name == "benchmarks.runner"]
    assert len(warned) == 1
    message = warned[0].getMessage()
    assert f"{n + 3} episodes but only {n} questions" in message
    assert f"--episodes {n}" in message
    env.close()


def test_library_debug_lines_are_filtered() -> None:
    def record(name: str, level: int) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, "msg", None, None)

    assert not _quiet_libraries(record("bm25s", logging.DEBUG))
    assert not _quiet_libraries(record("bm25s", logging.INFO))
    assert _quiet_libraries(record("bm25s", logging.WARNING))
    assert _quiet_libraries(record("vrag_env.corpora.ingest", logging.INFO))
    assert not _quiet_libraries(record("vrag_env.corpora.ingest", logging.DEBUG))
