"""The paper's results table from lm-eval output folders: ACC / TOK / EFF per benchmark, with deltas.

See `python -m limopro_plugins.report --help` and docs/evaluation.md for what the table holds.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

BENCHMARKS = {"limopro_aime": "AIME", "limopro_amc": "AMC", "limopro_gpqa_diamond": "GPQA Diamond"}
MODE_SHARES = ("share_progressive", "share_verification", "share_multi_method", "share_error_correction")
THINK_TOKENS = ("think_tok", "answer_tok")
"""Mean tokens before / after `</think>`, over the responses that have it."""
THINK_METRICS = ("think_rate", *THINK_TOKENS)
PATTERN_METRICS = ("steps", *MODE_SHARES, *THINK_METRICS)


class ReportError(ValueError):
    """Nothing usable was found; the message says where we looked."""


def _value(metrics: dict[str, Any], name: str) -> float | None:
    for key, value in metrics.items():
        if key.split(",")[0] == name and isinstance(value, (int, float)):
            return float(value)
    return None


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _source(data: dict[str, Any], file: Path) -> str:
    """The model's full name: lm-eval's `model_name` or the `pretrained` argument, else the result file's
    folder. Two results belong to the same model only when these agree, whatever their last component."""
    name = data.get("model_name") or ""
    if not name:
        args = str(data.get("config", {}).get("model_args", ""))
        name = next((p.split("=", 1)[1] for p in args.split(",") if p.startswith("pretrained=")), "")
    return name.rstrip("/") or str(file.parent)


def short_names(sources: Sequence[str]) -> dict[str, str]:
    """Each full name's shortest run of last path components that no other name ends with, so that
    .../limo/checkpoint-1000 and .../limo_p/checkpoint-1000 become two rows, limo/checkpoint-1000 and
    limo_p/checkpoint-1000, instead of one (a name that is a suffix of another stays whole)."""
    parts = {source: [p for p in source.split("/") if p] for source in sources}
    names = {}
    for source, own in parts.items():
        k = next(
            (
                k
                for k in range(1, len(own) + 1)
                if all(other[-k:] != own[-k:] for o, other in parts.items() if o != source)
            ),
            None,
        )
        names[source] = "/".join(own[-k:]) if k else source
    return names


def _read(paths: Sequence[Path]) -> list[tuple[int, Path, dict[str, Any]]]:
    """(path index, file, parsed JSON) of every result file, oldest first across all paths
    (results_<timestamp>.json), so that "the newest value wins" holds whatever the path order."""
    found = []
    for index, root in enumerate(paths):
        files = sorted(root.rglob("results_*.json")) if root.is_dir() else [root]
        files = [f for f in files if f.is_file()]
        if not files:
            raise ReportError(f"{root}: no lm-eval results_*.json found (pass the --output_path folder)")
        found += [(index, file, json.loads(file.read_text())) for file in files]
    return sorted(found, key=lambda item: item[1].name)


def _names(found: list[tuple[int, Path, dict[str, Any]]], sources: list[str], labels: Sequence[str]) -> list[str]:
    """The row name of each file: its path's --label, else the short form of its full model name.
    A label that equals another model's name would merge two models into one row: that is an error."""
    short = short_names(list(dict.fromkeys(s for (index, _, _), s in zip(found, sources) if index >= len(labels))))
    names = [labels[index] if index < len(labels) else short[source] for (index, _, _), source in zip(found, sources)]
    clashes = sorted(set(labels) & set(short.values()))
    if clashes:
        files = sorted(str(file) for (_, file, _), name in zip(found, names) if name == clashes[0])
        raise ReportError(
            f"{clashes[0]!r} names different models ({', '.join(files)}): give each path its "
            "own --label (in path order)"
        )
    return names


