"""Label reasoning steps with the paper's four modes: progressive reasoning and three functional ones.

The paper assigns modes by rule markers first and asks an LLM for the rest. The rule half lives in
`segment.structure`, which finds functional episodes from cues in context (`markers`); this module puts
it behind the `Classifier` interface, so that steps cut by anything (the rules, an LLM) can be labelled:
a step gets the rule mode that covers most of its characters in the rule structure of the same chain.
For the rules' own steps that is exactly the mode each was cut with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from limopro_plugins.pir.segment import structure
from limopro_plugins.text import Mode


class Classifier(Protocol):
    """Anything that labels a chain's steps, given in order, with modes."""

    def classify(self, steps: Sequence[str]) -> list[Mode]: ...


class RuleClassifier:
    """Labels steps with the rule modes of the chain they make up (see the module docstring).

    `answer`: the chain's final answer where known; a second method needs it obtained before it."""

    def __init__(self, answer: str | None = None) -> None:
        self.answer = answer

    def classify(self, steps: Sequence[str]) -> list[Mode]:
        rule = structure("".join(steps), self.answer)
        modes = []
        k = 0  # the first rule step that may overlap the next given step
        start = 0
        for text in steps:
            end = start + len(text)
            share = dict.fromkeys(Mode, 0)
            while k < len(rule) and rule[k][0].end <= start:
                k += 1
            j = k
            while j < len(rule) and rule[j][0].start < end:
                step, mode = rule[j]
                share[mode] += min(end, step.end) - max(start, step.start)
                j += 1
            modes.append(max(Mode, key=share.__getitem__))  # ties: the earlier mode, progressive first
            start = end
        return modes


def rule_opinion(steps: Sequence[str], answer: str | None = None) -> list[Mode | None]:
    """The rules' functional mode of each step, None where they see forward reasoning: what decides a
    step in the paper's hybrid, and the hint an LLM labeller is given."""
    return [mode if mode.functional else None for mode in RuleClassifier(answer).classify(steps)]
