"""Convert reasoning data to LLaMA-Factory training records: `python -m limopro_plugins.convert`.

Every schema the prune command reads (and its `pruning/*.jsonl` outputs) becomes sharegpt records
`{"conversations": [{"from": "human", ...}, {"from": "gpt", ...}], "system": ...}` (or alpaca records with
`--format alpaca`): the system message (default: the paper's prompt), the question as the user turn, and
the reasoning plus the final solution as the assistant turn.

The assistant turn keeps the source's own text by default (`--no-think`): LIMO's responses have no
`<think>` tags and the paper's LIMO recipe trains Qwen2.5-32B-Instruct on them as they are. `--think`
wraps the reasoning as `<think>\\n...\\n</think>\\n\\n` before the final solution, for models and
templates that expect thinking tags.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from limopro_plugins import PAPER_SYSTEM_PROMPT
from limopro_plugins.io import atomic_write_jsonl
from limopro_plugins.records import SCHEMAS, Chain, Fields, InputError, Reject, read_chains

FORMATS = ("sharegpt", "alpaca")


@dataclass
class ConvertCounts:
    read: int = 0
    written: int = 0
    rejected: int = 0

    def line(self) -> str:
        return f"read: {self.read}, written: {self.written}, rejected: {self.rejected}"


def response_text(chain: Chain, think: bool) -> str:
    """The assistant turn: the source response as it was, or reasoning in <think> tags + solution."""
    solution = chain.solution or (f"\\boxed{{{chain.answer.strip()}}}" if chain.answer else "")
    if think:
        return f"<think>\n{chain.reasoning.strip()}\n</think>\n\n{solution}".rstrip()
    if chain.split.separate is not None:  # S1K: reasoning and attempt live in two fields
        return f"{chain.reasoning.rstrip()}\n\n{solution}".rstrip()
    return chain.split.join(chain.reasoning)


def to_record(chain: Chain, fmt: str, think: bool, system: str) -> dict[str, Any]:
    """One LLaMA-Factory record of the given format."""
    response = response_text(chain, think)
    if fmt == "alpaca":
        return {"instruction": chain.question, "input": "", "output": response, "system": system}
    return {"conversations": [{"from": "human", "value": chain.question}, {"from": "gpt", "value": response}],
            "system": system}


def convert_file(source: str, output: Path, *, fmt: str = "sharegpt", think: bool = False,
                 system: str = PAPER_SYSTEM_PROMPT, schema: str | None = None, fields: Fields = Fields(),
                 rejects: Path | None = None, quiet: bool = False) -> ConvertCounts:
    """Convert a dataset file; bad records go to `rejects` (default `<output>.rejects.jsonl`)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    counts, records, bad = ConvertCounts(), [], []
    for item in read_chains(source, schema=schema, fields=fields):
        counts.read += 1
        if isinstance(item, Reject):
            bad.append(item.to_json())
            if not quiet:
                print(f"rejected {item.location}: {item.reason}", file=sys.stderr)
            continue
        records.append(to_record(item, fmt, think, system))
    counts.written, counts.rejected = len(records), len(bad)
    atomic_write_jsonl(output, records)
    if bad or rejects:  # a named rejects file always holds this run's rejects, even none
        atomic_write_jsonl(rejects or _default_rejects(output), bad)
    else:  # no stale default rejects file from an earlier run next to the new output
        _default_rejects(output).unlink(missing_ok=True)
    return counts


def _default_rejects(output: Path) -> Path:
    return output.with_name(output.name + ".rejects.jsonl")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m limopro_plugins.convert", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="JSON / JSONL / Parquet file or hub dataset NAME[:SPLIT]")
    parser.add_argument("--output", required=True, type=Path, help="JSONL file to write")
    parser.add_argument("--format", choices=FORMATS, default="sharegpt")
    parser.add_argument("--think", action=argparse.BooleanOptionalAction, default=False,
                        help="wrap the reasoning in <think> tags (default: keep the source text)")
    parser.add_argument("--system", default=PAPER_SYSTEM_PROMPT, help="system message ('' for none)")
    parser.add_argument("--schema", choices=SCHEMAS)
    for field in ("question", "reasoning", "solution", "answer"):
        parser.add_argument(f"--{field}-field")
    parser.add_argument("--rejects", type=Path, help="where bad records go (default: OUTPUT.rejects.jsonl)")
    parser.add_argument("--register", metavar="DIR", help="also register the output in DIR/dataset_info.json")
    parser.add_argument("--name", help="dataset name for --register (default: output file stem)")
    parser.add_argument("--force", action="store_true", help="replace an existing, different entry")
    args = parser.parse_args(argv)

    from limopro_plugins.llamafactory import RegistrationError, register_dataset

    fields = Fields(args.question_field, args.reasoning_field, args.solution_field, args.answer_field)
    try:
        counts = convert_file(args.input, args.output, fmt=args.format, think=args.think, system=args.system,
                              schema=args.schema, fields=fields, rejects=args.rejects)
        print(f"{counts.line()} -> {args.output}")
        if args.register:
            name = args.name or args.output.name.split(".")[0]
            register_dataset(Path(args.register), name, args.output, formatting=args.format, force=args.force)
            print(f"registered {name!r} in {Path(args.register) / 'dataset_info.json'}")
    except (InputError, RegistrationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
