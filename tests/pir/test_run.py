"""The prune command end to end: outputs, rejects, resume after kill -9, skips, strategies, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from limopro_plugins.pir.records import read_chains
from limopro_plugins.pir.segment import segment

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TQDM_DISABLE": "1"}


def make_record(i: int) -> dict:
    a, b = i + 2, 3 * i + 1
    solution = (
        f"First, we add {a} and {b}. So the sum is {a + b}. Now we double it to get {2 * (a + b)}.\n\n"
        f"Wait, let me check the sum. {a} + {b} = {a + b}. Yes, that holds.\n\n"
        f"Next, we subtract {a} from the doubled value: {2 * (a + b) - a}.\n\n"
        f"Alternatively, we can write it as {a} + 2*{b} = {a + 2 * b}. Both agree.\n\n"
        f"Hmm, this is wrong: I first wrote {a + 2 * b + 1}. The mistake was an extra 1.\n\n"
        f"So the value is {a + 2 * b}.\n\n"
        f"Let me verify once more: {a} + 2 * {b} = {a + 2 * b}.\n\n"
        f"**Final Answer**\n\\boxed{{{a + 2 * b}}}"
    )
    return {"id": i, "question": f"Compute 2({a} + {b}) - {a}.", "solution": solution, "answer": str(a + 2 * b)}


def write_input(path: Path, n: int, bad: bool = False) -> Path:
    lines = [json.dumps(make_record(i)) for i in range(n)]
    if bad:
        lines[1:1] = [
            '{"question": "unterminated',
            json.dumps({"question": "q", "solution": 7}),
            json.dumps({"question": "q", "solution": "   "}),
            json.dumps(["not", "an", "object"]),
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def prune(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "limopro_plugins.prune", *args], capture_output=True, text=True, env=ENV, timeout=900
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_outputs_keep_schema_progressive_steps_and_solution(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    src = write_input(tmp_path / "chains.jsonl", 3)
    out = tmp_path / "out"
    prune("--input", str(src), "--output", str(out), "--model", str(tiny_qwen_dir), "--ratios", "0.5,1")
    meta = json.loads((out / "meta.json").read_text())
    assert meta["counts"] == {"read": 3, "scored": 3, "skipped": 0, "rejected": 0}
    structure = read_jsonl(out / "structure.jsonl")
    originals = [c for c in read_chains(str(src))]
    for entry, chain in zip(structure, originals):
        assert "".join(s["text"] for s in entry["steps"]) == chain.reasoning
        assert all((s["pir"] is None) == (s["mode"] == "progressive") for s in entry["steps"])
    lengths = {}
    for ratio in ("0.5", "1"):
        pruned = read_jsonl(out / "pruning" / f"chains_pir_{ratio}.jsonl")
        assert len(pruned) == 3
        for record, chain, entry in zip(pruned, originals, structure):
            assert set(record) == set(chain.record) and record["id"] == chain.record["id"]
            assert record["solution"].endswith(chain.solution)  # final solution unchanged
            for step in entry["steps"]:
                if step["mode"] == "progressive":
                    assert step["text"] in record["solution"]
        lengths[ratio] = meta["tokens_per_ratio"][ratio]["reasoning_tokens_after"]
        assert meta["tokens_per_ratio"][ratio]["reasoning_tokens_before"] > lengths[ratio]
    assert lengths["1"] < lengths["0.5"]
    full = read_jsonl(out / "pruning" / "chains_pir_1.jsonl")[0]["solution"]
    assert "Wait" not in full and "Alternatively" not in full and "mistake" not in full
    shares = meta["modes"]
    assert sum(m["token_share"] for m in shares.values()) == pytest.approx(1, abs=1e-3)
    assert all(shares[m]["steps"] >= 3 for m in shares)


def test_rejects_have_line_numbers_and_everything_is_counted(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    src = write_input(tmp_path / "chains.jsonl", 3, bad=True)
    out = tmp_path / "out"
    proc = prune("--input", str(src), "--output", str(out), "--model", str(tiny_qwen_dir), "--ratios", "0.5")
    rejects = read_jsonl(out / "rejects.jsonl")
    assert [r["line"] for r in rejects] == [2, 3, 4, 5]
    assert "invalid JSON" in rejects[0]["reason"] and rejects[0]["raw"] == '{"question": "unterminated'
    assert "must be a string" in rejects[1]["reason"]
    assert "empty" in rejects[2]["reason"]
    assert "JSON object" in rejects[3]["reason"]
    assert "rejected line 2: invalid JSON" in proc.stderr
    assert "read: 7, scored: 3, skipped (too long, kept unpruned): 0, rejected: 4" in proc.stdout
    strict = prune(
        "--input",
        str(src),
        "--output",
        str(tmp_path / "strict"),
        "--model",
        str(tiny_qwen_dir),
        "--strict",
        check=False,
    )
    assert strict.returncode == 2 and "line 2" in strict.stderr and "Traceback" not in strict.stderr


def test_resume_after_kill_gives_identical_files(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    src = write_input(tmp_path / "chains.jsonl", 24, bad=True)
    common = ["--input", str(src), "--model", str(tiny_qwen_dir), "--ratios", "0.3,0.6", "--strategy", "random"]
    prune(*common, "--output", str(tmp_path / "straight"))

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "limopro_plugins.prune", *common, "--output", str(killed)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    structure = killed / "structure.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if structure.exists() and structure.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; use more chains"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = structure.read_text().count("\n")
    assert done_before < 24
    with structure.open("a") as handle:  # a torn line, as if killed in the middle of a write
        handle.write('{"index": 99, "steps": [')
    prune(*common, "--output", str(killed))

    files = sorted(p.relative_to(tmp_path / "straight") for p in (tmp_path / "straight").rglob("*") if p.is_file())
    assert Path("pruning/chains_random_0.3.jsonl") in files and Path("rejects.jsonl") in files
    for name in files:
        assert (killed / name).read_bytes() == (tmp_path / "straight" / name).read_bytes(), name


def test_resume_refuses_other_settings(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    src = write_input(tmp_path / "chains.jsonl", 1)
    out = str(tmp_path / "out")
    prune("--input", str(src), "--output", out, "--model", str(tiny_qwen_dir), "--ratios", "0.5")
    proc = prune("--input", str(src), "--output", out, "--model", str(tiny_qwen_dir), "--answer", "boxed", check=False)
    assert proc.returncode == 2 and "other settings" in proc.stderr


def test_too_long_chains_are_skipped_counted_and_kept(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    src = write_input(tmp_path / "chains.jsonl", 2)
    out = tmp_path / "out"
    proc = prune(
        "--input",
        str(src),
        "--output",
        str(out),
        "--model",
        str(tiny_qwen_dir),
        "--ratios",
        "0.5",
        "--max-tokens",
        "50",
    )
    assert "scored: 0, skipped (too long, kept unpruned): 2" in proc.stdout
    entry = read_jsonl(out / "structure.jsonl")[0]
    assert entry["status"] == "skipped" and "more than the scoring limit of 50" in entry["reason"]
    assert read_jsonl(out / "pruning" / "chains_pir_0.5.jsonl") == [make_record(0), make_record(1)]


def test_ppl_all_scores_every_step_and_boxed_answer_mode(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    src = write_input(tmp_path / "chains.jsonl", 2)
    out = tmp_path / "out"
    prune(
        "--input",
        str(src),
        "--output",
        str(out),
        "--model",
        str(tiny_qwen_dir),
        "--ratios",
        "0.5",
        "--strategy",
        "ppl-all",
        "--answer",
        "boxed",
    )
    entry = read_jsonl(out / "structure.jsonl")[0]
    assert all(s["pir"] is not None for s in entry["steps"])
    assert entry["answer_tokens"] < 12  # only "\boxed{...}" is scored
    meta = json.loads((out / "meta.json").read_text())
    assert meta["tokens_per_ratio"]["0.5"]["reduction"] > 0.3


def test_unavailable_inputs_and_models_give_one_clear_error(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    hub = prune("--input", "GAIR/LIMO", "--output", str(tmp_path / "a"), "--model", str(tiny_qwen_dir), check=False)
    assert hub.returncode == 2 and "cannot load dataset 'GAIR/LIMO'" in hub.stderr
    missing = prune("--input", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "b"), check=False)
    assert missing.returncode == 2 and "file not found" in missing.stderr
    src = write_input(tmp_path / "chains.jsonl", 1)
    model = prune(
        "--input", str(src), "--output", str(tmp_path / "c"), "--model", "Qwen/Qwen2.5-32B-Instruct", check=False
    )
    assert model.returncode == 2 and "Cannot load model 'Qwen/Qwen2.5-32B-Instruct'" in model.stderr
    weights_only = tmp_path / "weights_only"
    weights_only.mkdir()
    (weights_only / "config.json").write_text((tiny_qwen_dir / "config.json").read_text())
    folder = prune("--input", str(src), "--output", str(tmp_path / "d"), "--model", str(weights_only), check=False)
    assert folder.returncode == 2 and "the folder lacks what transformers needs" in folder.stderr
    for proc in (hub, missing, model, folder):
        assert "Traceback" not in proc.stderr


def test_segmentation_of_generated_chains_finds_every_mode() -> None:
    from limopro_plugins.pir.classify import RuleClassifier

    chain = next(iter(read_chains_from(make_record(0))))
    modes = {m.value for m in RuleClassifier().classify([s.text for s in segment(chain.reasoning)])}
    assert modes == {"progressive", "verification", "multi_method", "error_correction"}


def read_chains_from(record: dict):
    from limopro_plugins.pir.records import parse_record

    yield parse_record(record, index=0, line=1)


def test_sharded_run_merges_into_the_unsharded_files(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    src = write_input(tmp_path / "chains.jsonl", 5, bad=True)
    common = ["--input", str(src), "--model", str(tiny_qwen_dir), "--ratios", "0.4,0.8"]
    prune(*common, "--output", str(tmp_path / "whole"))
    for i in range(3):
        prune(*common, "--output", str(tmp_path / f"shard{i}"), "--shard", f"{i}/3")
    shard_rows = [read_jsonl(tmp_path / f"shard{i}" / "structure.jsonl") for i in range(3)]
    assert [[r["index"] for r in rows] for rows in shard_rows] == [[0, 6], [7], [5, 8]]
    missing = prune(
        "merge", str(tmp_path / "shard0"), str(tmp_path / "shard1"), "--output", str(tmp_path / "bad"), check=False
    )
    assert missing.returncode == 2 and "not exactly the shards" in missing.stderr
    twice = prune(
        "merge", *(str(tmp_path / f"shard{i}") for i in (0, 1, 2, 2)), "--output", str(tmp_path / "bad"), check=False
    )
    assert twice.returncode == 2 and "not exactly the shards" in twice.stderr
    prune("merge", *(str(tmp_path / f"shard{i}") for i in range(3)), "--output", str(tmp_path / "merged"))
    whole = sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").rglob("*") if p.is_file())
    merged = sorted(p.relative_to(tmp_path / "merged") for p in (tmp_path / "merged").rglob("*") if p.is_file())
    assert whole == merged
    for name in whole:
        assert (tmp_path / "merged" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


def test_resume_redoes_records_edited_since_and_a_fixed_strict_reject(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    """Resume compares each record with the one its row was made from, not only its index."""
    src = tmp_path / "chains.jsonl"
    good = [json.dumps(make_record(i)) for i in range(3)]
    src.write_text("\n".join([good[0], json.dumps({"question": "q", "solution": 7}), good[2]]) + "\n")
    common = ["--input", str(src), "--model", str(tiny_qwen_dir), "--ratios", "0.5"]
    strict = prune(*common, "--output", str(tmp_path / "strict"), "--strict", check=False)
    assert strict.returncode == 2 and "line 2" in strict.stderr and "Traceback" not in strict.stderr
    assert not (tmp_path / "strict" / "rejects.jsonl").exists()  # the reject that stopped it is not kept
    prune(*common, "--output", str(tmp_path / "loose"))
    assert [r["line"] for r in read_jsonl(tmp_path / "loose" / "rejects.jsonl")] == [2]

    edited = dict(make_record(0), question="Compute 2(2 + 1) - 2, carefully.")  # a processed record edited
    src.write_text("\n".join([json.dumps(edited), good[1], good[2]]) + "\n")  # and the bad line fixed
    prune(*common, "--output", str(tmp_path / "strict"), "--strict")
    loose = prune(*common, "--output", str(tmp_path / "loose"))
    assert "1 row(s) of rejects.jsonl belong to records edited or removed" in loose.stderr
    prune(*common, "--output", str(tmp_path / "straight"))

    meta = json.loads((tmp_path / "straight" / "meta.json").read_text())
    assert meta["counts"] == {"read": 3, "scored": 3, "skipped": 0, "rejected": 0}
    pruned = read_jsonl(tmp_path / "straight" / "pruning" / "chains_pir_0.5.jsonl")
    assert [r["question"] for r in pruned] == [
        edited["question"],
        make_record(1)["question"],
        make_record(2)["question"],
    ]
    files = sorted(p.relative_to(tmp_path / "straight") for p in (tmp_path / "straight").rglob("*") if p.is_file())
    for folder in ("strict", "loose"):  # the fixed line's reject is gone from "loose"
        assert (
            sorted(p.relative_to(tmp_path / folder) for p in (tmp_path / folder).rglob("*") if p.is_file()) == files
        ), folder
        for name in files:
            assert (tmp_path / folder / name).read_bytes() == (tmp_path / "straight" / name).read_bytes(), name


def test_rows_from_before_hashes_are_kept_on_resume(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    """A run interrupted under a version without record hashes goes on; its scored chains are not redone."""
    src = write_input(tmp_path / "chains.jsonl", 3)
    out = tmp_path / "out"
    common = ["--input", str(src), "--output", str(out), "--model", str(tiny_qwen_dir), "--ratios", "0.5"]
    prune(*common, "--limit", "2")
    structure = out / "structure.jsonl"
    old = [{k: v for k, v in row.items() if k != "record_hash"} for row in read_jsonl(structure)]
    structure.write_text("".join(json.dumps(row) + "\n" for row in old))
    resumed = prune(*common)
    assert "dropped" not in resumed.stderr
    rows = read_jsonl(structure)
    assert rows[:2] == old and "record_hash" in rows[2]


def test_limit_can_be_raised_on_resume_not_lowered(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    src = write_input(tmp_path / "chains.jsonl", 5)
    out = tmp_path / "out"
    common = ["--input", str(src), "--output", str(out), "--model", str(tiny_qwen_dir), "--ratios", "0.5"]
    prune(*common, "--limit", "3")
    meta_before = (out / "meta.json").read_bytes()
    lower = prune(*common, "--limit", "1", check=False)
    assert lower.returncode == 2 and "--limit 1" in lower.stderr and "Traceback" not in lower.stderr
    assert (out / "meta.json").read_bytes() == meta_before
    assert len(read_jsonl(out / "pruning" / "chains_pir_0.5.jsonl")) == 3
    assert json.loads((out / "run.json").read_text())["limit"] == 3

    prune(*common, "--limit", "4")
    meta = json.loads((out / "meta.json").read_text())
    assert meta["counts"]["read"] == meta["counts"]["scored"] == 4
    assert len(read_jsonl(out / "structure.jsonl")) == len(read_jsonl(out / "pruning" / "chains_pir_0.5.jsonl")) == 4
    assert meta["modes"]["progressive"]["steps"] == sum(
        s["mode"] == "progressive" for r in read_jsonl(out / "structure.jsonl") for s in r["steps"]
    )


def test_boxed_answer_falls_back_to_the_stated_answer_never_an_empty_box(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    from transformers import AutoTokenizer

    reasoning = make_record(0)["solution"].split("**Final Answer**")[0]
    records = [
        {
            "question": "Half of one?",
            "thinking_trajectories": [reasoning],
            "attempt": "Halving one gives the final answer is $\\frac12$.",
        },
        {"question": "Half of one?", "thinking_trajectories": [reasoning], "attempt": "We halve one and are done."},
    ]
    src = tmp_path / "s1k.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "out"
    proc = prune(
        "--input", str(src), "--output", str(out), "--model", str(tiny_qwen_dir), "--ratios", "0.5", "--answer", "boxed"
    )
    (entry,) = read_jsonl(out / "structure.jsonl")
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_dir)
    assert entry["answer_tokens"] == len(tokenizer("\\boxed{\\frac12}", add_special_tokens=False)["input_ids"])
    (reject,) = read_jsonl(out / "rejects.jsonl")
    assert reject["line"] == 2 and "--answer boxed: nothing to box" in reject["reason"]
    assert "rejected line 2: --answer boxed" in proc.stderr
    assert [r["attempt"] for r in read_jsonl(out / "pruning" / "s1k_pir_0.5.jsonl")] == [records[0]["attempt"]]
