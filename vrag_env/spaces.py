"""The ``Unicode`` text space used for actions and the text fields of observations.

``gymnasium.spaces.Text`` only admits a fixed character set (alphanumerics by default), so
"what is the revenue?" is not even in it. Agent actions are free-form model output, so the space here
admits any ``str`` up to a maximum length, and samples either from a pluggable sampler (the action set
mixes valid and malformed actions, as Minigrid's ``MissionSpace`` samples missions) or printable noise.

The space is registered with gymnasium's vector utilities (``batch_space``, ``batch_differing_spaces``,
``concatenate``, ``create_empty_array`` and the three shared-memory functions), so ``SyncVectorEnv``
and ``AsyncVectorEnv`` (with its default ``shared_memory=True``) work on envs that use it. A batch of
``n`` strings is a ``tuple`` of ``n`` ``str`` in a ``Tuple`` of ``n`` copies of the space, as
gymnasium batches its own ``Text`` space; ``iterate`` is deliberately left to that ``Tuple`` (it
yields the ``n`` strings; registering ``Unicode`` itself would make the ``Tuple`` iterate each
string's characters, which is why gymnasium leaves ``Text`` unregistered too). In shared memory each string takes ``max_length + 1`` int32 slots: its length, then its code
points (any Unicode text fits, unlike ``Text``'s fixed character set).
"""

from __future__ import annotations

import multiprocessing as mp
import string
from collections.abc import Callable, Iterable
from collections.abc import Sequence as SequenceABC
from types import ModuleType
from typing import Any, Protocol

import numpy as np
from gymnasium.spaces import Space, Tuple
from gymnasium.vector.utils import (
    batch_differing_spaces,
    batch_space,
    concatenate,
    create_empty_array,
    create_shared_memory,
    read_from_shared_memory,
    write_to_shared_memory,
)


class TextSampler(Protocol):
    """Anything that can draw a string from a numpy generator (e.g. :class:`~vrag_env.actions.ActionSet`)."""

    def sample(self, rng: np.random.Generator) -> str:
        """Draw one string."""
        ...


_PRINTABLE = np.array(list(string.ascii_letters + string.digits + string.punctuation + " "))


class Unicode(Space[str]):
    """Any Python ``str`` with ``min_length <= len(s) <= max_length``.

    Example:
        >>> space = Unicode(max_length=64, seed=0)
        >>> space.contains("what is the revenue in 2021?")
        True
        >>> space.contains(b"bytes")
        False
        >>> isinstance(space.sample(), str)
        True

    Args:
        max_length: Longest admitted string.
        min_length: Shortest admitted string.
        sampler: Optional object whose ``sample(rng)`` draws strings; defaults to printable noise.
        seed: Seed for the space's own generator.
    """

    def __init__(
        self,
        max_length: int,
        *,
        min_length: int = 0,
        sampler: TextSampler | None = None,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        if not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"max_length must be a positive int, got {max_length!r}")
        if not 0 <= min_length <= max_length:
            raise ValueError(
                f"min_length must be in [0, max_length={max_length}], got {min_length!r}"
            )
        self.max_length = max_length
        self.min_length = min_length
        self.sampler = sampler
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        """Text cannot be flattened into a numpy vector."""
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        """Draw a string: from the sampler if one is set, else random printable characters.

        Args:
            mask: Unsupported; must be ``None``.
            probability: Unsupported; must be ``None``.
        """
        if mask is not None or probability is not None:
            raise ValueError("Unicode.sample does not support mask or probability")
        if self.sampler is not None:
            text = self.sampler.sample(self.np_random)
            return text[: self.max_length]
        length = int(self.np_random.integers(self.min_length, min(self.max_length, 64) + 1))
        return "".join(self.np_random.choice(_PRINTABLE, size=length))

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is a ``str`` of admissible length."""
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"Unicode(min_length={self.min_length}, max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Unicode)
            and self.max_length == other.max_length
            and self.min_length == other.min_length
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.min_length, self.max_length))


# ------------------------------------------------------------------ gymnasium vector utilities


@batch_space.register(Unicode)
def _batch_unicode(space: Unicode, n: int = 1) -> Tuple:
    # Independent copies with derived seeds, as gymnasium batches its own Text space.
    seeds = [int(s) for s in space.np_random.integers(0, 2**31 - 1, size=n)]
    batched = Tuple(
        tuple(
            Unicode(space.max_length, min_length=space.min_length, sampler=space.sampler, seed=seed)
            for seed in seeds
        )
    )
    return batched


@batch_differing_spaces.register(Unicode)
def _batch_differing_unicode(spaces: Any) -> Tuple:
    return Tuple(tuple(spaces))


@concatenate.register(Unicode)
def _concatenate_unicode(space: Unicode, items: Iterable[str], out: Any) -> tuple[str, ...]:
    return tuple(items)


@create_empty_array.register(Unicode)
def _empty_unicode(
    space: Unicode, n: int = 1, fn: Callable[..., Any] = np.zeros
) -> tuple[str, ...]:
    return tuple("" for _ in range(n))


@create_shared_memory.register(Unicode)
def _unicode_shared_memory(space: Unicode, n: int = 1, ctx: ModuleType = mp) -> Any:
    return ctx.Array(np.dtype(np.int32).char, n * (space.max_length + 1))


class SharedStrings(SequenceABC[str]):
    """A live, read-only view of ``n`` strings in shared memory (what ``AsyncVectorEnv`` reads).

    ``AsyncVectorEnv`` reads its observation buffer once, when it is built, and relies on the result
    reflecting later writes (numpy views do). Strings are decoded on access, so this view always
    shows the current contents; ``copy.deepcopy`` (what ``AsyncVectorEnv`` returns with its default
    ``copy=True``) gives a plain ``tuple`` snapshot.
    """

    def __init__(self, data: np.ndarray) -> None:
        self._data = data

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self)[index]
        row = self._data[index]
        return "".join(map(chr, row[1 : 1 + int(row[0])]))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SequenceABC) and not isinstance(other, str):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        return f"SharedStrings({tuple(self)!r})"


@read_from_shared_memory.register(Unicode)
def _read_unicode(space: Unicode, shared_memory: Any, n: int = 1) -> SharedStrings:
    data = np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape(n, space.max_length + 1)
    return SharedStrings(data)


@write_to_shared_memory.register(Unicode)
def _write_unicode(space: Unicode, index: int, values: str, shared_memory: Any) -> None:
    if not isinstance(values, str) or len(values) > space.max_length:
        raise ValueError(
            f"cannot write {values!r:.80} to the shared memory of {space}: expected a str of at "
            f"most {space.max_length} characters"
        )
    size = space.max_length + 1
    row = np.frombuffer(shared_memory.get_obj(), dtype=np.int32)[index * size : (index + 1) * size]
    row[0] = len(values)
    row[1 : 1 + len(values)] = np.fromiter(map(ord, values), dtype=np.int32, count=len(values))
