"""Ranking metrics for evaluating retrievers against the reference pages of questions.

Binary relevance throughout: a page is relevant if it is one of the question's reference pages.
NDCG is :func:`vrag_env.rewards.ndcg`, the same function the environment's retrieval reward uses,
so retriever benchmarks and agent rewards agree. Conventions follow the usual IR definitions (as in
BEIR, Thakur et al., NeurIPS 2021, https://arxiv.org/abs/2104.08663): recall@k is the share of
relevant pages in the top ``k``; MRR is the mean reciprocal rank of the first relevant page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vrag_env.rewards import ndcg

__all__ = [
    "ndcg_at_k",
    "rank_of_first_relevant",
    "recall_at_k",
    "reciprocal_rank",
    "summarize",
]


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Share of the relevant pages found in the top ``k`` of a ranking.

    Args:
        ranked: Page ids, best first.
        relevant: Gold page ids (duplicates are ignored).
        k: Cutoff, ``>= 1``.

    Returns:
        ``|top-k ∩ relevant| / |relevant|``; 0 when nothing is relevant.

    Raises:
        ValueError: ``k < 1``.

    Example:
        >>> recall_at_k(["x", "a", "y", "b"], {"a", "b"}, k=2)
        0.5
    """
    _check_k(k)
    gold = set(relevant)
    if not gold:
        return 0.0
    return len(gold.intersection(ranked[:k])) / len(gold)


def rank_of_first_relevant(ranked: Sequence[str], relevant: Iterable[str]) -> int | None:
    """1-based rank of the first relevant page, or ``None`` if the ranking has none.

    Example:
        >>> rank_of_first_relevant(["x", "y", "a"], ["a"])
        3
        >>> rank_of_first_relevant(["x"], ["a"]) is None
        True
    """
    gold = set(relevant)
    for rank, page in enumerate(ranked, start=1):
        if page in gold:
            return rank
    return None


def reciprocal_rank(ranked: Sequence[str], relevant: Iterable[str]) -> float:
    """``1 / rank`` of the first relevant page; 0 if none is ranked.

    Example:
        >>> reciprocal_rank(["x", "a"], ["a"])
        0.5
    """
    rank = rank_of_first_relevant(ranked, relevant)
    return 0.0 if rank is None else 1.0 / rank


def ndcg_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """NDCG@k with binary relevance (see :func:`vrag_env.rewards.ndcg` for the exact definition).

    Example:
        >>> round(ndcg_at_k(["x", "a", "b"], ["a"], k=5), 4)  # 1 / log2(3)
        0.6309
    """
    _check_k(k)
    return ndcg(ranked, relevant, k=k)


def summarize(
    rankings: Sequence[tuple[Sequence[str], Sequence[str]]],
    ks: Sequence[int] = (1, 5, 10),
) -> dict[str, float | int]:
    """Mean metrics over queries.

    Queries without reference pages cannot be scored and are left out of the means (as IR
    evaluations leave out queries without relevance judgements); ``queries`` counts the scored ones
    and ``skipped`` the others.

    Args:
        rankings: One ``(ranked page ids, relevant page ids)`` pair per query.
        ks: Cutoffs for ``recall@k`` and ``ndcg@k``.

    Returns:
        ``recall@k`` and ``ndcg@k`` for each ``k`` in ``ks``, ``mrr``, ``queries`` and ``skipped``;
        the means are 0.0 when no query could be scored.

    Raises:
        ValueError: A cutoff is not an int ``>= 1``.

    Example:
        >>> summary = summarize([(["a", "x"], ["a"]), (["x", "b"], ["b"])], ks=(1, 5))
        >>> summary["recall@1"], summary["recall@5"], summary["mrr"], summary["queries"]
        (0.5, 1.0, 0.75, 2)
    """
    for k in ks:
        _check_k(k)
    scored = [(ranked, relevant) for ranked, relevant in rankings if relevant]
    n = len(scored)

    def mean(values: Iterable[float]) -> float:
        return sum(values) / n if n else 0.0

    summary: dict[str, float | int] = {}
    for k in ks:
        summary[f"recall@{k}"] = mean(recall_at_k(r, rel, k) for r, rel in scored)
    for k in ks:
        summary[f"ndcg@{k}"] = mean(ndcg_at_k(r, rel, k) for r, rel in scored)
    summary["mrr"] = mean(reciprocal_rank(r, rel) for r, rel in scored)
    summary["queries"] = n
    summary["skipped"] = len(rankings) - n
    return summary
