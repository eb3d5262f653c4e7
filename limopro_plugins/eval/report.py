"""The report's tables from lm-eval result files: the paper's ACC / TOK / EFF table with deltas, and the
reasoning patterns of the responses, in plain text, markdown or long-form CSV, with two plots.

See `python -m limopro_plugins.report --help` and docs/evaluation.md for what the tables hold.
"""

from __future__ import annotations

import io
import json
import math
import numbers
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from limopro_plugins.eval.benchmarks import BENCHMARKS as TASKS
from limopro_plugins.eval.metrics import MODE_SHARES, PATTERN_METRICS, THINK_TOKENS
from limopro_plugins.eval.plots import pyplot
from limopro_plugins.pir.io import atomic_write_bytes, atomic_write_text
from limopro_plugins.text import THINK_CLOSE

BENCHMARKS = {task: benchmark.label for task, benchmark in TASKS.items()}
"""The report's column name of each lm-eval task."""
PAPER_METRICS = ("acc", "tok", "eff")

Format = Literal["plain", "markdown", "csv"]
FORMATS: tuple[Format, ...] = ("plain", "markdown", "csv")


class ReportError(ValueError):
    """Nothing usable was found, or an output cannot be written; the message says where."""


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class ResultFile:
    """What the report takes from one lm-eval results file."""

    index: int
    """Which of the given paths it was found under."""
    file: Path
    source: str
    """The model's full name (see `_source`)."""
    tasks: dict[str, dict[str, Any]]
    """The metrics of each limopro task in it."""
    questions: dict[str, int]
    """Questions evaluated per task (lm-eval's effective n-samples; 0 where not recorded)."""
    repeats: dict[str, int | None]
    """Samples per question (the task config's `repeats`)."""
    others: tuple[str, ...]
    """Its other tasks, which the report does not show."""


def _value(metrics: dict[str, Any], name: str) -> float | None:
    for key, value in metrics.items():
        if key.split(",")[0] == name and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _kind(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return f"a JSON {names.get(type(value), 'number')}"


def _source(data: dict[str, Any], file: Path) -> str:
    """The model's full name: lm-eval's `model_name` or the `pretrained` argument, else the result file's
    folder. Two results belong to the same model only when these agree, whatever their last component."""
    name = data.get("model_name")
    if not isinstance(name, str) or not name:
        args = data.get("config", {}).get("model_args", "") if isinstance(data.get("config"), dict) else ""
        if isinstance(args, dict):  # lm-eval 0.4.13 writes the parsed arguments
            name = str(args.get("pretrained", ""))
        else:
            parts = str(args).split(",")
            name = next((p.split("=", 1)[1] for p in parts if p.startswith("pretrained=")), "")
    return name.rstrip("/") or str(file.parent)


def _parse(index: int, file: Path, data: Any) -> ResultFile | str:
    """The file's limopro results, or why it does not have the shape of an lm-eval results file."""
    if not isinstance(data, dict):
        return f"{_kind(data)}, not an lm-eval results object"
    results = data.get("results")
    if not isinstance(results, dict):
        return f"its 'results' is {_kind(results)}, not an object" if "results" in data else "no 'results' in it"
    counts, configs = data.get("n-samples", {}), data.get("configs", {})
    for key, part in (("n-samples", counts), ("configs", configs)):
        if not isinstance(part, dict):
            return f"its '{key}' is {_kind(part)}, not an object"
    tasks, questions, repeats = {}, {}, {}
    for task, metrics in results.items():
        if task not in BENCHMARKS:
            continue
        count, config = counts.get(task, {}), configs.get(task, {})
        for key, part in ((f"results.{task}", metrics), (f"n-samples.{task}", count), (f"configs.{task}", config)):
            if not isinstance(part, dict):
                return f"its '{key}' is {_kind(part)}, not an object"
        tasks[task] = metrics
        effective, n = count.get("effective"), config.get("repeats")
        questions[task] = effective if isinstance(effective, int) and not isinstance(effective, bool) else 0
        repeats[task] = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None
    others = tuple(sorted(task for task in results if task not in BENCHMARKS))
    return ResultFile(index, file, _source(data, file), tasks, questions, repeats, others)


def _load(index: int, file: Path) -> ResultFile | str:
    """One results file, or why it cannot be read (what follows 'FILE skipped: ')."""
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except OSError as error:
        return f"unreadable ({error.strerror or error})"
    except UnicodeDecodeError as error:
        return f"not UTF-8 text (byte {error.start})"
    if not text.strip():
        return "empty"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        end = "; the file ends there: truncated?" if error.pos >= len(text.rstrip()) else ""
        return f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}{end})"
    except RecursionError:
        return "JSON nested too deeply to read"
    except ValueError as error:  # e.g. an integer past Python's digit limit
        return f"unreadable JSON ({str(error).splitlines()[0]})"
    return _parse(index, file, data)


