"""Reward terms and their combination: pure functions shared by the env, the evaluator and trainers.

Answer terms (each takes one prediction and the accepted gold answers, and keeps the best match):

* :func:`accuracy`: the headline metric, 0 or 1. Numbers are compared as numbers (sign,
  separators, decimals, %, currency, scale words such as "million"/"bn"; a sentence that states
  the gold number counts, a list of guesses does not), text by normalised exact match. The rules
  and the near-miss decisions are in :mod:`vrag_env.answer_accuracy`.
* :func:`anls`: Average Normalized Levenshtein Similarity, the DocVQA metric (Biten et al.,
  ICCV 2019, https://arxiv.org/abs/1905.13648; Mathew et al., WACV 2021,
  https://arxiv.org/abs/2007.00398).
* :func:`exact_match` and :func:`token_f1`: the SQuAD metrics (Rajpurkar et al., EMNLP 2016,
  https://arxiv.org/abs/1606.05250) over :func:`normalize_answer`.
* an optional LLM judge (:mod:`vrag_env.judge`), as VRAG-RL uses.

Retrieval term: :func:`ndcg` of the pages the agent retrieved against the reference pages, with
binary relevance (Järvelin and Kekäläinen, ACM TOIS 2002). Format term: :func:`format_score`.

:class:`RewardConfig` combines them into the terminal reward of an episode, described by an
:class:`EpisodeOutcome`; :data:`REWARD_PRESETS` names the usual combinations, including the
weights of VRAG-RL's released training code (0.7 judge + 0.2 NDCG + 0.1 format, and no reward at
all for an episode without a search and an answer; https://arxiv.org/abs/2505.22019).

This module imports only the standard library, so trainers and evaluators can use it without the
environment's dependencies. The string metrics live in :mod:`vrag_env.answer_metrics` and the
accuracy matcher in :mod:`vrag_env.answer_accuracy`; both are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from vrag_env.answer_accuracy import accuracy
from vrag_env.answer_metrics import anls, exact_match, levenshtein, normalize_answer, token_f1
from vrag_env.judge import Judge, JudgeConfig, LLMJudge

__all__ = [
    "ANSWER_METRICS",
    "REWARD_PRESETS",
    "EpisodeOutcome",
    "RewardConfig",
    "accuracy",
    "anls",
    "exact_match",
    "format_score",
    "get_reward_config",
    "levenshtein",
    "ndcg",
    "normalize_answer",
    "token_f1",
]

ANSWER_METRICS = ("accuracy", "anls", "exact_match", "f1", "judge")
"""Values of :attr:`RewardConfig.answer_metric`."""

# --------------------------------------------------------------------------- retrieval and format


def ndcg(retrieved: Sequence[str], relevant: Iterable[str], k: int | None = None) -> float:
    """Normalised discounted cumulative gain with binary relevance.

    ``DCG = sum(1 / log2(rank + 1))`` over the ranks (1-based) of relevant pages in ``retrieved``,
    each relevant page counted at its first rank only (retrieving it again gains nothing but still
    takes a rank). ``IDCG`` is the DCG of a ranking that puts the relevant pages first: over all
    relevant pages when ``k`` is ``None``, so missing a relevant page costs reward, and over
    ``min(len(relevant), k)`` ranks for NDCG@k, which looks at ``retrieved[:k]`` only.

    Args:
        retrieved: Page ids in the order they were retrieved (or ranked).
        relevant: The gold page ids (duplicates are ignored).
        k: Rank cutoff, ``>= 1``; ``None`` for the whole list.

    Returns:
        A score in ``[0, 1]``; 0 when nothing is relevant or nothing was retrieved.

    Raises:
        ValueError: ``k`` is not ``None`` or a positive int.

    Example:
        >>> ndcg(["x", "a"], {"a"}) == 1 / math.log2(3)
        True
        >>> ndcg(["a", "a", "b"], ["a", "b"])  # the repeated "a" takes rank 2 from "b"
        0.9197207891481876
    """
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 1):
        raise ValueError(f"k must be None or an int >= 1, got {k!r}")
    gold = set(relevant)
    ranked = list(retrieved) if k is None else list(retrieved[:k])
    if not gold or not ranked:
        return 0.0
    seen: set[str] = set()
    dcg = 0.0
    for rank, page in enumerate(ranked, start=1):
        if page in gold and page not in seen:
            seen.add(page)
            dcg += 1.0 / math.log2(rank + 1)
    ideal = len(gold) if k is None else min(len(gold), k)
    idcg = sum(1.0 / math.log2(rank + 1) for rank in range(1, ideal + 1))
    return dcg / idcg


def format_score(valid_actions: int, total_actions: int, answered: bool) -> float:
    """The format term: the fraction of valid actions, earned only by an episode that answered.

    An action is valid when it parsed and could be applied. VRAG-RL rewards well-formed
    trajectories; here a trajectory's format is the share of its steps that were well formed, and a
    trajectory that never answered (it ran out of steps) has no format credit.

    Args:
        valid_actions: Actions that parsed and applied.
        total_actions: All actions taken.
        answered: Whether the episode ended with an answer.

    Returns:
        ``valid_actions / total_actions`` if answered (and any action was taken), else ``0.0``.

    Raises:
        ValueError: The counts are negative or ``valid_actions > total_actions``.

    Example:
        >>> format_score(3, 4, answered=True)
        0.75
        >>> format_score(3, 3, answered=False)
        0.0
    """
    if not 0 <= valid_actions <= total_actions:
        raise ValueError(
            f"need 0 <= valid_actions <= total_actions, got {valid_actions} and {total_actions}"
        )
    if not answered or total_actions == 0:
        return 0.0
    return valid_actions / total_actions


# --------------------------------------------------------------------------- episode outcome


@dataclass(frozen=True)
class EpisodeOutcome:
    """What the terminal reward of an episode is computed from (filled by the env at episode end).

    Attributes:
        question: The question text (the judge sees it).
        prediction: The agent's answer, or ``None`` if it never answered.
        answers: The accepted gold answers.
        retrieved: Page ids shown to the agent, in order.
        reference_pages: Gold page ids.
        num_searches: Search actions that retrieved a page.
        num_crops: Crop actions applied.
        invalid_actions: Actions that failed to parse or could not be applied.
        num_actions: All actions taken (valid and invalid).
        answered: Whether the episode ended with an answer.
    """

    question: str
    prediction: str | None
    answers: tuple[str, ...]
    retrieved: tuple[str, ...]
    reference_pages: tuple[str, ...]
    num_searches: int
    num_crops: int
    invalid_actions: int
    num_actions: int
    answered: bool

    def __post_init__(self) -> None:
        # Accept lists (e.g. from JSON) but store tuples, so outcomes stay hashable and immutable.
        for name in ("answers", "retrieved", "reference_pages"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        counts = ("num_searches", "num_crops", "invalid_actions", "num_actions")
        for name in counts:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.invalid_actions > self.num_actions:
            raise ValueError(
                f"invalid_actions ({self.invalid_actions}) exceeds num_actions ({self.num_actions})"
            )
        if self.answered and self.prediction is None:
            raise ValueError("answered=True needs a prediction (got None)")

    @property
    def valid_actions(self) -> int:
        """Actions that parsed and applied."""
        return self.num_actions - self.invalid_actions

    def to_dict(self) -> dict[str, Any]:
        """JSON form (tuples become lists)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in fields(self)
        }


