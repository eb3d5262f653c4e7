"""The report: the paper's table and the pattern table, from hand-made lm-eval result files and from the
files of a real `lm_eval` run."""

from __future__ import annotations

import json
import math
import os
import re
import stat
import subprocess
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest

from limopro_plugins.eval.report import load_results, with_overall
from limopro_plugins.report import main

# LIMO and LIMO-P rows of the paper's results table: (ACC %, TOK) per benchmark.
PAPER = {
    "LIMO": {"limopro_aime": (56.7, 12497), "limopro_amc": (91.9, 5516), "limopro_gpqa_diamond": (67.2, 7173)},
    "LIMO-P": {"limopro_aime": (63.3, 10588), "limopro_amc": (93.8, 5235), "limopro_gpqa_diamond": (71.2, 6969)},
}
QUESTIONS = {"limopro_aime": 30, "limopro_amc": 40, "limopro_gpqa_diamond": 198}
NAMES = {"limopro_aime": "AIME", "limopro_amc": "AMC", "limopro_gpqa_diamond": "GPQA Diamond"}
MODES = ("progressive", "verification", "multi_method", "error_correction")
WIDTH = 120


def write_results(
    folder: Path,
    model: str,
    pretrained: str | None = None,
    tasks: tuple[str, ...] = tuple(QUESTIONS),
    questions: dict[str, int] | None = None,
) -> Path:
    """A results file of one of the paper's models, as lm-eval writes it for `pretrained` (default
    /models/<model>), with `tasks` only, covering QUESTIONS or `questions` per task."""
    questions = {**QUESTIONS, **(questions or {})}
    results = {}
    for task, (acc, tok) in PAPER[model].items():
        if task not in tasks:
            continue
        results[task] = {
            "alias": task,
            "acc,none": acc / 100,
            "acc_stderr,none": "N/A",
            "tok,none": tok,
            "eff,none": acc / 100 / tok,
            "pass@1,none": acc / 100,
            "steps,none": 40.0,
            "share_progressive,none": 0.6,
            "share_verification,none": 0.2,
            "share_multi_method,none": 0.15,
            "share_error_correction,none": 0.05,
            "think_rate,none": 0.5,
            "think_tok,none": 0.8 * tok,
            "answer_tok,none": 0.2 * tok,
        }
    results["limopro"] = {"acc,none": 0.5}
    data = {
        "results": results,
        "model_name": pretrained or f"/models/{model}",
        "n-samples": {t: {"original": q, "effective": q} for t, q in questions.items() if t in tasks},
    }
    folder.mkdir(parents=True)
    file = folder / "results_2026-11-24T00-00-00.json"
    file.write_text(json.dumps(data))
    return file


def plain_tables(out: str) -> list[tuple[list[str], list[list[str]]]]:
    """The plain tables printed: (column names, rows of cells). A column is named by the group name over
    it (a benchmark) and its own header, as in "AIME ACC"; cells are cut at the dash line's columns."""
    lines = out.splitlines()
    found = []
    for at, line in enumerate(lines):
        if not line or set(line) != {"-", " "}:
            continue
        spans = [m.span() for m in re.finditer(r"-+", line)]
        groups = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", lines[at - 2])] if lines[at - 2] else []
        names = []
        for start, end in spans:
            group = next((name for begin, name in reversed(groups) if begin <= start), "")
            names.append(f"{group} {lines[at - 1][start:end].strip()}".strip())
        rows = []
        for row in lines[at + 1 :]:
            if not row.strip():
                break
            rows.append([row[start:end].strip() for start, end in spans])
        found.append((names, rows))
    return found


def markdown_tables(out: str) -> list[tuple[list[str], list[list[str]]]]:
    found, block = [], []
    for line in [*out.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line[1:-1].split("|"))
        elif block:
            found.append((block[0], block[2:]))
            block = []
    return found


def cells(table: tuple[list[str], list[list[str]]], first: str) -> dict[str, str]:
    """The row whose first cell is `first` (the first such row), by column name."""
    names, rows = table
    return dict(zip(names, next(row for row in rows if row[0] == first)))


