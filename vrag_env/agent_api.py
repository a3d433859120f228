"""What an agent may see of an env: a public, read-only :class:`EnvDescription`.

Every agent is built from an :class:`EnvDescription` (``Agent.from_env(description, **options)``),
never from the env itself: the env holds the corpus, whose query records carry every gold answer and
evidence box, so handing an agent ``env`` would put the answers one attribute away
(``env.unwrapped.corpus``).

The description holds copies of what the env shows every agent anyway:

| field | content |
|---|---|
| ``env_id`` | the registered id (``"VRAG-v0"``), or ``None`` for an env built without ``gym.make`` |
| ``action_set`` | a fresh :class:`~vrag_env.actions.ActionSet` of the env's dialect and view size (parses, formats, samples; :meth:`EnvDescription.describe` is its prompt text) |
| ``observation_space``, ``action_space`` | copies of the env's spaces |
| ``dialect``, ``view_size``, ``max_steps`` | the action dialect, the observation image's ``(height, width)``, the step limit |
| ``config`` | the public config fields (:data:`PUBLIC_CONFIG_FIELDS`) as a read-only mapping |

It holds no corpus, no question, no answer, no retriever and no reference to the env: it is a frozen
dataclass with ``__slots__`` (no ``__dict__``, no ``__getattr__`` forwarding), and nothing it holds
points back at the env. The corpus location (``corpus``), the generator settings (``synthetic``) and
the retriever's options (``retriever_options``: an index folder or a search service's address) are
left out on purpose: each leads to the query records on disk.

Agents that need ground truth (the oracle) are *privileged*: they declare
``privileged: ClassVar[bool] = True`` and are built with
``from_privileged(description, channel, **options)``, where ``channel`` is a
:class:`PrivilegedChannel` that the harness (:func:`agents.registry.make_agent`) builds from the
real env and hands to privileged classes only. Results files record ``privileged: true`` for them and
the leaderboard never ranks them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from vrag_env.actions import ActionSet

if TYPE_CHECKING:
    from vrag_env.corpora.corpus import Corpus
    from vrag_env.retrieval.base import Retriever
    from vrag_env.types import PageId, Query

__all__ = [
    "PUBLIC_CONFIG_FIELDS",
    "EnvDescription",
    "PrivilegedChannel",
    "describe_env",
    "training_data",
]

PUBLIC_CONFIG_FIELDS: tuple[str, ...] = (
    "split",
    "retriever",
    "dialect",
    "strict_actions",
    "reward",
    "view_size",
    "geometry",
    "max_view_pixels",
    "min_view_pixels",
    "max_zoom",
    "crop_padding",
    "min_crop_size",
    "crop_pad_view_px",
    "crop_pad_page_px",
    "max_steps",
    "max_searches",
    "max_question_chars",
)
"""Config fields an agent may read: how actions are parsed and applied, never where data lives."""


@dataclass(frozen=True, slots=True)
class EnvDescription:
    """The public, read-only description of an env that every agent is built from.

    Attributes:
        env_id: The registered env id, or ``None`` when the env was built without ``gym.make``.
        action_set: The action grammar: ``parse``, ``format``, ``sample``, ``describe``.
        observation_space: A copy of the env's observation space.
        action_space: A copy of the env's action space.
        dialect: The action dialect (``"vrag"`` or ``"tool"``).
        view_size: ``(height, width)`` of the observation image.
        max_steps: The episode's step limit (``None`` when unlimited).
        config: The public config fields (:data:`PUBLIC_CONFIG_FIELDS`), read-only.
    """

    env_id: str | None
    action_set: ActionSet
    observation_space: gym.Space[Any]
    action_space: gym.Space[Any]
    dialect: str
    view_size: tuple[int, int]
    max_steps: int | None
    config: Mapping[str, Any]

    def describe(self, with_examples: bool = True) -> str:
        """The action grammar as prompt text (:meth:`vrag_env.actions.ActionSet.describe`)."""
        return self.action_set.describe(with_examples=with_examples)

    def __reduce__(self) -> Any:
        # Pickling rebuilds from the fields (a frozen, slotted dataclass has no __dict__ to copy).
        return (
            EnvDescription,
            (
                self.env_id,
                self.action_set,
                self.observation_space,
                self.action_space,
                self.dialect,
                self.view_size,
                self.max_steps,
                dict(self.config),
            ),
        )


def describe_env(env: gym.Env[Any, Any] | EnvDescription) -> EnvDescription:
    """The :class:`EnvDescription` of ``env`` (a ``VRAGEnv``, wrapped or not; a description as is).

    Raises:
        TypeError: When ``env`` is not a VRAG env (it has no ``action_set`` and ``config``).
    """
    if isinstance(env, EnvDescription):
        return env
    u: Any = getattr(env, "unwrapped", None)
    source = getattr(u, "action_set", None)
    config = getattr(u, "config", None)
    if not isinstance(source, ActionSet) or config is None:
        raise TypeError(
            f"describe_env needs a VRAG env (gym.make('VRAG-v0') or a VRAGEnv), got "
            f"{type(env).__name__}; agents are built from vrag_env.agent_api.describe_env(env)"
        )
    # A fresh action set: the agent never holds an object the env also holds.
    action_set = ActionSet(
        source.dialect,
        strict=source.strict,
        view_size=source.view_size,
        max_query_chars=source.max_query_chars,
        max_answer_chars=source.max_answer_chars,
    )
    spec = getattr(env, "spec", None)
    max_steps = getattr(spec, "max_episode_steps", None) or getattr(config, "max_steps", None)
    public = {
        name: _plain(getattr(config, name))
        for name in PUBLIC_CONFIG_FIELDS
        if hasattr(config, name)
    }
    return EnvDescription(
        env_id=getattr(spec, "id", None),
        action_set=action_set,
        observation_space=copy.deepcopy(u.observation_space),
        action_space=_action_space_for(action_set, u.action_space),
        dialect=action_set.dialect,
        view_size=(int(action_set.view_size[0]), int(action_set.view_size[1])),
        max_steps=None if max_steps is None else int(max_steps),
        config=MappingProxyType(public),
    )


def _action_space_for(action_set: ActionSet, space: gym.Space[Any]) -> gym.Space[Any]:
    """A copy of the env's text action space whose sampler is the description's action set."""
    from vrag_env.spaces import Unicode

    if isinstance(space, Unicode):
        return Unicode(space.max_length, sampler=action_set)
    return copy.deepcopy(space)


def _plain(value: Any) -> Any:
    """A JSON-like copy of a config value (tuples stay tuples, so nothing mutable is shared)."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return MappingProxyType({k: _plain(v) for k, v in value.items()})
    return value


