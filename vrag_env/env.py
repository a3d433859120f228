"""The ``VRAG`` environment: search, zoom into and answer over document page images."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import InvalidAction, ResetNeeded
from gymnasium.utils import EzPickle

from vrag_env.actions import (
    MAX_ACTION_CHARS,
    Action,
    ActionParseError,
    ActionSet,
    Answer,
    Crop,
    IllegalActionError,
    Search,
)
from vrag_env.corpora.corpus import Corpus
from vrag_env.crop_regions import crop_region, vrag_rl_crop_region
from vrag_env.episode_state import EpisodeState, episode_ansi, episode_info, opaque_page_id
from vrag_env.presets import VRAGConfig, resolve_config, resolve_reward
from vrag_env.rendering import (
    ViewTransform,
    canvas_size,
    draw_box,
    render_view,
    view_transform,
)
from vrag_env.rewards import EpisodeOutcome, RewardConfig
from vrag_env.types import BBox, PageId, Query

FEEDBACK_MAX_CHARS = 2048
_NO_PAGE_COLOR = (128, 128, 128)


class VRAGEnv(gym.Env[dict[str, Any], str], EzPickle):
    """Visual retrieval-augmented question answering over document page images.

    ## Description

    Each episode poses one question about a corpus of document pages (reports with tables, charts,
    slides, infographics, forms). The agent **searches** (a retriever returns the best-ranked page it
    has not seen yet, shown as an image), **crops** into the page it sees to read small print
    (coarse-to-fine perception), and **answers**. This follows VRAG-RL (Wang et al., 2025,
    https://arxiv.org/abs/2505.22019). Pages are shown under a resolution budget
    (``max_view_pixels``), so fine print is illegible until the agent zooms.

    ## Action Space

    ``Unicode(max_length=16384)``: one action string per step, in the dialect chosen with
    ``dialect`` (grammar and prompt text: :class:`vrag_env.actions.ActionSet`).

    | action | ``vrag`` dialect (default) | ``tool`` dialect |
    |---|---|---|
    | search | ``<search>Aurora revenue 2022</search>`` | ``{"name": "search", "arguments": {"query": "..."}}`` |
    | crop | ``<bbox>[80, 160, 320, 320]</bbox>`` (observation-image pixels; ``<region>`` too) | ``{"name": "crop", "arguments": {"box": [0.1, 0.2, 0.5, 0.5]}}`` (fractions of the observation image) |
    | answer | ``<answer>1,234.5</answer>`` | ``{"name": "answer", "arguments": {"answer": "1,234.5"}}`` |

    ``<think>...</think>`` is allowed and ignored. A crop box is mapped to the full-resolution page,
    padded by ``crop_padding`` on each side and grown to at least ``min_crop_size`` page pixels
    (``geometry="vrag-rl"``, the ``vrag-rl`` preset: VRAG-RL's own mapping, see ``docs/vrag_rl.md``). A
    non-``str`` action raises :class:`gymnasium.error.InvalidAction`; any string that does not parse, or
    cannot be applied (crop before any search, out-of-range box, search past ``max_searches`` or past
    the last page), is an *invalid action*: it costs the penalty below, is explained in
    ``feedback``, and the episode goes on.

    ## Observation Space

    A flat ``Dict``:

    | key | space | content |
    |---|---|---|
    | ``question`` | ``Unicode(max_question_chars)`` | the question |
    | ``image`` | ``Box(0, 255, (H, W, 3), uint8)`` | the current view (page or crop) at the top left of the ``view_size`` canvas (derived from the budget and the corpus's pages unless given), black padding around it; grey before the first search |
    | ``feedback`` | ``Unicode(2048)`` | what the last action did, or ``"<ErrorType>: <message>"`` |

    ## Rewards

    From :mod:`vrag_env.rewards` with the ``reward`` preset (default: ``"default"``):

    - each invalid action: ``-invalid_action_penalty`` (0.1 in ``"default"``), immediately;
    - on answering: ``answer_weight * answer_metric + retrieval_weight * NDCG(retrieved pages,
      reference pages) + format_weight * format`` (``"default"``: 0.7 accuracy + 0.2 NDCG + 0.1 format;
      ``"vrag-rl"``: VRAG-RL's 0.7 LLM judge + 0.2 NDCG + 0.1 format, zero without a search);
    - every other step: 0. An episode truncated before an answer earns no terminal reward.

    ## Starting State

    A question drawn uniformly from ``split`` with ``self.np_random`` (or pinned with
    ``reset(options={"question_id": uid})``); no page shown yet.

    ## Episode End

    - Termination: the agent answers (valid ``answer`` action).
    - Truncation: the step limit of the registered id (``max_episode_steps``, applied by
      ``TimeLimit``; ``VRAG-v0``: 10). The env itself never truncates.

    ## Information

    ``info`` is JSON-serialisable and deterministic, and has the same keys with the same types on
    every step (``reset`` included), so gymnasium's vector envs can merge the infos of sub-envs
    that are at different points of their episodes (dicts stay dicts, lists stay lists; the
    optional strings are ``str`` or ``None``):

    | key | meaning |
    |---|---|
    | ``question_id`` | uid of the question |
    | ``split`` | its split |
    | ``step`` | steps taken this episode |
    | ``action_kind`` | ``"search"``, ``"crop"``, ``"answer"``, ``"invalid"`` (``None`` after reset) |
    | ``action_error`` | exception name of an invalid action, else ``None`` |
    | ``current_page`` | opaque id of the page shown now, or ``None`` |
    | ``retrieved_pages`` | opaque ids of the pages shown so far, in order |
    | ``view`` | ``{"region": page-pixel box shown, "scale": view px per page px, "content_box": [x1, y1, x2, y2] of the page content in the image}`` (rebuild the mapping with ``ViewTransform.from_info``), or ``{}`` (empty, falsy) before a page is shown |
    | ``num_searches``, ``num_crops``, ``invalid_actions`` | counters |
    | ``score`` | on termination: the reward breakdown (``accuracy``, ``anls``, ``exact_match``, ``f1``, ``ndcg``, ``format``, ``answer``, ``reward``); ``{}`` (empty, falsy) before |
    | ``prediction`` | on termination: the answer given; ``None`` before |
    | ``answers``, ``reference_pages`` | on termination: the gold answers and (opaque) pages; ``[]`` before |

    Gold answers and reference pages never appear before the episode ends.

    Page ids in ``info`` are *opaque*, for every corpus: ``"p"`` and the first 10 hex digits of
    ``sha1(corpus checksum + ":" + page id)`` (:func:`~vrag_env.episode_state.opaque_page_id`). A corpus page id such as
    ``meridian-annual-report-2020_3`` names the company, the year and the page's role, which an
    agent must find by searching, not read off ``info``. The ids are stable for a corpus and
    differ between corpora. The harness maps them back with :meth:`VRAGEnv.real_page_id` (results
    files, the viewer and NDCG use corpus page ids); :meth:`VRAGEnv.shown_page_id` maps the other
    way. Feedback text names no page id.

    ## Arguments

    >>> import gymnasium as gym
    >>> import vrag_env
    >>> env = gym.make("VRAG-Tiny-v0", split="test")
    >>> obs, info = env.reset(seed=0)
    >>> sorted(obs)
    ['feedback', 'image', 'question']
    >>> obs, reward, terminated, truncated, info = env.step("<search>annual report</search>")
    >>> info["action_kind"], len(info["retrieved_pages"])
    ('search', 1)

    Every field of :class:`vrag_env.presets.VRAGConfig` is a keyword argument (``corpus``,
    ``synthetic``, ``split``, ``retriever``, ``dialect``, ``strict_actions``, ``reward``,
    ``view_size``, ``max_view_pixels``, ``max_zoom``, ``crop_padding``, ``min_crop_size``,
    ``max_searches``, ``max_question_chars``), plus ``preset`` (a name in
    :data:`vrag_env.presets.ENV_PRESETS` or a ``VRAGConfig``) and ``render_mode``
    (``"rgb_array"``: the page with the current view's box drawn, beside the view; ``"ansi"``: a
    text summary).

    ## Version History

    - v0: initial release.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 1}  # noqa: RUF012 - Gymnasium API

    def __init__(
        self,
        preset: VRAGConfig | str = "default",
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        EzPickle.__init__(self, preset, render_mode, **kwargs)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.config: VRAGConfig = resolve_config(preset, **kwargs)
        self.render_mode = render_mode
        self.reward_config: RewardConfig = resolve_reward(self.config.reward)
        self._judge = self.reward_config.make_judge()

        # Heavy state is shared between env instances of one process (vector envs, evaluators).
        from vrag_env.loading import load_corpus, load_retriever

        self.corpus: Corpus = load_corpus(self.config.corpus, self.config.synthetic)
        self.retriever = load_retriever(
            self.config.retriever, self.corpus, self.config.retriever_options
        )
        self.questions: list[Query] = self.corpus.split(self.config.split)
        if not self.questions:
            raise ValueError(
                f"split {self.config.split!r} of corpus {self.corpus.root} has no questions; "
                f"splits present: {sorted({q.split for q in self.corpus.queries.values()})}"
            )

        self.view_size: tuple[int, int] = self.config.view_size or canvas_size(
            ((p.width, p.height) for p in self.corpus.pages.values()),
            self.config.geometry,
            self.config.max_view_pixels,
            self.config.max_zoom,
            self.config.min_view_pixels,
        )
        """``(height, width)`` of the observation image (the canvas; fixed per env instance)."""
        self.action_set = ActionSet(
            self.config.dialect, strict=self.config.strict_actions, view_size=self.view_size
        )
        height, width = self.view_size
        self.action_space = _action_space(self.action_set)
        from vrag_env.spaces import Unicode

        self.observation_space = spaces.Dict(
            {
                "question": Unicode(self.config.max_question_chars),
                "image": spaces.Box(0, 255, (height, width, 3), np.uint8),
                "feedback": Unicode(FEEDBACK_MAX_CHARS),
            }
        )
        # Opaque page ids for ``info`` (see "Information" above), both ways.
        checksum = self.corpus.checksum
        self._shown_ids: dict[PageId, str] = {
            pid: opaque_page_id(checksum, pid) for pid in self.corpus.pages
        }
        self._real_ids: dict[str, PageId] = {v: k for k, v in self._shown_ids.items()}
        if len(self._real_ids) != len(self._shown_ids):  # pragma: no cover - 40-bit collision
            raise ValueError(f"two pages of corpus {self.corpus.root} share an opaque id")
        self._blank = np.full((height, width, 3), _NO_PAGE_COLOR, np.uint8)
        self._image = self._blank
        self._ep: EpisodeState | None = None

    # ------------------------------------------------------------------ Gym API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start an episode on a random question of the split, or on ``options["question_id"]``.

        Args:
            seed: Seeds ``self.np_random`` (question sampling).
            options: ``{"question_id": uid}`` pins the question (any split of the corpus).
        """
        super().reset(seed=seed)
        query = self._pick_question(options)
        self._ep = EpisodeState(query=query, feedback="No page shown yet: search to retrieve one.")
        self._image = self._blank
        return self._get_obs(), self._get_info()

    def step(self, action: str) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        """Apply one action string; see the class docstring for the grammar and rewards."""
        if not isinstance(action, str):
            raise InvalidAction(
                f"an action is a str in {self.action_space}, got {type(action).__name__}: {action!r:.100}"
            )
        ep = self._ep
        if ep is None or ep.done:
            raise ResetNeeded("call reset() before step() (the episode has ended or never started)")
        ep.steps += 1
        reward = 0.0
        try:
            parsed = self.action_set.parse(action)
            self._apply(ep, parsed)
            ep.action_kind = _kind(parsed)
            ep.action_error = None
        except (ActionParseError, IllegalActionError) as exc:
            ep.invalid += 1
            ep.action_kind = "invalid"
            ep.action_error = type(exc).__name__
            ep.feedback = _clip(f"{type(exc).__name__}: {exc}")
            reward -= self.reward_config.invalid_action_penalty
        if ep.done:
            ep.score = self.reward_config.score(self.episode_outcome(), judge=self._judge)
            reward += ep.score["reward"]
        # Beyond ``max_steps`` (a preset's own turn limit) the env truncates; otherwise the step
        # budget is the registered TimeLimit's job.
        limit = self.config.max_steps
        truncated = limit is not None and ep.steps >= limit and not ep.done
        return self._get_obs(), reward, ep.done, truncated, self._get_info()

    def render(self) -> np.ndarray | str | None:
        """Render according to ``render_mode`` (``None``: nothing)."""
        if self.render_mode is None or self._ep is None:
            return None
        if self.render_mode == "ansi":
            return self._render_ansi(self._ep)
        return self._render_rgb(self._ep)

    # ------------------------------------------------------------------ public helpers

    def episode_outcome(self) -> EpisodeOutcome:
        """What the reward is computed from, for the current episode (also for truncated ones)."""
        ep = self._require_episode()
        return EpisodeOutcome(
            question=ep.query.question,
            prediction=ep.prediction,
            answers=ep.query.answers,
            retrieved=tuple(ep.shown),
            reference_pages=ep.query.reference_pages,
            num_searches=ep.searches,
            num_crops=ep.crops,
            invalid_actions=ep.invalid,
            num_actions=ep.steps,
            answered=ep.prediction is not None,
        )

    def episode_score(self) -> dict[str, float]:
        """The reward breakdown of the current episode, whether or not it was answered.

        Evaluators call this after a truncated episode, which ends without ``info["score"]``.
        """
        ep = self._require_episode()
        if ep.score is not None:
            return dict(ep.score)
        return self.reward_config.score(self.episode_outcome(), judge=self._judge)

    def real_page_id(self, shown: str) -> PageId:
        """The corpus page id behind an opaque id of ``info`` (for harnesses, not agents).

        Raises:
            KeyError: For an id that is not one of this env's opaque page ids.
        """
        try:
            return self._real_ids[shown]
        except (KeyError, TypeError):
            raise KeyError(
                f"{shown!r:.80} is not an opaque page id of corpus {self.corpus.root}; pass a value "
                "of info['current_page'] or info['retrieved_pages']"
            ) from None

    def shown_page_id(self, page_id: PageId) -> str:
        """The opaque id under which ``info`` shows corpus page ``page_id``.

        Raises:
            KeyError: For a page id the corpus does not have.
        """
        try:
            return self._shown_ids[page_id]
        except (KeyError, TypeError):
            raise KeyError(f"no page {page_id!r:.80} in corpus {self.corpus.root}") from None

    @property
    def view(self) -> ViewTransform | None:
        """The current view's transform (``None`` before the first search)."""
        return None if self._ep is None else self._ep.view

    # ------------------------------------------------------------------ actions

    def _apply(self, ep: EpisodeState, action: Action) -> None:
        if isinstance(action, Search):
            self._search(ep, action.query)
        elif isinstance(action, Crop):
            self._crop(ep, action)
        else:
            assert isinstance(action, Answer)
            ep.prediction = action.text
            ep.done = True
            ep.feedback = "Answer submitted."

    def _search(self, ep: EpisodeState, query: str) -> None:
        limit = self.config.max_searches
        if limit is not None and ep.searches >= limit:
            raise IllegalActionError(
                f"the search budget of {limit} searches is used up; answer now"
            )
        n_pages = len(self.corpus.pages)
        if len(ep.shown) >= n_pages:
            raise IllegalActionError("every page of the corpus has been shown already; answer now")
        # The top len(shown)+1 results always hold at least one page not shown yet.
        shown = set(ep.shown)
        results = self.retriever.search(query, min(n_pages, len(ep.shown) + 1))
        if not results:  # e.g. BM25: none of the query's words occurs in any page
            raise IllegalActionError(f"no page matches {query!r}; search with other words")
        fresh = [r for r in results if r.page_id not in shown]
        if not fresh:
            raise IllegalActionError("the search returned no page that has not been shown")
        page_id = fresh[0].page_id
        ep.searches += 1
        ep.shown.append(page_id)
        ep.page = page_id
        ep.last_crop = None
        page = self.corpus.pages[page_id]
        ep.view = self._fit((0.0, 0.0, float(page.width), float(page.height)))
        self._image = render_view(self.corpus.page_pyramid(page_id), ep.view, self.view_size)
        ep.feedback = _clip(
            f"Search result for {query!r}: a new page is shown "
            f"(result {len(ep.shown)} of this episode)."
        )

    def _crop(self, ep: EpisodeState, action: Crop) -> None:
        if ep.page is None or ep.view is None:
            raise IllegalActionError("there is no page to crop yet: search first")
        page = self.corpus.pages[ep.page]
        config = self.config
        if config.geometry == "vrag-rl":  # VRAG-RL's mapping (vrag_env.crop_regions)
            shown = (ep.view.width, ep.view.height)
            pads = (config.crop_pad_view_px, config.crop_pad_page_px)
            region = vrag_rl_crop_region(action.box, shown, (page.width, page.height), *pads)
        else:
            region = crop_region(
                action.box,
                ep.view,
                self.view_size,
                (page.width, page.height),
                config.crop_padding,
                config.min_crop_size,
            )
        self._show_crop(ep, region)

    def _show_crop(self, ep: EpisodeState, region: BBox) -> None:
        assert ep.page is not None
        page = self.corpus.pages[ep.page]
        ep.crops += 1
        ep.last_crop = region
        ep.view = self._fit(region)
        self._image = render_view(self.corpus.page_pyramid(ep.page), ep.view, self.view_size)
        zoom = ep.view.scale / self._fit((0.0, 0.0, float(page.width), float(page.height))).scale
        ep.feedback = f"Zoomed in {zoom:.1f}x on the current page."

    # ------------------------------------------------------------------ internals

    def _fit(self, region: BBox) -> ViewTransform:
        config = self.config
        return view_transform(
            region,
            self.view_size,
            config.geometry,
            config.max_view_pixels,
            config.max_zoom,
            config.min_view_pixels,
        )

    def _pick_question(self, options: dict[str, Any] | None) -> Query:
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"reset options must be a dict, got {type(options).__name__}")
        if options:
            unknown = sorted(map(repr, set(options) - {"question_id"}))
            if unknown:
                raise ValueError(
                    f"unknown reset option(s) {unknown}; the only option is 'question_id'"
                )
            uid = options.get("question_id")
            if uid is not None:
                if not isinstance(uid, str) or uid not in self.corpus.queries:
                    raise ValueError(
                        f"reset option: unknown question_id {uid!r:.80} in corpus {self.corpus.root} "
                        f"({len(self.corpus.queries)} questions, e.g. {self.questions[0].uid!r})"
                    )
                return self.corpus.queries[uid]
        return self.questions[int(self.np_random.integers(len(self.questions)))]

    def _require_episode(self) -> EpisodeState:
        if self._ep is None:
            raise ResetNeeded("call reset() first")
        return self._ep

    def _get_obs(self) -> dict[str, Any]:
        ep = self._require_episode()
        return {
            "question": ep.query.question[: self.config.max_question_chars],
            "image": self._image.copy(),
            "feedback": ep.feedback,
        }

    def _get_info(self) -> dict[str, Any]:
        return episode_info(self._require_episode(), self._shown_ids)

    def _render_rgb(self, ep: EpisodeState) -> np.ndarray:
        if ep.page is None or ep.view is None:
            return np.concatenate([self._blank, self._blank], axis=1)
        page = self.corpus.page_image(ep.page).copy()
        draw_box(page, ep.view.region, width=max(3, page.width // 200))
        full = self._fit((0.0, 0.0, float(page.width), float(page.height)))
        left = render_view(page, full, self.view_size)
        return np.concatenate([left, self._image], axis=1)

    def _render_ansi(self, ep: EpisodeState) -> str:
        return episode_ansi(ep)


def _action_space(action_set: ActionSet) -> gym.Space[str]:
    from vrag_env.spaces import Unicode

    return Unicode(MAX_ACTION_CHARS, sampler=action_set)


def _kind(action: Action) -> str:
    return {Search: "search", Crop: "crop", Answer: "answer"}[type(action)]


def _clip(text: str) -> str:
    return text if len(text) <= FEEDBACK_MAX_CHARS else text[: FEEDBACK_MAX_CHARS - 3] + "..."
