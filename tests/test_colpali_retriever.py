"""ColPali-family retrievers against tiny random checkpoints built offline (same code path as real ones).

Random weights give meaningless rankings: these tests check loading, batching, caching, persistence,
determinism and the error messages, not retrieval quality.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")
pytest.importorskip("colpali_engine")

from gymnasium.error import DependencyNotInstalled

from vrag_env.corpora.corpus import Corpus, CorpusWriter
from vrag_env.corpora.synthetic import builtin_corpus
from vrag_env.retrieval import colpali
from vrag_env.retrieval.base import make_retriever
from vrag_env.retrieval.colpali import (
    META_FILE,
    ColQwen2Retriever,
    ColQwen25Retriever,
    ModelLoadError,
)
from vrag_env.retrieval.tiny_colqwen import MARKER_FILE, build_tiny_colqwen
from vrag_env.types import Page, Query, Word

QUERIES = ("What was the revenue of Aurora in 2021?", "signature date", "")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_colqwen(tmp_path_factory.mktemp("models") / "tiny-colqwen2", seed=0)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the built-in tiny corpus (indexes get written into it)."""
    dst = tmp_path_factory.mktemp("corpora") / "tiny"
    shutil.copytree(builtin_corpus("tiny", progress=False), dst)
    return dst


@pytest.fixture(scope="module")
def retriever(tiny_dir: Path, corpus_dir: Path) -> ColQwen2Retriever:
    r = ColQwen2Retriever.load_or_build(
        Corpus(corpus_dir), model=str(tiny_dir), show_progress=False
    )
    assert isinstance(r, ColQwen2Retriever)
    return r


def _small_corpus(root: Path, texts: list[str]) -> Corpus:
    with CorpusWriter(root, name="small", build={"by": "test"}, overwrite=True) as writer:
        for i, text in enumerate(texts, start=1):
            img = Image.new("RGB", (120 + 10 * i, 160), (255, 255 - 20 * i, 255))
            words = tuple(Word(t, (0.0, 0.0, 1.0, 1.0)) for t in text.split())
            writer.add_page(Page(f"s_{i}", "s", i, 1, 1, "", words), img)
        writer.add_query(Query("q", "?", ("x",), ("s_1",), "test"))
    return Corpus(root)


def test_backends_registered_with_default_checkpoints(tiny_dir: Path) -> None:
    r = make_retriever("colqwen2", model=str(tiny_dir))
    assert type(r) is ColQwen2Retriever and r.model_id == str(tiny_dir.resolve())
    assert make_retriever("colqwen2", model="").model_id == "vidore/colqwen2-v1.0"
    for name in ("colqwen2.5", "colpali", "colsmol"):
        r = make_retriever(name)
        assert r.name == name and r.model_id == colpali.FAMILIES[name].default_model
    assert (tiny_dir / MARKER_FILE).is_file()
    with pytest.raises(ValueError, match="Available retrievers"):
        make_retriever("colfoo")


