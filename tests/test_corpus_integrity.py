"""Tampered, malformed and hostile corpora: a clear error or a rebuild, never silent use, never a
read outside the corpus folder."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vrag_env._atomic import make_staging_dir, remove_stale_staging
from vrag_env.commands import main as vrag_main
from vrag_env.corpora.corpus import Corpus, CorpusFormatError, CorpusWriter
from vrag_env.corpora.page_cache import PageCache
from vrag_env.corpora.synthetic import builtin_corpus
from vrag_env.corpora.verify import FILE_CHECKSUMS_KEY, sha256_file
from vrag_env.retrieval.bm25 import BM25Retriever
from vrag_env.types import Page, Query


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A private copy of the tiny built-in corpus (without its index), with per-image checksums."""
    out = tmp_path / "corpus"
    shutil.copytree(builtin_corpus("tiny"), out, ignore=shutil.ignore_patterns("index"))
    _reseal(out)
    return out


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _write_records(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def _reseal(root: Path) -> None:
    """Recompute the manifest checksums after an edit: a consistent, but malformed, corpus."""
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    files, combined = {}, hashlib.sha256()
    for page in _records(root / "pages.jsonl"):
        path = root / str(page["image"])
        digest = sha256_file(path) if path.is_file() else "0" * 64
        files[page["image"]] = digest
        combined.update(digest.encode())
    manifest["checksums"] = {
        "pages.jsonl": sha256_file(root / "pages.jsonl"),
        "queries.jsonl": sha256_file(root / "queries.jsonl"),
        "pages": combined.hexdigest(),
    }
    manifest[FILE_CHECKSUMS_KEY] = files
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _set_page_field(root: Path, field: str, value: object, reseal: bool = True) -> str:
    pages = _records(root / "pages.jsonl")
    pages[0][field] = value
    _write_records(root / "pages.jsonl", pages)
    if reseal:
        _reseal(root)
    return str(pages[0]["page_id"])


def _outside_png(tmp_path: Path, size: tuple[int, int]) -> Path:
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir()
    Image.new("RGB", size, (255, 0, 0)).save(secret)
    return secret


def test_an_intact_corpus_loads_and_verifies(corpus_dir):
    corpus = Corpus(corpus_dir)
    corpus.verify(full=True)
    assert corpus.page_image(corpus.page_ids[0]).size == (
        corpus.pages[corpus.page_ids[0]].width,
        corpus.pages[corpus.page_ids[0]].height,
    )
    assert vrag_main(["verify", str(corpus_dir)]) == 0


# -- containment --------------------------------------------------------------------------------


@pytest.mark.parametrize("image", ["../../etc/passwd", "/etc/passwd", "pages/../manifest.json"])
def test_page_paths_outside_pages_are_refused(corpus_dir, image):
    _set_page_field(corpus_dir, "image", image)
    with pytest.raises(CorpusFormatError, match=r"pages\.jsonl:1: field 'image'"):
        Corpus(corpus_dir)


def test_a_symlink_to_an_outside_image_is_refused(corpus_dir, tmp_path):
    page = _records(corpus_dir / "pages.jsonl")[0]
    secret = _outside_png(tmp_path, (int(page["width"]), int(page["height"])))
    target = corpus_dir / page["image"]
    target.unlink()
    target.symlink_to(secret)
    _reseal(corpus_dir)  # even with matching checksums
    with pytest.raises(CorpusFormatError, match="outside"):
        Corpus(corpus_dir)


def test_a_symlinked_pages_folder_is_refused(corpus_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(corpus_dir / "pages", elsewhere)
    (corpus_dir / "pages").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(CorpusFormatError, match="link"):
        Corpus(corpus_dir)


# -- integrity ----------------------------------------------------------------------------------


def test_a_replaced_valid_image_is_detected(corpus_dir):
    page = _records(corpus_dir / "pages.jsonl")[0]
    path = corpus_dir / page["image"]
    Image.new("RGB", (page["width"], page["height"]), (0, 0, 255)).save(path)
    with pytest.raises(CorpusFormatError, match="differs from the manifest checksum"):
        Corpus(corpus_dir)
    assert vrag_main(["verify", str(corpus_dir)]) == 2


def test_a_replaced_image_in_a_corpus_without_per_image_checksums_is_detected(corpus_dir):
    manifest = json.loads((corpus_dir / "manifest.json").read_text())
    del manifest[FILE_CHECKSUMS_KEY]  # as written by older versions: one combined checksum
    (corpus_dir / "manifest.json").write_text(json.dumps(manifest))
    Corpus(corpus_dir)
    page = _records(corpus_dir / "pages.jsonl")[3]
    Image.new("RGB", (page["width"], page["height"])).save(corpus_dir / page["image"])
    with pytest.raises(CorpusFormatError, match="the page images differ"):
        Corpus(corpus_dir)


def test_a_replaced_image_with_its_old_size_and_mtime_is_still_detected(corpus_dir):
    Corpus(corpus_dir)  # fills the checksum cache
    page = _records(corpus_dir / "pages.jsonl")[0]
    path = corpus_dir / page["image"]
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF  # same size
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(CorpusFormatError, match="differs"):
        Corpus(corpus_dir)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "deleted"])
