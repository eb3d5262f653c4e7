"""Reasoning-pattern statistics: steps and token share per mode, and PIR distributions per mode.

`python -m limopro_plugins.analyze DATA` accepts
- a prune output folder or its `structure.jsonl` (modes, token counts and PIR scores already there;
  after `--classifier llm` also the agreement of rule and LLM labels, per mode and as a confusion table),
- an lm-eval `--log_samples` file (`samples_<task>_*.jsonl`): every generated response is profiled, or
- any dataset file the prune command reads (original or pruned): it is segmented and classified here and
  its tokens counted with `--tokenizer` (default: the offline default model's tokenizer).
It prints per-mode step counts, mean steps per chain and token shares (the paper's Table 1), and with
`--plot FILE.png` draws the PIR distribution of each mode when scores exist.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from limopro_plugins.classify import Classifier, Mode, RuleClassifier
from limopro_plugins.segment import segment

if TYPE_CHECKING:
    import pandas as pd

    from limopro_plugins.patterns import Profile


@dataclass
class StepRecord:
    """What the statistics need of one step."""

    mode: str
    tokens: int
    pir: float | None = None


@dataclass
class PatternStats:
    """Step counts, token counts and PIR values per mode over a set of chains."""

    chains: int = 0
    unit: str = "chains"
    steps: dict[str, int] = field(default_factory=lambda: {m.value: 0 for m in Mode})
    tokens: dict[str, int] = field(default_factory=lambda: {m.value: 0 for m in Mode})
    pirs: dict[str, list[float]] = field(default_factory=lambda: {m.value: [] for m in Mode})

    def add(self, steps: Iterable[StepRecord]) -> None:
        self.chains += 1
        for step in steps:
            self.steps[step.mode] += 1
            self.tokens[step.mode] += step.tokens
            if step.pir is not None:
                self.pirs[step.mode].append(step.pir)

    def add_profile(self, found: "Profile") -> None:
        """Count one generated response (from `patterns.profile`)."""
        self.chains += 1
        for mode, steps in found.mode_steps.items():
            self.steps[mode] += steps
            self.tokens[mode] += found.mode_tokens[mode]

    def shares(self) -> dict[str, float]:
        """Token share of each mode (sums to 1 when there are any tokens)."""
        total = sum(self.tokens.values())
        return {m: (t / total if total else 0.0) for m, t in self.tokens.items()}

    def to_json(self) -> dict[str, dict[str, float]]:
        shares = self.shares()
        return {m: {"steps": self.steps[m], "token_share": round(shares[m], 4)} for m in self.steps}

    def table(self) -> str:
        from tabulate import tabulate

        shares = self.shares()
        rows = [[m, self.steps[m], round(self.steps[m] / max(self.chains, 1), 2), self.tokens[m],
                 f"{100 * shares[m]:.1f}%", len(self.pirs[m]) or ""] for m in self.steps]
        rows.append(["all", sum(self.steps.values()), round(sum(self.steps.values()) / max(self.chains, 1), 2),
                     sum(self.tokens.values()), "100.0%" if sum(self.tokens.values()) else "0.0%",
                     sum(map(len, self.pirs.values())) or ""])
        return tabulate(rows, headers=["mode", "steps", "steps/chain", "tokens", "token share", "scored"],
                        tablefmt="github")


def profile_text(text: str, tokenizer: Any, classifier: Classifier | None = None) -> list[StepRecord]:
    """Segment and classify one reasoning text; count each step's tokens with `tokenizer`."""
    steps = [s.text for s in segment(text)]
    if not steps:
        return []
    modes = (classifier or RuleClassifier()).classify(steps)
    counts = [len(ids) for ids in tokenizer(steps, add_special_tokens=False)["input_ids"]]
    return [StepRecord(m.value, n) for m, n in zip(modes, counts)]


def stats_from_structure(rows: Iterable[dict[str, Any]]) -> PatternStats:
    stats = PatternStats()
    for row in rows:
        stats.add(StepRecord(s["mode"], s["tokens"], s.get("pir")) for s in row["steps"])
    return stats


def stats_from_dataset(source: str, tokenizer: Any, **read_kwargs: Any) -> tuple[PatternStats, int]:
    """Statistics of a dataset's reasoning; also returns how many records were rejected."""
    from limopro_plugins.records import Reject, read_chains

    stats, rejected = PatternStats(), 0
    for item in read_chains(source, **read_kwargs):
        if isinstance(item, Reject):
            rejected += 1
            print(f"skipped {item.location}: {item.reason}", file=sys.stderr)
        else:
            stats.add(profile_text(item.reasoning, tokenizer))
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


