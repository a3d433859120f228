"""Ingest keeps what it is given: a JPEG page stays the same JPEG file; other inputs become PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vrag_env.corpora.corpus import Corpus
from vrag_env.corpora.ingest import FileSource, ingest


def _page(size: tuple[int, int] = (320, 200)) -> Image.Image:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def test_jpeg_kept_as_jpeg_png_and_cmyk_become_png(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _page().save(src / "photo.jpg", format="JPEG", quality=90)
    _page().save(src / "scan.png", format="PNG")
    _page().convert("CMYK").save(src / "print.jpg", format="JPEG")  # needs a conversion
    out = tmp_path / "corpus"
    ingest(FileSource([src]), out, ocr="never", progress=False)
    corpus = Corpus(out)
    stored = {pid: Path(page.image).name for pid, page in corpus.pages.items()}
    assert stored == {"photo_1": "photo_1.jpg", "print_1": "print_1.png", "scan_1": "scan_1.png"}
    # The JPEG is the same file, byte for byte, and reads back as the same pixels.
    assert (out / "pages" / "photo_1.jpg").read_bytes() == (src / "photo.jpg").read_bytes()
    with Image.open(src / "photo.jpg") as original:
        expected = np.asarray(original.convert("RGB"))
    assert np.array_equal(np.asarray(corpus.page_image("photo_1")), expected)
    assert corpus.page_image("print_1").mode == "RGB"
    # Rebuilding from the same files gives the same corpus checksum.
    first = corpus.checksum
    ingest(FileSource([src]), out, ocr="never", progress=False, force=True)
    assert Corpus(out).checksum == first
