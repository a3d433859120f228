"""`vrag ingest`: PDFs, scans and images to a corpus folder, built from inputs made on the fly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.ingest_fixtures import (
    example,
    make_bomb_png,
    make_image,
    make_scan_pdf,
    make_text_pdf,
    text_image,
    truncate_file,
    write_jsonl,
    write_rag_json,
)
from vrag_env.cli import main
from vrag_env.corpora.corpus import Corpus
from vrag_env.corpora.ingest import FileSource, PageInput, ingest

pytest.importorskip("pymupdf")
pytest.importorskip("rapidocr_onnxruntime")

QUERIES = [
    example("q-pdf", "report.pdf", [2], "Ultramarine 42"),
    example("q-multi", "report.pdf", [1, 3], "quarterly report", query_type="Multi-Hop"),
    example("q-scan", "scan.pdf", [1], "ZEBRA"),
    example("q-png", "photo.png", [1], "PINEAPPLE"),
    example("q-jpg", "nested/shot.jpg", [1], "MANGO", split="test"),
]


def _sources(root: Path) -> Path:
    src = root / "src"
    (src / "nested").mkdir(parents=True)
    make_text_pdf(src / "report.pdf", pages=3)
    make_scan_pdf(src / "scan.pdf", ["ZEBRA CROSSING", "Invoice 512 EUR"])
    make_image(src / "photo.png", ["PINEAPPLE", "Total 77"])
    make_image(src / "nested" / "shot.jpg", ["MANGO SEASON"], fmt="JPEG")
    return src


def _no_leftovers(out: Path) -> None:
    assert not out.exists()
    if out.parent.is_dir():
        assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("ingest")
    src = _sources(root)
    queries = write_rag_json(root / "rag_dataset.json", QUERIES)
    out = root / "corpus"
    code = main(["ingest", str(src), "--queries", str(queries), "--out", str(out), "--no-progress"])
    assert code == 0
    return src, queries, out


def test_page_ids_and_images(built: tuple[Path, Path, Path]) -> None:
    _, _, out = built
    corpus = Corpus(out)
    assert sorted(corpus.pages) == [
        "photo_1", "report_1", "report_2", "report_3", "scan_1", "shot_1",
    ]  # fmt: skip
    report_2 = corpus.pages["report_2"]
    assert (report_2.doc, report_2.page) == ("report", 2)
    # 144 dpi: an A4 page (595 x 842 pt) renders at 1190 x 1684 pixels.
    assert (report_2.width, report_2.height) == (1190, 1684)
    assert corpus.page_image("report_2").size == (1190, 1684)
    assert corpus.page_image("photo_1").size == (900, 600)
    assert report_2.meta["source"] == "report.pdf"


def test_text_layers(built: tuple[Path, Path, Path]) -> None:
    _, _, out = built
    corpus = Corpus(out)
    pdf_page = corpus.pages["report_2"]
    assert pdf_page.meta["text"] == "pdf"
    assert "Ultramarine" in pdf_page.text.split()
    for word in pdf_page.words:  # boxes are in page pixels
        x1, y1, x2, y2 = word.box
        assert 0 <= x1 < x2 <= pdf_page.width and 0 <= y1 < y2 <= pdf_page.height
    # The scan and the images have no text layer: OCR finds the words that were drawn.
    for page_id, drawn in [("scan_1", "ZEBRA"), ("photo_1", "PINEAPPLE"), ("shot_1", "MANGO")]:
        page = corpus.pages[page_id]
        assert page.meta["text"] == "ocr"
        assert drawn in page.text.upper()
    assert corpus.manifest["build"]["result"]["pages_ocr"] == 3


def test_reference_pages_splits_and_evidence(built: tuple[Path, Path, Path]) -> None:
    _, _, out = built
    corpus = Corpus(out)
    q = corpus.queries
    assert q["q-pdf"].reference_pages == ("report_2",)
    assert q["q-multi"].reference_pages == ("report_1", "report_3")
    assert q["q-scan"].reference_pages == ("scan_1",)
    assert q["q-jpg"].reference_pages == ("shot_1",) and q["q-jpg"].split == "test"
    assert q["q-pdf"].answers == ("Ultramarine 42",) and q["q-pdf"].query_type == "Single-Hop"
    assert all(x.small_print is None for x in q.values())
    # The answer is printed on its reference page: the evidence box covers those words.
    (ev,) = q["q-pdf"].evidence
    assert ev.page_id == "report_2" and ev.text.startswith("Ultramarine 42")
    words = {w.text: w.box for w in corpus.pages["report_2"].words}
    assert ev.box[0] == pytest.approx(words["Ultramarine"][0])
    assert ev.box[2] == pytest.approx(words["42,"][2])
    assert len(q["q-multi"].evidence) == 2  # printed on both reference pages
    assert q["q-scan"].evidence and q["q-scan"].evidence[0].page_id == "scan_1"


def test_manifest_records_the_build(built: tuple[Path, Path, Path]) -> None:
    src, queries, out = built
    build = Corpus(out).manifest["build"]
    assert build["format"] == "files"
    assert {Path(s["path"]).name for s in build["sources"]} == {
        "report.pdf", "scan.pdf", "photo.png", "shot.jpg",
    }  # fmt: skip
    assert all(len(s["sha256"]) == 64 for s in build["sources"])
    assert build["queries"][0]["path"] == str(queries)
    assert build["options"]["dpi"] == 144 and build["options"]["ocr"] == "auto"
    assert build["versions"]["pymupdf"] and build["versions"]["rapidocr_onnxruntime"]


def test_rerun_is_a_no_op_unless_forced(
    built: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    src, queries, out = built
    manifest = (out / "manifest.json").stat().st_mtime_ns
    args = ["ingest", str(src), "--queries", str(queries), "--out", str(out), "--no-progress"]
    assert main(args) == 0
    assert "up to date" in capsys.readouterr().out
    assert (out / "manifest.json").stat().st_mtime_ns == manifest


def test_changed_inputs_need_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_text_pdf(src / "a.pdf", pages=2)
    out = tmp_path / "corpus"
    args = ["ingest", str(src), "--out", str(out), "--ocr", "never", "--no-progress"]
    assert main(args) == 0
    make_text_pdf(src / "b.pdf", pages=1)
    assert main(args) == 2
    assert "pass --force" in capsys.readouterr().err
    assert len(Corpus(out).pages) == 2  # the old corpus is untouched
    assert main([*args, "--force"]) == 0
    assert sorted(Corpus(out).pages) == ["a_1", "a_2", "b_1"]
    _no_leftovers(tmp_path / "gone")  # and no temporary folders next to it
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".corpus.")]


def test_jsonl_queries_and_split_option(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_text_pdf(src / "report.pdf", pages=3)
    queries = write_jsonl(tmp_path / "q.jsonl", [QUERIES[0], QUERIES[1]])
    out = tmp_path / "corpus"
    report = ingest(
        FileSource([src]), out, queries=[queries], ocr="never", split="test", progress=False
    )
    assert report.queries == 2 and report.splits["test"] == 2 and report.pages_ocr == 0
    corpus = Corpus(out)
    assert corpus.queries["q-multi"].reference_pages == ("report_1", "report_3")
    assert {q.split for q in corpus.queries.values()} == {"test"}


def test_ocr_always_replaces_the_pdf_text_layer(tmp_path: Path) -> None:
    pdf = make_text_pdf(tmp_path / "one.pdf", pages=1)
    report = ingest(FileSource([pdf]), tmp_path / "c", ocr="always", dpi=72, progress=False)
    assert report.pages_ocr == 1
    page = Corpus(tmp_path / "c").pages["one_1"]
    assert page.meta["text"] == "ocr" and "quarterly" in page.text.lower()


def test_ocr_never_leaves_images_without_text(tmp_path: Path) -> None:
    img = make_image(tmp_path / "pic.png", ["HELLO"])
    report = ingest(FileSource([img]), tmp_path / "c", ocr="never", progress=False)
    assert report.pages_ocr == 0
    assert Corpus(tmp_path / "c").pages["pic_1"].words == ()


def test_ocr_is_deterministic() -> None:
    from vrag_env.corpora.ocr import ocr_image

    image = text_image(["Deterministic OCR 2024"], (700, 200), 40)
    assert ocr_image(image) == ocr_image(image)


def test_rotated_pdf_page_words_follow_the_rendering(tmp_path: Path) -> None:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=400, height=300)
    page.insert_text((40, 60), "Sideways words here", fontsize=20)
    page.set_rotation(90)
    doc.save(tmp_path / "rot.pdf")
    ingest(FileSource([tmp_path / "rot.pdf"]), tmp_path / "c", ocr="never", dpi=72, progress=False)
    page_rec = Corpus(tmp_path / "c").pages["rot_1"]
    assert (page_rec.width, page_rec.height) == (300, 400)
    (x1, y1, x2, y2) = page_rec.words[0].box
    assert 0 <= x1 < x2 <= 300 and 0 <= y1 < y2 <= 400
    assert (y2 - y1) > (x2 - x1)  # the text runs vertically in the rendered page


def test_multi_page_tiff_and_transparency(tmp_path: Path) -> None:
    frames = [text_image([f"Frame {n}"], (300, 120), 30) for n in (1, 2)]
    frames[0].save(tmp_path / "fax.tiff", save_all=True, append_images=frames[1:])
    clear = Image.new("RGBA", (50, 40), (0, 0, 0, 0))
    clear.save(tmp_path / "clear.png")
    ingest(FileSource([tmp_path]), tmp_path / "c", ocr="never", progress=False)
    corpus = Corpus(tmp_path / "c")
    assert {"fax_1", "fax_2", "clear_1"} <= set(corpus.pages)
    assert corpus.page_image("clear_1").getpixel((5, 5)) == (255, 255, 255)


# ---------------------------------------------------------------------------------------------
# Bad input: one clear error naming the file or uid, exit code != 0, no output folder left.


def _fails(args: list[str], capsys: pytest.CaptureFixture[str], out: Path, *needles: str) -> str:
    code = main([*args, "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0
    lines = [line for line in err.strip().splitlines() if line.startswith("vrag ingest: error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    _no_leftovers(out)
    return lines[0]


def test_truncated_pdf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = make_text_pdf(tmp_path / "good.pdf", pages=4)
    # MuPDF refuses some cuts outright and silently "repairs" others into blank pages.
    for keep in (0.5, 0.6, 0.8, 0.99):
        bad = truncate_file(good, tmp_path / f"broken-{keep}.pdf", keep=keep)
        _fails(["ingest", str(bad)], capsys, tmp_path / "out", f"broken-{keep}.pdf")
        bad.unlink()
    bad = truncate_file(good, tmp_path / "cut.pdf", keep=0.8)
    _fails(["ingest", str(bad)], capsys, tmp_path / "out", "cut.pdf", "truncated")
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.7\n" + os.urandom(64))
    _fails(["ingest", str(garbage)], capsys, tmp_path / "out", "garbage.pdf")


def test_zero_byte_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_text_pdf(src / "fine.pdf", pages=1)
    (src / "empty.png").write_bytes(b"")
    _fails(["ingest", str(src)], capsys, tmp_path / "out", "empty.png", "0 bytes")


def test_decompression_bomb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bomb = make_bomb_png(tmp_path / "bomb.png")
    before = Image.MAX_IMAGE_PIXELS
    _fails(["ingest", str(bomb)], capsys, tmp_path / "out", "bomb.png", "decompression bomb")
    assert Image.MAX_IMAGE_PIXELS == before  # the guard stays on
    # Between MAX_IMAGE_PIXELS and twice that, Pillow only warns: ingestion still refuses.
    side = int((before or 0) ** 0.5) + 100
    warn_only = make_bomb_png(tmp_path / "big.png", side=side)
    _fails(["ingest", str(warn_only)], capsys, tmp_path / "out", "big.png", "decompression bomb")


def test_missing_reference_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_text_pdf(src / "report.pdf", pages=3)
    bad = [QUERIES[0], example("q-out-of-range", "report.pdf", [9], "x")]
    queries = write_rag_json(tmp_path / "q.json", bad)
    args = ["ingest", str(src), "--queries", str(queries), "--ocr", "never"]
    line = _fails(args, capsys, tmp_path / "out", "'q-out-of-range'", "reference page 9")
    assert "3 pages" in line
    # --skip-bad-queries reports it and builds the corpus with the other queries.
    out = tmp_path / "out"
    assert main([*args, "--skip-bad-queries", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "skipped 1 queries" in printed and "q-out-of-range" in printed
    assert list(Corpus(out).queries) == ["q-pdf"]
    skipped = Corpus(out).manifest["build"]["result"]["skipped_queries"]
    assert [s["uid"] for s in skipped] == ["q-out-of-range"]


def test_query_for_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pdf = make_text_pdf(tmp_path / "report.pdf", pages=1)
    queries = write_rag_json(tmp_path / "q.json", [example("lost", "elsewhere.pdf", [1], "x")])
    args = ["ingest", str(pdf), "--queries", str(queries), "--ocr", "never"]
    _fails(args, capsys, tmp_path / "out", "'lost'", "elsewhere.pdf")


def test_duplicate_page_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        make_text_pdf(tmp_path / sub / "report.pdf", pages=1)
    args = ["ingest", str(tmp_path / "a"), str(tmp_path / "b"), "--ocr", "never"]
    line = _fails(args, capsys, tmp_path / "out", "duplicate page ids", "rename")
    assert str(tmp_path / "a" / "report.pdf") in line and str(tmp_path / "b" / "report.pdf") in line
    make_image(tmp_path / "a" / "report.png", ["x"])  # same stem, other type
    _fails(["ingest", str(tmp_path / "a"), "--ocr", "never"], capsys, tmp_path / "out", "report")


def test_unwritable_output_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pdf = make_text_pdf(tmp_path / "report.pdf", pages=1)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the parent folder should be")
    _fails(["ingest", str(pdf)], capsys, blocker / "corpus", "not-a-folder", "not a folder")
    if hasattr(os, "geteuid") and os.geteuid() != 0:  # root ignores permissions
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            _fails(["ingest", str(pdf)], capsys, locked / "corpus", "locked")
        finally:
            locked.chmod(0o700)


def test_existing_folder_that_is_not_a_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = make_text_pdf(tmp_path / "report.pdf", pages=1)
    mine = tmp_path / "my-documents"
    mine.mkdir()
    (mine / "precious.txt").write_text("keep me")
    code = main(["ingest", str(pdf), "--out", str(mine), "--force", "--no-progress"])
    assert code != 0 and "not a corpus folder" in capsys.readouterr().err
    assert (mine / "precious.txt").read_text() == "keep me"


def test_unsupported_and_missing_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.docx"
    notes.write_text("x")
    _fails(["ingest", str(notes)], capsys, tmp_path / "out", "notes.docx", "unsupported")
    _fails(["ingest", str(tmp_path / "nope.pdf")], capsys, tmp_path / "out", "nope.pdf")
    (tmp_path / "emptydir").mkdir()
    _fails(["ingest", str(tmp_path / "emptydir")], capsys, tmp_path / "out", "no PDFs or images")


def test_cli_in_a_subprocess(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_text_pdf(src / "report.pdf", pages=3)
    queries = write_rag_json(tmp_path / "q.json", [QUERIES[0]])
    out = tmp_path / "corpus"
    uv = shutil.which("uv")
    script = Path(sys.executable).with_name("vrag")
    cmd = [uv, "run", "--no-sync", "vrag"] if uv else [str(script)]
    args = ["ingest", str(src), "--queries", str(queries), "--out", str(out), "--ocr", "never"]
    done = subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=300, cwd=Path(__file__).parent.parent
    )
    assert done.returncode == 0, done.stderr
    assert "ingested 1 docs, 3 pages (0 OCR'd), 1 queries" in done.stdout
    assert json.loads((out / "manifest.json").read_text())["num_pages"] == 3
    bad = subprocess.run(
        [*cmd, "ingest", str(tmp_path / "missing.pdf"), "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).parent.parent,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("vrag ingest: error:")
    assert "missing.pdf" in bad.stderr and "Traceback" not in bad.stderr
    _no_leftovers(tmp_path / "x")


def test_failure_while_writing_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A truncated JPEG passes the header check and fails only when its pixels are decoded, after
    # other pages were already written to the temporary folder.
    src = tmp_path / "src"
    src.mkdir()
    make_text_pdf(src / "a.pdf", pages=3)
    whole = make_image(tmp_path / "whole.jpg", ["CUT ME"], fmt="JPEG")
    truncate_file(whole, src / "z_cut.jpg", keep=0.5)
    _fails(["ingest", str(src), "--ocr", "never"], capsys, tmp_path / "out", "z_cut.jpg")


def test_interrupted_ingest_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_text_pdf(src / "a.pdf", pages=3)
    pages = FileSource.iter_pages

    def interrupted(self: FileSource, dpi: int) -> Iterator[PageInput]:
        for n, page in enumerate(pages(self, dpi)):
            if n == 2:
                raise KeyboardInterrupt
            yield page

    monkeypatch.setattr(FileSource, "iter_pages", interrupted)
    out = tmp_path / "out"
    assert main(["ingest", str(src), "--out", str(out), "--no-progress"]) == 130
    _no_leftovers(out)
