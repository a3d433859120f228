"""The ``scripted`` control: a fixed policy over the PPO wrapper's macro-actions.

It sees and acts exactly like the ``ppo`` agent (the same
:class:`~vrag_env.wrappers.MacroActionWrapper`, with answer candidates from RapidOCR of the view) but
follows a fixed script instead of a learned policy:

1. ``search`` with the question;
2. ``crop_best``: crop the band below the line that best matches the question;
3. ``answer_0``: answer the top-ranked candidate of the zoomed view.

If the episode is still running after an answer (an empty, invalid answer when nothing was read), it
starts over: search again (the env shows the next result), crop, answer. PPO must beat this control
to show that it learned something beyond the wrapper's built-in reading.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from vrag_env.agent_api import EnvDescription, describe_env

from .base import Agent

SCRIPT = ("search", "crop_best", "answer_0")
"""The macro-actions, by name, played in a loop."""


class ScriptedAgent(Agent):
    """Search, crop below the best-matching line, answer the top candidate.

    Args:
        env: The env the agent will act in (the wrapper translates macro-actions in it).
        candidates: Where the wrapper reads answer candidates: ``"ocr"`` (RapidOCR of the view, the
            default) or ``"text-layer"`` (privileged: the corpus text layer).

    Raises:
        ValueError: For an unknown ``candidates`` source.
    """

    name = "scripted"
    privileged = False
    description = "fixed script over the PPO macro-actions: search, crop below best line, answer top OCR candidate"

    def __init__(self, env: gym.Env[Any, Any], candidates: str = "ocr") -> None:
        from vrag_env.wrappers import MacroActionWrapper

        self.wrapper = MacroActionWrapper(env, candidates=candidates)
        if self.wrapper.privileged:
            self.name = "scripted-text-layer"
            self.privileged = True
            self.description = "fixed macro-action script; PRIVILEGED: text-layer candidates"
        index = {macro.name: i for i, macro in enumerate(self.wrapper.actions)}
        self.script = tuple(index[name] for name in SCRIPT)
        self._step = 0

    @classmethod
    def from_env(cls, description: EnvDescription, **options: Any) -> ScriptedAgent:
        """Build the agent from the env's public description (OCR candidates only).

        Raises:
            ValueError: For ``candidates="text-layer"``, which needs the corpus (privileged).
        """
        from vrag_env.wrappers import DescribedEnv

        if options.get("candidates", "ocr") != "ocr":
            raise ValueError(
                f"the scripted agent built from a description reads candidates with OCR only, got "
                f"candidates={options['candidates']!r}; the text layer is privileged ground truth"
            )
        return cls(DescribedEnv(describe_env(description)), **options)

    def reset(self) -> None:
        """Start the script again."""
        self._step = 0

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """The next macro-action of the script, as the env's action string."""
        if self._step == 0:
            self.wrapper.start_episode(str(observation["question"]))
        self.wrapper.observe(observation, info)
        action = self.script[self._step % len(self.script)]
        self._step += 1
        return self.wrapper.action_text(action)

    def config(self) -> dict[str, Any]:
        """The script and the candidate source."""
        return {
            "script": list(SCRIPT),
            "candidates": self.wrapper.candidates,
            "privileged": self.privileged,
        }
