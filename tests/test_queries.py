"""Query files: parsing, page-id mapping, splits and answer evidence (no PDFs or OCR here)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.ingest_fixtures import example, write_jsonl, write_rag_json
from vrag_env.corpora.evidence import attach_evidence, find_answer, locate_answer
from vrag_env.corpora.queries import (
    DocPages,
    PageMapper,
    QueryError,
    assign_split,
    load_query_file,
    normalize_split,
    parse_example,
    resolve_queries,
)
from vrag_env.types import Query, Word

EXAMPLES = [
    example("q1", "report.pdf", [2], "Ultramarine 42"),
    example("q2", "scan.pdf", [1], ["512 EUR", "512"], query_type="Multi-Hop"),
    example("q3", "photo.png", "[1]", 7, split="validation"),
]
DOCS = [
    DocPages("report", (1, 2, 3), ("report.pdf", "sub/report.pdf"), "report.pdf"),
    DocPages("scan", (1,), ("scan.pdf",), "scan.pdf"),
    DocPages("photo", (1,), ("photo.png",), "photo.png"),
]


def _words(*texts: str) -> list[Word]:
    return [Word(t, (10.0 * i, 0.0, 10.0 * i + 8, 10.0)) for i, t in enumerate(texts)]


@pytest.mark.parametrize("fmt", ["rag_json", "json_list", "jsonl"])
def test_query_file_formats_parse_the_same(tmp_path: Path, fmt: str) -> None:
    if fmt == "rag_json":
        path = write_rag_json(tmp_path / "rag_dataset.json", EXAMPLES)
    elif fmt == "json_list":
        path = tmp_path / "list.json"
        path.write_text(json.dumps(EXAMPLES), encoding="utf-8")
    else:
        path = write_jsonl(tmp_path / "queries.jsonl", EXAMPLES)
    raw = load_query_file(path)
    assert [q.uid for q in raw] == ["q1", "q2", "q3"]
    assert raw[0].answers == ("Ultramarine 42",)
    assert raw[0].file_name == "report.pdf" and raw[0].reference_pages == (2,)
    assert raw[0].source_type == "Text" and raw[0].query_type == "Single-Hop"
    assert raw[1].answers == ("512 EUR", "512") and raw[1].query_type == "Multi-Hop"
    assert raw[2].answers == ("7",) and raw[2].reference_pages == (1,)
    assert raw[2].split == "val"
    assert str(path) in raw[0].where


def test_top_level_fields_and_string_pages() -> None:
    rq = parse_example(
        {"uid": 5, "question": "Q?", "answer": "A", "file_name": "x.pdf", "reference_page": "3, 5"},
        "f:1",
    )
    assert rq.uid == "5" and rq.reference_pages == (3, 5) and rq.file_name == "x.pdf"


@pytest.mark.parametrize(
    ("record", "needle"),
    [
        ({"query": "Q", "reference_answer": "A", "meta_info": {}}, "no 'uid'"),
        ({"uid": "u9", "reference_answer": "A", "meta_info": {}}, "'u9' has no 'query'"),
        ({"uid": "u9", "query": "Q", "meta_info": {}}, "'u9' has no reference_answer"),
        ({"uid": "u9", "query": "Q", "reference_answer": "A", "meta_info": {}}, "file_name"),
        (
            {"uid": "u9", "query": "Q", "reference_answer": "A", "meta_info": {"file_name": "x"}},
            "reference_page",
        ),
        (
            {
                "uid": "u9",
                "query": "Q",
                "reference_answer": "A",
                "meta_info": {"file_name": "x", "reference_page": ["two"]},
            },
            "'two' is not a page number",
        ),
    ],
)
def test_malformed_examples_name_the_uid(record: dict, needle: str) -> None:
    with pytest.raises(QueryError, match=needle):
        parse_example(record, "queries.json examples[0]")


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "q.jsonl"
    bad.write_text(json.dumps(EXAMPLES[0]) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"q\.jsonl:2: invalid JSON"):
        load_query_file(bad)
    bad_json = tmp_path / "q.json"
    bad_json.write_text('{"examples": [', encoding="utf-8")
    with pytest.raises(ValueError, match=r"q\.json:1: invalid JSON"):
        load_query_file(bad_json)


def test_splits() -> None:
    assert normalize_split("Validation") == "val" and normalize_split("dev") == "val"
    with pytest.raises(ValueError, match="unknown split"):
        normalize_split("holdout")
    assert assign_split("anything", "test") == "test"
    uids = [f"q{i}" for i in range(2000)]
    first = [assign_split(u) for u in uids]
    assert first == [assign_split(u) for u in uids]  # deterministic
    counts = Counter(first)
    assert 0.75 < counts["train"] / 2000 < 0.85
    assert 0.07 < counts["val"] / 2000 < 0.13 and 0.07 < counts["test"] / 2000 < 0.13


def test_page_mapping() -> None:
    raw = [parse_example(e, f"q.json [{i}]") for i, e in enumerate(EXAMPLES)]
    resolved = resolve_queries(raw, PageMapper(DOCS), split="test")
    by_uid = {q.uid: q for q in resolved.queries}
    assert by_uid["q1"].reference_pages == ("report_2",)
    assert by_uid["q2"].reference_pages == ("scan_1",)
    assert by_uid["q1"].split == "test" and by_uid["q3"].split == "val"  # explicit split wins
    assert by_uid["q1"].meta["file_name"] == "report.pdf"
    assert by_uid["q1"].small_print is None and by_uid["q1"].evidence == ()
    mapper = PageMapper(DOCS)
    for name in ("report.pdf", "report", "sub/report.pdf", "./report.pdf", "other/dir/report.pdf"):
        assert mapper.page_id(raw[0].__class__(**{**raw[0].__dict__, "file_name": name}), 3) == (
            "report_3"
        )


def test_page_image_folder_fallback() -> None:
    # VRAG-RL stores corpora as page images `{stem}_{page}.jpg`; a reference to page 2 of
    # `deck.pdf` finds the single-image document `deck_2`.
    mapper = PageMapper([DocPages("deck_1", (1,)), DocPages("deck_2", (1,))])
    rq = parse_example(example("d", "deck.pdf", [2], "x"), "q")
    assert resolve_queries([rq], mapper).queries[0].reference_pages == ("deck_2_1",)


def test_bad_references_name_the_uid() -> None:
    missing_page = parse_example(example("bad-page", "report.pdf", [7], "x"), "q.json [0]")
    missing_file = parse_example(example("bad-file", "nowhere.pdf", [1], "x"), "q.json [1]")
    mapper = PageMapper(DOCS)
    with pytest.raises(QueryError, match=r"'bad-page'.*reference page 7 .*has 3 pages") as info:
        resolve_queries([missing_page], mapper)
    assert info.value.uid == "bad-page"
    with pytest.raises(QueryError, match=r"'bad-file'.*'nowhere.pdf' is not among"):
        resolve_queries([missing_file], mapper)
    good = parse_example(EXAMPLES[0], "q.json [2]")
    dup = parse_example(EXAMPLES[0], "q.json [3]")
    with pytest.raises(QueryError, match="duplicate query uid 'q1'"):
        resolve_queries([good, dup], mapper)
    resolved = resolve_queries([missing_page, good, missing_file], mapper, skip_bad=True)
    assert [q.uid for q in resolved.queries] == ["q1"]
    assert [uid for uid, _ in resolved.skipped] == ["bad-page", "bad-file"]


def test_find_answer_whole_words() -> None:
    words = _words("Temp:", "195-", "205", "Centigrade.", "in", "2015")
    assert find_answer("195-205 Centigrade", words) == (1, 4)
    assert find_answer("centigrade", words) == (3, 4)
    assert find_answer("5", words) is None  # never inside "2015"
    assert find_answer("", words) is None


def test_locate_answer_in_glued_ocr_words() -> None:
    box, text = locate_answer("512 EUR", _words("Total512EUR"))  # type: ignore[misc]
    assert text == "512EUR"
    assert box[0] > 0.0 and box[2] == pytest.approx(8.0)
    assert locate_answer("12.5%", _words("grew", "12.5%to"))[1] == "12.5"  # type: ignore[index]
    assert locate_answer("5", _words("in", "2015")) is None
    assert locate_answer("pine", _words("Pineapple")) is None
    # Whole-word matches win over glued ones that come earlier on the page.
    found = locate_answer("42", _words("x42", "42"))
    assert found is not None and found[0][0] == 10.0


def test_attach_evidence() -> None:
    words = {
        "p_1": _words("nothing", "here"),
        "p_2": _words("The", "colour", "is", "Ultramarine", "42,", "sadly."),
    }
    q = Query("u", "Which colour?", ("Ultramarine 42",), ("p_1", "p_2"), "test")
    (done,) = attach_evidence([q], lambda p: words[p])
    assert len(done.evidence) == 1
    ev = done.evidence[0]
    assert ev.page_id == "p_2" and ev.text == "Ultramarine 42,"
    assert ev.box == (30.0, 0.0, 48.0, 10.0)
    (none,) = attach_evidence([Query("v", "?", ("absent",), ("p_1",), "test")], lambda p: words[p])
    assert none.evidence == () and none.small_print is None
