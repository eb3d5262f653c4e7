"""The paper's results table from lm-eval output folders: ACC / TOK / EFF per benchmark, with deltas.

    python -m limopro_plugins.report out/limo out/limo-p --baseline limo --csv table.csv --plot acc_tok.png

Every `results_*.json` under the given paths is read (lm-eval's `--output_path` layout, one folder per
model). A model is named by `--label`s in path order, else by lm-eval's `model_name` (the `pretrained`
argument), shortened to the fewest last path components that no other model's name ends with. When a
model has several result files, the newest value of each task wins (a warning says so when the replaced
value came from another path or another `pretrained`). ACC is shown in percent, TOK as mean response
tokens, EFF = ACC / TOK (ratio of means, also for the "All" column, which only models with every
benchmark get); deltas against the baseline follow the paper: points for ACC, percent for TOK and EFF,
and are left out where the two cells cover different numbers of questions.
Reasoning-pattern columns (steps per response, mode shares of the responses' tokens, the share of
responses with `</think>` and their thinking / answer tokens) are added with `--patterns`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from limopro_plugins.eval.report import ReportError, load_results, notes, plot, plot_modes, table, with_overall


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m limopro_plugins.report", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="lm-eval --output_path folders or result files")
    parser.add_argument("--label", action="append", help="model name for each path, in order")
    parser.add_argument("--baseline", help="model to show deltas against")
    parser.add_argument("--csv", type=Path, help="write the numbers (not the formatted cells) as CSV")
    parser.add_argument("--plot", type=Path, help="write an accuracy-versus-tokens PNG")
    parser.add_argument("--patterns", action="store_true", help="add reasoning-pattern columns")
    parser.add_argument("--modes-plot", type=Path, help="write a stacked-bar PNG of mode shares per model")
    args = parser.parse_args(argv)
    try:
        frame = with_overall(load_results(args.paths, args.label))
        shown = table(frame, args.baseline, args.patterns)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from tabulate import tabulate

    headers = ["model"] + [f"{bench} {metric}" for bench, metric in shown.columns]
    print(tabulate(shown.reset_index().values.tolist(), headers=headers, tablefmt="github", disable_numparse=True))
    for note in notes(frame, args.baseline):
        print(f"note: {note}", file=sys.stderr)
    if args.csv:
        frame.to_csv(args.csv, index=False)
        print(f"CSV -> {args.csv}")
    if args.plot:
        plot(frame, args.plot)
        print(f"plot -> {args.plot}")
    if args.modes_plot:
        if plot_modes(frame, args.modes_plot):
            print(f"mode shares -> {args.modes_plot}")
        else:
            print("no reasoning-pattern metrics in these results: no mode plot", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
