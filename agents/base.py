"""The agent protocol every baseline (and every user agent) implements.

An agent is built from the env's public description (:class:`vrag_env.agent_api.EnvDescription`),
never from the env: ``Agent.from_env(description, **options)``. Agents that read ground truth set
``privileged = True`` and implement :meth:`Agent.from_privileged`, which also receives a
:class:`vrag_env.agent_api.PrivilegedChannel`; :func:`agents.registry.make_agent` builds both from
the env and gives the channel to privileged classes only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import gymnasium as gym

from vrag_env.agent_api import EnvDescription, PrivilegedChannel, describe_env


class Agent(ABC):
    """An agent for ``VRAG-v0``: one action string per step.

    Subclasses set ``name`` and implement :meth:`act`. They may override :meth:`from_env` when they
    need more than keyword options (most read ``description.action_set``) and :meth:`config` so
    results files record how the agent was set up. A privileged agent sets ``privileged = True``
    and overrides :meth:`from_privileged` instead.
    """

    name: str = "agent"
    privileged: ClassVar[bool] = False
    """Whether the agent reads ground truth (it then gets a :class:`PrivilegedChannel`)."""

    @classmethod
    def from_env(cls, description: EnvDescription, **options: Any) -> Agent:
        """Build the agent from the env's public description (default: ``cls(**options)``).

        Args:
            description: What the agent may know of the env. A caller that holds the env itself
                may pass it instead; it is reduced to its description (:func:`describe_env`), and a
                privileged class then also gets a channel built from it.
            **options: The agent's keyword options.

        Raises:
            TypeError: For a privileged class given only a description (it needs a channel).
        """
        if cls.privileged:
            if isinstance(description, EnvDescription):
                raise TypeError(
                    f"{cls.__name__} is a privileged agent (it reads ground truth): build it with "
                    "agents.registry.make_agent(spec, env), which gives it a PrivilegedChannel, "
                    "or with from_privileged(description, channel)"
                )
            env: gym.Env[Any, Any] = description
            return cls.from_privileged(describe_env(env), PrivilegedChannel(env), **options)
        describe_env(description)  # a clear TypeError for anything but a VRAG env or description
        return cls(**options)

    @classmethod
    def from_privileged(
        cls, description: EnvDescription, channel: PrivilegedChannel, **options: Any
    ) -> Agent:
        """Build a privileged agent from the description and the harness's ground-truth channel.

        Raises:
            TypeError: For a class that does not declare ``privileged = True``.
        """
        raise TypeError(
            f"{cls.__name__} is not a privileged agent; build it with from_env(description)"
        )

    def reset(self) -> None:  # noqa: B027 - optional hook, most agents keep no episode state
        """Forget per-episode state; called before each episode."""

    @abstractmethod
    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Return the next action string for the current observation and info."""

    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings recorded in results files."""
        return {}
