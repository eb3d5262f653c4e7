"""The limopro lm-eval tasks: data, prompts, n samples per question, and the paper's ACC / TOK / EFF.

lm-eval 0.4.13 cannot express four of the paper's needs in YAML alone, so the task YAMLs name
`LimoproTask` as their class:
- every one of the n samples must be scored: lm-eval's default filter keeps only the first, so the
  tasks' filter (`keep_all`) keeps them all and `process_results` grades each;
- n must be changeable per run (`--metadata '{"n": 4}'`), which sets `repeats`;
- TOK needs the evaluated model's tokenizer, which reaches a task only as metadata (lm-eval merges
  `--model_args` into it);
- the benchmarks must load from local files on machines without the hub (`data_dir`), and fail with
  one sentence, not a traceback, when neither is there.

Metrics, per question then aggregated over the task (see docs/evaluation.md):
- `acc`: per-sample correctness; the task value is the mean over all samples of all questions (pass@1).
- `pass@1`, `pass@n`: the unbiased estimator 1 - C(n-c, k) / C(n, k) per question, averaged.
- `maj@n`: whether the most frequent answer among the n samples is correct.
- `tok`: per-sample response tokens; the task value is their mean.
- `eff`: ACC / TOK at corpus level, total correct / total tokens (a ratio of means, not a mean of ratios).
- `steps`: steps per response; `share_<mode>`: the share of a response's reasoning tokens in each of the
  four modes, averaged over responses (so they sum to 1); `think_rate`: the fraction of responses with
  `</think>`; `think_tok` / `answer_tok`: mean tokens before / after `</think>` over those responses
  (0 when none has it). See `patterns`.
The names `pass@n` / `maj@n` are literal so that the group YAML can aggregate them whatever n is; n is
the task's `repeats` in the results file.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lm_eval.api.task import ConfigurableTask

from limopro_plugins.eval.benchmarks import BENCHMARKS
from limopro_plugins.eval.grading import grade_choice, grade_math
from limopro_plugins.eval.metrics import majority_correct, metric_list, pass_at_k, pattern_metrics
from limopro_plugins.eval.patterns import profiles

log = logging.getLogger(__name__)

DATA_DIR_ENV = "LIMOPRO_DATA_DIR"
"""Environment variable naming a folder with local benchmark copies (`data_dir` in --metadata wins)."""
LETTERS = "ABCD"
GPQA_INSTRUCTION = "Answer with the letter of the correct option, e.g. \\boxed{A}."


class DataUnavailableError(SystemExit):
    """Neither the hub nor a local copy can provide a benchmark.

    A SystemExit, because lm-eval's CLI lets task-loading errors escape as tracebacks; this way the user
    reads one sentence saying what to set, and the exit status is 1.
    """


class SettingError(SystemExit):
    """A task setting (from --metadata) is unusable: one sentence and exit status 1, as for missing data."""


def samples_per_question(task: str | None, value: Any) -> int:
    """n from --metadata: a whole number >= 1 (written 4, 4.0 or "4"); 2.5 must not quietly become 2."""
    try:
        number = float(value) if isinstance(value, str) else value
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 1 or number % 1:
            raise ValueError
        return int(number)
    except (ValueError, OverflowError):
        raise SettingError(
            f"{task}: n (samples per question, from --metadata) must be a whole number >= 1, got {value!r}"
        ) from None


# --------------------------------------------------------------------------- documents and prompts


def shuffled_options(doc: dict[str, Any]) -> tuple[list[str], str]:
    """The four GPQA options in an order fixed by a hash of the question, and the correct letter.

    GPQA always stores the right option first (`Correct Answer`). sha256 of the Record ID (not Python's
    salted `hash`) makes the order the same on every machine and run, and differ between questions, so
    the correct letter is spread over A-D.
    """
    options = [
        str(doc[k]).strip()
        for k in ("Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
    ]
    key = str(doc.get("Record ID") or doc["Question"])
    order = list(range(4))
    random.Random(int(hashlib.sha256(key.encode()).hexdigest(), 16)).shuffle(order)
    return [options[i] for i in order], LETTERS[order.index(0)]


def normalize(task: str, doc: dict[str, Any]) -> dict[str, Any]:
    """One document in the shape all three tasks share: `question`, `answer` (a string), and for GPQA
    `choices` with `answer` the correct letter. Accepts the hub's and the local copies' field names."""
    if BENCHMARKS[task].kind == "choice":
        choices, letter = shuffled_options(doc)
        return {
            "id": str(doc.get("Record ID", "")),
            "question": str(doc["Question"]).strip(),
            "choices": choices,
            "answer": letter,
        }
    question = doc.get("problem") or doc.get("question") or doc.get("Problem")
    answer = doc.get("answer", doc.get("Answer"))
    if isinstance(answer, float) and answer.is_integer():
        answer = int(answer)  # AMC's gold 27.0 is the answer 27
    return {
        "id": str(doc.get("id", doc.get("ID", ""))),
        "question": str(question).strip(),
        "answer": str(answer).strip(),
    }


def doc_to_text(doc: dict[str, Any]) -> str:
    """The user turn: the problem, and for GPQA the lettered options and how to answer."""
    if "choices" not in doc:
        return doc["question"]
    options = "\n".join(f"({letter}) {text}" for letter, text in zip(LETTERS, doc["choices"]))
    return f"{doc['question']}\n\n{options}\n\n{GPQA_INSTRUCTION}"


def system_prompt(system_instruction: str | None, description: str | None) -> str:
    """`--system_instruction` then the task's prompt (the paper's), a blank line apart, as lm-eval does.

    The task's prompt is left out when the instruction already contains it, so that passing the paper's
    prompt as `--system_instruction` as well does not put it in twice.
    """
    parts = [p.strip() for p in (system_instruction, description) if p and p.strip()]
    if len(parts) == 2 and parts[1] in parts[0]:
        parts = parts[:1]
    return "\n\n".join(parts)


def keep_all(resps: Iterable[list[str]], docs: Iterable[dict]) -> list[list[str]]:
    """Filter that keeps every sample (lm-eval's default keeps only the first of `repeats`)."""
    return [list(r) for r in resps]


# --------------------------------------------------------------------------- token counting


@functools.lru_cache(maxsize=4)
def _load_tokenizer(name: str, options: tuple[tuple[str, Any], ...]) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name, **dict(options))


