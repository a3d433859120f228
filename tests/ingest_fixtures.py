"""Builders for ingestion test inputs, made on the fly: PDFs, scans, page images, query files and
small local copies of hub benchmarks in their published layouts."""

from __future__ import annotations

import importlib.util
import io
import json
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont


def font_path() -> Path:
    spec = importlib.util.find_spec("matplotlib")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "mpl-data/fonts/ttf/DejaVuSans.ttf"


def text_image(
    lines: Sequence[str], size: tuple[int, int] = (900, 600), font_px: int = 40
) -> Image.Image:
    """A white page with large black text lines (easy for OCR)."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(font_path()), font_px)
    y = 60
    for line in lines:
        draw.text((60, y), line, fill="black", font=font)
        y += int(font_px * 1.8)
    return image


def page_lines(doc: str, page: int) -> list[str]:
    """The text of a page of a generated text PDF (page 2 holds the answer 'Ultramarine 42')."""
    lines = [f"Document {doc} page {page}", "The quarterly report covers revenue and costs."]
    if page == 2:
        lines.append("The mascot colour is Ultramarine 42, chosen in 1999.")
    else:
        lines.append(f"Nothing special happens on page {page}.")
    return lines


def make_text_pdf(path: Path, pages: int = 3, doc: str | None = None) -> Path:
    """A multi-page PDF with a real text layer (PyMuPDF ``insert_text``)."""
    import pymupdf

    out = pymupdf.open()
    for n in range(1, pages + 1):
        page = out.new_page(width=595, height=842)
        y = 80.0
        for line in page_lines(doc or path.stem, n):
            page.insert_text((72, y), line, fontsize=14)
            y += 28
    out.save(path)
    out.close()
    return path


def make_scan_pdf(path: Path, lines: Sequence[str]) -> Path:
    """A one-page PDF that is only an image of text (a scan: no text layer)."""
    import pymupdf

    buf = io.BytesIO()
    text_image(lines, size=(1200, 700), font_px=48).save(buf, format="PNG")
    out = pymupdf.open()
    page = out.new_page(width=600, height=350)
    page.insert_image(page.rect, stream=buf.getvalue())
    out.save(path)
    out.close()
    return path


def make_image(path: Path, lines: Sequence[str], fmt: str | None = None) -> Path:
    image = text_image(lines)
    image.save(path, format=fmt)
    return path


def truncate_file(src: Path, dst: Path, keep: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_bomb_png(path: Path, side: int = 40_000) -> Path:
    """A tiny valid-looking PNG whose header claims ``side x side`` pixels (a bomb)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    idat = zlib.compress(b"\x00" * 64)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
    path.write_bytes(data + _png_chunk(b"IEND", b""))
    return path


def example(uid: str, file_name: str, pages: Sequence[int] | str, answer: Any, **meta: Any) -> dict:
    return {
        "uid": uid,
        "query": f"Question {uid}?",
        "reference_answer": answer,
        "meta_info": {
            "file_name": file_name,
            "reference_page": pages if isinstance(pages, str) else list(pages),
            "source_type": meta.pop("source_type", "Text"),
            "query_type": meta.pop("query_type", "Single-Hop"),
            **meta,
        },
    }


def write_rag_json(path: Path, examples: Sequence[dict]) -> Path:
    path.write_text(json.dumps({"examples": list(examples)}, indent=2), encoding="utf-8")
    return path


def write_jsonl(path: Path, examples: Sequence[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in examples), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# Hub layouts


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def make_slidevqa(root: Path, decks: dict[str, dict[str, Any]]) -> Path:
    """A local SlideVQA copy: ``data/{split}-00000-of-00001.parquet`` in the hub's column layout.

    ``decks`` maps a deck name to ``{"split": ..., "slides": {n: [lines]}, "questions": [(qa_id,
    question, answer, evidence_pages)]}``; unlisted slides are blank, ``None`` ones missing.
    """
    from datasets import Dataset, Features, Value
    from datasets import Image as HFImage
    from datasets import Sequence as HFSequence

    features: dict[str, Any] = {"deck_name": Value("string"), "deck_url": Value("string")}
    for n in range(1, 21):
        features[f"page_{n}"] = HFImage()
    features.update(
        {
            "qa_id": Value("int64"),
            "question": Value("string"),
            "answer": Value("string"),
            "arithmetic_expression": Value("string"),
            "evidence_pages": HFSequence(Value("int64")),
        }
    )
    by_split: dict[str, dict[str, list]] = {}
    blank = png_bytes(Image.new("RGB", (320, 240), "white"))
    for deck, spec in decks.items():
        rows = by_split.setdefault(spec["split"], {k: [] for k in features})
        slides = spec.get("slides", {})
        images = {}
        for n in range(1, 21):
            if n in slides and slides[n] is None:
                images[n] = None
            elif n in slides:
                images[n] = {
                    "bytes": png_bytes(text_image(slides[n], (640, 480), 36)),
                    "path": None,
                }
            else:
                images[n] = {"bytes": blank, "path": None}
        for qa_id, question, answer, evidence in spec["questions"]:
            rows["deck_name"].append(deck)
            rows["deck_url"].append(f"https://www.slideshare.net/{deck}")
            for n in range(1, 21):
                rows[f"page_{n}"].append(images[n])
            rows["qa_id"].append(qa_id)
            rows["question"].append(question)
            rows["answer"].append(answer)
            rows["arithmetic_expression"].append("None")
            rows["evidence_pages"].append(list(evidence))
    (root / "data").mkdir(parents=True, exist_ok=True)
    for split, rows in by_split.items():
        ds = Dataset.from_dict(rows, features=Features(features))
        ds.to_parquet(str(root / "data" / f"{split}-00000-of-00001.parquet"))
    return root


def make_mmlongbench(root: Path, rows: Sequence[dict[str, Any]], pdfs: Sequence[str]) -> Path:
    """A local MMLongBench-Doc copy: ``data/train-00000-of-00001.parquet`` + ``documents/*.pdf``.

    Every column is a string, as on the hub (``evidence_pages`` like ``"[2]"``).
    """
    from datasets import Dataset, Features, Value

    columns = ["doc_id", "doc_type", "question", "answer", "evidence_pages", "evidence_sources",
               "answer_format"]  # fmt: skip
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "documents").mkdir(parents=True, exist_ok=True)
    for name in pdfs:
        make_text_pdf(root / "documents" / name, pages=3)
    data = {c: [str(r[c]) for r in rows] for c in columns}
    ds = Dataset.from_dict(data, features=Features({c: Value("string") for c in columns}))
    ds.to_parquet(str(root / "data" / "train-00000-of-00001.parquet"))
    return root


def make_vidoseek(root: Path) -> Path:
    """A local ViDoSeek copy: ``vidoseek.json`` + the unpacked PDF archive (a sub-folder)."""
    docs = root / "vidoseek_pdf_document"
    docs.mkdir(parents=True, exist_ok=True)
    make_text_pdf(docs / "alpha_report.pdf", pages=3)
    make_text_pdf(docs / "beta_report.pdf", pages=2)
    write_rag_json(
        root / "vidoseek.json",
        [
            example("v1", "alpha_report.pdf", [2], "Ultramarine 42"),
            example("v2", "beta_report.pdf", [1, 2], "quarterly report", query_type="Multi-Hop"),
        ],
    )
    return root
