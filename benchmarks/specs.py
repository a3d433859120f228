"""Benchmarks as data: frozen specs that fix the env, the questions, the seeds and the grammar.

A :class:`Benchmark` pins everything an evaluation depends on, so every agent faces the same
questions with the same action dialect, reward preset and step limit (BrowserGym's rule: "evaluate
different agents using the same action set for fairness"). The question ids are stored explicitly in
``benchmarks/specs/<name>.json``; they were drawn once from the built-in synthetic corpus with a seeded
permutation (:func:`build_benchmark`) and are checked in, together with the generator version and
config fingerprint of that corpus. When the generator changes, loading the spec fails with a clear
error that says how to regenerate it, instead of silently evaluating on other questions.

Regenerate the checked-in specs (after a generator change) with::

    uv run python -m benchmarks.specs --write
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vrag_env._atomic import write_json_atomic

if TYPE_CHECKING:
    from .eval_spec import EvalSpec

SPEC_DIR = Path(__file__).resolve().parent / "specs"
"""Where the checked-in spec files live (``<name>.json``)."""

SPEC_FORMAT_VERSION = 1


class StaleBenchmarkError(ValueError):
    """A spec was built for another version of the corpus generator than the installed one."""


@dataclass(frozen=True)
class CorpusRef:
    """Which corpus a benchmark's question ids belong to.

    Attributes:
        synthetic: The built-in synthetic corpus preset (``"default"``, ``"tiny"``), or ``None`` for
            an external corpus folder given in ``env_kwargs["corpus"]``.
        generator_version: ``GENERATOR_VERSION`` of the synthetic generator the ids were drawn from.
        fingerprint: ``SyntheticConfig.fingerprint()`` of that corpus (generator version + config).
    """

    synthetic: str | None = "default"
    generator_version: int | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class Benchmark:
    """A frozen benchmark: the env, the questions, the seeds and the action grammar.

    Attributes:
        name: Benchmark name; results go to ``results/<name>/<agent>.json``.
        env_id: Registered env id, with its ``-vN`` version.
        split: The question split the ids come from (recorded, and passed to the env).
        question_ids: The explicit, ordered question ids (one episode each).
        seed: Episode ``i`` is reset with seed ``seed + i``.
        max_episode_steps: Step limit (overrides the registered one, so it is part of the spec).
        dialect: Action dialect every agent must use (``"vrag"`` or ``"tool"``).
        reward: Reward preset name.
        corpus: Which corpus the ids belong to (checked against the installed generator).
        description: One line for humans.
        env_kwargs: Further ``gym.make`` keyword arguments (e.g. ``corpus`` for an external folder).
    """

    name: str
    env_id: str
    split: str
    question_ids: tuple[str, ...]
    seed: int = 0
    max_episode_steps: int = 10
    dialect: str = "vrag"
    reward: str = "default"
    corpus: CorpusRef = field(default_factory=CorpusRef)
    description: str = ""
    env_kwargs: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not self.question_ids:
            raise ValueError(f"benchmark {self.name!r} has no question ids")
        if len(set(self.question_ids)) != len(self.question_ids):
            raise ValueError(f"benchmark {self.name!r} lists a question id twice")
        if self.max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {self.max_episode_steps}")
        clash = sorted({"split", "dialect", "reward"} & set(self.env_kwargs))
        if clash:
            raise ValueError(f"set {clash} through the Benchmark fields, not env_kwargs")

    @property
    def episodes(self) -> int:
        """Number of episodes (one per question id)."""
        return len(self.question_ids)

    def check_fresh(self) -> None:
        """Check that the installed corpus generator still produces this benchmark's corpus.

        Raises:
            StaleBenchmarkError: With the versions found and the command that regenerates the spec.
        """
        if self.corpus.fingerprint is None:
            return
        if self.corpus.synthetic is None:
            self._check_realdocs()
            return
        from vrag_env.corpora.synthetic.config import GENERATOR_VERSION, resolve_config

        current = resolve_config(self.corpus.synthetic).fingerprint()
        if current != self.corpus.fingerprint:
            raise StaleBenchmarkError(
                f"benchmark {self.name!r} was built from synthetic corpus {self.corpus.synthetic!r} "
                f"generator version {self.corpus.generator_version} (fingerprint "
                f"{self.corpus.fingerprint}), but the installed generator is version "
                f"{GENERATOR_VERSION} (fingerprint {current}): its question ids may not exist or may "
                "mean other questions. Regenerate the spec with "
                "`uv run python -m benchmarks.specs --write` and re-run the evaluations."
            )

    def _check_realdocs(self) -> None:
        """The real-document track: its sources must hash to the fingerprint the spec records."""
        if self.env_kwargs.get("corpus") != "realdocs":
            return
        from vrag_env.corpora.realdocs import source_dir, source_key

        current = source_key(source_dir())
        if current != self.corpus.fingerprint:
            raise StaleBenchmarkError(
                f"benchmark {self.name!r} was built from the real-document sources with fingerprint "
                f"{self.corpus.fingerprint}, but data/realdocs now hashes to {current}: its question "
                "ids or answers may have changed. Regenerate the spec with "
                f"`uv run python -m benchmarks.specs --write {self.name}` and re-run the evaluations."
            )

    def make_env_kwargs(self) -> dict[str, Any]:
        """The ``gym.make`` keyword arguments (split, dialect, reward and ``env_kwargs``)."""
        return {
            "split": self.split,
            "dialect": self.dialect,
            "reward": self.reward,
            **self.env_kwargs,
        }

    def to_eval_spec(self, limit: int | None = None, name: str | None = None) -> EvalSpec:
        """The runner's :class:`~benchmarks.runner.EvalSpec` for this benchmark.

        Args:
            limit: Use only the first ``limit`` questions (``vrag leaderboard --quick``).
            name: Name recorded in results (default: the benchmark's name).

        Raises:
            StaleBenchmarkError: If the corpus generator changed since the spec was built.
        """
        from .eval_spec import EvalSpec

        self.check_fresh()
        ids = list(self.question_ids if limit is None else self.question_ids[:limit])
        return EvalSpec(
            env_id=self.env_id,
            env_kwargs=self.make_env_kwargs(),
            question_ids=ids,
            episodes=len(ids),
            seed=self.seed,
            max_episode_steps=self.max_episode_steps,
            name=name or self.name,
        )

    def to_json(self) -> dict[str, Any]:
        """JSON form (the spec file's content)."""
        record = asdict(self)
        record["question_ids"] = list(self.question_ids)
        return {"format_version": SPEC_FORMAT_VERSION, **record}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Benchmark:
        """Parse the form written by :meth:`to_json`."""
        record = dict(record)
        version = record.pop("format_version", None)
        if version != SPEC_FORMAT_VERSION:
            raise ValueError(f"benchmark spec format {version!r} is not {SPEC_FORMAT_VERSION}")
        record["question_ids"] = tuple(record["question_ids"])
        record["corpus"] = CorpusRef(**record.get("corpus", {}))
        return cls(**record)


# ---------------------------------------------------------------------------------------- recipes


@dataclass(frozen=True)
class BenchmarkRecipe:
    """How a checked-in benchmark's question ids are drawn (used only to (re)generate the file).

    Attributes:
        name: Benchmark name.
        env_id: Registered env id.
        synthetic: Built-in corpus preset the env id uses (``None`` with ``corpus``).
        split: The env's question split (recorded; the ids below pin every episode's question).
        draw_from: Splits to draw ids from, in order: each split's questions are permuted with
            ``seed`` and appended, so later splits only top up a split that is too small.
        num_questions: How many ids (``None``: every question of ``draw_from``).
        seed: Seed of the permutation and of the episodes.
        description: One line for humans.
        corpus: A named corpus instead of a synthetic one (``"realdocs"``: the real-document
            track, fingerprinted by its source files).
    """

    name: str
    env_id: str
    synthetic: str | None
    split: str
    draw_from: tuple[str, ...]
    num_questions: int | None
    seed: int
    description: str
    corpus: str | None = None


RECIPES: dict[str, BenchmarkRecipe] = {
    "synth-test": BenchmarkRecipe(
        name="synth-test",
        env_id="VRAG-v0",
        synthetic="default",
        split="test",
        draw_from=("test", "val"),
        num_questions=300,
        seed=2025,
        description=(
            "300 held-out questions of the built-in synthetic corpus in a seeded order: the test "
            "split first, topped up from the validation split (never the training split)"
        ),
    ),
    "synth-tiny": BenchmarkRecipe(
        name="synth-tiny",
        env_id="VRAG-Tiny-v0",
        synthetic="tiny",
        split="test",
        draw_from=("test",),
        num_questions=None,
        seed=7,
        description="every test question of the tiny synthetic corpus (for tests and smoke runs)",
    ),
    "docs-test": BenchmarkRecipe(
        name="docs-test",
        env_id="VRAG-v0",
        synthetic=None,
        corpus="realdocs",
        split="test",
        draw_from=("test",),
        num_questions=None,
        seed=2026,
        description=(
            "every evaluation question of the real-document track (data/realdocs: nine openly "
            "licensed documents, questions checked twice on the rendered pages); never used for tuning"
        ),
    ),
    "docs-dev": BenchmarkRecipe(
        name="docs-dev",
        env_id="VRAG-v0",
        synthetic=None,
        corpus="realdocs",
        split="val",
        draw_from=("val",),
        num_questions=None,
        seed=2026,
        description="the tuning questions of the real-document track (its val split)",
    ),
}
"""The benchmarks this repository ships. ``synth-test`` is the leaderboard's benchmark."""


def build_benchmark(recipe: BenchmarkRecipe) -> Benchmark:
    """Draw a benchmark's question ids from its corpus (generates the corpus if needed).

    For each split of ``recipe.draw_from`` in turn, its questions (in corpus order) are permuted
    with ``recipe.seed`` and appended; the list is truncated to ``num_questions``.
    """
    from vrag_env.corpora.synthetic import builtin_corpus
    from vrag_env.corpora.synthetic.config import GENERATOR_VERSION, resolve_config
    from vrag_env.loading import load_corpus

    if recipe.synthetic is None:
        return _build_named(recipe)
    corpus = load_corpus(str(builtin_corpus(recipe.synthetic)))
    pool = _draw(corpus, recipe)
    count = len(pool) if recipe.num_questions is None else recipe.num_questions
    if count > len(pool):
        raise ValueError(
            f"{recipe.name}: splits {list(recipe.draw_from)} hold {len(pool)} questions, "
            f"fewer than {count}"
        )
    ids = tuple(pool[:count])
    return Benchmark(
        name=recipe.name,
        env_id=recipe.env_id,
        split=recipe.split,
        question_ids=ids,
        seed=recipe.seed,
        corpus=CorpusRef(
            synthetic=recipe.synthetic,
            generator_version=GENERATOR_VERSION,
            fingerprint=resolve_config(recipe.synthetic).fingerprint(),
        ),
        description=recipe.description,
    )


def _draw(corpus: Any, recipe: BenchmarkRecipe) -> list[str]:
    """Each split of ``recipe.draw_from`` in turn, its ids (corpus order) permuted with the seed."""
    import numpy as np

    rng = np.random.default_rng(recipe.seed)
    pool: list[str] = []
    for split in recipe.draw_from:
        uids = [q.uid for q in corpus.split(split)]
        pool += [uids[int(i)] for i in rng.permutation(len(uids))]
    return pool


def _build_named(recipe: BenchmarkRecipe) -> Benchmark:
    """A benchmark over a named corpus (the real-document track): every question of its splits."""
    from vrag_env.corpora.realdocs import source_dir, source_key
    from vrag_env.loading import load_corpus

    if recipe.corpus != "realdocs":
        raise ValueError(f"{recipe.name}: unknown corpus {recipe.corpus!r} (known: 'realdocs')")
    pool = _draw(load_corpus("realdocs"), recipe)
    count = len(pool) if recipe.num_questions is None else recipe.num_questions
    return Benchmark(
        name=recipe.name,
        env_id=recipe.env_id,
        split=recipe.split,
        question_ids=tuple(pool[:count]),
        seed=recipe.seed,
        corpus=CorpusRef(synthetic=None, fingerprint=source_key(source_dir())),
        description=recipe.description,
        env_kwargs={"corpus": "realdocs"},
    )


# ---------------------------------------------------------------------------------------- lookup


def spec_path(name: str, spec_dir: Path = SPEC_DIR) -> Path:
    """The file of benchmark ``name``."""
    return spec_dir / f"{name}.json"


def available_benchmarks(spec_dir: Path = SPEC_DIR) -> list[str]:
    """Names of the checked-in benchmark specs."""
    return sorted(p.stem for p in spec_dir.glob("*.json"))


def load_benchmark(path: str | os.PathLike[str]) -> Benchmark:
    """Load a benchmark spec file."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON ({exc.msg})") from exc
    return Benchmark.from_json(record)


def get_benchmark(name: str, spec_dir: Path = SPEC_DIR) -> Benchmark:
    """The benchmark called ``name`` (a checked-in spec) or stored at path ``name``.

    Raises:
        ValueError: For an unknown name; the message lists the available ones.
    """
    path = spec_path(name, spec_dir)
    if path.is_file():
        return load_benchmark(path)
    if name.endswith(".json") and Path(name).is_file():
        return load_benchmark(name)
    raise ValueError(
        f"unknown benchmark {name!r}. Available benchmarks: {available_benchmarks(spec_dir)}"
    )


def write_benchmark(benchmark: Benchmark, path: str | os.PathLike[str]) -> Path:
    """Write a spec file atomically (temp file + rename), readable by everyone (0644)."""
    return write_json_atomic(path, benchmark.to_json(), indent=1, ensure_ascii=True)


def with_limit(benchmark: Benchmark, limit: int, suffix: str = "-quick") -> Benchmark:
    """A reduced copy: the first ``limit`` questions, named ``<name><suffix>``."""
    return replace(
        benchmark,
        name=f"{benchmark.name}{suffix}",
        question_ids=benchmark.question_ids[:limit],
        description=f"first {limit} questions of {benchmark.name}",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the checked-in spec files from their recipes."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="write benchmarks/specs/<name>.json")
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to build (default: all of {sorted(RECIPES)})"
    )
    args = parser.parse_args(argv)
    for name in args.names or sorted(RECIPES):
        if name not in RECIPES:
            parser.error(f"no recipe for {name!r}; recipes: {sorted(RECIPES)}")
        benchmark = build_benchmark(RECIPES[name])
        if args.write:
            print(
                f"wrote {write_benchmark(benchmark, spec_path(name))} ({benchmark.episodes} questions)"
            )
        else:
            print(json.dumps(benchmark.to_json())[:400] + " ...")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
