"""The agents' reading helpers match Chinese questions to Chinese page text (CJK bigrams, NFKC)."""

from __future__ import annotations

from vrag_env.reading import analyze_question, match_score, rank_candidates, tokenize
from vrag_env.reading.text import Segment, compact


def test_latin_tokens_are_unchanged() -> None:
    assert tokenize("What was the full-year 2022 revenue in the third quarter?") == [
        "fy", "fy2022", "2022", "revenu", "q3", "fy", "2022",
    ]  # fmt: skip


def test_chinese_question_matches_its_line_and_not_another() -> None:
    qa = analyze_question("阿里云专有网络VPC是哪一年诞生的？")
    assert "vpc" in qa.terms and "网络" in qa.terms and "诞生" in qa.terms
    assert not any(set(t) & set("的是哪") for t in qa.terms)  # function characters dropped
    right = match_score(qa, "2014年 阿里云专有网络VPC诞生")
    wrong = match_score(qa, "云企业网 全球互联")
    assert right >= 0.7 and wrong == 0.0


def test_full_width_digits_and_glued_scripts() -> None:
    assert tokenize("营收 ２０２０ 年") == ["2020", "营收", "年"]
    assert compact("ＶＰＣ支持 IPv6") == "vpc支持ipv6"


def test_a_year_is_read_off_a_chinese_line() -> None:
    qa = analyze_question("阿里云专有网络VPC是哪一年诞生的？")
    segments = [
        Segment("阿里云专有网络VPC诞生于2014年", (0, 0, 300, 20)),
        Segment("2020年 云企业网发布", (0, 40, 300, 60)),
    ]
    ranked = rank_candidates(segments, qa, limit=3)
    assert ranked and ranked[0].text.startswith("2014")
