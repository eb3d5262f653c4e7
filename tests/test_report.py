"""The report reproduces the paper's table style from lm-eval result files (hand-made here)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from limopro_plugins.report import main

# LIMO and LIMO-P rows of the paper's results table: (ACC %, TOK) per benchmark.
PAPER = {
    "LIMO": {"limopro_aime": (56.7, 12497), "limopro_amc": (91.9, 5516), "limopro_gpqa_diamond": (67.2, 7173)},
    "LIMO-P": {"limopro_aime": (63.3, 10588), "limopro_amc": (93.8, 5235), "limopro_gpqa_diamond": (71.2, 6969)},
}
QUESTIONS = {"limopro_aime": 30, "limopro_amc": 40, "limopro_gpqa_diamond": 198}


def write_results(
    folder: Path,
    model: str,
    pretrained: str | None = None,
    tasks: tuple[str, ...] = tuple(QUESTIONS),
    questions: dict[str, int] | None = None,
) -> None:
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
        }
    results["limopro"] = {"acc,none": 0.5}
    data = {
        "results": results,
        "model_name": pretrained or f"/models/{model}",
        "n-samples": {t: {"original": q, "effective": q} for t, q in questions.items() if t in tasks},
    }
    folder.mkdir(parents=True)
    (folder / "results_2026-11-24T00-00-00.json").write_text(json.dumps(data))


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
    out = capsys.readouterr().out
    limo_p = next(line for line in out.splitlines() if line.startswith("| LIMO-P"))
    # The paper's row: 63.3 (+6.6), 10,588 (-15%), 5.98E-05 (+32%) on AIME
    assert "63.3 (+6.6)" in limo_p and "10,588 (-15%)" in limo_p and "5.98E-05 (+32%)" in limo_p
    # the paper prints +7% here from its rounded EFFs (1.79/1.67); from ACC and TOK it is +7.5% -> +8%
    assert "93.8 (+1.9)" in limo_p and "5,235 (-5%)" in limo_p and "1.79E-04 (+8%)" in limo_p
    assert "71.2 (+4.0)" in limo_p and "6,969 (-3%)" in limo_p and "1.02E-04 (+9%)" in limo_p
    limo = next(line for line in out.splitlines() if line.startswith("| LIMO "))
    assert "4.54E-05" in limo and "(+" not in limo  # 0.567 / 12497 (the paper prints 4.53E-05)
    frame = pd.read_csv(csv)
    overall = frame[(frame["model"] == "LIMO") & (frame["benchmark"] == "All")].iloc[0]
    acc = (0.567 * 30 + 0.919 * 40 + 0.672 * 198) / 268
    tok = (12497 * 30 + 5516 * 40 + 7173 * 198) / 268
    assert overall["acc"] == pytest.approx(acc) and overall["tok"] == pytest.approx(tok)
    assert overall["eff"] == pytest.approx(acc / tok)  # ratio of means
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_labels_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_results(tmp_path / "a", "LIMO")
    assert main([str(tmp_path / "a"), "--label", "mine"]) == 0
    assert "| mine" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    assert "no lm-eval results_*.json found" in capsys.readouterr().err
    assert main([str(tmp_path / "a"), "--baseline", "nobody"]) == 2
    assert "--baseline 'nobody' is not one of the models" in capsys.readouterr().err


def test_pattern_columns_and_mode_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_results(tmp_path / "limo", "LIMO")
    png = tmp_path / "modes.png"
    assert main([str(tmp_path / "limo"), "--patterns", "--modes-plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "% verification" in out and "20.0%" in out and "40.00" in out
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_nested_folders_newest_file_wins_and_all_weights_by_samples(tmp_path: Path) -> None:
    """lm-eval nests results per model; a later run of a task replaces the earlier one; the 'All' column
    weights each benchmark by questions x n, i.e. it is the mean over all samples."""
    from limopro_plugins.eval.report import load_results, with_overall

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
    samples = {"AIME": 30 * 8, "AMC": 40 * 2, "GPQA": 198 * 1}
    acc = (0.2 * samples["AIME"] + 0.5 * samples["AMC"] + 0.3 * samples["GPQA"]) / 518
    tok = (100 * samples["AIME"] + 300 * samples["AMC"] + 200 * samples["GPQA"]) / 518
    assert overall["acc"] == pytest.approx(acc) and overall["tok"] == pytest.approx(tok)
    assert overall["eff"] == pytest.approx(acc / tok) and pd.isna(overall["n"])  # n differs between tasks


def row(out: str, model: str) -> list[str]:
    """The cells of `model`'s row of the printed github table."""
    line = next(line for line in out.splitlines() if line.startswith(f"| {model} "))
    return [cell.strip() for cell in line.strip("|").split("|")][1:]


