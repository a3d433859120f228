"""Golden-value tests of the retrieval metrics (vrag_env.retrieval.metrics)."""

from __future__ import annotations

import math

import pytest

from vrag_env.retrieval.metrics import (
    ndcg_at_k,
    rank_of_first_relevant,
    recall_at_k,
    reciprocal_rank,
    summarize,
)
from vrag_env.rewards import ndcg

LOG2_3 = math.log2(3)


def test_recall_at_k():
    ranked = ["x", "a", "y", "b", "z"]
    assert recall_at_k(ranked, {"a", "b"}, 1) == 0.0
    assert recall_at_k(ranked, {"a", "b"}, 2) == 0.5  # "a" of {a, b}
    assert recall_at_k(ranked, {"a", "b"}, 4) == 1.0
    assert recall_at_k(ranked, {"a", "b"}, 100) == 1.0  # k past the end
    assert recall_at_k(["a", "a"], ["a", "b"], 2) == 0.5  # duplicates count once
    assert recall_at_k(ranked, [], 5) == 0.0
    assert recall_at_k([], ["a"], 5) == 0.0
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="k must be an int >= 1"):
            recall_at_k(ranked, ["a"], bad)


def test_rank_and_reciprocal_rank():
    assert rank_of_first_relevant(["x", "y", "a", "b"], {"a", "b"}) == 3
    assert reciprocal_rank(["x", "y", "a", "b"], {"a", "b"}) == pytest.approx(1 / 3)
    assert rank_of_first_relevant(["a"], ["a"]) == 1
    assert reciprocal_rank(["a"], ["a"]) == 1.0
    assert rank_of_first_relevant(["x"], ["a"]) is None
    assert reciprocal_rank(["x"], ["a"]) == 0.0
    assert reciprocal_rank([], ["a"]) == 0.0
    assert reciprocal_rank(["a"], []) == 0.0


def test_ndcg_at_k_is_the_reward_ndcg():
    ranked = ["x", "a", "y", "b"]
    # k = 2: DCG = 1/log2(3), IDCG over min(2, 2) ranks = 1 + 1/log2(3).
    assert ndcg_at_k(ranked, ["a", "b"], 2) == pytest.approx((1 / LOG2_3) / (1 + 1 / LOG2_3))
    for k in (1, 2, 3, 4, 10):
        assert ndcg_at_k(ranked, ["a", "b"], k) == ndcg(ranked, ["a", "b"], k=k)
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        ndcg_at_k(ranked, ["a"], 0)


def test_summarize_golden_values():
    rankings = [
        (["a", "x", "y"], ["a"]),  # hit at rank 1: RR 1, recall@1 1, nDCG 1
        (["x", "b", "y"], ["b"]),  # hit at rank 2: RR 1/2, recall@1 0, nDCG@5 1/log2(3)
        (["x", "y", "z"], ["c"]),  # miss: all 0
        (["x", "y"], []),  # no reference pages: skipped
    ]
    s = summarize(rankings)
    assert s["queries"] == 3 and s["skipped"] == 1
    assert s["recall@1"] == pytest.approx(1 / 3)
    assert s["recall@5"] == pytest.approx(2 / 3)
    assert s["recall@10"] == pytest.approx(2 / 3)
    assert s["ndcg@5"] == pytest.approx((1 + 1 / LOG2_3) / 3)
    assert s["mrr"] == pytest.approx((1 + 1 / 2) / 3)
    assert {"recall@1", "recall@5", "recall@10", "ndcg@5", "mrr", "queries"} <= set(s)


def test_summarize_custom_ks_and_empty():
    s = summarize([(["x", "a"], ["a"])], ks=(2,))
    assert set(s) == {"recall@2", "ndcg@2", "mrr", "queries", "skipped"}
    assert s["recall@2"] == 1.0 and s["ndcg@2"] == pytest.approx(1 / LOG2_3)
    empty = summarize([])
    assert empty["queries"] == 0 and empty["mrr"] == 0.0 and empty["recall@1"] == 0.0
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        summarize([(["a"], ["a"])], ks=(0,))
