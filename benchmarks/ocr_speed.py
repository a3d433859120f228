r"""OCR speed and located answers per page, for several OCR versions or settings side by side.

Each *variant* is an ``ocr_image`` function:

* ``NAME=git:REV`` loads ``vrag_env/corpora/ocr.py`` as it was at git revision ``REV`` (for
  example the OCR before a change) and calls its ``ocr_image(image)`` with its defaults;
* ``NAME=current`` or ``NAME=current:max_side=960,rec_min_width=320`` calls this checkout's
  :func:`vrag_env.corpora.ocr.ocr_image` with those keyword arguments (``max_side=none`` for
  ``None``).

The variants run interleaved page by page in one process, each with its own single-threaded engine,
so a busy machine slows them alike. Per page the JSON records CPU seconds (``time.process_time``,
the comparable figure on a shared machine), wall seconds, the word count and, for each question
whose gold page it is, whether the answer is *located*: found as a run of words of the OCR text by
:func:`vrag_env.corpora.evidence.locate_answer` (NFKC, case folded, punctuation at word ends or
all non-alphanumerics ignored; what ``vrag ingest`` reports as "answer located in a text layer").
``in_text`` is looser: the answer, NFKC-normalised, lower-cased and without spaces, is a substring
of the page's text without spaces.

Questions are a VRAG-RL style file (``{"examples": [{"reference_answer": ..., "meta_info":
{"file_name": ...}}]}``, as ``vrag ingest --queries`` reads) or a list of such examples.

Example::

    uv run python benchmarks/ocr_speed.py --images IMG_DIR --questions questions.json \
        --variant old=git:8dcb14b --variant main=git:main --variant new=current \
        --out ocr_speed.json

Rows already in ``--out`` for the same variant spec and page are kept and not re-run (delete the
file or pass ``--force`` to measure again), so a run can be extended page by page.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from vrag_env.corpora.evidence import locate_answer
from vrag_env.types import Word

OcrFn = Callable[[Image.Image], list[Word]]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def _load_git_ocr(name: str, rev: str) -> OcrFn:
    """``ocr_image`` of ``vrag_env/corpora/ocr.py`` at git revision ``rev``."""
    root = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(
            ["git", "show", f"{rev}:vrag_env/corpora/ocr.py"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except subprocess.CalledProcessError as exc:
        raise SystemExit(
            f"variant {name}=git:{rev}: no vrag_env/corpora/ocr.py at revision {rev!r} "
            f"({exc.stderr.strip()}); pass a commit, branch or tag of this repository"
        ) from exc
    path = Path(tempfile.mkdtemp(prefix="ocr_speed_")) / f"ocr_{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"ocr_speed_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ocr_image


def _parse_kwargs(name: str, text: str) -> dict[str, Any]:
    """``max_side=960,rec_min_width=48`` -> keyword arguments (``none`` -> ``None``)."""
    kwargs: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"variant {name}: {item!r} is not KEY=VALUE (e.g. max_side=960)")
        kwargs[key.strip()] = None if value.strip().lower() == "none" else int(value)
    return kwargs


def make_variant(spec: str) -> tuple[str, OcrFn]:
    """Parse ``NAME=git:REV`` or ``NAME=current[:k=v,...]`` into a name and an OCR function.

    Raises:
        SystemExit: If the spec has neither form.
    """
    name, sep, what = spec.partition("=")
    if not sep or not name:
        raise SystemExit(f"--variant {spec!r}: write NAME=git:REV or NAME=current[:k=v,...]")
    if what.startswith("git:"):
        return name, _load_git_ocr(name, what[4:])
    if what == "current" or what.startswith("current:"):
        from vrag_env.corpora.ocr import ocr_image

        kwargs = _parse_kwargs(name, what.partition(":")[2])
        return name, lambda image: ocr_image(image, **kwargs)
    raise SystemExit(f"--variant {spec!r}: write NAME=git:REV or NAME=current[:k=v,...]")


def load_questions(path: Path) -> dict[str, list[list[str]]]:
    """Gold answers by page file name, from a VRAG-RL style questions file.

    Each question contributes its list of accepted answers (a string answer is a list of one).
    """
    raw = json.loads(path.read_text(encoding="utf-8"))
    examples = raw["examples"] if isinstance(raw, dict) else raw
    answers: dict[str, list[list[str]]] = {}
    for ex in examples:
        gold = ex["reference_answer"]
        accepted = [str(a) for a in gold] if isinstance(gold, list) else [str(gold)]
        answers.setdefault(ex["meta_info"]["file_name"], []).append(accepted)
    return answers


def _squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def located(answers: Sequence[Sequence[str]], texts: Sequence[str]) -> dict[str, dict[str, bool]]:
    """Whether each question's answer is on the page, by two measures.

    Per question (keyed by its accepted answers joined with ``|``): ``located`` when any accepted
    answer is a run of the OCR words (as ingest finds evidence), ``in_text`` when it is a substring.

    Example:
        >>> located([["US$7,500"], ["6倍", "6"]], ["US$7,500", "提升6倍"])
        {'US$7,500': {'located': True, 'in_text': True}, '6倍|6': {'located': True, 'in_text': True}}
    """
    words = [Word(t, (0.0, 0.0, 1.0, 1.0)) for t in texts]
    page = _squash(" ".join(texts))
    return {
        "|".join(accepted): {
            "located": any(locate_answer(a, words) is not None for a in accepted),
            "in_text": any(_squash(a) in page for a in accepted),
        }
        for accepted in answers
    }


def page_kind(size: tuple[int, int]) -> str:
    """``WIDTHxHEIGHT``: the summary groups pages by size."""
    return f"{size[0]}x{size[1]}"


def summarise(rows: Sequence[dict[str, Any]], variants: Sequence[str]) -> list[dict[str, Any]]:
    """Mean CPU and wall seconds per page and located answers, per variant and page size."""
    out = []
    for kind in sorted({r["size"] for r in rows}):
        for v in variants:
            mine = [r for r in rows if r["size"] == kind and r["variant"] == v]
            if not mine:
                continue
            checks = [c for r in mine for c in r["answers"].values()]
            out.append(
                {
                    "size": kind,
                    "variant": v,
                    "pages": len(mine),
                    "cpu_s_mean": round(statistics.fmean(r["cpu_s"] for r in mine), 3),
                    "wall_s_mean": round(statistics.fmean(r["wall_s"] for r in mine), 3),
                    "answers": len(checks),
                    "located": sum(c["located"] for c in checks),
                    "in_text": sum(c["in_text"] for c in checks),
                }
            )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, required=True, help="folder of page images")
    parser.add_argument("--questions", type=Path, help="VRAG-RL style questions (gold pages)")
    parser.add_argument("--variant", action="append", default=[], help="NAME=git:REV|current")
    parser.add_argument("--pages", nargs="*", help="file names to OCR (default: all images)")
    parser.add_argument("--only-question-pages", action="store_true")
    parser.add_argument("--out", type=Path, required=True, help="JSON file (rows are reused)")
    parser.add_argument("--force", action="store_true", help="re-measure rows already in --out")
    args = parser.parse_args(argv)

    if not args.images.is_dir():
        raise SystemExit(f"--images {args.images}: not a folder; pass the folder of page images")
    answers = load_questions(args.questions) if args.questions else {}
    names = args.pages or sorted(
        p.name for p in args.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
    )
    if args.only_question_pages:
        names = [n for n in names if n in answers]
    specs = args.variant or ["new=current"]
    variants = [make_variant(s) for s in specs]

    previous: list[dict[str, Any]] = []
    if args.out.exists() and not args.force:
        previous = json.loads(args.out.read_text(encoding="utf-8")).get("rows", [])
    done = {(r["spec"], r["page"]): r for r in previous}
    warm = Image.new("RGB", (64, 64), "white")
    for _, fn in variants:
        fn(warm)  # load the engines outside the timings

    rows: list[dict[str, Any]] = []
    for page in names:
        image = Image.open(args.images / page)
        image.load()
        rgb = image.convert("RGB")
        for spec, (name, fn) in zip(specs, variants, strict=True):
            if (spec, page) in done:  # OCR reused; answers checked again
                row = {**done[(spec, page)], "variant": name}
                row["answers"] = located(answers.get(page, []), row["texts"])
                rows.append(row)
                continue
            cpu0, wall0 = time.process_time(), time.perf_counter()
            words = fn(rgb)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            row = {
                "variant": name,
                "spec": spec,
                "page": page,
                "size": page_kind(rgb.size),
                "cpu_s": round(cpu, 3),
                "wall_s": round(wall, 3),
                "words": len(words),
                "answers": located(answers.get(page, []), [w.text for w in words]),
                "texts": [w.text for w in words],
            }
            rows.append(row)
            brief = {k: v for k, v in row.items() if k != "texts"}
            print(json.dumps(brief, ensure_ascii=False), flush=True)
    summary = summarise(rows, [name for name, _ in variants])
    measured = {(r["spec"], r["page"]) for r in rows}
    kept = [r for r in previous if (r["spec"], r["page"]) not in measured]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"summary": summary, "rows": rows + kept}, ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )
    for s in summary:
        print(json.dumps(s), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
