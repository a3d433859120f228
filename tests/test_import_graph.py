"""The import graph: no cycles, and nothing imports upward (see docs/architecture.md).

Every ``import`` statement of every module in ``vrag_env``, ``agents`` and ``benchmarks`` is read with
``ast``, including imports inside functions (lazy imports) and ``TYPE_CHECKING`` blocks.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vrag_env", "agents", "benchmarks")

# Layers of vrag_env, lowest first. A module may import modules of its own layer or below.
GROUND = {
    "testing",
    "text",
    "types",
    "spaces",
    "actions",
    "rewards",
    "rendering",
    "judge",
    "answer_accuracy",
    "answer_metrics",
    "reading",
    "_atomic",
    "_entry_points",
    "shared_ocr_cache",
    "_version",
}
DATA = {"corpora", "retrieval"}
ENV = {"env", "episode_state", "crop_regions", "presets", "loading", "agent_api"}
WRAPPERS = {"wrappers", "view_ocr", "described_env"}
VIEWER = {"viewer"}  # episode reports and the demo app: read results files, re-render from the env
FACE = {"__init__", "provenance"}  # the package itself (public names) and results provenance
COMMANDS = {"commands", "cli"}
VRAG_LAYERS = [GROUND, DATA, ENV, WRAPPERS, VIEWER, FACE, COMMANDS]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module ``name`` refers to (a submodule, else its package), or None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    package = module if is_pkg else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base = ".".join(base_parts[: len(base_parts) - node.level + 1])
                stem = f"{base}.{node.module}" if node.module else base
            else:
                stem = node.module or ""
            names = [f"{stem}.{alias.name}" for alias in node.names] + [stem]
        for name in names:
            resolved = _resolve(name)
            if resolved is not None and resolved != module:
                targets.add(resolved)
    return targets


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _rank(module: str) -> tuple[int, str]:
    """(rank, group): a module may import only ranks <= its own."""
    top, _, rest = module.partition(".")
    if top == "agents":
        return 10, "agents"
    if top == "benchmarks":
        return 11, "benchmarks"
    first = rest.partition(".")[0] or "__init__"
    for rank, layer in enumerate(VRAG_LAYERS):
        if first in layer:
            return rank, first
    raise AssertionError(f"{module}: not assigned to a layer in tests/test_import_graph.py")


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _rank(module)


def test_no_upward_imports() -> None:
    bad = []
    for module, targets in GRAPH.items():
        rank, _ = _rank(module)
        for target in targets:
            if _rank(target)[0] > rank:
                bad.append(f"{module} -> {target}")
    assert not bad, "imports that go up a layer:\n" + "\n".join(sorted(bad))


def test_agents_and_benchmarks_use_the_public_face() -> None:
    """agents never import benchmarks; neither imports vrag_env's command-line modules."""
    bad = []
    for module, targets in GRAPH.items():
        top = module.partition(".")[0]
        if top not in ("agents", "benchmarks"):
            continue
        for target in targets:
            if top == "agents" and target.startswith("benchmarks"):
                bad.append(f"{module} -> {target}")
            if target.startswith(("vrag_env.commands", "vrag_env.cli")):
                bad.append(f"{module} -> {target}")
    assert not bad, "\n".join(sorted(bad))


def test_corpora_and_retrieval_never_import_env_or_loading() -> None:
    bad = [
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        if m.startswith(("vrag_env.corpora", "vrag_env.retrieval"))
        for t in targets
        if t.startswith(("vrag_env.env", "vrag_env.loading", "vrag_env.presets"))
    ]
    assert not bad, "\n".join(sorted(bad))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    # A package's __init__ re-exporting its submodules lazily is not a cycle of execution, but it
    # is one in the graph; so __init__ -> own submodule edges are left out.
    graph = {m: {t for t in targets if not t.startswith(m + ".")} for m, targets in GRAPH.items()}
    assert _cycles(graph) == []


def test_the_checker_sees_a_cycle_and_an_upward_import() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    assert _rank("vrag_env.env")[0] > _rank("vrag_env.retrieval.bm25")[0]


def test_import_vrag_env_stays_light() -> None:
    heavy = ["torch", "transformers", "faiss", "scipy", "matplotlib", "colpali_engine", "bm25s"]
    code = (
        "import sys, vrag_env, gymnasium as gym; "
        "assert 'VRAG-v0' in gym.registry; "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.parametrize("name", ["VRAGEnv", "RewardConfig", "Corpus", "make_retriever"])
def test_public_names_are_exported_lazily(name: str) -> None:
    import vrag_env

    assert name in vrag_env.__all__
    assert getattr(vrag_env, name) is not None
