"""The paper's results tables from lm-eval output folders, as plain text, markdown or long-form CSV.

    python -m limopro_plugins.report out/limo out/limo-p --baseline limo --patterns --format markdown

Every `results_*.json` under the given paths is read (lm-eval's `--output_path` layout, one folder per
model); a file that cannot be read or has the wrong shape is skipped with a warning naming it. A model is
named by `--label`s in path order, else by lm-eval's `model_name` (the `pretrained` argument), shortened to
the fewest last path components that no other model's name ends with. When a model has several result
files, the newest value of each task wins (a warning says so when the replaced value came from another
path or another `pretrained`).

The first table is the paper's: one row per model, ACC (%), TOK (mean response tokens) and EFF = ACC / TOK
per benchmark and over all of them ("All", each benchmark weighted by its number of questions, as
lm-eval's group is); with `--baseline`, a row under each other model holds the paper's deltas (points for
ACC, percent for TOK and EFF). The second (`--patterns`) has one row per model and benchmark: steps per
response, the responses' token share per reasoning mode, the share of responses with `</think>` and their
thinking / answer tokens. Both fit 120 characters for three benchmarks; `--csv` keeps every number in
long form (model, benchmark, metric, value).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from limopro_plugins.eval.report import FORMATS, ReportSettings, report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m limopro_plugins.report", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="lm-eval --output_path folders or result files")
    parser.add_argument("--label", action="append", default=[], help="model name for each path, in order")
    parser.add_argument("--baseline", help="model to show deltas against")
    parser.add_argument("--patterns", action="store_true", help="add the reasoning-pattern table")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="plain",
        help="plain (aligned, the default), markdown (for a README or a PR) or csv (long form)",
    )
    parser.add_argument("--csv", type=Path, help="write every number in long form (model, benchmark, metric, value)")
    parser.add_argument("--plot", type=Path, help="write an accuracy-versus-tokens picture (.png, .svg, .pdf)")
    parser.add_argument("--modes-plot", type=Path, help="write a stacked-bar picture of mode shares per model")
    args = parser.parse_args(argv)
    settings = ReportSettings(
        paths=tuple(args.paths),
        labels=tuple(args.label),
        baseline=args.baseline,
        patterns=args.patterns,
        format=args.format,
        csv=args.csv,
        plot=args.plot,
        modes_plot=args.modes_plot,
    )
    return report(settings)


if __name__ == "__main__":
    sys.exit(main())