def following(table: tuple[list[str], list[list[str]]], first: str) -> dict[str, str]:
    """The row after the one whose first cell is `first`: its deltas against the baseline."""
    names, rows = table
    at = next(i for i, row in enumerate(rows) if row[0] == first)
    return dict(zip(names, rows[at + 1]))


def test_table_with_deltas_csv_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_results(tmp_path / "limo", "LIMO")
    write_results(tmp_path / "limo_p", "LIMO-P")
    csv, png = tmp_path / "t.csv", tmp_path / "plot.png"
    assert (
        main(
            [
                str(tmp_path / "limo"),
                str(tmp_path / "limo_p"),
                "--baseline",
                "LIMO",
                "--csv",
                str(csv),
                "--plot",
                str(png),
            ]
        )
        == 0
    )
    [paper] = plain_tables(capsys.readouterr().out)
    limo_p, delta = cells(paper, "LIMO-P"), following(paper, "LIMO-P")
    assert delta["model"] == "Δ"
    # The paper's row: 63.3 (+6.6), 10,588 (-15%), 5.98E-05 (+32%) on AIME
    assert [limo_p[f"AIME {k}"] for k in ("ACC", "TOK", "EFF")] == ["63.3", "10,588", "5.98E-05"]
    assert [delta[f"AIME {k}"] for k in ("ACC", "TOK", "EFF")] == ["+6.6", "-15%", "+32%"]
    # the paper prints +7% here from its rounded EFFs (1.79/1.67); from ACC and TOK it is +7.5% -> +8%
    assert [limo_p[f"AMC {k}"] for k in ("ACC", "TOK", "EFF")] == ["93.8", "5,235", "1.79E-04"]
    assert [delta[f"AMC {k}"] for k in ("ACC", "TOK", "EFF")] == ["+1.9", "-5%", "+8%"]
    assert [delta[f"GPQA Diamond {k}"] for k in ("ACC", "TOK", "EFF")] == ["+4.0", "-3%", "+9%"]
    limo = cells(paper, "LIMO")
    assert limo["AIME EFF"] == "4.54E-05"  # 0.567 / 12497 (the paper prints 4.53E-05)
    assert following(paper, "LIMO")["model"] == "LIMO-P"  # the baseline has no delta row
    frame = pd.read_csv(csv)
    assert list(frame.columns) == ["model", "benchmark", "metric", "value"]
    value = frame.set_index(["model", "benchmark", "metric"])["value"]
    acc = (0.567 * 30 + 0.919 * 40 + 0.672 * 198) / 268
    tok = (12497 * 30 + 5516 * 40 + 7173 * 198) / 268
    assert value["LIMO", "All", "acc"] == pytest.approx(acc) and value["LIMO", "All", "tok"] == pytest.approx(tok)
    assert value["LIMO", "All", "eff"] == pytest.approx(acc / tok)  # ratio of means
    assert value["LIMO-P", "AIME", "acc_delta"] == pytest.approx(0.633 - 0.567)
    assert value["LIMO-P", "AIME", "tok_ratio"] == pytest.approx(10588 / 12497)
    assert value["LIMO", "AIME", "questions"] == 30 and value["LIMO", "AIME", "steps"] == 40
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_labels_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_results(tmp_path / "a", "LIMO")
    assert main([str(tmp_path / "a"), "--label", "mine"]) == 0
    assert cells(plain_tables(capsys.readouterr().out)[0], "mine")["AIME ACC"] == "56.7"
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    assert "no lm-eval results_*.json found" in capsys.readouterr().err
    assert main([str(tmp_path / "a"), "--baseline", "nobody"]) == 2
    assert "--baseline 'nobody' is not one of the models" in capsys.readouterr().err


