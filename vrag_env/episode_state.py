"""Per-episode state of the ``VRAG`` env, the ``info`` dict built from it, and opaque page ids."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from vrag_env.rendering import ViewTransform
from vrag_env.types import BBox, PageId, Query

__all__ = ["EpisodeState", "episode_ansi", "episode_info", "opaque_page_id"]


@dataclass
class EpisodeState:
    """Mutable per-episode state (everything ``reset`` clears)."""

    query: Query
    shown: list[PageId] = field(default_factory=list)
    page: PageId | None = None
    view: ViewTransform | None = None
    last_crop: BBox | None = None
    steps: int = 0
    searches: int = 0
    crops: int = 0
    invalid: int = 0
    prediction: str | None = None
    done: bool = False
    feedback: str = ""
    action_kind: str | None = None
    action_error: str | None = None
    score: dict[str, float] | None = None


def episode_info(ep: EpisodeState, shown_ids: dict[PageId, str]) -> dict[str, Any]:
    """The env's ``info`` for the episode's current step.

    Page ids are the opaque ones of ``shown_ids`` (see :func:`opaque_page_id`); the outcome
    (score, prediction, gold answers and reference pages) is filled in on termination only.
    """
    info: dict[str, Any] = {
        "question_id": ep.query.uid,
        "split": ep.query.split,
        "step": ep.steps,
        "action_kind": ep.action_kind,
        "action_error": ep.action_error,
        "current_page": None if ep.page is None else shown_ids[ep.page],
        "retrieved_pages": [shown_ids[p] for p in ep.shown],
        "view": {} if ep.view is None else ep.view.to_json(),
        "num_searches": ep.searches,
        "num_crops": ep.crops,
        "invalid_actions": ep.invalid,
        # Same keys and types on every step (vector envs merge infos key by key); the outcome
        # is filled in on termination only.
        "score": {},
        "prediction": None,
        "answers": [],
        "reference_pages": [],
    }
    if ep.done and ep.score is not None:
        info["score"] = {k: float(v) for k, v in ep.score.items()}
        info["prediction"] = ep.prediction
        info["answers"] = list(ep.query.answers)
        info["reference_pages"] = [shown_ids.get(p, p) for p in ep.query.reference_pages]
    return info


def episode_ansi(ep: EpisodeState) -> str:
    """The ``render_mode="ansi"`` text of the episode's current step."""
    region = "-" if ep.view is None else ", ".join(f"{v:.0f}" for v in ep.view.region)
    return (
        f"question: {ep.query.question}\n"
        f"step {ep.steps} | page {ep.page or '-'} | region [{region}] | "
        f"searches {ep.searches} crops {ep.crops} invalid {ep.invalid}\n"
        f"feedback: {ep.feedback}\n"
    )


def opaque_page_id(corpus_checksum: str, page_id: PageId) -> str:
    """The id under which ``info`` shows page ``page_id`` of the corpus with this checksum.

    >>> opaque_page_id("0" * 64, "meridian-annual-report-2020_3")[:1]
    'p'
    """
    digest = hashlib.sha1(f"{corpus_checksum}:{page_id}".encode(), usedforsecurity=False)
    return "p" + digest.hexdigest()[:10]
