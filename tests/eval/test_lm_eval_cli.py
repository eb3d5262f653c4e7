"""The real `lm_eval` CLI on CPU, offline, on every limopro task pointed at the local benchmark copies.

Each run: --limit 2 questions per task, n = 2 samples each, --apply_chat_template, a few new tokens.
The checks recompute every logged number from the logged responses: both samples of every question
were graded, TOK is the model tokenizer's count of the responses, EFF is ACC / TOK.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from limopro_plugins import PAPER_SYSTEM_PROMPT
from limopro_plugins.eval.grading import grade_choice, grade_math

TASKS = ("limopro_aime", "limopro_amc", "limopro_gpqa_diamond")
MODES = ("progressive", "verification", "multi_method", "error_correction")


def run_lm_eval(
    model_dir: Path,
    out: Path,
    *,
    metadata: dict,
    env: dict[str, str] | None = None,
    tasks: str = "limopro",
    max_gen_toks: int = 8,
    check: bool = True,
) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **(env or {})}
    if "LIMOPRO_DATA_DIR" not in (env or {}):
        env.pop("LIMOPRO_DATA_DIR", None)
    cmd = [
        "lm_eval",
        "run",
        "--model",
        "hf",
        "--model_args",
        f"pretrained={model_dir}",
        "--device",
        "cpu",
        "--tasks",
        tasks,
        "--limit",
        "2",
        "--batch_size",
        "4",
        "--apply_chat_template",
        "--gen_kwargs",
        f"max_gen_toks={max_gen_toks}",
        "--log_samples",
        "--output_path",
        str(out),
        "--metadata",
        json.dumps(metadata),
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(cmd, cwd=out.parent, capture_output=True, text=True, env=env, timeout=1200)
    if check:
        assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def load_run(out: Path) -> tuple[dict, dict[str, list[dict]]]:
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    samples = {}
    for task in TASKS:
        path = next(out.rglob(f"samples_{task}_*.jsonl"))
        samples[task] = [json.loads(line) for line in path.read_text().splitlines()]
    return results, samples


def check_run(results: dict, samples: dict[str, list[dict]], model_dir: Path) -> None:
    """Every metric is recomputed from the logged responses (booleans only: GPQA text must not be shown)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    for task in TASKS:
        metrics = results["results"][task]
        acc, tok, eff = metrics["acc,none"], metrics["tok,none"], metrics["eff,none"]
        assert 0 <= acc <= 1 and tok > 0, task
        assert eff == pytest.approx(acc / tok, rel=1e-12), task
        assert metrics["pass@1,none"] == pytest.approx(acc), task
        assert metrics["pass@1,none"] <= metrics["pass@n,none"] <= 1, task
        assert 0 <= metrics["maj@n,none"] <= 1, task
        assert results["configs"][task]["repeats"] == 2, task
        all_correct, all_tokens = [], []
        assert len(samples[task]) == 2, task
        for record in samples[task]:
            responses = record["filtered_resps"][0]
            generated, graded = len(record["resps"][0]), len(responses)
            assert generated == graded == 2, f"{task}: both samples must reach grading"
            grade = grade_choice if task == "limopro_gpqa_diamond" else grade_math
            expected = [int(grade(r, record["doc"]["answer"]).correct) for r in responses]
            counted = [len(ids) for ids in tokenizer(responses, add_special_tokens=False)["input_ids"]]
            assert record["acc"] == expected, task
            assert record["tok"] == counted, task
            assert record["eff"] == [sum(expected), sum(counted)], task
            shares = [sum(record[f"share_{m}"][i] for m in MODES) for i in range(2)]
            assert shares == [pytest.approx(1.0 if c else 0.0) for c in counted], task
            assert len(record["steps"]) == 2 and all(s >= 1 for s, c in zip(record["steps"], counted) if c), task
            all_correct += expected
            all_tokens += counted
        assert acc == pytest.approx(sum(all_correct) / len(all_correct)), task
        assert tok == pytest.approx(sum(all_tokens) / len(all_tokens)), task
        nonempty = sum(1 for t in all_tokens if t) / len(all_tokens)
        assert sum(metrics[f"share_{m},none"] for m in MODES) == pytest.approx(nonempty), task
        assert metrics["steps,none"] > 0 and 0 <= metrics["think_rate,none"] <= 1, task
    group = results["results"]["limopro"]
    for metric in ("acc", "pass@1", "pass@n", "maj@n", "tok", "steps", "think_rate", *(f"share_{m}" for m in MODES)):
        mean = sum(results["results"][t][f"{metric},none"] for t in TASKS) / 3  # equal sizes: 2 questions each
        assert group[f"{metric},none"] == pytest.approx(mean), metric
    assert "eff,none" not in group  # a mean of ratios would be wrong: the report computes ACC / TOK


