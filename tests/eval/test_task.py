"""Task logic without generation: option shuffling, prompts, per-question metrics, aggregation, data.

GPQA rule: its questions and options must never be printed, so GPQA checks compare inside Python and
assert plain booleans, leaving pytest nothing of the data to show in a failure message.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from limopro_plugins import PAPER_SYSTEM_PROMPT
from limopro_plugins.eval.benchmarks import BENCHMARKS
from limopro_plugins.eval.discovery import task_dir
from limopro_plugins.eval.grading import Graded
from limopro_plugins.eval.metrics import (
    THINK_TOKENS,
    majority_correct,
    mean_of_samples,
    metric_list,
    pass_at_k,
    ratio_of_sums,
)
from limopro_plugins.eval.patterns import profiles
from limopro_plugins.eval.task import (
    GPQA_INSTRUCTION,
    LETTERS,
    DataUnavailableError,
    LimoproTask,
    doc_to_text,
    keep_all,
    normalize,
    response_tokenizer,
    shuffled_options,
    system_prompt,
)

TASKS = ("limopro_aime", "limopro_amc", "limopro_gpqa_diamond")


def _gpqa_rows(shared_data: Path) -> list[dict]:
    with gzip.open(shared_data / "gpqa_diamond.csv.gz", "rt") as handle:
        return pd.read_csv(handle, keep_default_na=False).to_dict("records")


def load_tasks(names: tuple[str, ...] = TASKS, **metadata) -> dict[str, LimoproTask]:
    """The tasks as lm-eval builds them (our folder only, so this takes a second, not ten)."""
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_defaults=False, metadata=metadata)
    return manager.load(list(names))["tasks"]


# --------------------------------------------------------------------------- GPQA options


def test_gpqa_options_are_shuffled_deterministically_and_spread(shared_data: Path) -> None:
    rows = _gpqa_rows(shared_data)
    assert len(rows) == 198
    letters = []
    for row in rows:
        choices, letter = shuffled_options(row)
        repeatable = (choices, letter) == shuffled_options(dict(row))
        options = [
            str(row[k]).strip()
            for k in ("Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
        ]
        same_options = sorted(choices) == sorted(options)
        letter_is_right = choices[LETTERS.index(letter)] == options[0]
        assert repeatable and same_options and letter_is_right
        letters.append(letter)
    counts = {x: letters.count(x) for x in LETTERS}
    assert all(30 <= c <= 70 for c in counts.values()), counts  # ~49.5 each if uniform


def test_gpqa_order_is_pinned_across_machines_and_versions(shared_data: Path) -> None:
    """The order depends only on sha256 of the Record ID: pinned, so any change is noticed."""
    letters = "".join(shuffled_options(row)[1] for row in _gpqa_rows(shared_data)[:12])
    assert letters == "CBBDADDDAADD"


# --------------------------------------------------------------------------- documents and prompts


def test_normalized_docs_and_user_turns(shared_data: Path) -> None:
    aime = normalize("limopro_aime", json.loads((shared_data / "aime24.jsonl").read_text().splitlines()[0]))
    assert set(aime) == {"id", "question", "answer"} and aime["answer"] == "204"
    amc = normalize("limopro_amc", json.loads((shared_data / "amc23.jsonl").read_text().splitlines()[0]))
    assert amc["answer"] == "27"  # gold 27.0
    assert doc_to_text(amc) == amc["question"]
    gpqa = normalize("limopro_gpqa_diamond", _gpqa_rows(shared_data)[0])
    text = doc_to_text(gpqa)
    lists_options = all(f"({letter}) {choice}" in text for letter, choice in zip(LETTERS, gpqa["choices"]))
    asks_for_the_letter = text.endswith(GPQA_INSTRUCTION)
    assert lists_options and asks_for_the_letter and gpqa["answer"] in LETTERS
    assert "\\boxed{" in GPQA_INSTRUCTION


def test_the_yamls_name_the_benchmark_table_and_its_metrics() -> None:
    """lm-eval reads the YAMLs, the package its tables: they must name the same tasks and metrics."""
    folder = Path(task_dir()) / "limopro"
    tasks = [yaml.safe_load(path.read_text())["task"] for path in sorted(folder.glob("limopro_*.yaml"))]
    assert sorted(tasks) == sorted(BENCHMARKS)
    group = yaml.safe_load((folder / "limopro.yaml").read_text())
    assert group["task"] == list(BENCHMARKS)
    left_to_the_report = ("eff", *THINK_TOKENS)  # ratios: a mean over tasks is not the group's value
    assert [m["metric"] for m in group["aggregate_metric_list"]] == [
        m["metric"] for m in metric_list() if m["metric"] not in left_to_the_report
    ]


def test_yaml_prompt_and_paper_defaults() -> None:
    template = (Path(task_dir()) / "limopro" / "_limopro_template_yaml").read_text()
    config = yaml.safe_load("\n".join(line for line in template.splitlines() if "!function" not in line))
    assert config["description"] == PAPER_SYSTEM_PROMPT
    assert config["repeats"] == 8
    assert config["generation_kwargs"] == {
        "until": [],
        "do_sample": True,
        "temperature": 0.7,
        "top_p": 0.95,
        "max_gen_toks": 32768,
    }


def test_system_prompt_is_never_duplicated() -> None:
    assert system_prompt(None, PAPER_SYSTEM_PROMPT) == PAPER_SYSTEM_PROMPT
    assert system_prompt(PAPER_SYSTEM_PROMPT, PAPER_SYSTEM_PROMPT) == PAPER_SYSTEM_PROMPT
    assert system_prompt("Be brief.", PAPER_SYSTEM_PROMPT) == f"Be brief.\n\n{PAPER_SYSTEM_PROMPT}"
    assert system_prompt(f"You are Qwen. {PAPER_SYSTEM_PROMPT}", PAPER_SYSTEM_PROMPT).count("step by step") == 1
    assert system_prompt("", None) == ""


def test_prompts_built_by_the_task(shared_data: Path, tiny_qwen_dir: Path) -> None:
    from transformers import AutoTokenizer

    tasks = load_tasks(data_dir=str(shared_data))
    chat = functools.partial(
        AutoTokenizer.from_pretrained(tiny_qwen_dir).apply_chat_template, tokenize=False, add_generation_prompt=True
    )
    for name, task in tasks.items():
        doc = task.test_docs()[0]
        question = doc_to_text(doc)
        # booleans only, so that a failure never shows a (GPQA) question
        plain_ok = task.fewshot_context(doc, 0) == f"{PAPER_SYSTEM_PROMPT}\n\n{question}"
        templated = task.fewshot_context(doc, 0, apply_chat_template=True, chat_template=chat)
        templated_ok = templated == (
            f"<|im_start|>system\n{PAPER_SYSTEM_PROMPT}<|im_end|>\n"
            f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
        )
        not_twice = templated == task.fewshot_context(
            doc, 0, system_instruction=PAPER_SYSTEM_PROMPT, apply_chat_template=True, chat_template=chat
        )
        assert plain_ok and templated_ok and not_twice, name
    with pytest.raises(ValueError, match="zero-shot"):
        tasks["limopro_aime"].fewshot_context(tasks["limopro_aime"].test_docs()[0], 3)


def test_task_config_n_and_filter(shared_data: Path) -> None:
    default = load_tasks(("limopro_aime",), data_dir=str(shared_data))["limopro_aime"]
    assert default.config.repeats == 8 and len(default.test_docs()) == 30
    assert default.config.generation_kwargs["temperature"] == 0.7
    four = load_tasks(("limopro_amc",), data_dir=str(shared_data), n=4)["limopro_amc"]
    assert four.config.repeats == 4 and len(four.test_docs()) == 40
    assert {"acc", "pass@1", "pass@n", "maj@n", "tok", "eff"} <= set(four.aggregation())
    assert keep_all(iter([["a", "b"], ["c", "d"]]), [{}, {}]) == [["a", "b"], ["c", "d"]]
    for bad in (2.5, "four", 0, True):
        with pytest.raises(SystemExit, match=r"n \(samples per question, from --metadata\) must be a whole number"):
            load_tasks(("limopro_amc",), data_dir=str(shared_data), n=bad)
    assert load_tasks(("limopro_amc",), data_dir=str(shared_data), n="3")["limopro_amc"].config.repeats == 3


# --------------------------------------------------------------------------- metrics


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (8, 0, 1, 0.0),
        (8, 8, 1, 1.0),
        (8, 2, 1, 0.25),
        (8, 1, 8, 1.0),
        (8, 0, 8, 0.0),
        (4, 1, 2, 0.5),
        (5, 2, 3, 1 - math.comb(3, 3) / math.comb(5, 3)),
        (8, 3, 2, 1 - math.comb(5, 2) / math.comb(8, 2)),
    ],
)
def test_pass_at_k(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_majority_vote_uses_answer_keys() -> None:
    graded = [Graded("025", True), Graded("25.0", True), Graded("7", False), Graded(None, False)]
    assert majority_correct(graded, "math")
    graded = [Graded("7", False), Graded("7", False), Graded("25", True)]
    assert not majority_correct(graded, "math")
    assert majority_correct([Graded("b", True), Graded("A", False), Graded("B", True)], "choice")
    assert not majority_correct([Graded(None, False)] * 3, "math")
    assert majority_correct([Graded("3", True), Graded("4", False)], "math")  # a tie: the first answer wins


def test_majority_vote_over_an_answer_of_4301_digits() -> None:
    """Such an answer once made the key raise ValueError, which ended the lm-eval run after generation."""
    huge = "9" * 4301
    assert majority_correct([Graded(huge, False), Graded(huge, False), Graded("25", True)], "math") is False
    assert majority_correct([Graded(huge, False), Graded("25", True), Graded("25.0", True)], "math") is True


def test_eff_is_acc_over_tok_at_corpus_level() -> None:
    # two questions with n = 2: correct [1, 0] and [1, 1]; tokens [100, 300] and [50, 50]
    acc = mean_of_samples([[1, 0], [1, 1]])
    tok = mean_of_samples([[100, 300], [50, 50]])
    eff = ratio_of_sums([(1, 400), (2, 100)])
    assert acc == 0.75 and tok == 125.0
    assert eff == acc / tok == 0.006
    mean_of_ratios = (0.5 / 200 + 1 / 50) / 2
    assert eff != pytest.approx(mean_of_ratios)


def test_paper_table_example() -> None:
    """Qwen2.5-32B-Instruct on AIME: ACC 15.8% at TOK 954 is an EFF of 1.66E-04 in the results table."""
    eff = ratio_of_sums([(0.158 * 8, 954 * 8)] * 30)
    assert f"{eff:.2E}" == "1.66E-04"


def test_process_results_grades_every_sample(shared_data: Path, tiny_qwen_dir: Path) -> None:
    from transformers import AutoTokenizer

    tasks = load_tasks(data_dir=str(shared_data), n=4, pretrained=str(tiny_qwen_dir))
    aime = tasks["limopro_aime"]
    doc = aime.test_docs()[0]  # gold 204
    responses = ["So \\boxed{204}.", "The answer is 12", "\\boxed{204.0}", "I give up"]
    out = aime.process_results(doc, [responses])
    counted = [
        len(ids)
        for ids in AutoTokenizer.from_pretrained(tiny_qwen_dir)(responses, add_special_tokens=False)["input_ids"]
    ]
    expected = {
        "acc": [1, 0, 1, 0],
        "pass@1": 0.5,
        "pass@n": 1.0,
        "maj@n": 1.0,
        "tok": counted,
        "eff": (2, sum(counted)),
    }
    assert {k: out[k] for k in expected} == expected
    assert set(out) == set(aime.aggregation())  # every metric has its per-question item
    assert len(out["steps"]) == 4
    gpqa = tasks["limopro_gpqa_diamond"]
    doc = gpqa.test_docs()[0]
    wrong = next(x for x in LETTERS if x != doc["answer"])
    out = gpqa.process_results(
        doc, [[f"\\boxed{{{wrong}}}", f"\\boxed{{{wrong}}}", f"\\boxed{{{doc['answer']}}}", "no idea"]]
    )
    assert (out["acc"], out["pass@1"], out["maj@n"]) == ([0, 0, 1, 0], 0.25, 0.0)
    assert out["pass@n"] == 1.0 and len(out["tok"]) == 4


def test_task_aggregation_matches_hand_computation(shared_data: Path) -> None:
    task = load_tasks(("limopro_aime",), data_dir=str(shared_data), n=2)["limopro_aime"]
    docs = task.test_docs()
    per_doc = [
        task.process_results(docs[0], [["\\boxed{204}", "\\boxed{1}"]]),
        task.process_results(docs[1], [[f"\\boxed{{{docs[1]['answer']}}}"] * 2]),
    ]
    agg = task.aggregation()
    values = {name: agg[name]([d[name] for d in per_doc]) for name in agg}
    tokens = [t for d in per_doc for t in d["tok"]]
    assert values["acc"] == 0.75 and values["pass@1"] == 0.75 and values["pass@n"] == 1.0
    assert values["maj@n"] == 1.0  # doc 0 ties 1-1 and its first sample's (correct) answer wins
    assert values["tok"] == sum(tokens) / 4
    assert values["eff"] == pytest.approx(values["acc"] / values["tok"], rel=1e-12)


# --------------------------------------------------------------------------- token counting and data


def test_tokenizer_sources_and_word_fallback(tiny_qwen_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    texts = ["Let me check: \\boxed{55}.", "Wait, again"]
    from transformers import AutoTokenizer

    expected = [len(AutoTokenizer.from_pretrained(tiny_qwen_dir).encode(t, add_special_tokens=False)) for t in texts]
    for metadata in (
        {"pretrained": str(tiny_qwen_dir)},
        {"pretrained": "/nonexistent", "tokenizer": str(tiny_qwen_dir)},
        {"model": str(tiny_qwen_dir)},
    ):
        assert [p.tokens for p in profiles(texts, response_tokenizer(metadata))] == expected
    with caplog.at_level(logging.WARNING):
        assert response_tokenizer({}) is None
        assert response_tokenizer({"pretrained": str(tiny_qwen_dir / "missing")}) is None
    assert caplog.text.count("whitespace-separated words") == 2
    assert [p.tokens for p in profiles(texts, None)] == [4, 2]


def test_missing_local_file_and_missing_hub_say_what_to_set(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no cached copy either
    monkeypatch.delenv("LIMOPRO_DATA_DIR", raising=False)
    with pytest.raises(DataUnavailableError) as error:
        load_tasks(("limopro_amc",), data_dir=str(tmp_path))
    assert str(error.value) == (
        f"limopro_amc: {tmp_path / 'amc23.jsonl'} not found (data_dir / LIMOPRO_DATA_DIR "
        f"points at {tmp_path}, which must hold amc23.jsonl)."
    )
    with pytest.raises(DataUnavailableError) as error:
        load_tasks(("limopro_gpqa_diamond",))
    message = str(error.value)
    assert message.startswith(
        "limopro_gpqa_diamond: cannot load Idavidrein/gpqa (gated: accept its terms on the hub "
        "and set HF_TOKEN) from the Hugging Face hub"
    )
    assert message.endswith("set LIMOPRO_DATA_DIR=DIR, with DIR holding gpqa_diamond.csv.gz.")
    monkeypatch.setenv("LIMOPRO_DATA_DIR", str(tmp_path))
    (tmp_path / "aime24.jsonl").write_text('{"id": 1, "problem": "1+1?", "answer": "2"}\n')
    assert load_tasks(("limopro_aime",))["limopro_aime"].test_docs()[0]["answer"] == "2"