def test_pattern_table_and_mode_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_results(tmp_path / "limo", "LIMO")
    png = tmp_path / "modes.png"
    assert main([str(tmp_path / "limo"), "--patterns", "--modes-plot", str(png)]) == 0
    paper, patterns = plain_tables(capsys.readouterr().out)
    assert [row[:2] for row in patterns[1]] == [["LIMO", b] for b in ("AIME", "AMC", "GPQA Diamond", "All")]
    aime = cells(patterns, "LIMO")
    assert aime["steps"] == "40.00" and aime["token share per mode (%) verif."] == "20.0"
    assert aime["with </think> %"] == "50.0" and aime["with </think> think"] == "9,998"  # 0.8 x 12497
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_nested_folders_newest_file_wins_and_all_weights_by_questions(tmp_path: Path) -> None:
    """lm-eval nests results per model; a later run of a task replaces the earlier one; the 'All' column
    weights each benchmark by its questions, whatever its samples per question, as lm-eval's group does."""

    def result(task: str, acc: float, tok: float, questions: int, n: int) -> dict:
        return {
            "results": {task: {"acc,none": acc, "tok,none": tok}},
            "model_name": "org/My-Model",
            "n-samples": {task: {"original": questions, "effective": questions}},
            "configs": {task: {"repeats": n}},
        }

    nested = tmp_path / "out" / "org__My-Model"
    nested.mkdir(parents=True)
    for name, data in {
        "results_2026-01-01T00-00-00.json": result("limopro_aime", 0.9, 50, 30, 8),
        "results_2026-01-02T00-00-00.json": result("limopro_aime", 0.2, 100, 30, 8),
        "results_2026-01-01T12-00-00.json": result("limopro_amc", 0.5, 300, 40, 2),
        "results_2026-01-01T18-00-00.json": result("limopro_gpqa_diamond", 0.3, 200, 198, 1),
    }.items():
        (nested / name).write_text(json.dumps(data))
    frame = with_overall(load_results([tmp_path / "out"]))
    assert set(frame["model"]) == {"My-Model"}
    aime = frame[frame["benchmark"] == "AIME"].iloc[0]
    assert (aime["acc"], aime["tok"], aime["n"]) == (0.2, 100, 8)  # the newer run
    overall = frame[frame["benchmark"] == "All"].iloc[0]
    acc = (0.2 * 30 + 0.5 * 40 + 0.3 * 198) / 268  # by samples (30 x 8, 40 x 2, 198) it would be 0.295
    tok = (100 * 30 + 300 * 40 + 200 * 198) / 268
    assert overall["acc"] == pytest.approx(acc) and overall["tok"] == pytest.approx(tok)
    assert overall["eff"] == pytest.approx(acc / tok) and pd.isna(overall["n"])  # n differs between tasks


def test_all_only_for_models_with_every_benchmark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A model without GPQA results gets no 'All': over AIME and AMC alone it would read 37.1 (-9.5) next
    to LIMO-P's complete 'All' although both score the same on the benchmarks they share."""
    write_results(tmp_path / "a", "LIMO-P")
    write_results(tmp_path / "b", "LIMO-P", pretrained="/models/B", tasks=("limopro_aime", "limopro_amc"))
    csv = tmp_path / "t.csv"
    assert main([str(tmp_path / "a"), str(tmp_path / "b"), "--baseline", "LIMO-P", "--csv", str(csv)]) == 0
    out, err = capsys.readouterr()
    [paper] = plain_tables(out)
    b, delta = list(cells(paper, "B").values())[1:], list(following(paper, "B").values())[1:]
    assert b[:6] == ["63.3", "10,588", "5.98E-05", "93.8", "5,235", "1.79E-04"]
    assert delta[:6] == ["+0.0", "+0%", "+0%", "+0.0", "+0%", "+0%"]
    assert b[6:] == delta[6:] == [""] * 6  # GPQA and All: empty, no deltas
    assert all(list(cells(paper, "LIMO-P").values())[10:13])  # the complete model keeps its 'All'
    assert "B: no 'All' without GPQA Diamond results" in err
    frame = pd.read_csv(csv)
    assert set(frame[frame["benchmark"] == "All"]["model"]) == {"LIMO-P"}