# --------------------------------------------------------------------------- configuration


def _check_number(name: str, value: Any, *, low: float = 0.0) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < low
    ):
        raise ValueError(f"{name} must be a finite number >= {low}, got {value!r}")


@dataclass(frozen=True)
class RewardConfig:
    """How an episode is scored. All fields are JSON-serialisable (:meth:`to_dict`).

    Step rewards: each invalid action earns ``-invalid_action_penalty`` immediately
    (:meth:`step_penalty`); every other step earns 0. Terminal reward (:meth:`score`):
    ``answer_weight * answer + retrieval_weight * ndcg + format_weight * format``, where ``answer``
    is the metric named by ``answer_metric``, and 0 instead when ``require_search_and_answer``
    holds and the episode lacks a search or an answer.

    Example:
        >>> config = RewardConfig(answer_metric="exact_match", invalid_action_penalty=0.05)
        >>> config.step_penalty()
        -0.05
        >>> RewardConfig.from_dict(config.to_dict()) == config
        True
    """

    answer_metric: str = "accuracy"
    """Answer term: ``"accuracy"``, ``"anls"``, ``"exact_match"``, ``"f1"`` or ``"judge"`` (needs
    ``judge``)."""

    answer_weight: float = 0.7
    """Weight of the answer term in the terminal reward."""

    retrieval_weight: float = 0.2
    """Weight of the NDCG of retrieved pages against the reference pages."""

    format_weight: float = 0.1
    """Weight of the format term (fraction of valid actions in an answered episode)."""

    invalid_action_penalty: float = 0.1
    """Positive amount subtracted from the step reward of each malformed or illegal action."""

    require_search_and_answer: bool = False
    """VRAG-RL's gate: the terminal reward is 0 unless the episode searched at least once and
    answered."""

    anls_threshold: float = 0.5
    """ANLS threshold on the normalised edit distance (DocVQA: 0.5), in ``(0, 1]``."""

    judge: JudgeConfig | None = None
    """LLM judge endpoint; required by ``answer_metric="judge"``. When set with another answer
    metric, the judge's verdict is still reported (key ``"judge"``) but not rewarded."""

    def __post_init__(self) -> None:
        if self.answer_metric not in ANSWER_METRICS:
            raise ValueError(
                f"answer_metric must be one of {list(ANSWER_METRICS)}, got {self.answer_metric!r}"
            )
        for name in (
            "answer_weight",
            "retrieval_weight",
            "format_weight",
            "invalid_action_penalty",
        ):
            _check_number(name, getattr(self, name))
        if not isinstance(self.require_search_and_answer, bool):
            raise ValueError(
                "require_search_and_answer must be True or False, "
                f"got {self.require_search_and_answer!r}"
            )
        if (
            isinstance(self.anls_threshold, bool)
            or not isinstance(self.anls_threshold, (int, float))
            or not 0 < self.anls_threshold <= 1
        ):
            raise ValueError(f"anls_threshold must be in (0, 1], got {self.anls_threshold!r}")
        if isinstance(self.judge, Mapping):
            object.__setattr__(self, "judge", JudgeConfig.from_dict(dict(self.judge)))
        if self.judge is not None and not isinstance(self.judge, JudgeConfig):
            raise ValueError(
                f"judge must be None, a JudgeConfig or its dict, got {type(self.judge).__name__}"
            )
        if self.answer_metric == "judge" and self.judge is None:
            raise ValueError(
                "answer_metric='judge' needs judge=JudgeConfig(base_url=..., model=...) (an "
                "OpenAI-compatible endpoint); use answer_metric='accuracy', 'anls', 'exact_match' "
                "or 'f1' to score offline"
            )

    def step_penalty(self, invalid: bool = True) -> float:
        """The immediate reward of one action: ``-invalid_action_penalty`` if invalid, else 0.

        Args:
            invalid: Whether the action failed to parse or could not be applied.

        Returns:
            A reward ``<= 0`` to add to the step's reward.
        """
        return -float(self.invalid_action_penalty) if invalid else 0.0

    def make_judge(self) -> LLMJudge | None:
        """Build the configured LLM judge (``None`` without one).

        Unset ``base_url``/``model`` are read from ``VRAG_JUDGE_BASE_URL``/``VRAG_JUDGE_MODEL``
        now, so a missing endpoint fails when the env is built, not at the first answer.

        Raises:
            ValueError: A judge is configured but its endpoint or model is not; the message names
                the environment variables to set.
        """
        return None if self.judge is None else LLMJudge(self.judge)

    def score(self, outcome: EpisodeOutcome, judge: Judge | None = None) -> dict[str, float]:
        """The reward breakdown of an episode.

        Answer metrics are 0 for an episode without an answer. The judge, if any, is asked only
        about answered episodes.

        Args:
            outcome: The episode's facts.
            judge: The judge to ask; ``None`` builds one with :meth:`make_judge` when ``judge`` is
                configured (pass the env's judge to avoid rebuilding it per episode).

        Returns:
            ``accuracy``, ``anls``, ``exact_match``, ``f1``, ``ndcg``, ``format``, ``answer`` (the value of
            ``answer_metric``), ``judge`` (only when a judge is used) and ``reward`` (the terminal
            reward), all floats.

        Example:
            >>> outcome = EpisodeOutcome(
            ...     question="Revenue in 2022?", prediction="12.4 million",
            ...     answers=("12.4 million",), retrieved=("r_3", "r_1"), reference_pages=("r_1",),
            ...     num_searches=2, num_crops=1, invalid_actions=1, num_actions=5, answered=True)
            >>> s = RewardConfig().score(outcome)
            >>> s["answer"], round(s["ndcg"], 4), s["format"], round(s["reward"], 4)
            (1.0, 0.6309, 0.8, 0.9062)
        """
        if judge is None:
            judge = self.make_judge()
        prediction = outcome.prediction if outcome.answered and outcome.prediction else ""
        answered = outcome.answered
        result: dict[str, float] = {
            "accuracy": accuracy(prediction, outcome.answers) if answered else 0.0,
            "anls": anls(prediction, outcome.answers, self.anls_threshold) if answered else 0.0,
            "exact_match": exact_match(prediction, outcome.answers) if answered else 0.0,
            "f1": token_f1(prediction, outcome.answers) if answered else 0.0,
            "ndcg": ndcg(outcome.retrieved, outcome.reference_pages),
            "format": format_score(outcome.valid_actions, outcome.num_actions, answered),
        }
        verdict: float | None = None
        if judge is not None:
            verdict = (
                float(judge.judge(outcome.question, prediction, outcome.answers))
                if answered
                else 0.0
            )
        # answer_metric="judge" implies a configured judge (checked in __post_init__).
        metric = self.answer_metric
        result["answer"] = (verdict or 0.0) if metric == "judge" else result[metric]
        if verdict is not None:
            result["judge"] = verdict
        reward = (
            self.answer_weight * result["answer"]
            + self.retrieval_weight * result["ndcg"]
            + self.format_weight * result["format"]
        )
        if self.require_search_and_answer and not (outcome.num_searches > 0 and answered):
            reward = 0.0
        result["reward"] = float(reward)
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON form; the judge's literal API key, if any, is left out."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["judge"] = None if self.judge is None else self.judge.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RewardConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: Unknown keys (the message lists the known ones) or invalid values.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown RewardConfig field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)


