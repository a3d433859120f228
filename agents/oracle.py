"""The oracle: reads the gold pages and answer locations, searches, zooms and answers.

It is the solvability upper bound of a benchmark (every question it fails is broken) and the source
of supervised warm-start trajectories. It is *privileged*: the harness gives it a
:class:`~vrag_env.agent_api.PrivilegedChannel` (the corpus with its gold records, the retriever, and
the mapping between ``info``'s opaque page ids and the corpus's), and results files mark it so. It
acts only through the public action interface: for each reference
page it finds a query that the env's retriever ranks first among the pages not shown yet (the
question itself when that works, else rare words of the page), crops onto the gold evidence box
(mapped into the current view's pixels with the ``view`` transform from ``info``), and finally
answers with the canonical gold answer.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, ClassVar

from vrag_env.actions import ActionSet, Answer, Crop, Search
from vrag_env.agent_api import EnvDescription, PrivilegedChannel
from vrag_env.corpora.corpus import Corpus
from vrag_env.rendering import ViewTransform
from vrag_env.retrieval.base import Retriever
from vrag_env.types import BBox, PageId, Query

from .base import Agent


class OracleAgent(Agent):
    """Privileged agent that knows the gold pages, evidence boxes and answers.

    Args:
        channel: The harness's ground-truth channel (corpus, retriever, page-id mapping).
        action_set: The env's action set (dialect and view size).
        zoom: Crop onto the evidence before answering.
        context: Page pixels of context kept around the evidence box when cropping.
    """

    name = "oracle"
    description = (
        "PRIVILEGED upper bound: reads the gold pages, evidence boxes and answers; searches, crops "
        "onto the evidence and answers the gold string"
    )
    privileged: ClassVar[bool] = True

    def __init__(
        self,
        channel: PrivilegedChannel,
        action_set: ActionSet,
        zoom: bool = True,
        context: float = 120.0,
    ) -> None:
        self.channel = channel
        self.corpus: Corpus = channel.corpus
        self.retriever: Retriever = channel.retriever
        self.action_set = action_set
        self.zoom = zoom
        self.context = context
        self._df: Counter[str] | None = None
        self._zoomed: set[PageId] = set()

    @classmethod
    def from_privileged(
        cls, description: EnvDescription, channel: PrivilegedChannel, **options: Any
    ) -> OracleAgent:
        """Read gold data through ``channel``; act with the description's action set."""
        return cls(channel, description.action_set, **options)

    def reset(self) -> None:
        """Forget which pages were zoomed."""
        self._zoomed = set()

    def config(self) -> dict[str, Any]:
        """Zoom setting and dialect."""
        return {"zoom": self.zoom, "context": self.context, "dialect": self.action_set.dialect}

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Next step of the plan: search the next reference page, zoom onto its evidence, answer."""
        # Privileged: the oracle reads the gold question record (pages, evidence, answers).
        query = self.channel.query(info["question_id"])
        # info shows opaque page ids; the gold records use the corpus's.
        shown: list[PageId] = [self.channel.real_page_id(p) for p in info["retrieved_pages"]]
        current = info["current_page"] and self.channel.real_page_id(info["current_page"])
        for target in query.reference_pages:
            if target == current and self.zoom and target not in self._zoomed:
                box = self._evidence_box(query, target)
                self._zoomed.add(target)
                if box is not None:
                    box = self._with_line_label(target, box)
                if box is not None and info["view"]:
                    return self.action_set.format(self._crop_action(box, info["view"]))
            if target not in shown:
                return self.action_set.format(Search(self.query_for(target, shown, query)))
        return self.action_set.format(Answer(query.answers[0]))

    # ------------------------------------------------------------------ search

    def query_for(self, target: PageId, shown: list[PageId], query: Query | None = None) -> str:
        """A query that the retriever ranks ``target`` first among pages not in ``shown``."""
        candidates = []
        if query is not None:
            candidates.append(query.question)
        # Never search with the answer itself: it would read as the agent knowing it already.
        secret: set[str] = set()
        if query is not None:
            secret = {t.lower() for a in query.answers for t in a.split()}
            secret |= {t.lower() for e in query.evidence for t in e.text.split()}
        rare = [w for w in self._rare_words(target) if w not in secret]
        if query is not None:
            candidates.append(f"{query.question} {' '.join(rare[:6])}")
        candidates += [" ".join(rare[:n]) for n in (8, 16, 32)]
        text = " ".join(
            w.text for w in self.corpus.pages[target].words if w.text.lower() not in secret
        )
        if text:
            candidates.append(
                text[: self.action_set.max_query_chars].rsplit(" ", 1)[0] or text[:100]
            )
        seen = set(shown)
        k = min(len(self.corpus.pages), len(shown) + 1)
        for candidate in candidates:
            candidate = candidate[: self.action_set.max_query_chars].strip()
            if not candidate:
                continue
            fresh = [
                r.page_id for r in self.retriever.search(candidate, k) if r.page_id not in seen
            ]
            if fresh and fresh[0] == target:
                return candidate
        return candidates[-1][: self.action_set.max_query_chars].strip() or target

    def _rare_words(self, page_id: PageId) -> list[str]:
        if self._df is None:
            df: Counter[str] = Counter()
            for page in self.corpus.pages.values():
                df.update({w.text.lower() for w in page.words})
            self._df = df
        words = {
            w.text.lower()
            for w in self.corpus.pages[page_id].words
            if any(c.isalnum() for c in w.text)
        }
        n = len(self.corpus.pages)
        return sorted(words, key=lambda w: (-math.log((n + 1) / (self._df[w] + 1)), w))

    # ------------------------------------------------------------------ zoom

    def _evidence_box(self, query: Query, page_id: PageId) -> BBox | None:
        boxes = [e.box for e in query.evidence if e.page_id == page_id]
        if not boxes:
            return None
        return (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )

    def _with_line_label(self, page_id: PageId, box: BBox) -> BBox:
        """Widen ``box`` leftwards to the start of its printed line (a table row's label).

        A zoomed table cell is only useful with its row label in view. The widening stops where
        the evidence would fall below 1.5x the legibility threshold in a view of this width.
        """
        from vrag_env.rendering import LEGIBLE_PX

        x1, y1, x2, y2 = box
        line = [
            w.box for w in self.corpus.pages[page_id].words if y1 <= (w.box[1] + w.box[3]) / 2 <= y2
        ]
        if not line:
            return box
        max_width = self.action_set.view_size[1] * (y2 - y1) / (1.5 * LEGIBLE_PX) - 2 * self.context
        return (
            (max(min(b[0] for b in line), x2 - max_width, 0.0), y1, x2, y2)
            if max_width > x2 - x1
            else box
        )

    def _crop_action(self, box: BBox, view: dict[str, Any]) -> Crop:
        transform = ViewTransform.from_info(view)
        rx1, ry1, rx2, ry2 = transform.region
        c = self.context
        # Keep some context around the evidence, inside the region currently shown.
        x1, y1 = max(rx1, box[0] - c), max(ry1, box[1] - c / 2)
        x2, y2 = min(rx2, box[2] + c), min(ry2, box[3] + c / 2)
        return Crop(transform.crop_box((x1, y1, x2, y2)))