def test_no_deltas_between_different_question_sets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A run with --limit covers other questions than the baseline's full run: no delta, and a note."""
    write_results(tmp_path / "a", "LIMO")
    write_results(tmp_path / "b", "LIMO-P", questions={"limopro_gpqa_diamond": 4})
    assert main([str(tmp_path / "a"), str(tmp_path / "b"), "--baseline", "LIMO"]) == 0
    out, err = capsys.readouterr()
    [paper] = plain_tables(out)
    mine, delta = cells(paper, "LIMO-P"), following(paper, "LIMO-P")
    assert delta["AIME ACC"] == "+6.6"
    assert [mine[f"GPQA Diamond {k}"] for k in ("ACC", "TOK", "EFF")] == ["71.2", "6,969", "1.02E-04"]
    assert [delta[f"{b} {k}"] for b in ("GPQA Diamond", "All") for k in ("ACC", "TOK", "EFF")] == [""] * 6
    assert "LIMO-P GPQA Diamond: no deltas, 4 questions against 198 of LIMO" in err


def test_models_with_the_same_last_path_component_stay_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two checkpoints named checkpoint-1000 are two models: each row is named by the shortest path suffix
    that tells them apart, and the baseline's deltas are shown."""
    write_results(tmp_path / "a", "LIMO", pretrained="/ckpt/limo/checkpoint-1000")
    write_results(tmp_path / "b", "LIMO-P", pretrained="/ckpt/limo_p/checkpoint-1000/")
    assert main([str(tmp_path / "a"), str(tmp_path / "b"), "--baseline", "limo/checkpoint-1000"]) == 0
    [paper] = plain_tables(capsys.readouterr().out)
    assert cells(paper, "limo/checkpoint-1000")["AIME ACC"] == "56.7"
    assert cells(paper, "limo_p/checkpoint-1000")["AIME ACC"] == "63.3"
    assert following(paper, "limo_p/checkpoint-1000")["AIME ACC"] == "+6.6"


def test_short_names() -> None:
    from limopro_plugins.eval.report import short_names

    assert short_names(["Qwen/Qwen2.5-7B", "/x/limo/ck", "/x/limo_p/ck", "/y/a/b", "a/b"]) == {
        "Qwen/Qwen2.5-7B": "Qwen2.5-7B",
        "/x/limo/ck": "limo/ck",
        "/x/limo_p/ck": "limo_p/ck",
        "/y/a/b": "y/a/b",
        "a/b": "a/b",
    }


def test_label_clashing_with_another_model_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_results(tmp_path / "a", "LIMO")
    write_results(tmp_path / "b", "LIMO-P")
    assert main([str(tmp_path / "a"), str(tmp_path / "b"), "--label", "LIMO-P"]) == 2
    err = capsys.readouterr().err
    assert "'LIMO-P' names different models" in err and str(tmp_path / "a") in err and str(tmp_path / "b") in err


def test_same_model_under_two_paths_warns_about_the_replaced_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same `pretrained` run twice (say with two token budgets) into two folders: one row, the newer
    run's, and a warning that tells how to see both; labelled, both rows are shown."""
    write_results(tmp_path / "long", "LIMO")
    write_results(tmp_path / "short", "LIMO-P", pretrained="/models/LIMO")
    newer = tmp_path / "short" / "results_2026-11-25T00-00-00.json"
    (tmp_path / "short" / "results_2026-11-24T00-00-00.json").rename(newer)
    assert main([str(tmp_path / "short"), str(tmp_path / "long")]) == 0
    out, err = capsys.readouterr()
    assert cells(plain_tables(out)[0], "LIMO")["AIME ACC"] == "63.3"  # the newer file, whatever the path order
    assert f"LIMO AIME: {newer} replaces the older" in err and "different --label values" in err
    assert main([str(tmp_path / "long"), str(tmp_path / "short"), "--label", "160", "--label", "48"]) == 0
    out, err = capsys.readouterr()
    [paper] = plain_tables(out)
    assert cells(paper, "160")["AIME ACC"] == "56.7" and cells(paper, "48")["AIME ACC"] == "63.3"
    assert "warning" not in err