@pytest.mark.slow
def test_tiny_model_end_to_end_with_data_dir_from_the_environment(
    tmp_path: Path, tiny_qwen_dir: Path, shared_data: Path
) -> None:
    out = tmp_path / "results"
    run_lm_eval(tiny_qwen_dir, out, metadata={"n": 2}, env={"LIMOPRO_DATA_DIR": str(shared_data)})
    results, samples = load_run(out)
    check_run(results, samples, tiny_qwen_dir)
    for task in TASKS:
        prompt = samples[task][0]["arguments"]["gen_args_0"]["arg_0"]  # booleans only: GPQA text stays unshown
        system_first = prompt.startswith(f"<|im_start|>system\n{PAPER_SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n")
        once = prompt.count("step by step") == 1
        assistant_last = prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")
        assert system_first and once and assistant_last, task
        arguments = samples[task][0]["arguments"]["gen_args_0"]["arg_1"]
        assert arguments == {"until": [], "do_sample": True, "temperature": 0.7, "top_p": 0.95, "max_gen_toks": 8}
    # the report's "All" column is the group's ACC and TOK, and its EFF their ratio (the group has none)
    from limopro_plugins.eval.report import load_results, with_overall

    overall = with_overall(load_results([out])).query("benchmark == 'All'").iloc[0]
    group = results["results"]["limopro"]
    assert overall["acc"] == pytest.approx(group["acc,none"]) and overall["tok"] == pytest.approx(group["tok,none"])
    assert overall["eff"] == pytest.approx(group["acc,none"] / group["tok,none"]) and overall["n"] == 2


@pytest.mark.slow
def test_smollm2_end_to_end(tmp_path: Path, smollm2_dir: Path, shared_data: Path) -> None:
    out = tmp_path / "results"
    run_lm_eval(smollm2_dir, out, metadata={"n": 2, "data_dir": str(shared_data)}, max_gen_toks=40)
    results, samples = load_run(out)
    check_run(results, samples, smollm2_dir)
    responses = [r for record in samples["limopro_amc"] for r in record["filtered_resps"][0]]
    assert len(set(responses)) > 1  # sampling at T=0.7 gives different samples
    assert all(len(r.split()) > 5 for r in responses)  # a real model writes real text
    for task in TASKS:  # real text has tokens in every response, so the mode shares sum to one
        assert sum(results["results"][task][f"share_{m},none"] for m in MODES) == pytest.approx(1.0), task


@pytest.mark.slow
def test_missing_data_is_one_clear_sentence(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    out = tmp_path / "results"
    proc = run_lm_eval(
        tiny_qwen_dir, out, metadata={"n": 2}, env={"HF_HOME": str(tmp_path / "hf")}, tasks="limopro_aime", check=False
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("limopro_aime: cannot load HuggingFaceH4/aime_2024 from the Hugging Face hub")
    assert last.endswith(
        'for a local copy pass --metadata \'{"data_dir": "DIR"}\' or set LIMOPRO_DATA_DIR=DIR, '
        "with DIR holding aime24.jsonl."
    )
