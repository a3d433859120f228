"""The ``no-search`` floor: answers at step 1 from the question text alone.

It never searches and reads no page: it answers with the last number the question mentions (a year,
a quarter's number, a figure), or else the last capitalised name in it. Nothing in the benchmark's
questions should give their answer away, so this must score about zero.
"""

from __future__ import annotations

import re
from typing import Any

from vrag_env.actions import ActionSet, Answer
from vrag_env.agent_api import EnvDescription, describe_env

from .base import Agent

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?%?")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")


def guess_from_question(question: str) -> str:
    """The answer the question text alone suggests (see the module docstring)."""
    numbers = _NUMBER.findall(question)
    if numbers:
        return numbers[-1].rstrip(",")
    names = _NAME.findall(question)
    return names[-1] if names else "unknown"


class NoSearchAgent(Agent):
    """Answers at step 1 without searching.

    Args:
        action_set: The env's action set (to format the answer).
    """

    name = "no-search"
    description = "floor: answers from the question text alone, without any env step"

    def __init__(self, action_set: ActionSet) -> None:
        self.action_set = action_set

    @classmethod
    def from_env(cls, description: EnvDescription, **options: Any) -> NoSearchAgent:
        """Use the action set of the env's public description."""
        return cls(describe_env(description).action_set, **options)

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Answer at once from the question."""
        return self.action_set.format(Answer(guess_from_question(str(observation["question"]))))

    def config(self) -> dict[str, Any]:
        """No settings: it reads the question only."""
        return {"privileged": False, "reads": "question only"}
