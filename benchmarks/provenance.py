"""Provenance of results files; it lives in :mod:`vrag_env.provenance` (agents use it too)."""

from __future__ import annotations

from vrag_env.provenance import git_sha, provenance

__all__ = ["git_sha", "provenance"]
