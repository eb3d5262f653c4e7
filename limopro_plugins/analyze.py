"""Reasoning-pattern statistics: steps and token share per mode, and PIR distributions per mode.

`python -m limopro_plugins.analyze DATA` accepts
- a prune output folder or its `structure.jsonl` (modes, token counts and PIR scores already there;
  after `--classifier hybrid` or `llm` also the agreement of rule and LLM labels, per mode and as a confusion table),
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
from collections.abc import Sequence
from pathlib import Path

from limopro_plugins.eval.analyze import agreement, is_lm_eval_samples, plot_pir, stats_from_dataset, stats_from_samples
from limopro_plugins.pir.stats import stats_from_structure


def _structure_path(data: Path) -> Path | None:
    """The structure.jsonl a prune output (folder or file) names, or None for other inputs. A missing
    one is an error: an empty table would read as a run with no chains."""
    from limopro_plugins.pir.records import InputError

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

    from limopro_plugins.pir.io import read_jsonl_tolerant
    from limopro_plugins.pir.models import ModelUnavailableError, load_tokenizer, resolve
    from limopro_plugins.pir.records import InputError

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
