"""``vrag view`` and ``vrag demo`` on real ``vrag eval`` runs over the tiny built-in corpus.

The report is opened in headless Chromium (Debian's ``chromium``): its ``#selftest`` mode opens every
episode and writes how many episodes, steps and loaded images the browser sees into the DOM.
Without Chromium the browser tests skip, except under ``CI=true``, where they must run.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import vrag_env  # noqa: F401 - registers the env ids
from vrag_env.cli import main as vrag
from vrag_env.viewer.gif import write_gif
from vrag_env.viewer.images import agent_view
from vrag_env.viewer.report import write_benchmark_reports, write_report
from vrag_env.viewer.trajectory import STEP_FIELDS, load_run

ROOT = Path(__file__).resolve().parents[1]


def _eval(agent: str, out: Path, episodes: int = 3) -> dict[str, Any]:
    rc = vrag(
        [
            "eval",
            "--env-id",
            "VRAG-Tiny-v0",
            "--agent",
            agent,
            "--episodes",
            str(episodes),
            "--seed",
            "3",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Results of a real `vrag eval` of the oracle and the random agent (invalid actions)."""
    folder = tmp_path_factory.mktemp("results") / "tiny"
    paths = {}
    for agent in ("oracle", "random"):
        paths[agent] = folder / f"{agent}.json"
        _eval(agent, paths[agent])
    return paths


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("CI=true but no chromium binary: .ci/run installs Debian's `chromium` package")
    pytest.skip("chromium not installed (apt-get install -y chromium)")


def _browser(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    return subprocess.run(
        [*base, *args], capture_output=True, text=True, timeout=180, cwd=cwd, check=False
    )


def test_results_record_every_step(runs: dict[str, Path]) -> None:
    """Per step: the page shown, its region, the feedback and the reward, consistent with the rest."""
    data = json.loads(runs["random"].read_text(encoding="utf-8"))
    config = load_run(runs["random"]).config
    env = gym.make("VRAG-Tiny-v0")
    corpus = env.unwrapped.corpus  # type: ignore[attr-defined]
    kinds_seen = set()
    for record in data["episodes"]:
        n = len(record["actions"])
        assert all(len(record[k]) == n for k in STEP_FIELDS)
        assert sum(record["rewards"]) == pytest.approx(record["return"], abs=1e-5)
        shown = [p for p in record["view_pages"] if p is not None]
        assert list(dict.fromkeys(shown)) == record["retrieved_pages"]
        for kind, page, region in zip(
            record["action_kinds"], record["view_pages"], record["view_regions"], strict=True
        ):
            kinds_seen.add(kind)
            if page is None:
                assert region is None
                continue
            width, height = corpus.pages[page].width, corpus.pages[page].height
            assert 0 <= region[0] < region[2] <= width + 0.5
            assert 0 <= region[1] < region[3] <= height + 0.5
        assert not any("image" in k for k in record)  # no images inside results
    env.close()
    assert "invalid" in kinds_seen
    assert config.synthetic == "tiny"


def test_rendered_view_is_what_the_agent_saw(runs: dict[str, Path]) -> None:
    """The viewer's zoomed view is the observation's content (up to the recorded rounding)."""
    run = load_run(runs["oracle"])
    episode = run.episodes[0]
    env = gym.make("VRAG-Tiny-v0")
    env.reset(seed=3, options={"question_id": episode.question_id})
    compared = contrasted = 0
    for step in episode.steps:
        obs, _, _, _, info = env.step(step.action)
        # info shows opaque page ids; results files record the corpus's.
        shown = info["current_page"]
        assert (shown and env.unwrapped.real_page_id(shown)) == step.page  # type: ignore[attr-defined]
        if step.page is None or info["view"] is None:
            continue
        x, y, w, h = info["view"]["content_box"]
        seen = obs["image"][y : y + h, x : x + w]
        page = run.corpus.page_image(step.page)
        mine = np.asarray(agent_view(page, step.region, run.config, run.view_size))  # type: ignore[arg-type]
        assert mine.shape == seen.shape
        # info rounds the region to 0.01 page px, so resampling may differ by a grey level or two;
        # a region off by 8 page px (one text line's worth) differs far more.
        diff = np.abs(mine.astype(int) - seen.astype(int)).mean()
        x1, y1, x2, y2 = step.region  # type: ignore[misc]
        dy = 8 if y2 + 8 <= page.height else -8
        if step.kind == "crop" and y1 + dy >= 0:
            off = np.asarray(
                agent_view(page, (x1, y1 + dy, x2, y2 + dy), run.config, run.view_size)
            )
            assert np.abs(off.astype(int) - seen.astype(int)).mean() > 5 * max(diff, 0.1)
            contrasted += 1
        assert diff < 0.5
        compared += 1
    env.close()
    assert compared >= 2 and contrasted >= 1  # a search view and a crop view


def test_old_results_are_replayed(runs: dict[str, Path], tmp_path: Path) -> None:
    """A results file without the per-step fields is replayed through the env to the same steps."""
    data = json.loads(runs["random"].read_text(encoding="utf-8"))
    for record in data["episodes"]:
        for key in STEP_FIELDS:
            del record[key]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data), encoding="utf-8")
    assert load_run(old).episodes == load_run(runs["random"]).episodes


