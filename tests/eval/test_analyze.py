"""`analyze` on prune structure files, raw datasets and lm-eval --log_samples files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from limopro_plugins.analyze import main
from tests.data.texts import SAMPLE


def test_structure_file_with_scores_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        {
            "index": i,
            "steps": [
                {"mode": "progressive", "tokens": 30, "pir": None},
                {"mode": "verification", "tokens": 10, "pir": 0.01 * i},
                {"mode": "error_correction", "tokens": 10, "pir": -0.02},
            ],
        }
        for i in range(4)
    ]
    (tmp_path / "structure.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    png = tmp_path / "pir.png"
    assert main([str(tmp_path), "--json", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    stats = json.loads(out[: out.rindex("}") + 1])
    assert stats["chains"] == 4
    assert stats["modes"]["progressive"] == {"steps": 4, "token_share": 0.6}
    assert stats["modes"]["verification"] == {"steps": 4, "token_share": 0.2}
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_raw_dataset_without_scores(tmp_path: Path, tiny_qwen_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "pir.png"
    assert main([str(SAMPLE), "--tokenizer", str(tiny_qwen_dir), "--plot", str(png)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("8 chains") and "| verification" in captured.out
    assert "no PIR scores" in captured.err and not png.exists()


def test_lm_eval_samples_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], tiny_qwen_dir: Path) -> None:
    responses = [
        "We add 2 + 3 = 5.\n\nWait, let me check it again: 5 - 3 = 2. Correct.\n\nSo the sum is 5.",
        "So 2 + 3 = 5. Alternatively, 3 + 2 = 5 gives the same result.",
    ]
    record = {"doc_id": 0, "filtered_resps": [responses]}
    path = tmp_path / "samples_limopro_aime_2026.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert main([str(path), "--tokenizer", str(tiny_qwen_dir), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["responses"] == 2
    assert {m: v["steps"] for m, v in stats["modes"].items()} == {
        "progressive": 3,
        "verification": 1,
        "multi_method": 1,
        "error_correction": 0,
    }


def test_a_torn_last_line_is_skipped_and_left_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A running prune may be writing that line: analyze only reads."""
    row = {"index": 0, "steps": [{"mode": "progressive", "tokens": 30, "pir": None}]}
    structure = tmp_path / "structure.jsonl"
    structure.write_text(json.dumps(row) + "\n" + json.dumps(row)[:20])
    before = structure.read_bytes()
    assert main([str(structure), "--json"]) == 0
    assert '"chains": 1' in capsys.readouterr().out
    assert structure.read_bytes() == before


def test_missing_structure_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "run" / "structure.jsonl")]) == 2
    assert "file not found" in capsys.readouterr().err
