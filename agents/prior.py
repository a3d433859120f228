"""The ``prior`` floor: answers from train-split statistics alone, without a single env step.

It reads the train questions and answers of the env's corpus (nothing of the val or test split) and
answers each question at step 1 with, in order of preference:

1. the most frequent train answer among train questions with the same *signature*: the question's
   words that occur in at least ``min_df`` train questions (template words, years, quarters,
   regions, segments: per template and entity), numbers kept;
2. else the most frequent answer among the ``k`` nearest train questions (word-set Jaccard).

A benchmark in which this scores well rewards memorising the train split instead of reading.

The train split's questions and answers are public *training data*, not ground truth of the
questions asked, so the prior is not privileged: it declares ``uses_training_data = True`` and
:func:`agents.registry.make_agent` passes it ``training_data``, the ``(question, answer)`` pairs of
the corpus's train split (:func:`vrag_env.agent_api.training_data`), and nothing else of the corpus.
A caller may pass its own ``training_data`` instead. Evaluated on the train split itself it only
measures memorisation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

from vrag_env.actions import ActionSet, Answer
from vrag_env.agent_api import EnvDescription, describe_env

from .base import Agent

_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")


def tokens(text: str) -> list[str]:
    """Lower-case word and number tokens of ``text``."""
    return _TOKEN.findall(text.lower())


class PriorAgent(Agent):
    """Answers at step 1 from train-split question/answer statistics.

    Args:
        action_set: The env's action set (to format the answer).
        train: ``(question, answer)`` pairs of the train split.
        train_split: The split ``train`` came from (recorded; a corpus without a train split,
            such as the real-document track, lends its public tuning split, ``"val"``).
        min_df: A word belongs to the signature when at least this many train questions use it.
        k: Neighbours consulted when no train question shares the signature.
    """

    name = "prior"
    description = (
        "floor: the most frequent train-split answer for the question's template and entity, "
        "without any env step (real-document track: from its docs-dev tuning split)"
    )
    uses_training_data: ClassVar[bool] = True
    """:func:`agents.registry.make_agent` passes the train split as ``training_data``."""

    def __init__(
        self,
        action_set: ActionSet,
        train: Sequence[tuple[str, str]],
        min_df: int = 5,
        k: int = 15,
        train_split: str = "train",
    ) -> None:
        self.action_set = action_set
        self.train_split = train_split
        self.min_df = min_df
        self.k = k
        self.train = [(frozenset(tokens(q)), a) for q, a in train]
        df: Counter[str] = Counter()
        for words, _ in self.train:
            df.update(words)
        self.common = {w for w, n in df.items() if n >= min_df}
        by_signature: dict[frozenset[str], Counter[str]] = {}
        for words, answer in self.train:
            by_signature.setdefault(words & self.common, Counter())[answer] += 1
        self.by_signature = by_signature

    @classmethod
    def from_env(
        cls,
        description: EnvDescription,
        training_data: Sequence[tuple[str, str]] | None = None,
        **options: Any,
    ) -> PriorAgent:
        """Build the prior from ``training_data``: ``(question, answer)`` pairs of the train split.

        Raises:
            ValueError: When ``training_data`` is missing or empty.
        """
        if not training_data:
            raise ValueError(
                f"the prior agent needs training_data=[(question, answer), ...] (got "
                f"{training_data!r:.60}); agents.registry.make_agent passes the train split of "
                "the env's corpus, or pass your own"
            )
        return cls(describe_env(description).action_set, training_data, **options)

    def guess(self, question: str) -> str:
        """The prior's answer to ``question``."""
        words = frozenset(tokens(question))
        counts = self.by_signature.get(words & self.common)
        if not counts:
            nearest = sorted(
                self.train, key=lambda t: -len(words & t[0]) / max(1, len(words | t[0]))
            )[: self.k]
            counts = Counter(a for _, a in nearest)
        if not counts:
            return "unknown"
        return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Answer at once."""
        return self.action_set.format(Answer(self.guess(str(observation["question"]))))

    def config(self) -> dict[str, Any]:
        """Settings; the agent reads the train split only and never looks at a page."""
        return {
            "privileged": False,
            "reads": f"{self.train_split} split",
            "train_split": self.train_split,
            "min_df": self.min_df,
            "k": self.k,
            "train_questions": len(self.train),
        }
