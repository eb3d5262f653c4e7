"""Reasoning-pattern statistics of datasets and lm-eval samples, rule-versus-LLM agreement, PIR plots."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from limopro_plugins.eval.patterns import Profile, profiles
from limopro_plugins.eval.plots import pyplot
from limopro_plugins.pir.classify import Classifier
from limopro_plugins.pir.segment import structure
from limopro_plugins.pir.stats import PatternStats, StepRecord
from limopro_plugins.text import Mode

if TYPE_CHECKING:
    import pandas as pd


def profile_text(
    text: str, tokenizer: Any, classifier: Classifier | None = None, answer: str | None = None
) -> list[StepRecord]:
    """Segment and classify one reasoning text (`answer`: the chain's final answer, where known); count
    each step's tokens with `tokenizer`."""
    found = structure(text, answer)
    if not found:
        return []
    steps = [step.text for step, _ in found]
    modes = classifier.classify(steps) if classifier is not None else [mode for _, mode in found]
    counts = [len(ids) for ids in tokenizer(steps, add_special_tokens=False)["input_ids"]]
    return [StepRecord(m.value, n) for m, n in zip(modes, counts)]


def stats_from_dataset(source: str, tokenizer: Any, **read_kwargs: Any) -> tuple[PatternStats, int]:
    """Statistics of a dataset's reasoning; also returns how many records were rejected."""
    from limopro_plugins.pir.records import Reject, read_chains

    stats, rejected = PatternStats(), 0
    for item in read_chains(source, **read_kwargs):
        if isinstance(item, Reject):
            rejected += 1
            print(f"skipped {item.location}: {item.reason}", file=sys.stderr)
        else:
            stats.add(profile_text(item.reasoning, tokenizer, answer=item.answer))
    return stats, rejected


def is_lm_eval_samples(path: Path) -> bool:
    """Whether a file is an lm-eval `--log_samples` file (JSONL records with doc_id and responses)."""
    if not path.is_file() or path.suffix != ".jsonl":
        return False
    with path.open(encoding="utf-8") as handle:
        first = handle.readline()
    try:
        record = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(record, dict) and "doc_id" in record and "filtered_resps" in record


def add_profile(stats: PatternStats, found: Profile) -> None:
    """Count one generated response (from `patterns.profiles`) in `stats`."""
    stats.chains += 1
    for mode, steps in found.mode_steps.items():
        stats.steps[mode] += steps
        stats.tokens[mode] += found.mode_tokens[mode]


def stats_from_samples(path: Path, tokenizer: Any) -> PatternStats:
    """Statistics of every generated response (all n samples per question) in a --log_samples file."""

    stats = PatternStats(unit="responses")
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            responses = record["filtered_resps"]
            if responses and isinstance(responses[0], list):
                responses = responses[0]
            for found in profiles([r for r in responses if isinstance(r, str)], tokenizer):
                add_profile(stats, found)
    return stats


@dataclass
class Agreement:
    """Rule versus LLM labels of the same steps (prune runs with `--classifier hybrid` or `llm`)."""

    confusion: pd.DataFrame  # rows: rule label, columns: LLM label, cells: steps

    @property
    def steps(self) -> int:
        return int(self.confusion.to_numpy().sum())

    def overall(self) -> float:
        return float(self.confusion.to_numpy().trace()) / self.steps

    def per_mode(self) -> pd.DataFrame:
        """Per mode: steps each side gave it, steps both did, and that overlap as a share of each side."""
        import pandas as pd

        both = pd.Series(self.confusion.to_numpy().diagonal(), index=self.confusion.index)
        rule, llm = self.confusion.sum(axis=1), self.confusion.sum(axis=0)
        return pd.DataFrame(
            {
                "rule": rule,
                "llm": llm,
                "both": both,
                "of rule": (both / rule.where(rule > 0)).round(3),
                "of llm": (both / llm.where(llm > 0)).round(3),
            }
        )

    def text(self) -> str:
        from tabulate import tabulate

        return (
            f"rule vs LLM labels over {self.steps} steps: {100 * self.overall():.1f}% agree\n"
            f"{tabulate(self.per_mode().fillna('-'), headers='keys', tablefmt='github')}\n\n"
            f"confusion (rows: rule, columns: LLM)\n"
            f"{tabulate(self.confusion, headers='keys', tablefmt='github')}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "agreement": round(self.overall(), 4),
            "confusion": {rule: row.to_dict() for rule, row in self.confusion.iterrows()},
        }


def agreement(rows: Iterable[dict[str, Any]]) -> Agreement | None:
    """The agreement table of the steps both the rules and the LLM labelled, or None when the LLM
    labelled none (a run with `--classifier rule`, or every call fell back to the rules)."""
    import pandas as pd

    pairs = [(s["rule_mode"], s["llm_mode"]) for row in rows for s in row["steps"] if s.get("llm_mode")]
    if not pairs:
        return None
    labels = [m.value for m in Mode]
    frame = pd.DataFrame(pairs, columns=["rule", "llm"])
    confusion = pd.crosstab(frame["rule"], frame["llm"]).reindex(index=labels, columns=labels, fill_value=0)
    return Agreement(confusion.rename_axis(index="rule", columns="llm"))


def plot_pir(stats: PatternStats, path: Path) -> bool:
    """Histogram of PIR per mode; False (and no file) when nothing was scored."""
    present = {m: v for m, v in stats.pirs.items() if v}
    if not present:
        return False
    plt = pyplot()

    fig, axes = plt.subplots(len(present), 1, figsize=(7, 2.2 * len(present)), sharex=True, squeeze=False)
    for ax, (mode, values) in zip(axes[:, 0], present.items()):
        ax.hist(values, bins=min(40, max(5, len(values) // 2)), color="tab:blue", alpha=0.8)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_ylabel("steps")
        ax.set_title(f"{mode} (n={len(values)})", fontsize=10)
    axes[-1, 0].set_xlabel("PIR = log PPL(answer | without step) - log PPL(answer | full chain)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