# VRAG-RL's released training code weighs the judge's verdict 0.7, NDCG 0.2 and format 0.1, and
# gives 0 to a trajectory without a search and an answer (https://arxiv.org/abs/2505.22019). It
# has no per-step penalty: malformed turns only lower the format term. Offline, the judge's
# verdict is replaced by answer accuracy (a 0/1 verdict like the judge's, not partial credit).
_VRAG_RL_OFFLINE = RewardConfig(
    answer_metric="accuracy",
    answer_weight=0.7,
    retrieval_weight=0.2,
    format_weight=0.1,
    invalid_action_penalty=0.0,
    require_search_and_answer=True,
)

REWARD_PRESETS: dict[str, RewardConfig] = {
    # Offline default: no judge, so scores are reproducible without a server. The answer term is
    # accuracy, so near misses ("1.1" for "-1.1") earn nothing.
    "default": RewardConfig(
        answer_metric="accuracy",
        answer_weight=0.7,
        retrieval_weight=0.2,
        format_weight=0.1,
        invalid_action_penalty=0.1,
        require_search_and_answer=False,
    ),
    # The judge endpoint comes from VRAG_JUDGE_BASE_URL / VRAG_JUDGE_MODEL / VRAG_JUDGE_API_KEY.
    "vrag-rl": replace(_VRAG_RL_OFFLINE, answer_metric="judge", judge=JudgeConfig()),
    "vrag-rl-offline": _VRAG_RL_OFFLINE,
    # The DocVQA leaderboard metric alone (partial credit for near misses).
    "anls": RewardConfig(
        answer_metric="anls",
        answer_weight=1.0,
        retrieval_weight=0.0,
        format_weight=0.0,
        invalid_action_penalty=0.0,
    ),
}
"""Named reward configurations (``gym.make(..., reward=name)``)."""


