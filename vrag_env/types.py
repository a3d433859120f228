"""Shared type aliases and records.

Coordinate frames (one place to look them up):

* **Page pixels**: ``(x1, y1, x2, y2)`` in pixels of the full-resolution page image, origin top-left.
  Word boxes, evidence boxes, ``info["view_box"]`` and everything stored in a corpus use this frame.
* **View pixels**: pixels of the observation ``image`` array. Views are drawn at its top-left corner,
  so view pixels are pixels of the view itself (no offset); the content covers
  ``info["view"]["content_box"]`` and the rest of the canvas is padding. Every agent-side crop box
  (:class:`vrag_env.actions.Crop`) is in this frame, whatever the dialect; the ``vrag`` dialect's
  ``<bbox>`` uses it directly, as the released VRAG-RL checkpoints do.
* **Normalised view**: fractions ``0..1`` of the observation image's width and height (view pixels
  divided by the view size). Only the ``tool`` dialect's text uses it: the action set converts it
  to view pixels when it parses and back when it formats.

Every box is ``(x1, y1, x2, y2)``, ``content_box`` included.
:meth:`vrag_env.rendering.ViewTransform.from_info` rebuilds the view-to-page mapping from
``info["view"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

PageId = str
"""A page id: ``{doc_stem}_{page}`` with 1-based page numbers (the VRAG-RL convention)."""

BBox = tuple[float, float, float, float]
"""A box ``(x1, y1, x2, y2)``; the frame depends on where it is used (see the module docstring)."""


class CorpusFormatError(ValueError):
    """A corpus folder or one of its records is malformed; the message names the file and field."""


def _require(record: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in record:
        raise CorpusFormatError(f"{where}: missing field {key!r}")
    value = record[key]
    if not isinstance(value, kind):
        raise CorpusFormatError(
            f"{where}: field {key!r} must be {getattr(kind, '__name__', kind)}, "
            f"got {type(value).__name__} {value!r:.80}"
        )
    return value


def _box(value: Any, where: str) -> BBox:
    # Hot path of corpus loading (one call per word): unpack and convert, validate only on failure.
    try:
        x1, y1, x2, y2 = value
        return (float(x1), float(y1), float(x2), float(y2))
    except (TypeError, ValueError):
        raise CorpusFormatError(
            f"{where}: a box must be 4 numbers [x1, y1, x2, y2], got {value!r:.80}"
        ) from None


class Word(NamedTuple):
    """One word of a page's text layer (a named tuple: corpora hold tens of thousands).

    Attributes:
        text: The word as printed.
        box: Its box in page pixels.
    """

    text: str
    box: BBox

    def to_json(self) -> list[Any]:
        """Compact JSON form ``[text, x1, y1, x2, y2]`` (boxes rounded to 0.1 px)."""
        return [self.text, *(round(v, 1) for v in self.box)]

    @classmethod
    def from_json(cls, value: Any, where: str) -> Word:
        """Parse the compact form written by :meth:`to_json`."""
        if type(value) is not list or len(value) != 5 or type(value[0]) is not str:
            raise CorpusFormatError(
                f"{where}: a word must be [text, x1, y1, x2, y2], got {value!r:.80}"
            )
        return cls(value[0], _box(value[1:], where))


@dataclass(frozen=True)
class Page:
    """One page of a corpus (a line of ``pages.jsonl``).

    Attributes:
        page_id: ``{doc_stem}_{page}``, unique in the corpus.
        doc: The document stem the page belongs to.
        page: 1-based page number within the document.
        width: Image width in pixels.
        height: Image height in pixels.
        image: Image path relative to the corpus folder.
        words: The text layer (from the generator, a PDF, or OCR); may be empty.
        kind: What the page shows (``"report"``, ``"chart"``, ``"slide"``, ...), if known.
        meta: Free-form JSON metadata (source file, OCR flag, ...).
    """

    page_id: PageId
    doc: str
    page: int
    width: int
    height: int
    image: str
    words: tuple[Word, ...] = ()
    kind: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def text(self) -> str:
        """The page text: its words joined by spaces, in reading order."""
        return " ".join(w.text for w in self.words)

    def to_json(self) -> dict[str, Any]:
        """The ``pages.jsonl`` record."""
        return {
            "page_id": self.page_id,
            "doc": self.doc,
            "page": self.page,
            "width": self.width,
            "height": self.height,
            "image": self.image,
            "kind": self.kind,
            "words": [w.to_json() for w in self.words],
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, record: Any, where: str) -> Page:
        """Validate and parse a ``pages.jsonl`` record; ``where`` names file and line for errors."""
        if not isinstance(record, dict):
            raise CorpusFormatError(f"{where}: a page record must be a JSON object")
        words = _require(record, "words", list, where) if "words" in record else []
        page = _require(record, "page", int, where)
        if page < 1:
            raise CorpusFormatError(f"{where}: field 'page' is 1-based, got {page}")
        return cls(
            page_id=_require(record, "page_id", str, where),
            doc=_require(record, "doc", str, where),
            page=page,
            width=_require(record, "width", int, where),
            height=_require(record, "height", int, where),
            image=_require(record, "image", str, where),
            words=tuple(Word.from_json(w, f"{where} words[{i}]") for i, w in enumerate(words)),
            kind=str(record.get("kind", "")),
            meta=dict(record.get("meta") or {}),
        )


@dataclass(frozen=True)
class Evidence:
    """Where (part of) a gold answer is printed: a box on a reference page.

    Attributes:
        page_id: The reference page.
        box: The evidence box in page pixels.
        text: The printed text inside the box (the answer itself for single-hop questions).
    """

    page_id: PageId
    box: BBox
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"page_id": self.page_id, "box": [round(v, 1) for v in self.box], "text": self.text}

    @classmethod
    def from_json(cls, record: Any, where: str) -> Evidence:
        """Parse the form written by :meth:`to_json`."""
        if not isinstance(record, dict):
            raise CorpusFormatError(f"{where}: evidence must be a JSON object")
        return cls(
            page_id=_require(record, "page_id", str, where),
            box=_box(_require(record, "box", list, where), where),
            text=str(record.get("text", "")),
        )


SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Query:
    """One question of a corpus (a line of ``queries.jsonl``).

    Attributes:
        uid: Unique question id.
        question: The question text.
        answers: Accepted answer strings (the first is canonical).
        reference_pages: Gold page ids, in the order an agent needs them.
        split: ``"train"``, ``"val"`` or ``"test"``.
        source_type: Where the answer lives: ``"table"``, ``"chart"``, ``"text"``, ``"slide"``, ...
        query_type: ``"single-hop"`` or ``"multi-hop"`` (or a dataset's own label).
        evidence: Gold answer locations, when known (the built-in corpus always knows them).
        small_print: Whether the answer is illegible in an unzoomed view (``None`` if unknown).
        needs_zoom: Measured by OCR: the evidence is not read on the whole-page view and is read on
            the oracle's crop (``None`` if not measured; see :mod:`vrag_env.corpora.legibility`).
        meta: Free-form JSON metadata (template id, source dataset, ...).
    """

    uid: str
    question: str
    answers: tuple[str, ...]
    reference_pages: tuple[PageId, ...]
    split: str
    source_type: str = ""
    query_type: str = ""
    evidence: tuple[Evidence, ...] = ()
    small_print: bool | None = None
    needs_zoom: bool | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_json(self) -> dict[str, Any]:
        """The ``queries.jsonl`` record."""
        return {
            "uid": self.uid,
            "question": self.question,
            "answers": list(self.answers),
            "reference_pages": list(self.reference_pages),
            "split": self.split,
            "source_type": self.source_type,
            "query_type": self.query_type,
            "evidence": [e.to_json() for e in self.evidence],
            "small_print": self.small_print,
            "needs_zoom": self.needs_zoom,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, record: Any, where: str) -> Query:
        """Validate and parse a ``queries.jsonl`` record; ``where`` names file and line for errors."""
        if not isinstance(record, dict):
            raise CorpusFormatError(f"{where}: a query record must be a JSON object")
        answers = _require(record, "answers", list, where)
        if not answers or not all(isinstance(a, str) for a in answers):
            raise CorpusFormatError(f"{where}: field 'answers' must be a non-empty list of strings")
        refs = _require(record, "reference_pages", list, where)
        if not all(isinstance(r, str) for r in refs):
            raise CorpusFormatError(f"{where}: field 'reference_pages' must be a list of page ids")
        split = _require(record, "split", str, where)
        if split not in SPLITS:
            raise CorpusFormatError(
                f"{where}: field 'split' must be one of {SPLITS}, got {split!r}"
            )
        small = record.get("small_print")
        return cls(
            uid=_require(record, "uid", str, where),
            question=_require(record, "question", str, where),
            answers=tuple(answers),
            reference_pages=tuple(refs),
            split=split,
            source_type=str(record.get("source_type", "")),
            query_type=str(record.get("query_type", "")),
            evidence=tuple(
                Evidence.from_json(e, f"{where} evidence[{i}]")
                for i, e in enumerate(record.get("evidence") or [])
            ),
            small_print=None if small is None else bool(small),
            needs_zoom=None if record.get("needs_zoom") is None else bool(record["needs_zoom"]),
            meta=dict(record.get("meta") or {}),
        )


class ScoredPage(NamedTuple):
    """A retrieval result.

    Attributes:
        page_id: The retrieved page.
        score: The backend's score (higher is better; scales differ between backends).
    """

    page_id: PageId
    score: float
