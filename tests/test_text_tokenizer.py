"""Golden cases of the shared tokenizer (vrag_env.text) and its use by BM25."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from vrag_env.corpora.corpus import Corpus, CorpusWriter
from vrag_env.retrieval.bm25 import BM25Retriever
from vrag_env.text import TOKENIZER_VERSION, normalize, tokenize, word_units
from vrag_env.types import Page, Query, Word

GOLDEN = [
    # Latin and CJK split apart; CJK as unigrams then bigrams.
    ("vpc支持ipv6", ["vpc", "支", "持", "支持", "ipv6"]),
    (
        "阿里云专有网络",
        ["阿", "里", "云", "专", "有", "网", "络", "阿里", "里云", "云专", "专有", "有网", "网络"],
    ),
    # Full-width letters, digits and punctuation (NFKC).
    ("ＶＰＣ　２０１９年", ["vpc", "2019", "年"]),
    ("１２．５％", ["12.5"]),
    # Numbers keep their separators; stopwords go; plurals are stemmed.
    ("The revenues were US$1,234.5 in 2021", ["revenue", "us", "1,234.5", "2021"]),
    # Japanese kana count as CJK.
    ("クラウド", ["ク", "ラ", "ウ", "ド", "クラ", "ラウ", "ウド"]),
    # A lone CJK character has no bigram.
    ("年", ["年"]),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), GOLDEN)
def test_tokenizer_golden(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_word_units_and_normalize() -> None:
    assert word_units("私网连接PrivateLink（免５０TB/月）") == [
        "私网连接",
        "privatelink",
        "免",
        "50tb",
        "月",
    ]
    assert normalize("Ｆｕｌｌ－ｗｉｄｔｈ") == "full-width"
    assert tokenize("Companies", stem=False, stopwords=False) == ["companies"]


def _corpus(root: Path, texts: list[str]) -> Corpus:
    with CorpusWriter(root, name="t", build={"by": "test"}) as writer:
        for i, text in enumerate(texts, start=1):
            words = tuple(
                Word(w, (10.0 * j, 10.0, 10.0 * j + 8, 20.0)) for j, w in enumerate(text.split())
            )
            writer.add_page(
                Page(f"d_{i}", "d", i, 200, 100, "", words=words),
                Image.new("RGB", (200, 100), "white"),
            )
        writer.add_query(Query("q1", "VPC?", ("2014",), ("d_1",), "test"))
    return Corpus(root)


def test_bm25_finds_chinese_and_mixed_pages(tmp_path: Path) -> None:
    corpus = _corpus(
        tmp_path / "c",
        [
            "经典网络 存在运维复杂 迁移域小等问题 2009",
            "VPC诞生 用户云上的数据中心 2014",
            "VPC支持IPv6 随着IPv4地址耗尽 2019",
            "Paris France London UK",
        ],
    )
    retriever = BM25Retriever.load_or_build(corpus)
    assert retriever.config()["tokenizer_version"] == TOKENIZER_VERSION
    assert retriever.search("阿里云专有网络VPC是哪一年诞生的？", 1)[0].page_id == "d_2"
    assert retriever.search("VPC从哪一年开始支持IPv6？", 1)[0].page_id == "d_3"
    assert retriever.search("ｌｏｎｄｏｎ", 1)[0].page_id == "d_4"
    assert retriever.search("东京", 3) == []  # no character of the query occurs anywhere


def test_old_tokenizer_index_is_rebuilt(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", ["私网连接 发布", "经典网络"])
    first = BM25Retriever.load_or_build(corpus)
    assert first.search("私网", 1)[0].page_id == "d_1"
    folder = corpus.index_dir("bm25")
    meta = (folder / "meta.json").read_text(encoding="utf-8")
    old = meta.replace(f'"tokenizer_version": {TOKENIZER_VERSION}', '"tokenizer_version": 2')
    assert old != meta
    (folder / "meta.json").write_text(old, encoding="utf-8")
    (folder / "vocab.json").write_text('{"私网连接": 0}', encoding="utf-8")
    rebuilt = BM25Retriever.load_or_build(corpus)
    assert "私网" in rebuilt._vocab  # the stale index was replaced, not reused
    assert f'"tokenizer_version": {TOKENIZER_VERSION}' in (folder / "meta.json").read_text()