def test_damaged_images_fail_on_load_not_in_a_step(corpus_dir, damage):
    page = _records(corpus_dir / "pages.jsonl")[0]
    path = corpus_dir / page["image"]
    if damage == "garbage":
        path.write_bytes(os.urandom(5000))
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    else:
        path.unlink()
    with pytest.raises(CorpusFormatError, match=page["image"].split("/")[-1]):
        Corpus(corpus_dir)
    if damage != "deleted":
        # Without the checksum check, decoding still fails with a clear error, not a crash.
        unchecked = Corpus(corpus_dir, verify=False)
        with pytest.raises(CorpusFormatError, match="cannot decode"):
            unchecked.page_image(page["page_id"])


@pytest.mark.parametrize("name", ["pages.jsonl", "queries.jsonl"])
def test_record_files_edited_without_the_manifest_are_detected(corpus_dir, name):
    records = _records(corpus_dir / name)
    key = "kind" if name == "pages.jsonl" else "question"
    records[0][key] = "edited"
    _write_records(corpus_dir / name, records)
    with pytest.raises(CorpusFormatError, match=f"{name}: content differs"):
        Corpus(corpus_dir)


# -- size limits --------------------------------------------------------------------------------


def test_a_144_megapixel_page_is_an_error_before_any_decoding(corpus_dir):
    pages = _records(corpus_dir / "pages.jsonl")
    pages[0]["width"], pages[0]["height"] = 12000, 12000
    _write_records(corpus_dir / "pages.jsonl", pages)
    _reseal(corpus_dir)
    with pytest.raises(CorpusFormatError, match="12000x12000 pixels, over the limit"):
        Corpus(corpus_dir)


@pytest.mark.parametrize("value", [0, -3, True])
def test_zero_or_odd_width_is_refused(corpus_dir, value):
    _set_page_field(corpus_dir, "width", value)
    with pytest.raises(CorpusFormatError, match="'width'"):
        Corpus(corpus_dir)


def test_an_image_of_another_size_than_its_record_is_refused(corpus_dir):
    page = _records(corpus_dir / "pages.jsonl")[0]
    Image.new("RGB", (50, 40)).save(corpus_dir / page["image"])
    _reseal(corpus_dir)
    corpus = Corpus(corpus_dir)
    with pytest.raises(CorpusFormatError, match="50x40 pixels but its record says"):
        corpus.page_image(page["page_id"])


def test_the_page_cache_is_bounded_in_bytes():
    sizes = {str(i): (100 + i, 100) for i in range(40)}
    cache = PageCache(lambda pid: Image.new("RGB", sizes[pid]), max_bytes=200_000, max_items=64)
    for pid in sizes:
        cache.get(pid)
        assert cache.nbytes <= 200_000
    assert 0 < len(cache) < 10
    assert cache.get("39").size == (139, 100)
    big = PageCache(lambda pid: Image.new("RGB", (1000, 1000)), max_bytes=100_000)
    assert big.get("x").size == (1000, 1000) and len(big) == 0  # over budget: served, not kept


# -- malformed records --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"[1, 2]", "must be a JSON object, got a list"),
        (b'{"format": "vrag-corpus", "version": 1, "checksums": "abc"}', "'checksums' must be"),
        (b'{"format": "vrag-corpus", "name": "caf\xe9"}', "not UTF-8"),
        (b'{"format": "vrag-corpus", "version": 1, "checksums": {"pages": 3}}', "checksums.pages"),
    ],
)
def test_malformed_manifests(corpus_dir, content, fragment):
    (corpus_dir / "manifest.json").write_bytes(content)
    with pytest.raises(CorpusFormatError, match=r"manifest\.json") as info:
        Corpus(corpus_dir)
    assert fragment in str(info.value)
    assert vrag_main(["verify", str(corpus_dir)]) == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [("evidence", 7), ("evidence", ["x"]), ("meta", [1, 2]), ("meta", "ab"), ("small_print", "y")],
)
def test_wrong_typed_query_fields_name_file_line_and_field(corpus_dir, field, value):
    queries = _records(corpus_dir / "queries.jsonl")
    queries[2][field] = value
    _write_records(corpus_dir / "queries.jsonl", queries)
    _reseal(corpus_dir)
    with pytest.raises(CorpusFormatError, match=rf"queries\.jsonl:3: field '{field}"):
        Corpus(corpus_dir)


