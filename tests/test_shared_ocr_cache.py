"""The OCR readers share results through a run's folder: a second process reads nothing again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

pytest.importorskip("rapidocr_onnxruntime")

import vrag_env.view_ocr as view_ocr
from agents.ocr import OCRReader
from vrag_env.corpora.synthetic.fonts import get_font
from vrag_env.shared_ocr_cache import ENV_VAR


class _NoEngine:
    """Stands in for an OCR engine that must not be called (everything is in the folder)."""

    def __getattr__(self, name: str):
        raise AssertionError(f"the engine was used ({name}) although the folder has the result")

    def __call__(self, *args, **kwargs):
        raise AssertionError("the engine was used although the folder has the result")


def _view() -> np.ndarray:
    image = Image.new("RGB", (640, 200), "white")
    draw = ImageDraw.Draw(image)
    draw.text((20, 30), "Operating margin 12.4%", font=get_font("sans", 26), fill="black")
    draw.text((20, 110), "Net debt US$1,208m", font=get_font("serif", 22), fill="black")
    return np.asarray(image)


def test_view_words_come_back_from_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = _view()
    monkeypatch.delenv(ENV_VAR, raising=False)
    view_ocr._OCR_CACHE.clear()
    plain = view_ocr.ocr_view(view)
    assert plain and not list(tmp_path.rglob("*.json"))  # no folder set: nothing written

    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    view_ocr._OCR_CACHE.clear()
    assert view_ocr.ocr_view(view) == plain
    assert len(list(tmp_path.rglob("*.json"))) == 1

    # A process that has not read this view (empty memory cache) gets it from the folder.
    view_ocr._OCR_CACHE.clear()

    def refuse(*args, **kwargs):
        raise AssertionError("OCR ran although the folder has the view's words")

    monkeypatch.setattr("vrag_env.corpora.ocr.ocr_image", refuse)
    again = view_ocr.ocr_view(view)
    assert again == plain
    assert [type(b) for _, b in again] == [type(b) for _, b in plain]
    view_ocr._OCR_CACHE.clear()


def test_reader_boxes_and_texts_come_back_from_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = _view()
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    first = OCRReader()
    boxes = first.detect(view)
    texts = first.recognize(view, boxes)
    assert "12.4%" in " ".join(t.text for t in texts)

    second = OCRReader()
    second._engine = _NoEngine()
    assert second.detect(view) == boxes
    assert second.recognize(view, boxes) == texts
    # Readers that keep the recogniser's raw spacing do not take the restored texts.
    raw = OCRReader(restore_spaces=False)
    raw._engine = _NoEngine()
    with pytest.raises(AssertionError, match="engine was used"):
        raw.recognize(view, boxes)