def load_results(paths: Sequence[Path], labels: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (model, benchmark): acc, tok, questions, samples per question (n), and pattern
    metrics if present."""
    found = _read(paths)
    sources = [_source(data, file) for _, file, data in found]
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    origin: dict[tuple[str, str], tuple[int, Path, str]] = {}
    for (index, file, data), source, model in zip(found, sources, _names(found, sources, labels or [])):
        for task, metrics in data.get("results", {}).items():
            if task not in BENCHMARKS or _value(metrics, "acc") is None:
                continue
            old = origin.get((model, task))
            if old and (old[0], old[2]) != (index, source):
                _warn(
                    f"{model} {BENCHMARKS[task]}: {file} replaces the older {old[1]}; to show both, pass "
                    "them as separate paths with different --label values"
                )
            samples = data.get("n-samples", {}).get(task, {}).get("effective", 0)
            repeats = data.get("configs", {}).get(task, {}).get("repeats")
            row = {
                "model": model,
                "benchmark": BENCHMARKS[task],
                "acc": _value(metrics, "acc"),
                "tok": _value(metrics, "tok"),
                "questions": samples,
                "n": repeats,
            }
            row.update({m: _value(metrics, m) for m in PATTERN_METRICS})
            rows[(model, task)] = row
            origin[(model, task)] = (index, file, source)
    if not rows:
        raise ReportError(f"no limopro task results in {', '.join(map(str, paths))}")
    frame = pd.DataFrame(rows.values())
    for column in ("n", *PATTERN_METRICS):  # missing in results of other tools or older runs: NaN
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["eff"] = frame["acc"] / frame["tok"]
    return frame


def _samples(group: pd.DataFrame) -> pd.Series:
    """Each row's weight in a mean over all samples: questions x n (1 where not recorded)."""
    return group["questions"].where(group["questions"] > 0, 1) * pd.to_numeric(group["n"]).fillna(1)


def missing_benchmarks(frame: pd.DataFrame) -> dict[str, list[str]]:
    """The benchmarks each incomplete model lacks. An 'All' over fewer benchmarks would average a
    different mix of questions (without GPQA's 198, AIME's 30 and AMC's 40 decide it), not comparable
    with a complete model's 'All'."""
    missing = {}
    for model, group in frame.groupby("model", sort=False):
        lacking = [b for b in BENCHMARKS.values() if b not in set(group["benchmark"])]
        if lacking:
            missing[str(model)] = lacking
    return missing


def with_overall(frame: pd.DataFrame) -> pd.DataFrame:
    """Add an 'All' benchmark per model that has all three: ACC and TOK as means over all samples of the
    three benchmarks (each weighted by questions x n), and EFF as their ratio, which a mean of the
    per-benchmark EFFs would not be. This is the group EFF that lm-eval's group aggregation cannot
    compute. Models in `missing_benchmarks` get none."""
    parts = []
    incomplete = missing_benchmarks(frame)
    for model, group in frame.groupby("model", sort=False):
        if model in incomplete:
            continue
        weights = _samples(group)
        acc = (group["acc"] * weights).sum() / weights.sum()
        tok = (group["tok"] * weights).sum() / weights.sum()
        n_values = group["n"].dropna().unique()
        row = {
            "model": model,
            "benchmark": "All",
            "acc": acc,
            "tok": tok,
            "eff": acc / tok,
            "questions": int(group["questions"].sum()),
            "n": n_values[0] if len(n_values) == 1 else None,
        }
        row.update(_overall_patterns(group, weights))
        parts.append(row)
    return pd.concat([frame, pd.DataFrame(parts)], ignore_index=True) if parts else frame


def _overall_patterns(group: pd.DataFrame, weights: pd.Series) -> dict[str, float]:
    """Pattern metrics over all samples of a model's benchmarks. Thinking and answer tokens are means over
    the responses with `</think>` only, so each benchmark weighs by its number of such responses
    (samples x think_rate), the pooled mean that lm-eval's size-weighted group mean is not."""
    found = {}
    for metric in PATTERN_METRICS:
        if metric not in group or not group[metric].notna().all():
            continue
        if metric in THINK_TOKENS:
            if "think_rate" in group and group["think_rate"].notna().all():
                thinking = weights * group["think_rate"]
                if thinking.sum() > 0:
                    found[metric] = (group[metric] * thinking).sum() / thinking.sum()
        else:
            found[metric] = (group[metric] * weights).sum() / weights.sum()
    return found


def _same_questions(row: pd.DataFrame, base: pd.DataFrame) -> bool:
    """Whether two cells cover the same questions, as far as the counts tell (0 = not recorded): a run
    with --limit 4 and a full run measure different subsets, and their delta would mean nothing."""
    mine, theirs = int(row["questions"].iloc[0]), int(base["questions"].iloc[0])
    return not (mine and theirs) or mine == theirs


def notes(frame: pd.DataFrame, baseline: str | None = None) -> list[str]:
    """Why cells or deltas of the table are empty, for the reader of the table."""
    lines = [
        f"{model}: no 'All' without {' and '.join(lacking)} results ('All' needs every benchmark)"
        for model, lacking in missing_benchmarks(frame).items()
    ]
    if baseline is None:
        return lines
    base = frame[frame["model"] == baseline].set_index("benchmark")["questions"]
    for _, row in frame[frame["model"] != baseline].iterrows():
        theirs = base.get(row["benchmark"], 0)
        if row["questions"] and theirs and row["questions"] != theirs:
            lines.append(
                f"{row['model']} {row['benchmark']}: no deltas, {row['questions']} questions "
                f"against {theirs} of {baseline}"
            )
    return lines


def _delta(value: float, base: float, kind: str) -> str:
    if kind == "acc":
        return f"{100 * (value - base):+.1f}"
    return f"{100 * (value / base - 1):+.0f}%" if base else ""


def _cell(value: float, kind: str) -> str:
    if pd.isna(value):
        return ""
    if kind == "acc":
        return f"{100 * value:.1f}"
    if kind == "tok" or kind in THINK_TOKENS:
        return f"{value:,.0f}"
    if kind == "eff":
        return f"{value:.2E}"
    return f"{value:.2f}" if kind == "steps" else f"{100 * value:.1f}%"


def table(frame: pd.DataFrame, baseline: str | None = None, patterns: bool = False) -> pd.DataFrame:
    """The display table: rows = models, columns = (benchmark, ACC/TOK/EFF[, patterns]) with deltas."""
    kinds = ["acc", "tok", "eff"] + (list(PATTERN_METRICS) if patterns else [])
    header = {
        "acc": "ACC ↑",
        "tok": "TOK ↓",
        "eff": "EFF ↑",
        "steps": "steps",
        **{m: m.replace("share_", "% ") for m in MODE_SHARES},
        "think_rate": "% </think>",
        "think_tok": "think tok",
        "answer_tok": "answer tok",
    }
    if baseline is not None and baseline not in set(frame["model"]):
        raise ReportError(f"--baseline {baseline!r} is not one of the models: {sorted(set(frame['model']))}")
    benchmarks = [b for b in [*BENCHMARKS.values(), "All"] if b in set(frame["benchmark"])]
    out: dict[tuple[str, str], list[str]] = {}
    models = list(dict.fromkeys(frame["model"]))
    for bench in benchmarks:
        for kind in kinds:
            column = []
            for model in models:
                row = frame[(frame["model"] == model) & (frame["benchmark"] == bench)]
                value = row[kind].iloc[0] if len(row) and kind in row else float("nan")
                if kind in THINK_TOKENS and len(row) and not row["think_rate"].iloc[0] > 0:
                    value = float("nan")  # no response with </think>: no such tokens to average
                text = _cell(value, kind)
                if baseline and model != baseline and kind in ("acc", "tok", "eff") and text:
                    base = frame[(frame["model"] == baseline) & (frame["benchmark"] == bench)]
                    comparable = len(base) and _same_questions(row, base)
                    delta = _delta(value, base[kind].iloc[0], kind) if comparable else ""
                    if delta:  # none against a zero TOK or EFF
                        text += f" ({delta})"
                column.append(text)
            out[(bench, header[kind])] = column
    result = pd.DataFrame(out, index=models)
    result.index.name = "model"
    return result


def plot(frame: pd.DataFrame, path: Path) -> None:
    """Accuracy versus tokens, one panel per benchmark, one labelled point per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benchmarks = [b for b in [*BENCHMARKS.values(), "All"] if b in set(frame["benchmark"])]
    fig, axes = plt.subplots(1, len(benchmarks), figsize=(4.2 * len(benchmarks), 3.6), squeeze=False)
    for ax, bench in zip(axes[0], benchmarks):
        part = frame[frame["benchmark"] == bench]
        ax.scatter(part["tok"], 100 * part["acc"], color="tab:blue")
        for _, row in part.iterrows():
            ax.annotate(
                row["model"], (row["tok"], 100 * row["acc"]), fontsize=8, xytext=(4, 4), textcoords="offset points"
            )
        low, high = 100 * part["acc"].min(), 100 * part["acc"].max()
        pad = max(2.0, 0.15 * (high - low))  # equal accuracies would otherwise give a sliver of an axis
        ax.set_ylim(max(0.0, low - pad), min(100.0, high + pad))
        ax.margins(x=0.25)  # room for the labels of the outermost points
        ax.set_title(bench)
        ax.set_xlabel("TOK (mean response tokens)")
        ax.set_ylabel("ACC (%)")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def mode_shares(frame: pd.DataFrame) -> pd.DataFrame:
    """Each model's token share per mode over all samples of the benchmarks it has (its 'All' when it
    has every one); a model lacking some is named with the benchmarks its bar covers."""
    columns = [m for m in MODE_SHARES if m in frame]
    rows = {}
    for model, group in frame[frame["benchmark"] != "All"].groupby("model", sort=False):
        group = group.dropna(subset=columns)
        if group.empty:
            continue
        shares = {c: v for c, v in _overall_patterns(group, _samples(group)).items() if c in columns}
        name = str(model) if len(group) == len(BENCHMARKS) else f"{model}\n({', '.join(group['benchmark'])})"
        rows[name] = shares
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def plot_modes(frame: pd.DataFrame, path: Path) -> bool:
    """Stacked bars of the responses' token share per reasoning mode, one bar per model; False (and no
    file) when the results have no pattern metrics."""
    part = mode_shares(frame)
    columns = list(part.columns)
    if part.empty or not columns:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.6 + 1.2 * len(part), 3.8))
    bottom = pd.Series(0.0, index=part.index)
    for column in columns:
        values = 100 * part[column].fillna(0)
        ax.bar(part.index, values, bottom=bottom, label=column.replace("share_", "").replace("_", " "))
        bottom += values
    ax.set_ylabel("share of reasoning tokens (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Reasoning modes of the responses")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return True
