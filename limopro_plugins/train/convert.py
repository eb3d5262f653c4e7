"""Convert reasoning data to LLaMA-Factory training records (`python -m limopro_plugins.convert`).

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

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from limopro_plugins import PAPER_SYSTEM_PROMPT
from limopro_plugins.pir.io import atomic_write_jsonl
from limopro_plugins.pir.records import Chain, Fields, InputError, Reject, SchemaName, read_chains
from limopro_plugins.text import THINK_CLOSE, THINK_OPEN

Format = Literal["sharegpt", "alpaca"]
FORMATS: tuple[Format, ...] = get_args(Format)


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
        return f"{THINK_OPEN}\n{chain.reasoning.strip()}\n{THINK_CLOSE}\n\n{solution}".rstrip()
    if chain.split.separate is not None:  # S1K: reasoning and attempt live in two fields
        return f"{chain.reasoning.rstrip()}\n\n{solution}".rstrip()
    return chain.split.join(chain.reasoning)


def to_record(chain: Chain, fmt: Format, think: bool, system: str) -> dict[str, Any]:
    """One LLaMA-Factory record of the given format."""
    response = response_text(chain, think)
    if fmt == "alpaca":
        return {"instruction": chain.question, "input": "", "output": response, "system": system}
    return {
        "conversations": [{"from": "human", "value": chain.question}, {"from": "gpt", "value": response}],
        "system": system,
    }


def convert_file(
    source: str,
    output: Path,
    *,
    fmt: Format = "sharegpt",
    think: bool = False,
    system: str = PAPER_SYSTEM_PROMPT,
    schema: SchemaName | None = None,
    fields: Fields = Fields(),
    rejects: Path | None = None,
    quiet: bool = False,
) -> ConvertCounts:
    """Convert a dataset file; bad records go to `rejects` (default `<output>.rejects.jsonl`)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    _refuse_overwriting(source, output, "--output")
    _refuse_overwriting(source, rejects or _default_rejects(output), "the rejects file")
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


def _refuse_overwriting(source: str, target: Path, what: str) -> None:
    """The output is written only after the whole input is read, so writing over the input would replace
    the user's data with its conversion (or with its rejects)."""
    if target.exists() and Path(source).exists() and os.path.samefile(source, target):
        raise InputError(f"{what} {target} is the input file: it would be overwritten; write to another file")


def _default_rejects(output: Path) -> Path:
    return output.with_name(output.name + ".rejects.jsonl")