def stats_from_samples(path: Path, tokenizer: Any) -> PatternStats:
    """Statistics of every generated response (all n samples per question) in a --log_samples file."""
    from limopro_plugins.patterns import profiles

    stats = PatternStats(unit="responses")
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            responses = record["filtered_resps"]
            if responses and isinstance(responses[0], list):
                responses = responses[0]
            for found in profiles([r for r in responses if isinstance(r, str)], tokenizer):
                stats.add_profile(found)
    return stats


@dataclass
class Agreement:
    """Rule versus LLM labels of the same steps (prune runs with `--classifier llm`)."""

    confusion: "pd.DataFrame"  # rows: rule label, columns: LLM label, cells: steps

    @property
    def steps(self) -> int:
        return int(self.confusion.to_numpy().sum())

    def overall(self) -> float:
        return float(self.confusion.to_numpy().trace()) / self.steps

    def per_mode(self) -> "pd.DataFrame":
        """Per mode: steps each side gave it, steps both did, and that overlap as a share of each side."""
        import pandas as pd

        both = pd.Series(self.confusion.to_numpy().diagonal(), index=self.confusion.index)
        rule, llm = self.confusion.sum(axis=1), self.confusion.sum(axis=0)
        return pd.DataFrame({"rule": rule, "llm": llm, "both": both,
                             "of rule": (both / rule.where(rule > 0)).round(3),
                             "of llm": (both / llm.where(llm > 0)).round(3)})

    def text(self) -> str:
        from tabulate import tabulate

        return (f"rule vs LLM labels over {self.steps} steps: {100 * self.overall():.1f}% agree\n"
                f"{tabulate(self.per_mode().fillna('-'), headers='keys', tablefmt='github')}\n\n"
                f"confusion (rows: rule, columns: LLM)\n"
                f"{tabulate(self.confusion, headers='keys', tablefmt='github')}")

    def to_json(self) -> dict[str, Any]:
        return {"steps": self.steps, "agreement": round(self.overall(), 4),
                "confusion": {rule: row.to_dict() for rule, row in self.confusion.iterrows()}}


def agreement(rows: Iterable[dict[str, Any]]) -> Agreement | None:
    """The agreement table of the steps both the rules and the LLM labelled, or None when the LLM
    labelled none (a run without `--classifier llm`, or every call fell back to the rules)."""
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


def _structure_path(data: Path) -> Path | None:
    """The structure.jsonl a prune output (folder or file) names, or None for other inputs. A missing
    one is an error: an empty table would read as a run with no chains."""
    from limopro_plugins.records import InputError

    if data.is_dir() and (data / "structure.jsonl").is_file():
        return data / "structure.jsonl"
    if data.name.endswith("structure.jsonl"):
        if not data.is_file():
            raise InputError(f"{data}: file not found")
        return data
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m limopro_plugins.analyze", description=__doc__.splitlines()[0])
    parser.add_argument("data", help="prune output folder, structure.jsonl, or a dataset file")
    parser.add_argument("--tokenizer", default="smollm2", help="tokenizer for raw datasets (default: %(default)s)")
    parser.add_argument("--plot", type=Path, help="write a PNG of PIR distributions per mode")
    parser.add_argument("--json", action="store_true", help="print the statistics as JSON")
    args = parser.parse_args(argv)

    from limopro_plugins.io import read_jsonl_tolerant
    from limopro_plugins.models import ModelUnavailableError, load_tokenizer, resolve
    from limopro_plugins.records import InputError

    data = Path(args.data)
    agreed = None
    try:
        structure = _structure_path(data)
        if structure is not None:
            rows = read_jsonl_tolerant(structure, repair=False)  # a live run may be appending
            stats, agreed = stats_from_structure(rows), agreement(rows)
        elif is_lm_eval_samples(data):
            stats = stats_from_samples(data, load_tokenizer(resolve(args.tokenizer)))
        else:
            stats, _ = stats_from_dataset(args.data, load_tokenizer(resolve(args.tokenizer)))
    except (InputError, ModelUnavailableError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        found = {stats.unit: stats.chains, "modes": stats.to_json()}
        print(json.dumps(found | ({"rule_vs_llm": agreed.to_json()} if agreed else {}), indent=2))
    else:
        print(f"{stats.chains} {stats.unit}\n{stats.table()}" + (f"\n\n{agreed.text()}" if agreed else ""))
    if args.plot:
        if plot_pir(stats, args.plot):
            print(f"PIR distributions -> {args.plot}")
        else:
            print("no PIR scores in this data: no plot written (run the prune command first)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
