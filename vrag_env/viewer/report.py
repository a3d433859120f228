"""``vrag view``: an HTML report of a results file, every episode and every step.

The report is one self-contained HTML file: an index of episodes with filters (correct, wrong,
unanswered, with invalid actions, by source and question type) and, per episode, the question, gold
answers and prediction, then every step with the page thumbnail and the shown region outlined on it,
the zoomed view the agent saw, the action text, the feedback and the reward.

Size: images are JPEG and shared (one thumbnail per page, one view per distinct page region), kept
in a JSON table and only decoded when an episode is opened, so a 300-episode report opens at once.
``assets_dir`` writes the images as files beside the HTML instead (a folder report).

Opening ``report.html#selftest`` opens every episode, waits for every image and writes the counts
into ``<pre id="vrag-selftest">``: the tests (and anyone) can check a report in a headless browser.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vrag_env.viewer.images import agent_view, data_uri, jpeg_bytes, page_thumbnail, shrink
from vrag_env.viewer.trajectory import Episode, Run, Step, load_run

if TYPE_CHECKING:
    from vrag_env.rendering import PagePyramid

THUMB_SIDE = 220
"""Longer side of page thumbnails in the report, in pixels."""

VIEW_SIDE = 400
"""Longer side of the zoomed views in the report, in pixels."""

_ASSETS = Path(__file__).with_name("assets")


class ImageStore:
    """JPEG images of a report, each rendered once and referred to by a short key.

    Args:
        run: The run whose corpus the images come from.
        assets_dir: Write images as files here (a folder report); ``None`` embeds them.
        relative_to: Folder the HTML lives in (file references are relative to it).
    """

    def __init__(self, run: Run, assets_dir: Path | None = None, relative_to: Path | None = None):
        self.run = run
        self.assets_dir = assets_dir
        self.relative_to = relative_to
        self.sources: dict[str, str] = {}
        self.bytes_written = 0
        self._keys: dict[tuple[Any, ...], str] = {}

    def thumbnail(self, page_id: str) -> str:
        """Key of the thumbnail of page ``page_id``."""
        return self._get(("page", page_id), lambda: self._thumb(page_id))

    def view(self, page_id: str, region: tuple[float, ...]) -> str:
        """Key of the agent's view of ``region`` of page ``page_id``."""
        return self._get(("view", page_id, region), lambda: self._view(page_id, region))

    def _page(self, page_id: str) -> PagePyramid:
        # The corpus's cached pyramid: halvings and whole-page views are made once per page, not
        # once per picture (render_view draws the same pixels from a pyramid or a plain image).
        return self.run.corpus.page_pyramid(page_id)

    def _thumb(self, page_id: str) -> bytes:
        return jpeg_bytes(page_thumbnail(self._page(page_id), THUMB_SIDE))

    def _view(self, page_id: str, region: tuple[float, ...]) -> bytes:
        image = agent_view(self._page(page_id), region, self.run.config, self.run.view_size)  # type: ignore[arg-type]
        return jpeg_bytes(shrink(image, VIEW_SIDE))

    def _get(self, key: tuple[Any, ...], make: Callable[[], bytes]) -> str:
        if key not in self._keys:
            name = f"i{len(self._keys)}"
            data = make()
            self.bytes_written += len(data)
            if self.assets_dir is None:
                self.sources[name] = data_uri(data)
            else:
                self.assets_dir.mkdir(parents=True, exist_ok=True)
                target = self.assets_dir / f"{name}.jpg"
                target.write_bytes(data)
                base = self.relative_to or self.assets_dir.parent
                self.sources[name] = Path(os.path.relpath(target, base)).as_posix()
            self._keys[key] = name
        return self._keys[key]


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _outcome(ep: Episode) -> str:
    if ep.prediction is None:
        return "unanswered"
    return "correct" if ep.correct else "wrong"


def _step_html(step: Step, run: Run, store: ImageStore) -> str:
    pics = '<div class="nopage">no page shown yet</div>'
    if step.page is not None and step.region is not None:
        page = run.corpus.pages[step.page]
        x1, y1, x2, y2 = step.region
        box = (
            f"left:{100 * x1 / page.width:.2f}%;top:{100 * y1 / page.height:.2f}%;"
            f"width:{100 * (x2 - x1) / page.width:.2f}%;height:{100 * (y2 - y1) / page.height:.2f}%"
        )
        pics = (
            f'<figure class="thumb"><div class="frame"><img data-img="{store.thumbnail(step.page)}"'
            f' alt="page {_esc(step.page)}"><div class="box" style="{box}"></div></div>'
            f"<figcaption>{_esc(step.page)}</figcaption></figure>"
            f'<figure class="view"><img data-img="{store.view(step.page, step.region)}"'
            f' alt="view of {_esc(step.page)}"><figcaption>region '
            f"[{', '.join(f'{v:.0f}' for v in step.region)}]</figcaption></figure>"
        )
    kind = step.kind or "?"
    return (
        f'<div class="step kind-{_esc(kind)}" data-step="{step.index}">'
        f'<div class="stephead"><b>step {step.index}</b> <span class="kind">{_esc(kind)}</span>'
        f" reward {_fmt(step.reward)}</div>"
        f'<div class="pics">{pics}</div>'
        f'<pre class="action">{_esc(step.action)}</pre>'
        f'<div class="feedback">{_esc(step.feedback)}</div></div>'
    )


