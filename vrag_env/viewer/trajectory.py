"""Episodes of a results file, step by step, with the corpus and view settings they ran on.

A results file (written by ``vrag eval``) stores per episode the actions and, per step, the page shown
after the step, its region in page pixels, the feedback and the reward -- but no images. This module
reads it back into :class:`Episode` records and finds the corpus and env config the run used, so the
viewer can re-render every view from the corpus. Results files written before the per-step fields
existed are *replayed*: the env is deterministic, so stepping the recorded actions again recovers the
pages and regions (and the replay is checked against the recorded action kinds).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from vrag_env.corpora.corpus import Corpus
from vrag_env.loading import load_corpus
from vrag_env.presets import VRAGConfig, resolve_config
from vrag_env.rendering import canvas_size
from vrag_env.types import BBox, PageId

STEP_FIELDS = ("view_pages", "view_regions", "feedback", "rewards")
"""Per-step lists of an episode record that the viewer needs (replayed when missing)."""


@dataclass(frozen=True)
class Step:
    """One step of an episode, as the viewer shows it.

    Attributes:
        index: 1-based step number.
        action: The action text the agent sent (clipped as recorded).
        kind: ``"search"``, ``"crop"``, ``"answer"`` or ``"invalid"``.
        page: Page shown after the step (``None`` before any search).
        region: Shown region of that page, page pixels ``(x1, y1, x2, y2)``.
        feedback: The ``feedback`` text the agent received after the step.
        reward: The step's reward (``None`` when the results file does not record it).
    """

    index: int
    action: str
    kind: str | None
    page: PageId | None
    region: BBox | None
    feedback: str
    reward: float | None


@dataclass(frozen=True)
class Episode:
    """One episode of a results file.

    Attributes:
        index: 0-based position in the results file.
        question_id: Question uid.
        question: Question text.
        answers: Gold answers (privileged: shown only after the fact, in reports).
        prediction: The agent's answer, or ``None`` if it never answered.
        source_type: Kind of document the question is about (chart, table, ...), if known.
        query_type: Question type (single-hop, multi-hop, ...), if known.
        score: Score breakdown (``anls``, ``exact_match``, ...).
        invalid_actions: Number of invalid actions.
        steps: The steps, in order.
    """

    index: int
    question_id: str
    question: str
    answers: list[str]
    prediction: str | None
    source_type: str | None
    query_type: str | None
    score: dict[str, float]
    invalid_actions: int
    steps: list[Step] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        """Whether the answer counts as correct (``accuracy`` if scored, else exact match)."""
        value = self.score.get("accuracy", self.score.get("exact_match", 0.0))
        return self.prediction is not None and float(value) >= 1.0


@dataclass
class Run:
    """A results file opened for viewing.

    Attributes:
        path: The results file.
        metadata: Its ``metadata`` block.
        summary: Its ``summary`` block.
        config: The env config of the run (view size, resolution budget, corpus, ...).
        corpus: The corpus the views are re-rendered from.
        episodes: The episodes.
    """

    path: Path
    metadata: dict[str, Any]
    summary: dict[str, Any]
    config: VRAGConfig
    corpus: Corpus
    episodes: list[Episode]

    @functools.cached_property
    def view_size(self) -> tuple[int, int]:
        """The observation canvas ``(height, width)`` of the run, as the env computed it."""
        if self.config.view_size is not None:
            return tuple(self.config.view_size)  # type: ignore[return-value]
        return canvas_size(
            ((p.width, p.height) for p in self.corpus.pages.values()),
            self.config.geometry,
            self.config.max_view_pixels,
            self.config.max_zoom,
            self.config.min_view_pixels,
        )

    @property
    def title(self) -> str:
        """``agent on benchmark`` for headings."""
        agent = self.metadata.get("agent", {}).get("name", "agent")
        where = self.metadata.get("benchmark") or self.metadata.get("env_id") or "env"
        return f"{agent} on {where}"

    def episode(self, key: str) -> Episode:
        """An episode by question id or by 0-based index.

        Raises:
            ValueError: If no episode matches, listing a few valid ids.
        """
        for ep in self.episodes:
            if ep.question_id == key:
                return ep
        if key.isdigit() and int(key) < len(self.episodes):
            return self.episodes[int(key)]
        some = ", ".join(ep.question_id for ep in self.episodes[:3])
        raise ValueError(
            f"no episode {key!r} in {self.path} ({len(self.episodes)} episodes); pass a question "
            f"id (e.g. {some}) or an index 0..{len(self.episodes) - 1}"
        )


def _env_arguments(metadata: dict[str, Any]) -> tuple[str, dict[str, Any], int | None]:
    """Env id, ``gym.make`` keyword arguments and step limit of a run, from its metadata."""
    env_id = metadata.get("env_id") or "VRAG-v0"
    spec = metadata.get("env_spec") or {}
    kwargs = dict(spec.get("kwargs") or {})
    kwargs.update(metadata.get("env_kwargs") or {})
    return env_id, kwargs, spec.get("max_episode_steps")


def env_config(metadata: dict[str, Any]) -> VRAGConfig:
    """The :class:`VRAGConfig` a run used, from its results metadata."""
    import gymnasium as gym

    env_id, kwargs, _ = _env_arguments(metadata)
    if "preset" not in kwargs and env_id in gym.registry:
        kwargs = {**gym.registry[env_id].kwargs, **kwargs}
    preset = kwargs.pop("preset", "default")
    names = {f.name for f in fields(VRAGConfig)}
    return resolve_config(preset, **{k: v for k, v in kwargs.items() if k in names})


def load_run(path: str | os.PathLike[str]) -> Run:
    """Open a results file: its episodes, env config and corpus.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not a results file, or its pages are not in the corpus it names.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path} is not valid JSON ({exc}); pass a file written by `vrag eval`"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("episodes"), list):
        raise ValueError(
            f"{path} has no 'episodes' list; pass a results file written by `vrag eval`"
        )
    metadata = data.get("metadata") or {}
    config = env_config(metadata)
    corpus = load_corpus(config.corpus, config.synthetic)
    records = data["episodes"]
    if any(any(k not in r for k in STEP_FIELDS) for r in records):
        records = _replay(metadata, records)
    episodes = [_episode(i, r) for i, r in enumerate(records)]
    _check_pages(path, corpus, episodes)
    return Run(path, metadata, data.get("summary") or {}, config, corpus, episodes)


