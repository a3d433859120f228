"""The measured ``needs_zoom`` label of every question, shipped with the package.

Measuring legibility runs RapidOCR on hundreds of views (minutes), too slow for the first use of a
corpus, so it is measured once per generator version by ``python -m benchmarks.validity --write-labels``
(see :mod:`vrag_env.corpora.legibility`) and stored in ``needs_zoom.json`` next to this module, keyed by
the config fingerprint (which includes :data:`~vrag_env.corpora.synthetic.config.GENERATOR_VERSION`).
A config without stored labels gets ``needs_zoom=None`` (unknown) on every question.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from vrag_env.corpora.synthetic.config import SyntheticConfig

LABELS_FILE = Path(__file__).with_name("needs_zoom.json")
"""``{"<config fingerprint>": {"<question uid>": true | false, ...}, ...}``."""


@lru_cache(maxsize=1)
def _load() -> dict[str, dict[str, bool]]:
    if not LABELS_FILE.exists():
        return {}
    with open(LABELS_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def needs_zoom_labels(cfg: SyntheticConfig) -> dict[str, bool]:
    """The stored labels of ``cfg``'s corpus by question uid (empty when none were measured)."""
    return _load().get(cfg.fingerprint(), {})


def store_needs_zoom_labels(cfg: SyntheticConfig, labels: dict[str, bool]) -> Path:
    """Add (or replace) measured labels of ``cfg``'s corpus; labels of stale configs are dropped."""
    from vrag_env.corpora.synthetic.config import SYNTHETIC_PRESETS

    current = {c.fingerprint() for c in SYNTHETIC_PRESETS.values()}
    _load.cache_clear()  # another process may have added labels meanwhile
    data = {k: v for k, v in _load().items() if k in current}
    merged = {**data.get(cfg.fingerprint(), {}), **labels}
    data[cfg.fingerprint()] = dict(sorted(merged.items()))
    LABELS_FILE.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    _load.cache_clear()
    return LABELS_FILE
