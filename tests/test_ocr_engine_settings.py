"""RapidOCR engine settings: the memory arena changes no output; short labels read with 96 px padding."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

pytest.importorskip("rapidocr_onnxruntime")

from agents.ocr import OCRReader
from vrag_env.corpora.onnx_arena import memory_arena
from vrag_env.corpora.synthetic.fonts import get_font

LABELS = ["42", "7.5%", "Q3", "US$1,208", "2019", "-0.31", "Total", "Net sales 4,512.0"]


def _table_image() -> np.ndarray:
    """A small table: short cells of numbers and labels, one longer row label per line."""
    image = Image.new("RGB", (760, 60 + 44 * len(LABELS)), "white")
    draw = ImageDraw.Draw(image)
    font = get_font("sans", 22)
    for i, label in enumerate(LABELS):
        y = 30 + 44 * i
        draw.text((30, y), f"Row {i + 1} of the segment table", font=font, fill="black")
        draw.text((520, y), label, font=font, fill="black")
    return np.asarray(image)


def _arena_flags(engine) -> tuple[bool, bool]:
    return (
        engine.text_det.infer.session.get_session_options().enable_cpu_mem_arena,
        engine.text_rec.session.session.get_session_options().enable_cpu_mem_arena,
    )


def test_memory_arena_is_on_inside_the_block_only_and_changes_no_output() -> None:
    from rapidocr_onnxruntime import RapidOCR

    image = _table_image()[:, :, ::-1].copy()  # RapidOCR reads BGR
    plain = RapidOCR(use_cls=False, intra_op_num_threads=1, rec_batch_num=1)
    with memory_arena():
        arena = RapidOCR(use_cls=False, intra_op_num_threads=1, rec_batch_num=1)
    after = RapidOCR(use_cls=False, intra_op_num_threads=1, rec_batch_num=1)
    assert _arena_flags(arena) == (True, True)
    assert _arena_flags(plain) == (False, False) == _arena_flags(after)  # restored on exit
    # Several images of different sizes, so the arena's reused buffers are exercised.
    for crop in (image, image[: image.shape[0] // 2], image[:, :400].copy(), image):
        crop = np.ascontiguousarray(crop)
        a, _ = plain(crop, use_cls=False)
        b, _ = arena(crop, use_cls=False)
        assert a is not None and b is not None
        assert [(np.asarray(q).tolist(), t, s) for q, t, s in a] == [
            (np.asarray(q).tolist(), t, s) for q, t, s in b
        ]


def test_reader_reads_short_cells_one_box_at_a_time() -> None:
    """Short table cells, read one at a time with 96 px padding, come back as printed."""
    reader = OCRReader()
    assert reader.engine.text_rec.rec_batch_num == 1
    assert _arena_flags(reader.engine) == (True, True)
    image = _table_image()
    boxes = [b for b in reader.detect(image) if b[0] > 480]  # the right-hand column
    texts = [t.text for t in reader.recognize(image, boxes)]
    assert texts == LABELS


def test_memory_arena_restores_the_options_when_threads_build_engines_at_once() -> None:
    """Threads entering the block together leave RapidOCR's own session options in place."""
    import threading
    import time

    from rapidocr_onnxruntime.utils import infer_engine

    before = infer_engine.OrtInferSession.__dict__["_init_sess_opts"].__func__

    def build(delay: float) -> None:
        time.sleep(delay)  # the later threads arrive while the first is inside the block
        with memory_arena():
            options = infer_engine.OrtInferSession._init_sess_opts({})
            assert options.enable_cpu_mem_arena
            time.sleep(0.05)

    threads = [threading.Thread(target=build, args=(0.01 * k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert infer_engine.OrtInferSession.__dict__["_init_sess_opts"].__func__ is before
    assert not infer_engine.OrtInferSession._init_sess_opts({}).enable_cpu_mem_arena