def _region(value: list[float] | None) -> BBox | None:
    if value is None:
        return None
    x1, y1, x2, y2 = (float(v) for v in value)
    return (x1, y1, x2, y2)


def _episode(index: int, record: dict[str, Any]) -> Episode:
    actions = record.get("actions") or []
    kinds = record.get("action_kinds") or [None] * len(actions)
    rewards = record.get("rewards") or [None] * len(actions)
    steps = [
        Step(
            index=i + 1,
            action=str(actions[i]),
            kind=kinds[i],
            page=record["view_pages"][i],
            region=_region(record["view_regions"][i]),
            feedback=str(record["feedback"][i]),
            reward=None if rewards[i] is None else float(rewards[i]),
        )
        for i in range(len(actions))
    ]
    return Episode(
        index=index,
        question_id=str(record.get("question_id")),
        question=str(record.get("question", "")),
        answers=[str(a) for a in record.get("answers") or []],
        prediction=record.get("prediction"),
        source_type=record.get("source_type"),
        query_type=record.get("query_type"),
        score={k: float(v) for k, v in (record.get("score") or {}).items()},
        invalid_actions=int(record.get("invalid_actions", 0)),
        steps=steps,
    )


def _replay(metadata: dict[str, Any], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recover the per-step fields of older results files by stepping their actions again."""
    import gymnasium as gym

    env_id, kwargs, max_steps = _env_arguments(metadata)
    if max_steps is not None:
        kwargs["max_episode_steps"] = max_steps
    env = gym.make(env_id, **kwargs)
    seed = int(metadata.get("seed") or 0)
    out = []
    try:
        for i, record in enumerate(records):
            if all(k in record for k in STEP_FIELDS):
                out.append(record)
                continue
            env.reset(seed=seed + i, options={"question_id": record["question_id"]})
            pages, regions, feedback, rewards, kinds = [], [], [], [], []
            for action in record.get("actions") or []:
                obs, reward, _, _, info = env.step(action)
                shown = info["current_page"]  # opaque in info; the viewer renders corpus pages
                pages.append(None if shown is None else env.unwrapped.real_page_id(shown))  # type: ignore[attr-defined]
                regions.append(info["view"]["region"] if info.get("view") else None)
                feedback.append(obs["feedback"])
                rewards.append(round(float(reward), 6))
                kinds.append(info["action_kind"])
            recorded = record.get("action_kinds")
            if recorded is not None and recorded != kinds:
                raise ValueError(
                    f"replaying episode {i} ({record['question_id']}) gives action kinds {kinds}, "
                    f"but the results file records {recorded}: the corpus or env changed since the "
                    "run; re-run `vrag eval` to get a results file with per-step views"
                )
            out.append(
                {
                    **record,
                    "view_pages": pages,
                    "view_regions": regions,
                    "feedback": feedback,
                    "rewards": rewards,
                }
            )
    finally:
        env.close()
    return out


def _check_pages(path: Path, corpus: Corpus, episodes: list[Episode]) -> None:
    """Every page a step shows must exist in the corpus, inside the page's bounds."""
    for ep in episodes:
        for step in ep.steps:
            if step.page is None:
                continue
            page = corpus.pages.get(step.page)
            if page is None:
                raise ValueError(
                    f"{path}: episode {ep.question_id} step {step.index} shows page {step.page!r}, "
                    f"which corpus {corpus.root} does not have; the results were produced on another "
                    "corpus (check metadata.env_kwargs.corpus, or regenerate the built-in corpus)"
                )
            if step.region is not None and (
                step.region[2] > page.width + 1 or step.region[3] > page.height + 1
            ):
                raise ValueError(
                    f"{path}: episode {ep.question_id} step {step.index}: region {list(step.region)} "
                    f"lies outside page {step.page} ({page.width}x{page.height}); the corpus differs "
                    "from the one the run used"
                )