def _read(paths: Sequence[Path]) -> list[ResultFile]:
    """Every readable result file, oldest first across all paths (results_<timestamp>.json), so that "the
    newest value wins" holds whatever the path order. Unreadable files are skipped with a warning."""
    found = []
    for index, root in enumerate(paths):
        files = sorted(root.rglob("results_*.json")) if root.is_dir() else [root]
        files = [f for f in files if f.is_file()]
        if not files:
            raise ReportError(f"{root}: no lm-eval results_*.json found (pass the --output_path folder)")
        for file in files:
            result = _load(index, file)
            if isinstance(result, str):
                _warn(f"{file} skipped: {result}")
            else:
                found.append(result)
    return sorted(found, key=lambda result: result.file.name)


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


def _names(found: list[ResultFile], labels: Sequence[str]) -> list[str]:
    """The row name of each file: its path's --label, else the short form of its full model name.
    A label that equals another model's name would merge two models into one row: that is an error."""
    short = short_names(list(dict.fromkeys(r.source for r in found if r.index >= len(labels))))
    names = [labels[r.index] if r.index < len(labels) else short[r.source] for r in found]
    clashes = sorted(set(labels) & set(short.values()))
    if clashes:
        files = sorted(str(r.file) for r, name in zip(found, names) if name == clashes[0])
        raise ReportError(
            f"{clashes[0]!r} names different models ({', '.join(files)}): give each path its "
            "own --label (in path order)"
        )
    return names


