"""``vrag eval --wandb``: the offline run folder holds the summary and the episodes table."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

wandb = pytest.importorskip("wandb")

from benchmarks.runner import evaluate  # noqa: E402
from benchmarks.specs import get_benchmark, with_limit  # noqa: E402
from benchmarks.wandb_log import EPISODE_COLUMNS, log_results  # noqa: E402

_BLOCK = 32 * 1024
_HEADER = 7  # ":W&B" + 2-byte magic + 1-byte version


def read_wandb_records(path: Path) -> list:
    """Decode a ``run-*.wandb`` file (a LevelDB-style log of protobuf ``Record`` messages)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    records, chunks, pos = [], b"", _HEADER
    while pos + 7 <= len(data):
        left_in_block = _BLOCK - pos % _BLOCK
        if left_in_block < 7:  # block trailer padding
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        payload = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        chunks += payload
        if kind in (1, 4):  # FULL or LAST
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunks)
            records.append(record)
            chunks = b""
    return records


def test_log_results_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    spec = with_limit(get_benchmark("synth-tiny"), 3).to_eval_spec()
    results = evaluate("oracle", spec, progress=False)
    run_dir = log_results(results, dir=tmp_path)
    assert run_dir.parent == tmp_path / "wandb" and run_dir.name.startswith("offline-run-")
    run_files = list(run_dir.glob("run-*.wandb"))
    assert len(run_files) == 1

    records = read_wandb_records(run_files[0])
    summary = {}
    for record in records:
        if record.WhichOneof("record_type") == "summary":
            summary.update(
                {
                    "/".join([item.key] if item.key else list(item.nested_key)): json.loads(
                        item.value_json
                    )
                    for item in record.summary.update
                }
            )
    history = {
        "/".join([item.key] if item.key else list(item.nested_key)): json.loads(item.value_json)
        for record in records
        if record.WhichOneof("record_type") == "history"
        for item in record.history.item
    }
    assert summary["anls"] == results["summary"]["anls"]
    assert summary["episodes"] == 3 and summary["anls_ci95"] == results["summary"]["anls_ci95"]
    assert history["episodes/_type"] == "table-file" and history["episodes/nrows"] == 3
    assert history["episodes/ncols"] == len(EPISODE_COLUMNS)

    tables = list(run_dir.glob("files/media/table/episodes_*.table.json"))
    assert len(tables) == 1
    table = json.loads(tables[0].read_text())
    assert table["columns"] == list(EPISODE_COLUMNS)
    assert [row[0] for row in table["data"]] == [ep["question_id"] for ep in results["episodes"]]
    assert table["data"][0][3] == results["episodes"][0]["prediction"]