def training_data(env: gym.Env[Any, Any], split: str = "train") -> tuple[tuple[str, str], ...]:
    """The ``(question, first gold answer)`` pairs of ``split`` of the env's corpus.

    Public training data for agents that declare ``uses_training_data = True`` (the ``prior``
    floor): plain strings, nothing that leads back to the corpus.

    Raises:
        ValueError: When the corpus has no question in ``split``.
    """
    corpus: Any = env.unwrapped.corpus  # type: ignore[attr-defined]
    pairs = tuple((str(q.question), str(q.answers[0])) for q in corpus.split(split) if q.answers)
    if not pairs:
        raise ValueError(
            f"the corpus {corpus.root} has no answered question in split {split!r}; an agent that "
            "uses training data needs a train split (or pass training_data yourself)"
        )
    return pairs


class PrivilegedChannel:
    """Ground truth for privileged agents, built by the harness from the real env.

    Only :func:`agents.registry.make_agent` (or a caller that already holds the env) builds one, and
    it hands it only to agent classes that declare ``privileged = True``. An agent holding a channel
    is labelled privileged in results files and never ranked.

    Args:
        env: The env (wrapped or not) whose ground truth the channel reads.
    """

    __slots__ = ("_env",)

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        u: Any = env.unwrapped
        if not hasattr(u, "corpus") or not hasattr(u, "real_page_id"):
            raise TypeError(
                f"a PrivilegedChannel reads a VRAG env (gym.make('VRAG-v0')), got {type(env).__name__}"
            )
        self._env = u

    @property
    def corpus(self) -> Corpus:
        """The env's corpus: pages with their text layers, queries with gold answers and evidence."""
        return self._env.corpus

    @property
    def env(self) -> gym.Env[Any, Any]:
        """The env itself, for privileged agents that drive a wrapper over it (``ppo``)."""
        return self._env

    @property
    def retriever(self) -> Retriever:
        """The env's retriever (to find queries that surface a given page)."""
        return self._env.retriever

    def query(self, question_id: str) -> Query:
        """The gold record (answers, reference pages, evidence boxes) of ``question_id``.

        Raises:
            KeyError: For a question id the corpus does not have.
        """
        try:
            return self.corpus.queries[question_id]
        except KeyError:
            raise KeyError(
                f"no question {question_id!r} in the corpus; pass info['question_id']"
            ) from None

    def real_page_id(self, shown: str) -> PageId:
        """The corpus page id behind the opaque id that ``info`` shows (see ``VRAGEnv``)."""
        return self._env.real_page_id(shown)

    def shown_page_id(self, page_id: PageId) -> str:
        """The opaque id under which ``info`` shows corpus page ``page_id``."""
        return self._env.shown_page_id(page_id)

    def __repr__(self) -> str:
        return "PrivilegedChannel(<env>)"