def test_bad_inputs_give_clear_errors(runs: dict[str, Path], tmp_path: Path) -> None:
    not_results = tmp_path / "x.json"
    not_results.write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(ValueError, match="no 'episodes' list"):
        load_run(not_results)
    data = json.loads(runs["oracle"].read_text(encoding="utf-8"))
    data["episodes"][0]["view_pages"][0] = "no-such-doc_1"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="no-such-doc_1"):
        load_run(other)
    hostile = json.loads(runs["oracle"].read_text(encoding="utf-8"))
    hostile["episodes"][0]["actions"][0] = "<img src=x onerror=alert(1)></pre></script>"
    hostile["episodes"][0]["feedback"][0] = "<b>bold</b>"
    (tmp_path / "hostile.json").write_text(json.dumps(hostile), encoding="utf-8")
    text = write_report(tmp_path / "hostile.json", tmp_path / "hostile.html").read_text("utf-8")
    assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text
    assert text.count("</script>") == 2  # the image table and the script, nothing injected
    with pytest.raises(ValueError, match="no episode 'nope'"):
        load_run(runs["oracle"]).episode("nope")
    assert vrag(["view", str(runs["oracle"]), "--gif", str(tmp_path / "x.gif")]) == 2


def test_report_in_headless_chromium(runs: dict[str, Path], tmp_path: Path) -> None:
    """Every episode and step is in the DOM and every image decodes; the page screenshots."""
    out = tmp_path / "report.html"
    assert vrag(["view", str(runs["random"]), "--out", str(out)]) == 0
    run = load_run(runs["random"])
    steps = sum(len(ep.steps) for ep in run.episodes)
    with_page = sum(1 for ep in run.episodes for s in ep.steps if s.page is not None)
    assert with_page > 0

    found = None
    for _ in range(2):  # a cold first start of a freshly installed browser can miss the budget
        done = _browser(
            ["--virtual-time-budget=30000", "--dump-dom", f"{out.as_uri()}#selftest"], tmp_path
        )
        found = re.search(r'<pre id="vrag-selftest">(.*?)</pre>', done.stdout, re.S)
        if found:
            break
    assert found, (
        f"no self-test result in the DOM (exit {done.returncode}); "
        f"stdout starts {done.stdout[:300]!r}; chromium stderr: {done.stderr[-1500:]}"
    )
    counts = json.loads(found.group(1))
    assert counts["episodes"] == len(run.episodes)
    assert counts["episode_ids"] == [ep.question_id for ep in run.episodes]
    assert counts["steps"] == steps
    assert counts["images"] == 2 * with_page  # a page thumbnail and a view per step with a page
    assert counts["loaded"] == counts["images"]
    assert counts["timed_out"] is False

    shot = tmp_path / "shot.png"
    _browser(["--window-size=1200,900", f"--screenshot={shot}", f"{out.as_uri()}#open=0"], tmp_path)
    image = np.asarray(Image.open(shot).convert("L"))
    assert image.shape == (900, 1200)
    assert image.std() > 10  # not a blank page


