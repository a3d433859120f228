"""Registries by string: ``name -> "module:Object"`` tables, resolved on first use (Gymnasium style).

Retrievers, agents, corpus formats and ``vrag`` subcommands are all registered this way: a table maps
a short name to an entry point string, and :func:`load_entry_point` imports the module only when the
name is used. Nothing is imported for its side effects, so importing a registry is cheap and cannot
create an import cycle.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from functools import cache
from types import ModuleType
from typing import Any

__all__ = ["import_module", "load_entry_point", "lookup"]

BUNDLED = "vrag_env._bundled"
"""Where a wheel carries the repository's ``agents`` and ``benchmarks`` packages.

A source checkout has them at the top level (``agents.heuristic``); the wheel ships them inside
``vrag_env`` (``vrag_env._bundled.agents.heuristic``) so that it installs no generic top-level
``agents`` package next to other distributions that do (``openai-agents``)."""

_BUNDLED_TOPS = ("agents", "benchmarks")


@cache
def _bundled() -> bool:
    return importlib.util.find_spec(BUNDLED) is not None


def module_path(name: str) -> str:
    """The importable name of project module ``name``.

    ``agents.*`` and ``benchmarks.*`` map to the bundled copy in an installed wheel; every other name
    (and every name in a source checkout) is kept.
    """
    if name.partition(".")[0] in _BUNDLED_TOPS and _bundled():
        return f"{BUNDLED}.{name}"
    return name


def import_module(name: str) -> ModuleType:
    """:func:`importlib.import_module` for project module names (see :func:`module_path`)."""
    return importlib.import_module(module_path(name))


def load_entry_point(entry_point: str) -> Any:
    """Import ``"package.module:Object"`` (``Object`` may be dotted) and return the object.

    Raises:
        ValueError: If the string is not ``module:Object``, the module cannot be imported, or it
            has no such object. The message names the entry point.
    """
    module_name, sep, attr = entry_point.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"entry point {entry_point!r} must look like 'package.module:Object'")
    try:
        obj: Any = import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ValueError(f"cannot import {module_name!r} for {entry_point!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(
                f"{module_name!r} has no {attr!r} (entry point {entry_point!r})"
            ) from None
    return obj


def lookup(table: Mapping[str, Any], name: str, kind: str, *, allow_path: bool = False) -> Any:
    """Resolve ``name`` in ``table`` (or, with ``allow_path``, a ``"module:Object"`` string).

    Args:
        table: ``name -> "module:Object"``; as in Gymnasium, a value may also be the object itself
            (a class defined in a script or a test).
        name: A registered name.
        kind: What the table holds, for the error message ("retriever", "agent", ...).
        allow_path: Also accept an entry point string that is not in the table.

    Raises:
        ValueError: For an unknown name; the message lists the registered names.
    """
    target = table.get(name)
    if target is None and allow_path and ":" in name:
        target = name
    if target is None:
        extra = "; or give your own as 'module:Object'" if allow_path else ""
        raise ValueError(f"unknown {kind} {name!r}. Available {kind}s: {sorted(table)}{extra}")
    return load_entry_point(target) if isinstance(target, str) else target