def load_results(paths: Sequence[Path], labels: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (model, benchmark): acc, tok, eff, questions, samples per question (n), and pattern
    metrics if present. Unreadable files, ignored labels and paths without limopro results are warned of."""
    labels = list(labels or [])
    if len(labels) > len(paths):
        extra = ", ".join(repr(label) for label in labels[len(paths) :])
        _warn(f"--label {extra} ignored: {len(labels)} labels for {len(paths)} paths (one label per path)")
    found = _read(paths)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    origin: dict[tuple[str, str], tuple[int, Path, str]] = {}
    used: set[int] = set()
    for result, model in zip(found, _names(found, labels)):
        for task, metrics in result.tasks.items():
            if _value(metrics, "acc") is None:
                continue
            used.add(result.index)
            old = origin.get((model, task))
            if old and (old[0], old[2]) != (result.index, result.source):
                _warn(
                    f"{model} {BENCHMARKS[task]}: {result.file} replaces the older {old[1]}; to show both, "
                    "pass them as separate paths with different --label values"
                )
            row = {
                "model": model,
                "benchmark": BENCHMARKS[task],
                "acc": _value(metrics, "acc"),
                "tok": _value(metrics, "tok"),
                "questions": result.questions[task],
                "n": result.repeats[task],
            }
            row.update({m: _value(metrics, m) for m in PATTERN_METRICS})
            rows[(model, task)] = row
            origin[(model, task)] = (result.index, result.file, result.source)
    for index, root in enumerate(paths):
        if index not in used:
            readable = [r for r in found if r.index == index]
            others = sorted({task for r in readable for task in r.others})
            why = "none of its results files could be read"
            if others:
                why = f"its results are of other tasks ({', '.join(others)})"
            elif readable:
                why = "no limopro task results"
            label = f"; its --label {labels[index]!r} is unused" if index < len(labels) else ""
            _warn(f"{root} ignored: {why}{label}")
    if not rows:
        raise ReportError(f"no limopro task results in {', '.join(map(str, paths))}")
    frame = pd.DataFrame(rows.values())
    for column in ("acc", "tok", "n", *PATTERN_METRICS):  # missing in results of other tools or older runs: NaN
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["eff"] = frame["acc"] / frame["tok"].where(frame["tok"] != 0)  # no tokens at all: no EFF
    return frame


def _questions(group: pd.DataFrame) -> pd.Series:
    """Each row's weight in 'All': its number of questions (1 where not recorded)."""
    return group["questions"].where(group["questions"] > 0, 1).astype(float)


def _pooled(values: pd.Series, weights: pd.Series) -> float:
    """The weighted mean, or NaN when a benchmark has no value: a mean over the others would be a
    different mix of questions, not comparable with another model's 'All'."""
    if values.isna().any() or weights.sum() <= 0:
        return math.nan
    return float((values * weights).sum() / weights.sum())


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
    """Add an 'All' benchmark per model that has all three. ACC and TOK weigh each benchmark by its number
    of questions, so 'All' is lm-eval's group value whatever the samples per question (n only makes a
    question's estimate finer, it does not make the question count more); EFF is their ratio, which a
    mean of the per-benchmark EFFs would not be. A metric that one benchmark lacks (NaN) stays empty.
    Models in `missing_benchmarks` get none."""
    parts = []
    incomplete = missing_benchmarks(frame)
    for model, group in frame.groupby("model", sort=False):
        if model in incomplete:
            continue
        weights = _questions(group)
        acc, tok = _pooled(group["acc"], weights), _pooled(group["tok"], weights)
        n_values = group["n"].dropna().unique()
        row = {
            "model": model,
            "benchmark": "All",
            "acc": acc,
            "tok": tok,
            "eff": acc / tok if tok else math.nan,
            "questions": int(group["questions"].sum()),
            "n": n_values[0] if len(n_values) == 1 else None,
        }
        row.update(_overall_patterns(group, weights))
        parts.append(row)
    return pd.concat([frame, pd.DataFrame(parts)], ignore_index=True) if parts else frame


def _overall_patterns(group: pd.DataFrame, weights: pd.Series) -> dict[str, float]:
    """Pattern metrics over a model's benchmarks, each weighted by its questions. Thinking and answer
    tokens are means over the responses with `</think>` only, so each benchmark weighs by its questions
    x think_rate, the pooled mean that lm-eval's size-weighted group mean is not."""
    found = {}
    for metric in PATTERN_METRICS:
        if metric not in group or not group[metric].notna().all():
            continue
        if metric in THINK_TOKENS:
            if "think_rate" in group and group["think_rate"].notna().all():
                thinking = weights * group["think_rate"]
                if thinking.sum() > 0:
                    found[metric] = float((group[metric] * thinking).sum() / thinking.sum())
        else:
            found[metric] = float((group[metric] * weights).sum() / weights.sum())
    return found


def _same_questions(mine: int, theirs: int) -> bool:
    """Whether two cells cover the same questions, as far as the counts tell (0 = not recorded): a run
    with --limit 4 and a full run measure different subsets, and their delta would mean nothing."""
    return not (mine and theirs) or mine == theirs


def notes(frame: pd.DataFrame, baseline: str | None = None) -> list[str]:
    """Why cells or deltas of the tables are empty, for the reader of the tables."""
    lines = [
        f"{model}: no 'All' without {' and '.join(lacking)} results ('All' needs every benchmark)"
        for model, lacking in missing_benchmarks(frame).items()
    ]
    complete = set(frame.loc[frame["benchmark"] == "All", "model"])
    for model, group in frame[frame["benchmark"] != "All"].groupby("model", sort=False):
        for metric, empty in (("acc", "ACC and EFF"), ("tok", "TOK and EFF")):
            lacking = list(group.loc[group[metric].isna(), "benchmark"])
            if lacking:
                where = " and ".join(lacking)
                tail = f"; its 'All' {empty} are left empty" if model in complete else ""
                lines.append(f"{model}: {where} {metric.upper()} is not a number (NaN in the results file){tail}")
    if baseline is None:
        return lines
    base = frame[frame["model"] == baseline].set_index("benchmark")["questions"]
    for _, row in frame[frame["model"] != baseline].iterrows():
        theirs = int(base.get(row["benchmark"], 0))
        if not _same_questions(int(row["questions"]), theirs):
            lines.append(
                f"{row['model']} {row['benchmark']}: no deltas, {row['questions']} questions "
                f"against {theirs} of {baseline}"
            )
    return lines


@dataclass(frozen=True)
class Column:
    """A table column as each format heads it."""

    header: str
    """Its header in the plain table, under its group's name."""
    markdown: str
    """Its header in the markdown table, which has one header row: the group's name folded in."""
    right: bool = True


@dataclass(frozen=True)
class Table:
    """A table's formatted cells, for `render_plain` and `render_markdown`."""

    title: tuple[str, ...]
    groups: tuple[tuple[str, int], ...]
    """Names over runs of columns in the plain table, (name, number of columns), covering every column."""
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]