def test_folder_report_and_benchmark_reports(runs: dict[str, Path], tmp_path: Path) -> None:
    out = write_report(runs["oracle"], tmp_path / "r" / "oracle.html", folder=True)
    text = out.read_text(encoding="utf-8")
    files = sorted((tmp_path / "r" / "oracle_files").glob("*.jpg"))
    assert files and "data:image" not in text
    images = json.loads(re.search(r'id="vrag-images">(.*?)</script>', text, re.S).group(1))  # type: ignore[union-attr]
    assert sorted(images.values()) == sorted(f"oracle_files/{f.name}" for f in files)
    assert all(Image.open(f).format == "JPEG" for f in files)

    run = load_run(runs["oracle"])
    one = write_report(runs["oracle"], tmp_path / "one.html", episode="1").read_text("utf-8")
    assert one.count('<details class="episode"') == 1
    assert run.episodes[1].question_id in one and run.episodes[0].question_id not in one

    written = write_benchmark_reports(runs["oracle"].parent)
    assert sorted(written) == ["oracle", "random"]
    for agent, path in written.items():
        assert path == runs["oracle"].parent / "reports" / f"{agent}.html"
        assert load_run(runs[agent]).episodes[0].question_id in path.read_text(encoding="utf-8")


def test_gif_of_one_episode(runs: dict[str, Path], tmp_path: Path) -> None:
    run = load_run(runs["oracle"])
    episode = run.episodes[1]
    out = tmp_path / "ep.gif"
    assert (
        vrag(["view", str(runs["oracle"]), "--episode", episode.question_id, "--gif", str(out)])
        == 0
    )
    gif = Image.open(out)
    assert gif.n_frames == len(episode.steps) + 2  # question, steps, outcome
    assert write_gif(run, episode, tmp_path / "again.gif").read_bytes() == out.read_bytes()


def _request(url: str, data: dict[str, str] | None = None) -> tuple[int, bytes, str]:
    body = None if data is None else urllib.parse.urlencode(data).encode()
    try:
        with urllib.request.urlopen(url, data=body, timeout=60) as resp:
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers.get("Content-Type", "")


def test_demo_serves_a_playable_episode() -> None:
    """`vrag demo` on 127.0.0.1 and a free port: a hand-typed action, then the oracle finishes."""
    cmd = [sys.executable, "-m", "vrag_env.cli", "demo", "--env-id", "VRAG-Tiny-v0"]
    cmd += ["--agent", "oracle", "--port", "0", "--question-id", "synth-000009"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, f"unexpected first line {line!r}"
        base = f"http://127.0.0.1:{found.group(1)}"

        status, body, ctype = _request(base + "/")
        assert status == 200 and ctype.startswith("text/html")
        state = json.loads(_request(base + "/state.json")[1])
        assert state["question_id"] == "synth-000009" and state["step"] == 0
        assert html.escape(state["question"]) in body.decode("utf-8")
        assert "answers" not in state  # gold answers stay hidden during the episode
        assert _request(base + "/page.jpg")[0] == 404

        assert _request(base + "/step", {"action": "<bbox>[0, 0, 10, 10]</bbox>"})[0] == 200
        assert _request(base + "/step", {"action": "<search>annual report</search>"})[0] == 200
        state = json.loads(_request(base + "/state.json")[1])
        assert [h["kind"] for h in state["history"]] == ["invalid", "search"]
        assert state["current_page"] is not None
        status, jpeg, ctype = _request(base + "/view.jpg")
        assert status == 200 and ctype == "image/jpeg"
        height, width, _ = gym.make("VRAG-Tiny-v0").observation_space["image"].shape
        assert Image.open(io.BytesIO(jpeg)).size == (width, height)

        for _ in range(10):
            if json.loads(_request(base + "/state.json")[1])["done"]:
                break
            assert _request(base + "/agent-step", {})[0] == 200
        state = json.loads(_request(base + "/state.json")[1])
        assert state["done"] and state["prediction"] is not None
        assert state["answers"] and "score" in state

        assert _request(base + "/reset", {"question_id": "no-such-question"})[0] == 400
        assert _request(base + "/reset", {"seed": "5"})[0] == 200
        assert json.loads(_request(base + "/state.json")[1])["step"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
