"""The wheel installs next to a distribution that owns a top-level ``agents`` package.

Builds the wheel with ``uv build``, installs it into a fresh virtual environment together with
``openai-agents`` (which installs ``agents``), and runs ``vrag eval`` from there. Needs ``uv`` and the
package registry (or uv's cache); slow because of the installs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("uv") is None, reason="needs uv to build and install the wheel"
    ),
]


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, timeout=900, env=env, check=False
    )
    assert out.returncode == 0, (
        f"{' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    )
    return out.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run("uv", "build", "--wheel", "--out-dir", str(dist), cwd=ROOT)
    (path,) = dist.glob("vrag_env-*.whl")
    return path


def test_wheel_has_one_top_level_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        tops = {name.split("/")[0] for name in zf.namelist() if not name.startswith("vrag_env-")}
        names = set(zf.namelist())
    assert tops == {"vrag_env"}
    assert "vrag_env/_bundled/agents/heuristic.py" in names
    assert "vrag_env/_bundled/benchmarks/specs/synth-tiny.json" in names


def test_installed_next_to_openai_agents(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run("uv", "venv", "--python", sys.executable, str(venv), cwd=tmp_path)
    python = venv / "bin" / "python"
    _run("uv", "pip", "install", "--python", str(python), str(wheel), "openai-agents", cwd=tmp_path)
    # `agents` is openai-agents' package; ours is reachable through vrag_env only.
    code = (
        "import agents, vrag_env._entry_points as ep; "
        "print(agents.__file__); print(ep.load_entry_point('agents.registry:make_agent').__module__)"
    )
    agents_file, registry_module = _run(str(python), "-c", code, cwd=tmp_path).split()
    assert "vrag_env" not in agents_file
    assert registry_module == "vrag_env._bundled.agents.registry"
    env = {
        **os.environ,
        "VRAG_ENV_CACHE": str(tmp_path / "cache"),
        "PYTHONPATH": "",
        "VIRTUAL_ENV": str(venv),
    }
    out = tmp_path / "oracle.json"
    _run(
        str(venv / "bin" / "vrag"),
        "eval",
        "--agent",
        "oracle",
        "--benchmark",
        "synth-tiny",
        "--out",
        str(out),
        "--quiet",
        cwd=tmp_path,
        env=env,
    )
    results = json.loads(out.read_text())
    assert results["summary"]["episodes"] == len(results["episodes"]) > 0
    assert results["summary"]["anls"] == 1.0
    help_text = _run(str(venv / "bin" / "vrag"), "--help", cwd=tmp_path, env=env)
    for command in (
        "eval",
        "leaderboard",
        "generate",
        "ingest",
        "retrieval-eval",
        "serve-retriever",
    ):
        assert command in help_text