def test_index_and_deterministic_search(retriever: ColQwen2Retriever, corpus_dir: Path) -> None:
    corpus = Corpus(corpus_dir)
    index = retriever.require_index()
    assert index.page_ids == corpus.page_ids and index.method == "exact" and index.dim == 128
    for query in QUERIES:
        hits = retriever.search(query, 5)
        assert len(hits) == 5 and len({h.page_id for h in hits}) == 5
        assert all(h.page_id in corpus.pages for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert retriever.search(query, 5) == hits
    assert len(retriever.search(QUERIES[0], 1000)) == len(corpus.pages)
    assert retriever.search(QUERIES[0], 0) == []
    # Page embeddings do not depend on batch composition (padding rows are dropped) and match
    # the stored fp16 vectors; a query embeds the same without the cache.
    ids = corpus.page_ids[:3]
    alone = [retriever.embed_images([corpus.page_image(p)])[0] for p in ids]
    together = retriever.embed_images([corpus.page_image(p) for p in ids])
    for i, (a, b) in enumerate(zip(alone, together, strict=True)):
        np.testing.assert_allclose(a, b, atol=1e-5)
        stored = index.vectors[index.offsets[i] : index.offsets[i + 1]]
        np.testing.assert_allclose(a, stored.astype(np.float32), atol=2e-3)
    cached = retriever.embed_query(QUERIES[0])
    retriever._query_cache.clear()
    np.testing.assert_array_equal(retriever.embed_query(QUERIES[0]), cached)


def test_cache_and_save_load_round_trip(
    retriever: ColQwen2Retriever, tiny_dir: Path, corpus_dir: Path, tmp_path: Path
) -> None:
    corpus = Corpus(corpus_dir)
    folder = corpus.index_dir(retriever.index_name)
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["corpus_checksum"] == corpus.checksum
    assert meta["embedding"]["model"] == str(tiny_dir.resolve())
    assert retriever.index_name.startswith("colqwen2-")
    cached = ColQwen2Retriever.load_or_build(corpus, model=str(tiny_dir), show_progress=False)
    retriever.save(tmp_path / "saved")
    loaded = ColQwen2Retriever.load(tmp_path / "saved")
    for other in (cached, loaded):
        assert other.config() == retriever.config()
        np.testing.assert_array_equal(
            np.asarray(other.require_index().vectors), np.asarray(retriever.require_index().vectors)
        )
        for query in QUERIES:
            assert other.search(query, 5) == retriever.search(query, 5)
    with pytest.raises(ValueError, match=r"not a colqwen2\.5 index"):
        ColQwen25Retriever.load(tmp_path / "saved")


def test_stale_index_is_rebuilt(
    tiny_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = str(tiny_dir)
    corpus = _small_corpus(tmp_path / "c", ["alpha beta", "gamma", "delta epsilon"])
    first = ColQwen2Retriever.load_or_build(corpus, model=model, show_progress=False)
    folder = corpus.index_dir(first.index_name)
    old_meta = json.loads((folder / META_FILE).read_text())
    # Same corpus: served from the cache, the model never embeds a page.
    again = ColQwen2Retriever.load_or_build(corpus, model=model, show_progress=False)
    assert again.search("alpha", 3) == first.search("alpha", 3)
    # Other index settings: the stored vectors are re-indexed, not re-embedded.
    ivf = ColQwen2Retriever.load_or_build(
        corpus, model=model, index_method="ivf", show_progress=False
    )
    assert ivf.require_index().method == "ivf"
    np.testing.assert_array_equal(
        np.asarray(ivf.require_index().vectors), np.asarray(first.require_index().vectors)
    )
    # The corpus changes (other pages, so another checksum) under an existing index: rebuilt.
    shutil.copytree(folder, tmp_path / "old-index")
    corpus = _small_corpus(tmp_path / "c", ["alpha beta", "gamma", "delta epsilon", "zeta"])
    shutil.copytree(tmp_path / "old-index", folder)
    with caplog.at_level(logging.INFO, logger="vrag_env.retrieval"):
        rebuilt = ColQwen2Retriever.load_or_build(corpus, model=model, show_progress=False)
    assert "stale" in caplog.text
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["corpus_checksum"] != old_meta["corpus_checksum"]
    assert rebuilt.page_ids == ["s_1", "s_2", "s_3", "s_4"] and len(rebuilt.search("x", 10)) == 4
    # A garbled cache is rebuilt too.
    (folder / "page_ids.json").write_text("{not json")
    healed = ColQwen2Retriever.load_or_build(corpus, model=model, show_progress=False)
    assert healed.search("alpha", 4) == rebuilt.search("alpha", 4)


def test_colqwen25_tiny_checkpoint(tmp_path: Path) -> None:
    path = build_tiny_colqwen(tmp_path / "tiny-colqwen2.5", arch="colqwen2.5")
    corpus = _small_corpus(tmp_path / "c", ["one", "two"])
    r = make_retriever("colqwen2.5", model=str(path), show_progress=False)
    r.index(corpus)
    hits = r.search("two", 2)
    assert {h.page_id for h in hits} == {"s_1", "s_2"} and hits == r.search("two", 2)


def test_env_runs_with_colqwen2(tiny_dir: Path, corpus_dir: Path) -> None:
    import gymnasium as gym

    import vrag_env  # noqa: F401

    env = gym.make("VRAG-Tiny-v0", corpus=str(corpus_dir), retriever="colqwen2:" + str(tiny_dir))
    try:
        assert type(env.unwrapped.retriever) is ColQwen2Retriever
        assert env.unwrapped.retriever.model_id == str(tiny_dir.resolve())
        obs, info = env.reset(seed=0)
        obs, _, _, _, info = env.step("<search>annual revenue</search>")
        assert info["action_kind"] == "search" and info["action_error"] is None
        assert env.observation_space.contains(obs)
        first = info["retrieved_pages"]
        _, _, _, _, info = env.step("<search>total</search>")
        assert info["action_error"] is None
        _, _, terminated, _, _ = env.step("<answer>42</answer>")
        assert terminated
        # Same seed, same actions: same retrieved pages.
        env.reset(seed=0)
        _, _, _, _, info = env.step("<search>annual revenue</search>")
        assert info["retrieved_pages"] == first
    finally:
        env.close()


def test_unloadable_model_gives_a_clear_error(tmp_path: Path, corpus_dir: Path) -> None:
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    for model in (str(tmp_path / "missing"), str(not_a_model), ""):  # "" = hub default, offline
        r = make_retriever("colqwen2", model=model, local_files_only=True)
        with pytest.raises(ModelLoadError, match=r'retriever="colqwen2:/path/to/checkpoint"'):
            r.load_model()
    with pytest.raises(ModelLoadError, match="colqwen2"):
        ColQwen2Retriever.load_or_build(Corpus(corpus_dir), model=str(tmp_path / "missing"))
    with pytest.raises(RuntimeError, match="before index"):
        ColQwen2Retriever(model=str(not_a_model)).search("x", 1)


def test_missing_extra_raises_dependency_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "colpali_engine.models", None)
    with pytest.raises(DependencyNotInstalled, match=r'pip install "vrag-env\[colpali\]"'):
        ColQwen2Retriever(model="x").load_model()


def test_import_is_light() -> None:
    code = (
        "import sys, vrag_env.retrieval.colpali, vrag_env.retrieval.multivector, "
        "vrag_env.retrieval.tiny_colqwen; "
        "heavy = [m for m in ('torch', 'transformers', 'colpali_engine', 'faiss') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
