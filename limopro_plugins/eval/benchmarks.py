"""The paper's three benchmarks: the one table the lm-eval tasks and the report read.

The task YAMLs in tasks/limopro name the same tasks (lm-eval reads them, not this table); a test keeps
the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AnswerKind = Literal["math", "choice"]
"""How answers are graded: a math expression, or a multiple-choice letter (also `grading.answer_key`'s kind)."""


@dataclass(frozen=True)
class Benchmark:
    """A benchmark: its lm-eval task, its column in the report, its grading, and its local copy's file."""

    task: str
    label: str
    kind: AnswerKind
    local_file: str


BENCHMARKS: dict[str, Benchmark] = {
    b.task: b
    for b in (
        Benchmark("limopro_aime", "AIME", "math", "aime24.jsonl"),
        Benchmark("limopro_amc", "AMC", "math", "amc23.jsonl"),
        Benchmark("limopro_gpqa_diamond", "GPQA Diamond", "choice", "gpqa_diamond.csv.gz"),
    )
}
"""By lm-eval task name, in the report's column order."""
