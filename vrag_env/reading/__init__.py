"""Reading a page's legible text: question analysis, segments and answer candidates.

Shared by the macro-action wrapper (:mod:`vrag_env.wrappers`, which reads the text layer words that
are legible at the current view scale) and the OCR heuristic agent (:mod:`agents.heuristic`, which
reads OCR output), so the two baselines share one answer-span extractor. The package sits on the
ground layer: it imports only :mod:`vrag_env.types`.

* :mod:`vrag_env.reading.text`: stop words, tokens and stems, :func:`analyze_question`,
  :class:`Segment` lines of words and their rows.
* :mod:`vrag_env.reading.candidates`: :func:`rank_candidates`, the scored answer spans.
"""

from vrag_env.reading.candidates import CANDIDATE_FEATURES, Candidate, rank_candidates
from vrag_env.reading.text import (
    ANSWER_KINDS,
    STOPWORDS,
    QuestionAnalysis,
    Segment,
    analyze_question,
    compact,
    group_rows,
    is_heading,
    match_score,
    matched_terms,
    segments_from_words,
    span_kind,
    stem,
    tokenize,
)

__all__ = [
    "ANSWER_KINDS",
    "CANDIDATE_FEATURES",
    "STOPWORDS",
    "Candidate",
    "QuestionAnalysis",
    "Segment",
    "analyze_question",
    "compact",
    "group_rows",
    "is_heading",
    "match_score",
    "matched_terms",
    "rank_candidates",
    "segments_from_words",
    "span_kind",
    "stem",
    "tokenize",
]
