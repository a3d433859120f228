"""The ``Unicode`` text space used for actions and the text fields of observations.

``gymnasium.spaces.Text`` only admits a fixed character set (alphanumerics by default), so
"what is the revenue?" is not even in it. Agent actions are free-form model output, so the space here
admits any ``str`` up to a maximum length, and samples either from a pluggable sampler (the action set
mixes valid and malformed actions, as Minigrid's ``MissionSpace`` samples missions) or printable noise.
"""

from __future__ import annotations

import string
from typing import Any, Protocol

import numpy as np
from gymnasium.spaces import Space


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