def response_tokenizer(metadata: dict[str, Any]) -> Any | None:
    """The evaluated model's tokenizer, which counts TOK (and the pattern metrics' tokens).

    It is `tokenizer` if set, else `pretrained` (with its `gguf_file`), else `model` (API backends), all
    from the task metadata, into which lm-eval merges `--model_args`. lm-eval's backends return decoded
    text only, so responses are re-tokenized, without added special tokens. None when there is no
    loadable tokenizer: whitespace-separated words are then counted and a warning says so; TOK is then
    not comparable to the paper's, but hours of generation are not lost to a crash at scoring time.
    """
    name = metadata.get("tokenizer") or metadata.get("pretrained") or metadata.get("model")
    options: dict[str, Any] = {k: metadata[k] for k in ("revision", "trust_remote_code") if k in metadata}
    if metadata.get("gguf_file") and not metadata.get("tokenizer"):
        options["gguf_file"] = metadata["gguf_file"]
    hint = 'pass --metadata \'{"tokenizer": "HUB_ID_OR_FOLDER"}\''
    if not (isinstance(name, str) and name):
        log.warning(
            "limopro: TOK counts whitespace-separated words: no tokenizer, pretrained or model in --model_args; %s",
            hint,
        )
        return None
    try:
        return _load_tokenizer(name, tuple(sorted(options.items())))
    except Exception as error:  # noqa: BLE001 - any loading failure: fall back, loudly
        log.warning(
            "limopro: TOK counts whitespace-separated words: tokenizer %r could not be loaded (%s); %s",
            name,
            error,
            hint,
        )
        return None


# --------------------------------------------------------------------------- data


def local_data_dir(metadata: dict[str, Any]) -> Path | None:
    """The folder of local benchmark copies: `data_dir` from --metadata, else $LIMOPRO_DATA_DIR."""
    value = metadata.get("data_dir") or os.environ.get(DATA_DIR_ENV)
    return Path(str(value)).expanduser() if value else None


def _load_local(path: Path) -> Any:
    import datasets

    if path.name.endswith((".csv", ".csv.gz")):
        import pandas as pd

        return datasets.Dataset.from_pandas(pd.read_csv(path, keep_default_na=False), preserve_index=False)
    return datasets.load_dataset("json", data_files=str(path), split="train")


