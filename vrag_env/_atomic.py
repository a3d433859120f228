"""Atomic file and folder writes (private helper shared by every writer in the project).

Readers never see a half-written file or folder: content goes into a temporary sibling on the same
filesystem and is renamed into place. Folders use a two-rename swap (old aside, new in) so the target
is missing only for the instant between the renames, and a folder published meanwhile by another
process can be kept.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "make_staging_dir",
    "publish_dir",
    "remove_stale_staging",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling file and a rename.

    Args:
        path: The target file; its parent folders are created.
        data: The bytes to write.
        mode: Permission bits of the result (``mkstemp`` alone would leave 0600).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out


def write_text_atomic(path: str | os.PathLike[str], text: str, *, mode: int = 0o644) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`write_bytes_atomic`)."""
    return write_bytes_atomic(path, text.encode("utf-8"), mode=mode)


def write_json_atomic(
    path: str | os.PathLike[str],
    data: Any,
    *,
    indent: int | None = 2,
    sort_keys: bool = False,
    ensure_ascii: bool = False,
) -> Path:
    """Write ``data`` as JSON (UTF-8, newline-terminated) to ``path`` atomically.

    Text that UTF-8 cannot encode (lone surrogates, e.g. from an agent's output) is written with
    JSON escapes instead of failing: the file is always written and always valid JSON.
    """
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii) + "\n"
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, indent=indent, sort_keys=sort_keys, ensure_ascii=True) + "\n"
        raw = text.encode("utf-8")
    return write_bytes_atomic(path, raw)


def make_staging_dir(target: str | os.PathLike[str]) -> Path:
    """Create an empty temporary sibling folder of ``target`` to fill before :func:`publish_dir`."""
    out = Path(target)
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_staging(target: str | os.PathLike[str], max_age_s: float = 6 * 3600) -> list[Path]:
    """Delete temporary siblings of ``target`` left behind by writers that died.

    A staging folder (``.NAME.tmp-PID-*``) is stale when its process no longer runs (this host), or
    when it is older than ``max_age_s`` (folders from older versions without a PID, or from another
    host sharing the filesystem). Folders moved aside by :func:`publish_dir` (``.NAME.old-*``) are
    removed on the same rule.

    Returns:
        The folders removed.
    """
    out = Path(target)
    removed: list[Path] = []
    try:
        siblings = list(out.parent.glob(f".{out.name}.*"))
    except OSError:
        return removed
    now = time.time()
    for path in siblings:
        kind, _, rest = path.name[len(out.name) + 2 :].partition("-")
        if kind not in ("tmp", "old") or not path.is_dir() or path.is_symlink():
            continue
        pid_text = rest.partition("-")[0]
        try:
            age = now - path.stat().st_mtime
        except OSError:
            continue
        dead = pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text))
        if dead or age > max_age_s:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def publish_dir(
    staging: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    replace: bool = True,
    done_marker: str | None = None,
) -> bool:
    """Move the finished folder ``staging`` to ``target``.

    Args:
        staging: A folder from :func:`make_staging_dir`, completely written.
        target: The final folder.
        replace: Replace an existing ``target`` (moved aside, then deleted). When False an existing
            ``target`` is kept and ``staging`` is deleted.
        done_marker: A file name inside ``target`` that marks a complete folder. When another process
            publishes ``target`` between our renames and the marker is present, its folder is kept
            instead of raising.

    Returns:
        True when ``staging`` became ``target``; False when an existing folder was kept.

    Raises:
        OSError: When the rename fails and no complete ``target`` exists.
    """
    src, out = Path(staging), Path(target)
    old: Path | None = None
    try:
        if out.exists():
            if not replace:
                return False
            old = out.with_name(f".{out.name}.old-{os.getpid()}-{src.name[-8:]}")
            os.replace(out, old)
        try:
            os.replace(src, out)
        except OSError:
            # Another process published its folder between our two renames.
            if done_marker is None or not (out / done_marker).exists():
                raise
            return False
        return True
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(src, ignore_errors=True)


@contextmanager
def exclusive_lock(lock_path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path``, so parallel workers build a cache only once."""
    try:
        import fcntl
    except ImportError:  # not POSIX: an atomic rename alone keeps the cache valid
        yield
        return
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