def get_reward_config(spec: str | RewardConfig | Mapping[str, Any]) -> RewardConfig:
    """Resolve a preset name, a config, or a config dict.

    A dict may name a ``"preset"`` and override some of its fields:
    ``{"preset": "default", "answer_metric": "f1"}``.

    Args:
        spec: A key of :data:`REWARD_PRESETS`, a :class:`RewardConfig`, or a dict of its fields.

    Returns:
        The reward configuration.

    Raises:
        ValueError: Unknown preset name (the message lists them) or invalid fields.
        TypeError: ``spec`` is none of the accepted types.

    Example:
        >>> get_reward_config("vrag-rl-offline").require_search_and_answer
        True
        >>> get_reward_config({"preset": "default", "answer_metric": "f1"}).answer_metric
        'f1'
    """
    if isinstance(spec, RewardConfig):
        return spec
    if isinstance(spec, str):
        if spec not in REWARD_PRESETS:
            raise ValueError(f"unknown reward preset {spec!r}; known: {sorted(REWARD_PRESETS)}")
        return REWARD_PRESETS[spec]
    if isinstance(spec, Mapping):
        data = dict(spec)
        preset = data.pop("preset", None)
        if preset is None:
            return RewardConfig.from_dict(data)
        base = get_reward_config(preset).to_dict()
        base.update(data)
        return RewardConfig.from_dict(base)
    raise TypeError(
        f"a reward spec is a preset name, a RewardConfig or a dict, got {type(spec).__name__}"
    )
