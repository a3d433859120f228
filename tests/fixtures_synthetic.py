"""Session fixtures over the built-in synthetic corpus (import them into a test module).

The ``tiny`` corpus is generated once per test session into a temporary cache folder, so tests never
touch ``~/.cache`` and never share state with an earlier run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vrag_env.corpora.corpus import Corpus
from vrag_env.corpora.synthetic import builtin_corpus


@pytest.fixture(scope="session")
def synthetic_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A per-session cache root for built-in corpora."""
    return tmp_path_factory.mktemp("vrag_env_cache")


@pytest.fixture(scope="session")
def tiny_corpus_path(synthetic_cache: Path) -> Path:
    """Folder of the ``tiny`` synthetic corpus (generated once per session)."""
    return builtin_corpus("tiny", cache_dir=synthetic_cache, progress=False)


@pytest.fixture(scope="session")
def tiny_corpus(tiny_corpus_path: Path) -> Corpus:
    """The loaded ``tiny`` synthetic corpus."""
    return Corpus(tiny_corpus_path)


@pytest.fixture(scope="session")
def default_corpus() -> Corpus:
    """The ``default`` synthetic corpus, from the cache ``$VRAG_ENV_CACHE`` points at.

    ``tests/conftest.py`` points it at ``<repo>/.cache/vrag_env``, so it is generated (about 10 s)
    only on the first run.
    """
    return Corpus(builtin_corpus("default", progress=False))