def test_wrong_typed_page_meta(corpus_dir):
    _set_page_field(corpus_dir, "meta", "not an object")
    with pytest.raises(CorpusFormatError, match=r"pages\.jsonl:1: field 'meta'"):
        Corpus(corpus_dir)


# -- caches -------------------------------------------------------------------------------------


def _tamper(folder: Path, case: str) -> None:
    data = np.load(folder / "data.npy")
    indices = np.load(folder / "indices.npy")
    indptr = np.load(folder / "indptr.npy")
    if case == "nan":
        data[0] = np.nan
    elif case == "huge":
        data[0] = 1e30
    elif case == "indptr":
        indptr[1], indptr[2] = indptr[2] + 5, indptr[1]
    elif case == "negative":
        indices[0] = -1
    elif case == "empty":
        data = np.zeros(0)
    np.save(folder / "data.npy", data)
    np.save(folder / "indices.npy", indices)
    np.save(folder / "indptr.npy", indptr)
    if case == "vocab":
        vocab = json.loads((folder / "vocab.json").read_text())
        a, b = list(vocab)[:2]
        vocab[a], vocab[b] = vocab[b], vocab[a]
        (folder / "vocab.json").write_text(json.dumps(vocab))


@pytest.mark.parametrize("case", ["nan", "huge", "indptr", "negative", "empty", "vocab"])
def test_a_tampered_bm25_cache_is_rebuilt(corpus_dir, case, caplog):
    corpus = Corpus(corpus_dir)
    fresh = BM25Retriever.load_or_build(corpus)
    expected = [fresh.search(q, 5) for q in ("annual report", "revenue", "employees")]
    folder = corpus.index_dir("bm25")
    _tamper(folder, case)
    if case != "vocab":  # the arrays themselves are invalid
        with pytest.raises(ValueError, match="invalid"):
            BM25Retriever.load(folder)
    with caplog.at_level(logging.WARNING):
        again = BM25Retriever.load_or_build(corpus)
    assert "rebuilding" in caplog.text
    assert [again.search(q, 5) for q in ("annual report", "revenue", "employees")] == expected


# -- stale staging folders ----------------------------------------------------------------------


def test_stale_staging_folders_of_dead_writers_are_removed(tmp_path):
    out = tmp_path / "corpus"
    dead = tmp_path / ".corpus.tmp-999999999-abc"
    dead.mkdir()
    (dead / "pages").mkdir()
    alive = tmp_path / ".corpus.tmp-1-xyz"  # pid 1 is alive
    alive.mkdir()
    old = make_staging_dir(tmp_path / "other")
    os.utime(old, (0, 0))  # ancient, whatever its pid
    assert remove_stale_staging(tmp_path / "other") == [old]
    with CorpusWriter(out, name="mini", build={}) as writer:
        writer.add_page(Page("a_1", "a", 1, 8, 8, ""), Image.new("RGB", (8, 8)))
        writer.add_query(Query("q1", "What?", ("x",), ("a_1",), "test"))
    assert not dead.exists() and alive.exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest[FILE_CHECKSUMS_KEY] == {"pages/a_1.png": sha256_file(out / "pages/a_1.png")}


def test_index_files_are_checked_before_any_is_parsed(corpus_dir, monkeypatch):
    """The same check guards every backend's files (faiss indexes included): no parse on mismatch."""
    corpus = Corpus(corpus_dir)
    BM25Retriever.load_or_build(corpus)
    folder = corpus.index_dir("bm25")
    (folder / "extra.bin").write_bytes(b"\x00" * 16)  # any file added, removed or changed
    parsed = []
    original = BM25Retriever.load.__func__

    def spy(cls, path, **kwargs):
        parsed.append(path)
        return original(cls, path, **kwargs)

    monkeypatch.setattr(BM25Retriever, "load", classmethod(spy))
    BM25Retriever.load_or_build(corpus)
    assert parsed == []
    BM25Retriever.load_or_build(corpus)  # the rebuilt cache is trusted again
    assert len(parsed) == 1
