"""Score steps and modes against a gold annotation, per character.

A gold file holds, per chain, its functional episodes (one JSON line per chain: {"id", "episodes":
[{"mode", "start", "end"}]}, `start` and `end` quoting an episode's first and last characters, each
episode found after the previous one). Every character of a chain's reasoning gets the gold mode
(progressive where no episode covers it) and the predicted one; `score` gives per mode precision,
recall and F1, functional-versus-progressive F1, the macro F1 over the three functional modes, each
mode's share of the characters next to the gold's, and the step lengths in sentences and tokens.
`benchmarks/bench_structure.py` prints them for the rules of today and of before.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from limopro_plugins.pir.records import split_response
from limopro_plugins.pir.segment import sentence_bounds, structure
from limopro_plugins.text import FUNCTIONAL_MODES, Mode

Spans = list[tuple[int, int, str]]
"""A chain's steps as (start, end, mode name) over its reasoning."""
Structurer = Callable[[str, "str | None"], Spans]
"""What is scored: (reasoning, answer) -> steps with modes."""


def rule_structure(reasoning: str, answer: str | None) -> Spans:
    """The rules' steps and modes (`segment.structure`)."""
    return [(step.start, step.end, mode.value) for step, mode in structure(reasoning, answer)]


def gold_labels(text: str, episodes: Sequence[dict[str, str]]) -> list[str]:
    """The gold mode of every character of `text`."""
    labels = [Mode.PROGRESSIVE.value] * len(text)
    cursor = 0
    for number, episode in enumerate(episodes):
        start = text.find(episode["start"], cursor)
        end = text.find(episode["end"], start) if start >= 0 else -1
        if start < 0 or end < 0:
            raise ValueError(f"episode {number + 1} ({episode['mode']}) is not found in its chain")
        end += len(episode["end"])
        labels[start:end] = [Mode(episode["mode"]).value] * (end - start)
        cursor = end
    return labels


def _f1(gold: Sequence[str], predicted: Sequence[str], positive: set[str]) -> tuple[float, float, float]:
    both = sum(1 for g, p in zip(gold, predicted) if g in positive and p in positive)
    said = sum(1 for p in predicted if p in positive)
    true = sum(1 for g in gold if g in positive)
    precision, recall = (both / said if said else 0.0), (both / true if true else 0.0)
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


@dataclass
class Scores:
    """The per-character scores of one structurer on a set of chains."""

    per_mode: dict[str, tuple[float, float, float]]
    """Precision, recall and F1 of each functional mode."""
    functional: tuple[float, float, float]
    """Precision, recall and F1 of functional (any of the three) against progressive."""
    shares: dict[str, float]
    gold_shares: dict[str, float]
    lengths: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    """Sentences and tokens of each step, for functional and for progressive steps."""

    @property
    def macro_f1(self) -> float:
        return sum(f for _, _, f in self.per_mode.values()) / len(self.per_mode)

    @property
    def median_functional_sentences(self) -> float:
        return statistics.median(self.lengths["functional"]["sentences"] or [0])

    def table(self) -> str:
        lines = [f"{'mode':18} {'precision':>9} {'recall':>7} {'F1':>6} {'share':>7} {'gold':>7}"]
        for mode, (p, r, f) in self.per_mode.items():
            lines.append(
                f"{mode:18} {p:9.3f} {r:7.3f} {f:6.3f} {100 * self.shares[mode]:6.1f}% "
                f"{100 * self.gold_shares[mode]:6.1f}%"
            )
        progressive = Mode.PROGRESSIVE.value
        lines.append(
            f"{progressive:18} {'':9} {'':7} {'':6} {100 * self.shares[progressive]:6.1f}% "
            f"{100 * self.gold_shares[progressive]:6.1f}%"
        )
        p, r, f = self.functional
        lines.append(f"{'functional':18} {p:9.3f} {r:7.3f} {f:6.3f}   (functional versus progressive)")
        lines.append(f"macro F1 over the three functional modes: {self.macro_f1:.3f}")
        for kind, values in self.lengths.items():
            lines.append(
                f"{kind} steps: {len(values['sentences'])}, sentences median (quartiles) "
                f"{_quartiles(values['sentences'])}, tokens {_quartiles(values['tokens'])}"
            )
        return "\n".join(lines)


def _quartiles(values: list[int]) -> str:
    if len(values) < 2:
        return str(values[0]) if values else "-"
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return f"{q2:g} ({q1:g}-{q3:g})"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(
    chains: Sequence[dict[str, Any]],
    gold: dict[str, list[dict[str, str]]],
    structurer: Structurer = rule_structure,
    tokenizer: Any = None,
) -> Scores:
    """Score `structurer` on LIMO-schema chains ({"id", "solution", "answer"}) against `gold` (episodes
    by chain id). `tokenizer` (optional) measures step lengths in tokens."""
    all_gold: list[str] = []
    all_predicted: list[str] = []
    lengths: dict[str, dict[str, list[int]]] = {
        kind: {"sentences": [], "tokens": []} for kind in ("functional", "progressive")
    }
    for chain in chains:
        if chain["id"] not in gold:
            raise ValueError(f"the gold file has no annotation for chain {chain['id']}")
        split = split_response(chain["solution"])
        text = split.head + split.reasoning
        offset = len(split.head)
        labels = gold_labels(text, gold[chain["id"]])
        predicted = [Mode.PROGRESSIVE.value] * len(text)
        for start, end, mode in structurer(split.reasoning, chain.get("answer")):
            predicted[offset + start : offset + end] = [mode] * (end - start)
            piece = split.reasoning[start:end]
            kind = "progressive" if mode == Mode.PROGRESSIVE.value else "functional"
            lengths[kind]["sentences"].append(len(sentence_bounds(piece)[0]) - 1)
            if tokenizer is not None:
                lengths[kind]["tokens"].append(len(tokenizer(piece, add_special_tokens=False)["input_ids"]))
        all_gold += labels
        all_predicted += predicted
    total = max(len(all_predicted), 1)
    return Scores(
        per_mode={m.value: _f1(all_gold, all_predicted, {m.value}) for m in FUNCTIONAL_MODES},
        functional=_f1(all_gold, all_predicted, {m.value for m in FUNCTIONAL_MODES}),
        shares={m.value: all_predicted.count(m.value) / total for m in Mode},
        gold_shares={m.value: all_gold.count(m.value) / total for m in Mode},
        lengths=lengths,
    )


def score_files(chains: Path, gold: Path, structurer: Structurer = rule_structure, tokenizer: Any = None) -> Scores:
    """`score` on a chains file and a gold file."""
    annotations = {row["id"]: row["episodes"] for row in read_jsonl(gold)}
    return score(read_jsonl(chains), annotations, structurer, tokenizer)