def test_all_only_for_models_with_every_benchmark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A model without GPQA results gets no 'All': over AIME and AMC alone it would read 37.1 (-9.5) next
    to LIMO-P's complete 'All' although both score the same on the benchmarks they share."""
    write_results(tmp_path / "a", "LIMO-P")
    write_results(tmp_path / "b", "LIMO-P", pretrained="/models/B", tasks=("limopro_aime", "limopro_amc"))
    csv = tmp_path / "t.csv"
    assert main([str(tmp_path / "a"), str(tmp_path / "b"), "--baseline", "LIMO-P", "--csv", str(csv)]) == 0
    out, err = capsys.readouterr()
    b = row(out, "B")
    assert b[:6] == ["63.3 (+0.0)", "10,588 (+0%)", "5.98E-05 (+0%)", "93.8 (+0.0)", "5,235 (+0%)", "1.79E-04 (+0%)"]
    assert b[6:] == [""] * 6  # GPQA and All: empty, no deltas
    assert all(row(out, "LIMO-P")[9:12])  # the complete model keeps its 'All'
    assert "B: no 'All' without GPQA Diamond results" in err
    frame = pd.read_csv(csv)
    assert set(frame[frame["benchmark"] == "All"]["model"]) == {"LIMO-P"}


def test_no_deltas_between_different_question_sets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A run with --limit covers other questions than the baseline's full run: no delta, and a note."""
    write_results(tmp_path / "a", "LIMO")
    write_results(tmp_path / "b", "LIMO-P", questions={"limopro_gpqa_diamond": 4})
    assert main([str(tmp_path / "a"), str(tmp_path / "b"), "--baseline", "LIMO"]) == 0
    out, err = capsys.readouterr()
    cells = row(out, "LIMO-P")
    assert cells[0] == "63.3 (+6.6)" and cells[6:9] == ["71.2", "6,969", "1.02E-04"] and "(" not in cells[9]
    assert "LIMO-P GPQA Diamond: no deltas, 4 questions against 198 of LIMO" in err


def test_models_with_the_same_last_path_component_stay_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two checkpoints named checkpoint-1000 are two models: each row is named by the shortest path suffix
    that tells them apart, and the baseline's deltas are shown."""
    write_results(tmp_path / "a", "LIMO", pretrained="/ckpt/limo/checkpoint-1000")
    write_results(tmp_path / "b", "LIMO-P", pretrained="/ckpt/limo_p/checkpoint-1000/")
    assert main([str(tmp_path / "a"), str(tmp_path / "b"), "--baseline", "limo/checkpoint-1000"]) == 0
    out = capsys.readouterr().out
    assert row(out, "limo/checkpoint-1000")[0] == "56.7"
    assert row(out, "limo_p/checkpoint-1000")[0] == "63.3 (+6.6)"


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
    assert row(out, "LIMO")[0] == "63.3"  # the newer file, whatever the path order
    assert f"LIMO AIME: {newer} replaces the older" in err and "different --label values" in err
    assert main([str(tmp_path / "long"), str(tmp_path / "short"), "--label", "160", "--label", "48"]) == 0
    out, err = capsys.readouterr()
    assert row(out, "160")[0] == "56.7" and row(out, "48")[0] == "63.3" and "warning" not in err


def test_think_columns_pool_the_responses_that_have_think(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Thinking / answer tokens are means over responses with </think>: 'All' weighs each benchmark by its
    number of such responses (here 30 x 1.0 and 40 x 0.5; GPQA has none), not by its size."""
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
    frame = pd.read_csv(tmp_path / "t.csv").set_index("benchmark")
    assert frame.loc["All", "think_tok"] == pytest.approx((30 * 1000 + 20 * 400) / 50)
    assert frame.loc["All", "answer_tok"] == pytest.approx((30 * 100 + 20 * 50) / 50)
    assert frame.loc["All", "think_rate"] == pytest.approx(50 / 268)
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| R1"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    header = next(line for line in out.splitlines() if line.startswith("| model"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert cells[columns.index("All think tok")] == "760"
    assert cells[columns.index("GPQA Diamond think tok")] == ""  # none of its responses has </think>
    assert cells[columns.index("AMC % </think>")] == "50.0%"


def test_mode_plot_covers_a_model_without_every_benchmark(tmp_path: Path) -> None:
    from limopro_plugins.eval.report import load_results, mode_shares, with_overall

    write_results(tmp_path / "limo", "LIMO")
    write_results(tmp_path / "limo_p", "LIMO-P", tasks=("limopro_aime",))
    frame = with_overall(load_results([tmp_path / "limo", tmp_path / "limo_p"]))
    shares = mode_shares(frame)
    assert list(shares.index) == ["LIMO", "LIMO-P\n(AIME)"]
    assert shares.sum(axis=1).tolist() == pytest.approx([1.0, 1.0])
    assert main([str(tmp_path / "limo"), str(tmp_path / "limo_p"), "--modes-plot", str(tmp_path / "m.png")]) == 0
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