def test_think_columns_pool_the_responses_that_have_think(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Thinking / answer tokens are means over responses with </think>: 'All' weighs each benchmark by its
    questions x think_rate (here 30 x 1.0 and 40 x 0.5; GPQA has none), not by its size."""
    think = {
        "limopro_aime": (1.0, 1000.0, 100.0),
        "limopro_amc": (0.5, 400.0, 50.0),
        "limopro_gpqa_diamond": (0.0, 0.0, 0.0),
    }
    results = {
        task: {
            "acc,none": 0.5,
            "tok,none": 900.0,
            "share_progressive,none": 1.0,
            "think_rate,none": rate,
            "think_tok,none": before,
            "answer_tok,none": after,
        }
        for task, (rate, before, after) in think.items()
    }
    folder = tmp_path / "r1"
    folder.mkdir()
    (folder / "results_2026-11-24T00-00-00.json").write_text(
        json.dumps(
            {
                "results": results,
                "model_name": "/models/R1",
                "n-samples": {t: {"original": q, "effective": q} for t, q in QUESTIONS.items()},
                "configs": {t: {"repeats": 2} for t in QUESTIONS},
            }
        )
    )
    assert main([str(folder), "--patterns", "--csv", str(tmp_path / "t.csv")]) == 0
    frame = pd.read_csv(tmp_path / "t.csv")
    value = frame[frame["benchmark"] == "All"].set_index("metric")["value"]
    assert value["think_tok"] == pytest.approx((30 * 1000 + 20 * 400) / 50)
    assert value["answer_tok"] == pytest.approx((30 * 100 + 20 * 50) / 50)
    assert value["think_rate"] == pytest.approx(50 / 268)
    names, rows = plain_tables(capsys.readouterr().out)[1]
    row = {r[1]: dict(zip(names, r)) for r in rows}
    assert row["All"]["with </think> think"] == "760"
    assert row["GPQA Diamond"]["with </think> think"] == ""  # none of its responses has </think>
    assert row["AMC"]["with </think> %"] == "50.0"


def test_mode_plot_covers_a_model_without_every_benchmark(tmp_path: Path) -> None:
    from limopro_plugins.eval.report import mode_shares

    write_results(tmp_path / "limo", "LIMO")
    write_results(tmp_path / "limo_p", "LIMO-P", tasks=("limopro_aime",))
    frame = with_overall(load_results([tmp_path / "limo", tmp_path / "limo_p"]))
    shares = mode_shares(frame)
    assert list(shares.index) == ["LIMO", "LIMO-P\n(AIME)"]
    assert shares.sum(axis=1).tolist() == pytest.approx([1.0, 1.0])
    assert main([str(tmp_path / "limo"), str(tmp_path / "limo_p"), "--modes-plot", str(tmp_path / "m.png")]) == 0
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"


def test_both_tables_fit_120_characters_for_three_benchmarks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Models named with 20 characters, five-digit token counts, a baseline's deltas: every line of both
    tables, plain and markdown, fits 120 characters."""
    write_results(tmp_path / "a", "LIMO", pretrained="/ckpt/qwen32b-limo-sft-run01")
    write_results(tmp_path / "b", "LIMO-P", pretrained="/ckpt/qwen32b-limo-pir-run02")
    args = [str(tmp_path / "a"), str(tmp_path / "b"), "--baseline", "qwen32b-limo-sft-run01", "--patterns"]
    for form in ("plain", "markdown"):
        assert main([*args, "--format", form]) == 0
        out = capsys.readouterr().out
        assert max(map(len, out.splitlines())) <= WIDTH, form
        tables = plain_tables(out) if form == "plain" else markdown_tables(out)
        assert len(tables) == 2 and len(tables[0][0]) == 13 and len(tables[1][1]) == 8, form


def test_markdown_is_the_plain_table_in_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_results(tmp_path / "a", "LIMO")
    write_results(tmp_path / "b", "LIMO-P")
    args = [str(tmp_path / "a"), str(tmp_path / "b"), "--baseline", "LIMO", "--patterns"]
    assert main([*args, "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert main(args) == 0
    plain = plain_tables(capsys.readouterr().out)
    lines = markdown.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("|model|AIME ACC|AIME TOK|AIME EFF|AMC ACC"))
    assert set(lines[header + 1]) <= set("|-:")  # the delimiter row that makes it a table
    assert "% `</think>`" in markdown  # shown, not taken for an HTML tag
    for (_, rows), (_, plain_rows) in zip(markdown_tables(markdown), plain):
        assert [[cell.strip() for cell in row] for row in rows] == plain_rows


def test_csv_format_prints_every_number_in_long_form(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_results(tmp_path / "a", "LIMO")
    write_results(tmp_path / "b", "LIMO-P")
    assert main([str(tmp_path / "a"), str(tmp_path / "b"), "--baseline", "LIMO", "--format", "csv"]) == 0
    frame = pd.read_csv(StringIO(capsys.readouterr().out))
    value = frame.set_index(["model", "benchmark", "metric"])["value"]
    for model, scores in PAPER.items():
        for task, (acc, tok) in scores.items():
            bench = NAMES[task]
            assert value[model, bench, "acc"] == pytest.approx(acc / 100) and value[model, bench, "tok"] == tok
            assert value[model, bench, "answer_tok"] == pytest.approx(0.2 * tok)
    assert value["LIMO-P", "GPQA Diamond", "eff_ratio"] == pytest.approx((0.712 / 6969) / (0.672 / 7173))
    assert ("LIMO", "AIME", "acc_delta") not in value.index  # the baseline against itself: nothing


def test_bad_results_files_are_skipped_with_a_warning_naming_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Truncated, empty, non-UTF-8 and wrongly shaped files beside good ones: each skipped with one line
    naming it, the rest reported."""
    good = write_results(tmp_path / "good", "LIMO")
    text = good.read_text()
    bad = {
        "truncated": text[: len(text) // 2],
        "empty": "",
        "array": "[1, 2]",
        "string results": json.dumps({"results": "none"}),
        "number task": json.dumps({"results": {"limopro_aime": 3}}),
        "list n-samples": json.dumps({"results": {"limopro_aime": {"acc,none": 0.5}}, "n-samples": []}),
        "deep": "[" * 100_000 + "]" * 100_000,
    }
    folder = tmp_path / "bad"
    folder.mkdir()
    files = []
    for i, content in enumerate(bad.values()):
        files.append(folder / f"results_2026-11-2{i}T00-00-00.json")
        files[-1].write_text(content)
    files.append(folder / "results_2026-11-29T00-00-00.json")
    files[-1].write_bytes('{"model_name": "caf\u00e9"}'.encode("latin-1"))
    assert main([str(tmp_path / "good"), str(folder), "--label", "LIMO"]) == 0
    out, err = capsys.readouterr()
    assert cells(plain_tables(out)[0], "LIMO")["AIME ACC"] == "56.7"
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    for file in files:
        [line] = [w for w in warnings if str(file) in w]
        assert " skipped: " in line
    assert "not UTF-8" in err and "empty" in err and "not valid JSON" in err and "Traceback" not in err
    assert f"{folder} ignored: none of its results files could be read" in err
    assert main([str(folder)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: no limopro task results in")


def test_an_unreadable_output_path_is_one_sentence_before_any_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_results(tmp_path / "a", "LIMO")
    (tmp_path / "file").write_text("")
    for option, path, says in (
        ("--csv", tmp_path / "file" / "t.csv", "is a file, not a folder"),
        ("--plot", tmp_path, "that is a folder"),
        ("--plot", tmp_path / "plot.xyz", "matplotlib cannot write .xyz files"),
        ("--modes-plot", tmp_path / "file" / "sub" / "m.png", "is a file, not a folder"),
    ):
        assert main([str(tmp_path / "a"), option, str(path)]) == 2, option
        out, err = capsys.readouterr()
        assert out == "" and err.startswith(f"error: {option} {path}: "), option
        assert says in err and len(err.strip().splitlines()) == 1, err


def test_outputs_go_through_a_link_and_never_replace_a_pipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file is written whole into a temporary one and renamed over the target: that must not replace a
    link (a shared file's) by a file, nor a pipe or a device such as /dev/stdout."""
    write_results(tmp_path / "a", "LIMO")
    shared = tmp_path / "shared.csv"
    shared.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(shared)
    assert main([str(tmp_path / "a"), "--csv", str(link)]) == 0
    assert link.is_symlink() and shared.read_text().startswith("model,benchmark,metric,value\n")
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    capsys.readouterr()
    assert main([str(tmp_path / "a"), "--csv", str(pipe)]) == 2
    out, err = capsys.readouterr()
    assert (
        out == ""
        and err == f"error: --csv {pipe}: not a regular file (a device or a pipe); --format csv prints the CSV\n"
    )
    assert stat.S_ISFIFO(pipe.lstat().st_mode)


def test_nan_acc_leaves_all_empty_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A NaN ACC on one benchmark: the summed 'All' would count its questions as wrong (44.4 for LIMO
    here); it stays empty, with a note, while TOK's 'All' is kept."""
    file = write_results(tmp_path / "a", "LIMO")
    data = json.loads(file.read_text())
    data["results"]["limopro_gpqa_diamond"]["acc,none"] = math.nan
    file.write_text(json.dumps(data))  # lm-eval writes a NaN as the bare token NaN
    assert main([str(tmp_path / "a"), "--csv", str(tmp_path / "t.csv")]) == 0
    out, err = capsys.readouterr()
    limo = cells(plain_tables(out)[0], "LIMO")
    assert limo["GPQA Diamond ACC"] == limo["GPQA Diamond EFF"] == limo["All ACC"] == limo["All EFF"] == ""
    assert limo["All TOK"] == f"{(12497 * 30 + 5516 * 40 + 7173 * 198) / 268:,.0f}"
    assert (
        "LIMO: GPQA Diamond ACC is not a number (NaN in the results file); its 'All' ACC and EFF are left empty" in err
    )
    frame = pd.read_csv(tmp_path / "t.csv")
    assert set(frame[frame["benchmark"] == "All"]["metric"]) >= {"tok", "questions"}
    assert not {"acc", "eff"} & set(frame[frame["benchmark"] == "All"]["metric"])


def test_an_extra_label_and_a_folder_of_other_results_are_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_results(tmp_path / "a", "LIMO")
    other = tmp_path / "other"
    other.mkdir()
    (other / "results_2026-11-24T00-00-00.json").write_text(
        json.dumps({"results": {"gsm8k": {"exact_match,none": 0.5}, "arc_easy": {"acc,none": 0.7}}, "model_name": "x"})
    )
    assert main([str(tmp_path / "a"), str(other), "--label", "A", "--label", "O", "--label", "extra"]) == 0
    err = capsys.readouterr().err
    assert "warning: --label 'extra' ignored: 3 labels for 2 paths" in err
    assert (
        f"warning: {other} ignored: its results are of other tasks (arc_easy, gsm8k); its --label 'O' is unused" in err
    )


# A real run: the tiny random model through the real `lm_eval` CLI, twice (two token budgets).
BUDGETS = {"tiny-8": 8, "tiny-4": 4}


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory, tiny_qwen_dir: Path, shared_data: Path) -> dict[str, Path]:
    runs = {}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    for label, budget in BUDGETS.items():
        out = tmp_path_factory.mktemp(label)
        cmd = [
            "lm_eval",
            "run",
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_qwen_dir}",
            "--device",
            "cpu",
            "--tasks",
            "limopro",
            "--limit",
            "2",
            "--batch_size",
            "4",
            "--apply_chat_template",
            "--gen_kwargs",
            f"max_gen_toks={budget}",
            "--output_path",
            str(out),
            "--metadata",
            json.dumps({"n": 2, "data_dir": str(shared_data)}),
        ]
        proc = subprocess.run(cmd, cwd=out, capture_output=True, text=True, env=env, timeout=1200)
        assert proc.returncode == 0, proc.stderr[-4000:]
        runs[label] = out
    return runs


@pytest.mark.slow
def test_both_tables_from_a_real_lm_eval_run(real_runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Every cell of both tables is the results files' number, formatted; the lines fit 120 characters."""
    files = {label: json.loads(next(out.rglob("results_*.json")).read_text()) for label, out in real_runs.items()}
    args = [str(real_runs[label]) for label in BUDGETS]
    for label in BUDGETS:
        args += ["--label", label]
    args += ["--baseline", "tiny-8", "--patterns"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) <= WIDTH
    paper, patterns = plain_tables(out)
    assert main([*args, "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert max(map(len, markdown.splitlines())) <= WIDTH
    assert [[[c.strip() for c in row] for row in rows] for _, rows in markdown_tables(markdown)] == [
        paper[1],
        patterns[1],
    ]
    names, rows = patterns
    pattern_rows = {(row[0], row[1]): dict(zip(names, row)) for row in rows}
    for label, data in files.items():
        mine = cells(paper, label)
        scores = {NAMES[task]: data["results"][task] for task in NAMES}
        scores["All"] = data["results"]["limopro"]  # equal questions and n: the group's means are 'All'
        for bench, metrics in scores.items():
            acc, tok = metrics["acc,none"], metrics["tok,none"]
            assert mine[f"{bench} ACC"] == f"{100 * acc:.1f}", (label, bench)
            assert mine[f"{bench} TOK"] == f"{tok:,.0f}", (label, bench)
            assert mine[f"{bench} EFF"] == f"{acc / tok:.2E}", (label, bench)
            shown = pattern_rows[label, bench]
            assert shown["steps"] == f"{metrics['steps,none']:.2f}"
            for mode, header in zip(MODES, ("progr.", "verif.", "multi", "error")):
                assert shown[f"token share per mode (%) {header}"] == f"{100 * metrics[f'share_{mode},none']:.1f}"
            assert shown["with </think> %"] == f"{100 * metrics['think_rate,none']:.1f}"
            if bench != "All":
                for metric, header in (("think_tok", "think"), ("answer_tok", "answer")):
                    expected = f"{metrics[f'{metric},none']:,.0f}" if metrics["think_rate,none"] > 0 else ""
                    assert shown[f"with </think> {header}"] == expected
    delta = following(paper, "tiny-4")
    base, short = files["tiny-8"]["results"], files["tiny-4"]["results"]
    for task, bench in [*NAMES.items(), ("limopro", "All")]:
        expected = 100 * (short[task]["tok,none"] / base[task]["tok,none"] - 1)
        assert delta[f"{bench} TOK"] == f"{expected:+.0f}%"
        assert delta[f"{bench} ACC"] == f"{100 * (short[task]['acc,none'] - base[task]['acc,none']):+.1f}"
    assert main([*args, "--format", "csv"]) == 0
    value = pd.read_csv(StringIO(capsys.readouterr().out)).set_index(["model", "benchmark", "metric"])["value"]
    for label, data in files.items():
        for task, bench in NAMES.items():
            for metric in (
                "acc",
                "tok",
                "steps",
                *(f"share_{m}" for m in MODES),
                "think_rate",
                "think_tok",
                "answer_tok",
            ):
                assert value[label, bench, metric] == data["results"][task][f"{metric},none"], (label, metric)
            assert value[label, bench, "questions"] == data["n-samples"][task]["effective"]
            assert value[label, bench, "n"] == data["configs"][task]["repeats"]
