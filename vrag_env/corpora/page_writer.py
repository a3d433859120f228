"""Writing a corpus's pages during ingest: text layer (OCR when needed) and image file per page.

:func:`write_pages` decodes pages in the calling thread and OCRs and encodes them on a thread pool;
a JPEG source is stored unchanged (:func:`keeps_encoding`), anything else as PNG, greyscale content
as an ``L`` image (:func:`storage_image`).
"""

from __future__ import annotations

import shutil
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageChops

from vrag_env.corpora.corpus import IMAGES_DIR, CorpusWriter
from vrag_env.corpora.sources import PageInput, Source
from vrag_env.types import Page, PageId, Word


def _text_origin(ocr_used: bool, words: tuple[Word, ...]) -> str:
    if ocr_used:
        return "ocr"
    return "pdf" if words else "none"


@dataclass
class _Done:
    """A page processed by a worker: its text layer, saved image and OCR timing."""

    item: PageInput
    words: tuple[Word, ...]
    ocr_used: bool
    ocr_seconds: float
    suffix: str = ".png"


def storage_image(image: Image.Image) -> Image.Image:
    """The image to store as the page PNG: greyscale content as an ``L`` image.

    Most document pages are black on white; storing them as ``L`` makes the PNG encoding three
    times cheaper and the file smaller. Readers convert pages to RGB, so nothing else changes.
    """
    if image.mode != "RGB":
        return image
    red, green, blue = image.split()
    if ImageChops.difference(red, green).getbbox() or ImageChops.difference(green, blue).getbbox():
        return image
    return red


KEPT_FORMATS = {"JPEG": ".jpg"}
"""Source encodings stored as they are (format -> page file suffix); everything else becomes PNG."""


def keeps_encoding(path: Path) -> str | None:
    """The page file suffix if ``path`` can be stored unchanged, else ``None`` (convert to PNG).

    A JPEG in RGB or greyscale is kept byte for byte: readers decode it to the same pixels the
    text layer was made from, and re-encoding it as PNG would triple its size. Other modes (CMYK,
    say) need a conversion.
    """
    try:
        with Image.open(path) as img:
            suffix = KEPT_FORMATS.get(img.format or "")
            return suffix if suffix and img.mode in ("RGB", "L") else None
    except (OSError, ValueError):
        return None


def _process_page(item: PageInput, ocr: str, png_path: Path) -> _Done:
    """Worker: give a page its text layer (OCR if needed) and save its PNG.

    Runs on a thread pool: ONNX Runtime and zlib release the GIL, so two workers use two cores.
    """
    from vrag_env.corpora.ocr import ocr_image
    from vrag_env.corpora.pdf import has_usable_text

    words = item.words
    ocr_used = ocr == "always" or (ocr == "auto" and (words is None or not has_usable_text(words)))
    seconds = 0.0
    if ocr_used:
        t0 = time.perf_counter()
        words = tuple(ocr_image(item.image))
        seconds = time.perf_counter() - t0
    suffix = keeps_encoding(item.file) if item.file is not None else None
    if suffix is not None and item.file is not None:
        shutil.copyfile(item.file, png_path.with_suffix(suffix))
        return _Done(item, words or (), ocr_used, seconds, suffix)
    storage_image(item.image).save(png_path, format="PNG", compress_level=1)
    return _Done(item, words or (), ocr_used, seconds)


@dataclass
class PagesWritten:
    """What :func:`write_pages` wrote.

    Attributes:
        words_of: The words of the pages asked for in ``keep_words``.
        written: The ids of all pages written.
        pages: Pages written.
        pages_ocr: Pages whose text layer came from OCR.
        ocr_seconds: Time spent in OCR, summed over workers.
    """

    words_of: dict[PageId, tuple[Word, ...]] = field(default_factory=dict)
    written: set[PageId] = field(default_factory=set)
    pages: int = 0
    pages_ocr: int = 0
    ocr_seconds: float = 0.0


def write_pages(
    writer: CorpusWriter,
    source: Source,
    *,
    ocr: str,
    dpi: int,
    total: int,
    keep_words: set[PageId],
    progress: bool,
    workers: int,
) -> tuple[dict[PageId, tuple[Word, ...]], set[PageId]]:
    """Decode, text-layer and save every page.

    The source decodes pages in this thread; ``workers`` threads OCR them and encode the PNGs.
    Results are recorded in source order, with at most ``2 * workers`` pages in flight.

    Returns:
        The words of the ``keep_words`` pages, the ids of all pages written and the counts.
    """
    from tqdm.auto import tqdm

    out = PagesWritten()
    folder = writer.tmp_dir / IMAGES_DIR
    workers = max(1, workers)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vrag-ingest")
    pending: deque[Future[_Done]] = deque()

    def record(done: _Done) -> None:
        item = done.item
        page_id = f"{item.doc}_{item.page}"
        writer.add_page(
            Page(
                page_id=page_id,
                doc=item.doc,
                page=item.page,
                width=item.image.width,
                height=item.image.height,
                image="",
                words=done.words,
                kind=item.kind,
                meta={**item.meta, "text": _text_origin(done.ocr_used, done.words)},
            ),
            suffix=done.suffix,
        )
        out.written.add(page_id)
        if page_id in keep_words:
            out.words_of[page_id] = done.words
        out.pages += 1
        out.pages_ocr += done.ocr_used
        out.ocr_seconds += done.ocr_seconds
        bar.update(1)

    # disable=None: a bar on terminals only, so logs and CI output stay clean.
    bar = tqdm(total=total, unit="page", desc="ingest", disable=None if progress else True)
    try:
        for item in source.iter_pages(dpi):
            png_path = folder / f"{item.doc}_{item.page}.png"
            pending.append(pool.submit(_process_page, item, ocr, png_path))
            while len(pending) > 2 * workers:
                record(pending.popleft().result())
        while pending:
            record(pending.popleft().result())
    finally:
        bar.close()
        pool.shutdown(wait=True, cancel_futures=True)
    return out
