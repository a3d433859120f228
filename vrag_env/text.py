"""Language-aware text normalisation and tokenisation, shared by search and reading.

One tokenizer serves BM25 indexing, BM25 querying and the agents' reading code, so a question and a
page always agree on what a term is:

- **Normalisation**: Unicode NFKC (full-width ``ＶＰＣ１２３`` becomes ``vpc123``, ligatures and
  compatibility forms are unfolded) and case folding.
- **Scripts apart**: a run of CJK ideographs or kana is never glued to Latin letters or digits
  (``vpc支持ipv6`` gives ``vpc``, ``支持``, ``ipv6``).
- **CJK** has no spaces, so a CJK run is indexed as its characters (unigrams) and every pair of
  neighbouring characters (bigrams): ``私网连接`` gives ``私 网 连 接 私网 网连 连接``. A question
  then matches a page on shared words of any length without a dictionary, and bigrams rank pages
  that hold the exact phrase above pages that merely share characters.
- **Latin and digits**: split on anything that is not a letter or digit, except that numbers keep
  their decimal and thousands separators (``12.4``, ``1,234.5``); an optional English stopword list
  and S-stemmer apply to these tokens only.

Bump :data:`TOKENIZER_VERSION` whenever the output of :func:`tokenize` changes: indexes store it and
are rebuilt when it differs.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "STOPWORDS",
    "TOKENIZER_VERSION",
    "has_cjk",
    "is_cjk",
    "normalize",
    "s_stem",
    "tokenize",
    "word_units",
]

TOKENIZER_VERSION = 3
"""Version of :func:`tokenize`'s output (2: Latin-only pattern; 3: NFKC, scripts apart, CJK n-grams)."""

STOPWORDS = frozenset(
    """a an and are as at be been by did do does for from had has have how in into is it its of on
    or s than that the their there these this those to was were what when where which who whom
    whose why will with""".split()
)
"""English function words that carry no topic (question words included: every query has one)."""

# Han ideographs (with extensions A and B+ and compatibility forms), hiragana, katakana and the
# ideographic iteration mark. Hangul is written with spaces between words and is left to the
# Latin-style word pattern.
_CJK_RANGES = "\u3005\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CJK_CHAR = re.compile(f"[{_CJK_RANGES}]")
_TOKEN = re.compile(
    rf"(?P<num>\d+(?:[.,]\d+)+)|(?P<cjk>[{_CJK_RANGES}]+)|(?P<word>[^\W_{_CJK_RANGES}]+)"
)


def normalize(text: str) -> str:
    """NFKC-normalised, case-folded text.

    >>> normalize("ＶＰＣ　１２３ Ⅳ")
    'vpc 123 iv'
    """
    return unicodedata.normalize("NFKC", text).casefold()


def is_cjk(char: str) -> bool:
    """Whether ``char`` is a CJK ideograph or kana (a script written without spaces).

    >>> is_cjk("网"), is_cjk("a"), is_cjk("カ")
    (True, False, True)
    """
    return bool(_CJK_CHAR.fullmatch(char))


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds at least one CJK character.

    >>> has_cjk("VPC支持IPv6"), has_cjk("VPC")
    (True, False)
    """
    return _CJK_CHAR.search(text) is not None


def s_stem(token: str) -> str:
    """Harman's S-stemmer: ``-ies -> -y``, ``-es -> -e``, ``-s -> ''`` with the usual exceptions.

    >>> [s_stem(t) for t in ["companies", "revenues", "sales", "glass", "bus", "series"]]
    ['company', 'revenue', 'sale', 'glass', 'bus', 'sery']
    """
    if len(token) <= 3 or token[-1] != "s" or token[0].isdigit():
        return token
    if token.endswith("ies") and not token.endswith(("eies", "aies")):
        return token[:-3] + "y"
    if token.endswith("es") and not token.endswith(("aes", "ees", "oes")):
        return token[:-1]
    if not token.endswith(("us", "ss")):
        return token[:-1]
    return token


def word_units(text: str) -> list[str]:
    """Normalised words in order, CJK runs kept whole and split from Latin/digit runs.

    This is the segmentation before n-grams, stopwords and stemming: what a reader compares
    word by word.

    >>> word_units("阿里云VPC支持IPv6（２０２０年）")
    ['阿里云', 'vpc', '支持', 'ipv6', '2020', '年']
    """
    return [m.group() for m in _TOKEN.finditer(normalize(text))]


def tokenize(text: str, *, stopwords: bool = True, stem: bool = True) -> list[str]:
    """Split ``text`` into index terms (see the module docstring).

    Args:
        text: Any text (question, page text layer).
        stopwords: Drop English :data:`STOPWORDS`.
        stem: Apply :func:`s_stem` to Latin words.

    Returns:
        The terms in text order; a CJK run contributes its unigrams, then its bigrams.

    >>> tokenize("Aurora's Q3 revenue rose 12.4% to USD 1,234.5 million.")
    ['aurora', 'q3', 'revenue', 'rose', '12.4', 'usd', '1,234.5', 'million']
    >>> tokenize("VPC支持IPv6")
    ['vpc', '支', '持', '支持', 'ipv6']
    """
    terms: list[str] = []
    for match in _TOKEN.finditer(normalize(text)):
        token = match.group()
        if match.lastgroup == "cjk":
            terms.extend(token)
            terms.extend(token[i : i + 2] for i in range(len(token) - 1))
            continue
        if stopwords and token in STOPWORDS:
            continue
        terms.append(s_stem(token) if stem else token)
    return terms
