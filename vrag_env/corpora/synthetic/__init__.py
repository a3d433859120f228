"""The built-in synthetic corpus, generated on first use.

Fictional companies' annual reports (tables, charts, infographics), results slide decks and
filled-in forms, rendered with Pillow, with templated single-hop and multi-hop questions.

Typical use::

    from vrag_env.corpora.synthetic import builtin_corpus
    path = builtin_corpus("tiny")          # generated on first use, cached afterwards

or ``vrag generate --out DIR --preset default`` on the command line. The corpus is deterministic
from its :class:`SyntheticConfig`; :data:`GENERATOR_VERSION` changes whenever the output would.
"""

from vrag_env.corpora.synthetic.config import (
    GENERATOR_VERSION,
    SYNTHETIC_PRESETS,
    SyntheticConfig,
    resolve_config,
)
from vrag_env.corpora.synthetic.generator import (
    builtin_corpus,
    cached_corpus_path,
    default_cache_dir,
    generate_corpus,
)

__all__ = [
    "GENERATOR_VERSION",
    "SYNTHETIC_PRESETS",
    "SyntheticConfig",
    "builtin_corpus",
    "cached_corpus_path",
    "default_cache_dir",
    "generate_corpus",
    "resolve_config",
]
