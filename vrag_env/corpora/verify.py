"""Checks that a corpus folder is what its manifest says, and stays inside itself.

Corpora come from strangers. On load (:class:`~vrag_env.corpora.corpus.Corpus`) every record is
validated, every page path must be relative and resolve inside ``pages/`` (no ``..``, no absolute path,
no symlink that leads out, no symlinked ``pages/`` folder), and ``pages.jsonl``, ``queries.jsonl`` and
every page image are compared with the SHA-256 checksums in ``manifest.json``. Hashing is made cheap by
:class:`FileHashCache`: a file's digest is remembered with its size, modification and change times and
inode, in the user's cache folder (outside the corpus, so a corpus cannot vouch for itself); a file
whose stat changed is hashed again. ``vrag verify DIR`` hashes everything, ignoring the cache.

What this does not protect against: someone who rewrites the files *and* the manifest consistently
(the manifest is not signed), or a file changed on disk after it was verified and loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vrag_env._atomic import write_json_atomic
from vrag_env.types import CorpusFormatError

logger = logging.getLogger(__name__)

CACHE_ENV = "VRAG_ENV_CACHE"
FILE_CHECKSUMS_KEY = "files"
"""Manifest key with the SHA-256 of every page image (``{"pages/x.png": hex}``); older corpora only
have the combined ``checksums["pages"]``."""

_HEX = frozenset("0123456789abcdef")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "vrag_env").expanduser()


class FileHashCache:
    """SHA-256 digests of files, remembered by ``(size, mtime_ns, ctime_ns, inode)``.

    One JSON file per corpus folder under ``$VRAG_ENV_CACHE/verified/``. ``ctime`` cannot be set back
    by a user, so a file rewritten with its old size and modification time is still hashed again.

    Args:
        root: The folder whose files are hashed (its real path names the cache file).
        enabled: ``False`` hashes every file every time (``vrag verify``).
    """

    def __init__(self, root: Path, enabled: bool = True) -> None:
        self.enabled = enabled
        key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:24]
        self.path = _cache_root() / "verified" / f"{key}.json"
        self._entries: dict[str, list[Any]] = {}
        self._dirty = False
        self._lock = threading.Lock()
        if enabled:
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(loaded, dict):
                    self._entries = loaded
            except (OSError, ValueError):
                pass

    def sha256(self, path: Path) -> str:
        """The digest of ``path`` (from the cache when its stat is unchanged)."""
        st = path.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        name = str(path)
        with self._lock:
            entry = self._entries.get(name) if self.enabled else None
        if isinstance(entry, list) and len(entry) == 5 and entry[:4] == stamp:
            return str(entry[4])
        digest = sha256_file(path)
        with self._lock:
            self._entries[name] = [*stamp, digest]
            self._dirty = True
        return digest

    def save(self) -> None:
        """Write the cache back (best effort: an unwritable cache folder only costs speed)."""
        if not (self.enabled and self._dirty):
            return
        try:
            write_json_atomic(self.path, self._entries, indent=None)
            self._dirty = False
        except OSError as exc:
            logger.debug("cannot write the checksum cache %s: %s", self.path, exc)


def _is_hex64(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def validate_manifest(path: Path, raw: bytes) -> dict[str, Any]:
    """Parse ``manifest.json`` and check the types of the fields the loader relies on.

    Raises:
        CorpusFormatError: Naming the file and the field.
    """
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CorpusFormatError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise CorpusFormatError(f"{path}: invalid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(manifest, dict):
        raise CorpusFormatError(
            f"{path}: the manifest must be a JSON object, got a {type(manifest).__name__}"
        )
    if "checksums" in manifest:
        checksums = manifest["checksums"]
        if not isinstance(checksums, dict):
            raise CorpusFormatError(
                f"{path}: field 'checksums' must be an object of file name -> sha256, got "
                f"{type(checksums).__name__}"
            )
        for name, digest in checksums.items():
            if not _is_hex64(digest):
                raise CorpusFormatError(
                    f"{path}: field 'checksums.{name}' must be a 64-digit hex sha256"
                )
    files = manifest.get(FILE_CHECKSUMS_KEY)
    if files is not None and not (
        isinstance(files, dict) and all(_is_hex64(v) for v in files.values())
    ):
        raise CorpusFormatError(
            f"{path}: field '{FILE_CHECKSUMS_KEY}' must be an object of page path -> sha256"
        )
    for key, kind in (("name", str), ("build", dict)):
        if key in manifest and not isinstance(manifest[key], kind):
            raise CorpusFormatError(f"{path}: field {key!r} must be {kind.__name__}")
    return manifest


# Optional record fields the record parsers convert without checking their type.
_PAGE_OPTIONAL = {"kind": (str,), "meta": (dict,), "words": (list,)}
_QUERY_OPTIONAL = {
    "source_type": (str,),
    "query_type": (str,),
    "evidence": (list,),
    "meta": (dict,),
    "small_print": (bool, type(None)),
}


def check_record_types(record: Any, kind: str, where: str) -> None:
    """Check the optional fields of a ``pages.jsonl`` (``kind="page"``) or ``queries.jsonl`` record.

    Raises:
        CorpusFormatError: Naming file, line and field.
    """
    if not isinstance(record, dict):
        raise CorpusFormatError(f"{where}: a {kind} record must be a JSON object")
    optional = _PAGE_OPTIONAL if kind == "page" else _QUERY_OPTIONAL
    for key, types in optional.items():
        if key in record and not isinstance(record[key], types):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise CorpusFormatError(
                f"{where}: field {key!r} must be {names}, got {type(record[key]).__name__} "
                f"{record[key]!r:.60}"
            )
    if kind == "page":
        for key in ("width", "height", "page"):
            value = record.get(key)
            if isinstance(value, bool) or (isinstance(value, int) and value <= 0):
                raise CorpusFormatError(f"{where}: field {key!r} must be a positive integer")
    else:
        for i, item in enumerate(record.get("evidence") or []):
            if not isinstance(item, dict):
                raise CorpusFormatError(f"{where}: field 'evidence[{i}]' must be an object")


def contained_path(root: Path, images_dir: str, rel: str, where: str) -> Path:
    """The real path of page image ``rel``, which must lie inside ``root/images_dir``.

    ``root`` must already be resolved. Symlinks are followed: a link (or a linked ``pages/``
    folder) that leads outside the corpus is refused.

    Raises:
        CorpusFormatError: For an absolute path, ``..``, or a path resolving outside ``pages/``.
    """
    if not rel or rel.startswith(("/", "\\")) or Path(rel).is_absolute() or "\x00" in rel:
        raise CorpusFormatError(f"{where}: field 'image' must be a relative path, got {rel!r:.80}")
    parts = Path(rel).parts
    if ".." in parts or not parts or parts[0] != images_dir:
        raise CorpusFormatError(
            f"{where}: field 'image' must be a path inside {images_dir}/, got {rel!r:.80}"
        )
    pages_dir = root / images_dir
    real_pages = Path(os.path.realpath(pages_dir))
    if real_pages != pages_dir:
        raise CorpusFormatError(
            f"{pages_dir}: the page folder is a link to {real_pages}; a corpus must hold its own "
            "page images"
        )
    real = Path(os.path.realpath(root / rel))
    if real_pages not in real.parents:
        raise CorpusFormatError(
            f"{where}: page image {rel!r} resolves to {real}, outside {pages_dir} (symlink?)"
        )
    return real


def verify_files(
    root: Path,
    manifest: dict[str, Any],
    record_files: Iterable[str],
    images: list[tuple[str, Path]],
    *,
    use_cache: bool = True,
) -> list[str]:
    """Compare the record files and page images with the manifest's checksums.

    Args:
        root: The (resolved) corpus folder.
        manifest: The validated manifest.
        record_files: ``pages.jsonl`` and ``queries.jsonl`` (names relative to ``root``).
        images: ``(relative path, real path)`` of every page image, in corpus order.
        use_cache: Trust :class:`FileHashCache` for files whose stat is unchanged.

    Returns:
        One message per problem (empty: everything matches). A manifest without ``checksums``
        (hand-made) has nothing to compare against and passes.
    """
    checksums = manifest.get("checksums")
    if not isinstance(checksums, dict) or not checksums:
        return []
    cache = FileHashCache(root, enabled=use_cache)
    problems: list[str] = []

    def digest(path: Path, label: str) -> str | None:
        try:
            return cache.sha256(path)
        except OSError as exc:
            problems.append(f"{label}: cannot be read ({exc.strerror or exc})")
            return None

    for name in record_files:
        expected = checksums.get(name)
        if expected is None:
            problems.append(f"{root / 'manifest.json'}: no checksum for {name}")
            continue
        if digest(root / name, str(root / name)) not in (expected, None):
            problems.append(
                f"{root / name}: content differs from the manifest checksum (edited after the "
                "corpus was built?)"
            )
    per_file = manifest.get(FILE_CHECKSUMS_KEY) or {}
    combined = hashlib.sha256()
    for rel, real in images:
        found = digest(real, str(root / rel))
        if found is None:
            continue
        combined.update(found.encode())
        if rel in per_file and per_file[rel] != found:
            problems.append(f"{root / rel}: the image differs from the manifest checksum")
    expected_images = checksums.get("pages")
    if expected_images is not None and not problems and combined.hexdigest() != expected_images:
        problems.append(
            f"{root}: the page images differ from the manifest checksum (an image was replaced, "
            "added or removed)"
        )
    cache.save()
    return problems