def _finite(value: Any) -> bool:
    return isinstance(value, numbers.Real) and math.isfinite(value)


def _cell(value: Any, kind: str) -> str:
    if not _finite(value):
        return ""
    if kind == "acc":
        return f"{100 * value:.1f}"
    if kind in ("tok", *THINK_TOKENS):
        return f"{value:,.0f}"
    if kind == "eff":
        return f"{value:.2E}"
    return f"{value:.2f}" if kind == "steps" else f"{100 * value:.1f}"


def _delta(value: Any, base: Any, kind: str) -> str:
    """The paper's delta: points for ACC, percent for TOK and EFF (none against a zero)."""
    if not (_finite(value) and _finite(base)):
        return ""
    if kind == "acc":
        return f"{100 * (value - base):+.1f}"
    return f"{100 * (value / base - 1):+.0f}%" if base else ""


def _benchmarks(frame: pd.DataFrame) -> list[str]:
    return [b for b in [*BENCHMARKS.values(), "All"] if b in set(frame["benchmark"])]


def _lookup(frame: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    return {(str(row["model"]), str(row["benchmark"])): row for _, row in frame.iterrows()}


def check_baseline(frame: pd.DataFrame, baseline: str | None) -> None:
    if baseline is not None and baseline not in set(frame["model"]):
        raise ReportError(f"--baseline {baseline!r} is not one of the models: {sorted(set(frame['model']))}")


def paper_table(frame: pd.DataFrame, baseline: str | None = None) -> Table:
    """The paper's table: a row per model, ACC / TOK / EFF per benchmark; with a baseline, a row of deltas
    under each other model (left empty where the two cover different numbers of questions)."""
    check_baseline(frame, baseline)
    benchmarks = _benchmarks(frame)
    cells = _lookup(frame)
    columns = [Column("model", "model", right=False)]
    for bench in benchmarks:
        short = bench.split()[0]
        columns += [Column(kind.upper(), f"{short} {kind.upper()}") for kind in PAPER_METRICS]
    rows = []
    for model in dict.fromkeys(frame["model"]):
        mine = [cells.get((model, bench)) for bench in benchmarks]
        rows.append(
            (model, *(_cell(row[kind] if row is not None else None, kind) for row in mine for kind in PAPER_METRICS))
        )
        if baseline is None or model == baseline:
            continue
        deltas = []
        for bench, row in zip(benchmarks, mine):
            base = cells.get((baseline, bench))
            if row is None or base is None or not _same_questions(int(row["questions"]), int(base["questions"])):
                deltas += [""] * len(PAPER_METRICS)
            else:
                deltas += [_delta(row[kind], base[kind], kind) for kind in PAPER_METRICS]
        rows.append(("  Δ", *deltas))
    title = ["ACC: % correct; TOK: mean response tokens; EFF = ACC / TOK"]
    if "All" in benchmarks:
        title[0] += "; All: the benchmarks weighted by their questions"
    if baseline is not None:
        title.append(f"Δ: against {baseline}, ACC in points, TOK and EFF in percent")
    groups = (("", 1), *((bench, len(PAPER_METRICS)) for bench in benchmarks))
    return Table(tuple(title), groups, tuple(columns), tuple(rows))


PATTERN_COLUMNS = tuple(
    zip(
        PATTERN_METRICS,  # steps, the four mode shares in MODE_NAMES order, think_rate, think_tok, answer_tok
        (
            Column("steps", "steps"),
            Column("progr.", "% progressive"),
            Column("verif.", "% verification"),
            Column("multi", "% multi-method"),
            Column("error", "% error corr."),
            Column("%", f"% {THINK_CLOSE}"),
            Column("think", "think tok"),
            Column("answer", "answer tok"),
        ),
        strict=True,
    )
)


def pattern_table(frame: pd.DataFrame) -> Table | None:
    """The reasoning patterns, a row per model and benchmark; None when no result has them."""
    metrics = [metric for metric, _ in PATTERN_COLUMNS]
    cells = _lookup(frame)
    rows = []
    for model in dict.fromkeys(frame["model"]):
        for bench in _benchmarks(frame):
            row = cells.get((model, bench))
            if row is None or not any(_finite(row[m]) for m in metrics):
                continue
            thinking = _finite(row["think_rate"]) and row["think_rate"] > 0
            rows.append(
                (model, bench, *(_cell(row[m], m) if thinking or m not in THINK_TOKENS else "" for m in metrics))
            )
    if not rows:
        return None
    title = (
        "Reasoning patterns: steps per response; share of the responses' tokens per mode (%): progressive,",
        "verification, multi-method, error correction; responses with </think> (%) and their mean tokens",
        "before / after it (thinking / answer)",
    )
    columns = (
        Column("model", "model", right=False),
        Column("benchmark", "benchmark", right=False),
        *(column for _, column in PATTERN_COLUMNS),
    )
    groups = (("", 3), ("token share per mode (%)", 4), ("with </think>", 3))
    return Table(title, groups, columns, tuple(rows))


GAP = 2
"""Spaces between the columns of a plain table."""


def render_plain(table: Table) -> str:
    """Aligned columns under a row of group names (a benchmark over its ACC, TOK and EFF), numbers
    right-aligned. Written here because tabulate has no header cell spanning several columns."""
    widths = [max(len(column.header), *(len(row[i]) for row in table.rows)) for i, column in enumerate(table.columns)]
    spans, start = [], 0
    for name, count in table.groups:
        room = sum(widths[start : start + count]) + GAP * (count - 1)
        widths[start + count - 1] += max(0, len(name) - room)  # a long group name widens its last column
        spans.append((name, sum(widths[start : start + count]) + GAP * (count - 1)))
        start += count

    gap = " " * GAP

    def line(cells: Sequence[str]) -> str:
        aligned = (c.rjust(w) if col.right else c.ljust(w) for c, w, col in zip(cells, widths, table.columns))
        return gap.join(aligned).rstrip()

    lines = [*table.title, ""]
    if any(name for name, _ in table.groups):
        lines.append(gap.join(name.ljust(room) for name, room in spans).rstrip())
    lines += [line([c.header for c in table.columns]), line(["-" * w for w in widths])]
    lines += [line(row) for row in table.rows]
    return "\n".join(lines)


def _markdown_text(text: str) -> str:
    return text.strip().replace("|", "\\|").replace(THINK_CLOSE, f"`{THINK_CLOSE}`")


def render_markdown(table: Table) -> str:
    """A GitHub-flavoured markdown table without padding (it is read rendered), so that its source lines
    fit too."""

    def line(cells: Sequence[str]) -> str:
        return "|" + "|".join(_markdown_text(cell) for cell in cells) + "|"

    lines = [*map(_markdown_text, table.title), ""]
    lines += [
        line([c.markdown for c in table.columns]),
        "|" + "|".join("---:" if c.right else ":---" for c in table.columns) + "|",
    ]
    lines += [line(row) for row in table.rows]
    return "\n".join(lines)


def long_form(frame: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """Every number of the tables, unformatted, as (model, benchmark, metric, value) rows. Against a
    baseline: acc_delta (a difference of fractions), tok_ratio and eff_ratio (this model's / the
    baseline's), where the two cover the same questions."""
    check_baseline(frame, baseline)
    cells = _lookup(frame)
    records: list[tuple[str, str, str, float | int]] = []
    for (model, bench), row in cells.items():
        for metric in ("acc", "tok", "eff", "questions", "n", *PATTERN_METRICS):
            value = row.get(metric)
            if _finite(value):
                records.append((model, bench, metric, int(value) if metric in ("questions", "n") else float(value)))
        base = cells.get((baseline, bench)) if baseline is not None and model != baseline else None
        if base is None or not _same_questions(int(row["questions"]), int(base["questions"])):
            continue
        for metric, value in (
            ("acc_delta", row["acc"] - base["acc"]),
            ("tok_ratio", row["tok"] / base["tok"] if base["tok"] else math.nan),
            ("eff_ratio", row["eff"] / base["eff"] if base["eff"] else math.nan),
        ):
            if _finite(value):
                records.append((model, bench, metric, float(value)))
    return pd.DataFrame(records, columns=["model", "benchmark", "metric", "value"], dtype=object)


IMAGE_SUFFIXES = ("png", "svg", "pdf", "jpg", "jpeg", "webp", "tif", "tiff", "eps", "ps")
"""Picture types matplotlib writes with what it installs (not pgf, which needs LaTeX)."""


def check_output(option: str, path: Path) -> None:
    """Refuse, before anything is printed, an output that cannot be written: a folder, a device or a pipe
    (a file is replaced whole, which would replace /dev/stdout itself), a file under a file, a folder we
    may not write in, or a picture format matplotlib does not know. A link is checked at its target."""
    try:
        if path.is_dir():
            raise ReportError(f"{option} {path}: that is a folder; give a file name")
        if path.exists() and not path.is_file():
            print_it = "; --format csv prints the CSV" if option == "--csv" else ""
            raise ReportError(f"{option} {path}: not a regular file (a device or a pipe){print_it}")
        folder = path.resolve().parent
        while not folder.exists():
            folder = folder.parent
        if not folder.is_dir():
            raise ReportError(f"{option} {path}: {folder} is a file, not a folder")
        if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise ReportError(f"{option} {path}: not writable (no permission, or a read-only file system)")
    except OSError as error:
        raise ReportError(f"{option} {path}: cannot be checked ({error.strerror or error})") from error
    if option != "--csv" and path.suffix[1:].lower() not in IMAGE_SUFFIXES:
        raise ReportError(
            f"{option} {path}: matplotlib cannot write {path.suffix or 'suffix-less'} files; name it .png, .svg or .pdf"
        )


def _save(fig: Any, path: Path) -> None:
    """The figure, written atomically in the format its name says."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix[1:].lower(), dpi=130)
    atomic_write_bytes(path, buffer.getvalue())


def plot(frame: pd.DataFrame, path: Path) -> None:
    """Accuracy versus tokens, one panel per benchmark, one labelled point per model."""
    plt = pyplot()

    benchmarks = _benchmarks(frame)
    fig, axes = plt.subplots(1, len(benchmarks), figsize=(4.2 * len(benchmarks), 3.6), squeeze=False)
    for ax, bench in zip(axes[0], benchmarks):
        part = frame[(frame["benchmark"] == bench) & frame["acc"].notna() & frame["tok"].notna()]
        ax.scatter(part["tok"], 100 * part["acc"], color="tab:blue")
        for _, row in part.iterrows():
            ax.annotate(
                row["model"], (row["tok"], 100 * row["acc"]), fontsize=8, xytext=(4, 4), textcoords="offset points"
            )
        if len(part):
            low, high = 100 * part["acc"].min(), 100 * part["acc"].max()
            pad = max(2.0, 0.15 * (high - low))  # equal accuracies would otherwise give a sliver of an axis
            ax.set_ylim(max(0.0, low - pad), min(100.0, high + pad))
        ax.margins(x=0.25)  # room for the labels of the outermost points
        ax.set_title(bench)
        ax.set_xlabel("TOK (mean response tokens)")
        ax.set_ylabel("ACC (%)")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        _save(fig, path)
    finally:
        plt.close(fig)


def mode_shares(frame: pd.DataFrame) -> pd.DataFrame:
    """Each model's token share per mode over all the benchmarks it has (its 'All' when it has every
    one); a model lacking some is named with the benchmarks its bar covers."""
    columns = [m for m in MODE_SHARES if m in frame]
    rows = {}
    for model, group in frame[frame["benchmark"] != "All"].groupby("model", sort=False):
        group = group.dropna(subset=columns)
        if group.empty:
            continue
        shares = {c: v for c, v in _overall_patterns(group, _questions(group)).items() if c in columns}
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
    plt = pyplot()

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
    try:
        _save(fig, path)
    finally:
        plt.close(fig)
    return True


@dataclass(frozen=True)
class ReportSettings:
    """What the report is asked for: the command's options, typed."""

    paths: tuple[Path, ...]
    labels: tuple[str, ...] = ()
    baseline: str | None = None
    patterns: bool = False
    format: Format = "plain"
    csv: Path | None = None
    plot: Path | None = None
    modes_plot: Path | None = None


def render(table: Table, form: Format) -> str:
    return render_markdown(table) if form == "markdown" else render_plain(table)


def report(settings: ReportSettings) -> int:
    """Print the tables and write the files the settings ask for; 2 for bad input, 1 if a write fails."""
    outputs = [("--csv", settings.csv), ("--plot", settings.plot), ("--modes-plot", settings.modes_plot)]
    try:
        for option, path in outputs:
            if path is not None:
                check_output(option, path)
        frame = with_overall(load_results(settings.paths, settings.labels))
        tables = [paper_table(frame, settings.baseline)]
        long = long_form(frame, settings.baseline)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    patterns = pattern_table(frame) if settings.patterns else None
    if settings.format == "csv":
        print(long.to_csv(index=False), end="")
    else:
        if patterns is not None:
            tables.append(patterns)
        print("\n\n".join(render(table, settings.format) for table in tables))
    if settings.patterns and patterns is None:
        print("no reasoning-pattern metrics in these results: no pattern table", file=sys.stderr)
    for note in notes(frame, settings.baseline):
        print(f"note: {note}", file=sys.stderr)
    for option, given in outputs:
        if given is None:
            continue
        path = given.resolve()  # through a link to its target: the link stays
        try:
            if option == "--csv":
                atomic_write_text(path, long.to_csv(index=False))
            elif option == "--plot":
                plot(frame, path)
            elif not plot_modes(frame, path):
                print("no reasoning-pattern metrics in these results: no mode plot", file=sys.stderr)
                continue
        except OSError as error:  # a full disk, say: the file is kept as it was
            print(f"error: {option} {given}: cannot be written ({error.strerror or error})", file=sys.stderr)
            return 1
        print(f"{option[2:]} -> {given}", file=sys.stderr)
    return 0