def _load_hub(task: str, path: str, name: str | None, split: str) -> Any:
    import datasets

    try:
        return datasets.load_dataset(path, name, split=split)
    except Exception as error:  # noqa: BLE001 - offline, gated or missing: one message for all
        gated = " (gated: accept its terms on the hub and set HF_TOKEN)" if task == "limopro_gpqa_diamond" else ""
        raise DataUnavailableError(
            f"{task}: cannot load {path}{gated} from the Hugging Face hub ({type(error).__name__}); "
            f'for a local copy pass --metadata \'{{"data_dir": "DIR"}}\' or set {DATA_DIR_ENV}=DIR, '
            f"with DIR holding {BENCHMARKS[task].local_file}."
        ) from None


class LimoproTask(ConfigurableTask):
    """A limopro task: ConfigurableTask plus n from metadata, all samples scored, local data."""

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        config = dict(config or {})
        config.pop("class", None)
        metadata = config.get("metadata") or {}
        config["repeats"] = samples_per_question(config.get("task"), metadata.get("n", config.get("repeats", 8)))
        config["metric_list"] = metric_list()
        # lm-eval's marker for "process_results computes the metrics" (as in Task.override_metric):
        # without it, lm-eval would look the metric names up in its registry and then on the hub.
        config["process_results"] = "process_results"
        self._tokenizer: Any = False  # loaded on first use; None means "count words"
        super().__init__(config=config, **kwargs)

    def download(self, dataset_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """The benchmark from `data_dir` if one is given, else from the hub, in the shared shape."""
        import datasets

        task = self.config.task
        split = self.config.test_split
        local = local_data_dir(self.config.metadata or {})
        if local is None:
            raw = _load_hub(task, self.config.dataset_path, self.config.dataset_name, split)
        else:
            path = local / BENCHMARKS[task].local_file
            if not path.is_file():
                raise DataUnavailableError(
                    f"{task}: {path} not found (data_dir / {DATA_DIR_ENV} points at "
                    f"{local}, which must hold {BENCHMARKS[task].local_file})."
                )
            raw = _load_local(path)
        docs = [normalize(task, dict(row)) for row in raw]
        self.dataset = datasets.DatasetDict({split: datasets.Dataset.from_list(docs)})

    def fewshot_context(
        self,
        doc: dict[str, Any],
        num_fewshot: int,
        system_instruction: str | None = None,
        apply_chat_template: bool = False,
        fewshot_as_multiturn: bool = False,
        chat_template: Callable[..., str] | None = None,
        gen_prefix: str | None = None,
    ) -> str:
        """The prompt: the paper's instruction as the system message under a chat template, else as plain
        text a blank line before the question (lm-eval would glue the two together).

        Zero-shot only, as in the paper; the tasks define no `gen_prefix`.
        """
        if num_fewshot:
            raise ValueError(f"{self.config.task} is zero-shot, as in the paper: drop --num_fewshot")
        system = system_prompt(system_instruction, self.config.description)
        question = self.doc_to_text(doc)
        if apply_chat_template and chat_template is not None:
            messages = [{"role": "system", "content": system}] if system else []
            return chat_template(messages + [{"role": "user", "content": question}])
        return f"{system}\n\n{question}" if system else question

    def process_results(self, doc: dict[str, Any], results: list[list[str]]) -> dict[str, Any]:
        """Grades and measures all n samples of one question (`keep_all` hands them over as one list);
        one tokenizer call serves TOK and the pattern metrics."""
        samples = results[0]
        kind = BENCHMARKS[self.config.task].kind
        grade = grade_choice if kind == "choice" else grade_math
        graded = [grade(s, doc["answer"]) for s in samples]
        if self._tokenizer is False:
            self._tokenizer = response_tokenizer(self.config.metadata or {})
        found = profiles(samples, self._tokenizer)
        tokens = [p.tokens for p in found]
        correct = [int(g.correct) for g in graded]
        n, c = len(samples), sum(correct)
        return {
            "acc": correct,
            "pass@1": pass_at_k(n, c, 1),
            "pass@n": pass_at_k(n, c, n),
            "maj@n": float(majority_correct(graded, kind)),
            "tok": tokens,
            "eff": (c, sum(tokens)),
            **pattern_metrics(found),
        }