def _episode_html(ep: Episode, run: Run, store: ImageStore) -> str:
    steps = "".join(_step_html(s, run, store) for s in ep.steps)
    scores = " · ".join(f"{k} {v:.2f}" for k, v in ep.score.items())
    prediction = "(no answer)" if ep.prediction is None else ep.prediction
    return (
        f'<details class="episode" id="ep-{ep.index}" data-qid="{_esc(ep.question_id)}">'
        f'<summary><span class="tag {_outcome(ep)}">{_outcome(ep)}</span> '
        f"#{ep.index} {_esc(ep.question_id)} · {_esc(ep.question)}</summary>"
        f'<div class="qa"><div><b>question</b> {_esc(ep.question)}</div>'
        f"<div><b>gold</b> {_esc(' | '.join(ep.answers))}</div>"
        f'<div><b>prediction</b> <span class="{_outcome(ep)}">{_esc(prediction)}</span></div>'
        f'<div class="scores">{_esc(scores)} · invalid actions {ep.invalid_actions}'
        f" · source {_esc(ep.source_type or '–')} · {_esc(ep.query_type or '–')}</div></div>"
        f'<div class="steps">{steps}</div></details>'
    )


def _index_html(episodes: list[Episode]) -> str:
    rows = []
    for ep in episodes:
        anls = ep.score.get("anls")
        rows.append(
            f'<tr data-ep="{ep.index}" data-outcome="{_outcome(ep)}" '
            f'data-invalid="{int(ep.invalid_actions > 0)}" '
            f'data-source="{_esc(ep.source_type or "unknown")}" '
            f'data-qtype="{_esc(ep.query_type or "unknown")}">'
            f'<td><a href="#ep-{ep.index}">{ep.index}</a></td><td>{_esc(ep.question_id)}</td>'
            f'<td class="{_outcome(ep)}">{_outcome(ep)}</td><td>{_fmt(anls)}</td>'
            f"<td>{len(ep.steps)}</td><td>{ep.invalid_actions}</td>"
            f"<td>{_esc(ep.source_type or '–')}</td><td>{_esc(ep.query_type or '–')}</td>"
            f'<td class="q">{_esc(ep.question)}</td></tr>'
        )
    return "".join(rows)


def _options(values: list[str]) -> str:
    return "".join(f'<option value="{_esc(v)}">{_esc(v)}</option>' for v in values)


def render_report(
    run: Run, assets_dir: str | os.PathLike[str] | None = None, html_dir: Path | None = None
) -> tuple[str, ImageStore]:
    """The report's HTML text and its image store.

    Args:
        run: The opened results file.
        assets_dir: Write images into this folder instead of embedding them.
        html_dir: Folder the HTML will be written to (for relative image paths).
    """
    store = ImageStore(run, None if assets_dir is None else Path(assets_dir), html_dir)
    episodes = "".join(_episode_html(ep, run, store) for ep in run.episodes)
    sources = sorted({ep.source_type or "unknown" for ep in run.episodes})
    qtypes = sorted({ep.query_type or "unknown" for ep in run.episodes})
    summary = " · ".join(
        f"{k} {v}" for k, v in run.summary.items() if isinstance(v, (int, float, str))
    )
    meta = run.metadata
    provenance = (
        f"git {meta.get('git_sha') or '?'}{' (dirty)' if meta.get('git_dirty') else ''} · "
        f"vrag-env {meta.get('vrag_env_version', '?')} · corpus {run.corpus.root.name} · "
        f"{meta.get('timestamp', '')}"
    )
    # "</" cannot appear inside JSON strings of base64 or relative paths, but escape it anyway.
    images = json.dumps(store.sources, separators=(",", ":")).replace("</", "<\\/")
    template = (_ASSETS / "report.html").read_text(encoding="utf-8")
    text = (
        template.replace("{{style}}", (_ASSETS / "report.css").read_text(encoding="utf-8"))
        .replace("{{script}}", (_ASSETS / "report.js").read_text(encoding="utf-8"))
        .replace("{{title}}", _esc(run.title))
        .replace("{{summary}}", _esc(summary))
        .replace("{{provenance}}", _esc(provenance))
        .replace("{{results}}", _esc(run.path.name))
        .replace("{{count}}", str(len(run.episodes)))
        .replace("{{sources}}", _options(sources))
        .replace("{{qtypes}}", _options(qtypes))
        .replace("{{index}}", _index_html(run.episodes))
        .replace("{{episodes}}", episodes)
        .replace("{{images}}", images)
    )
    return text, store


def write_report(
    results: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    folder: bool = False,
    episode: str | None = None,
) -> Path:
    """Write the HTML report of a results file.

    Args:
        results: A results JSON written by ``vrag eval``.
        out: The HTML file to write.
        folder: Write images into ``<out stem>_files/`` beside the HTML instead of embedding them.
        episode: Only this episode (question id or 0-based index).

    Returns:
        The HTML file.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    run = load_run(results)
    if episode is not None:
        run.episodes = [run.episode(episode)]
    assets = out.parent / f"{out.stem}_files" if folder else None
    text, _ = render_report(run, assets, out.parent)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return out


def write_benchmark_reports(
    results_dir: str | os.PathLike[str], reports_dir: str | os.PathLike[str] | None = None
) -> dict[str, Path]:
    """Write one report per results file of a benchmark folder.

    ``results/<benchmark>/<agent>.json`` becomes ``results/<benchmark>/reports/<agent>.html`` (or
    ``reports_dir/<agent>.html``), which is where ``vrag leaderboard`` links each row.

    Args:
        results_dir: The benchmark's results folder.
        reports_dir: Where to write the reports (default: ``results_dir/reports``).

    Returns:
        The report of each results file, by the file's stem (the agent name).
    """
    results_dir = Path(results_dir)
    target = Path(reports_dir) if reports_dir is not None else results_dir / "reports"
    written = {}
    for path in sorted(results_dir.glob("*.json")):
        written[path.stem] = write_report(path, target / f"{path.stem}.html")
    return written
