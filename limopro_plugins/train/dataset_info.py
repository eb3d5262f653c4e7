"""The LLaMA-Factory bridge: register converted datasets in `DATASET_DIR/dataset_info.json`.

LLaMA-Factory 0.9.5 has no plugin hook: a dataset exists for it only as an entry of
`<dataset_dir>/dataset_info.json` (default dataset_dir `data`, relative to where `llamafactory-cli` runs).
That file belongs to the user, so an update merges one entry, never drops or reorders another, refuses
to change a different existing entry unless forced, leaves an unreadable file untouched, and is written
atomically (temporary file + rename).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from limopro_plugins.pir.io import atomic_write_text
from limopro_plugins.pir.records import Fields, Reject, read_chains

INFO_FILE = "dataset_info.json"


class RegistrationError(ValueError):
    """dataset_info.json cannot be updated as asked; the message says why, the file is untouched."""


def dataset_entry(file_name: str, formatting: str = "sharegpt") -> dict[str, Any]:
    """The dataset_info entry for a file written by `convert` (columns and tags as LLaMA-Factory reads them)."""
    if formatting == "alpaca":
        return {
            "file_name": file_name,
            "columns": {"prompt": "instruction", "query": "input", "response": "output", "system": "system"},
        }
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system"},
        "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
    }


def read_info(dataset_dir: Path) -> dict[str, Any]:
    """The current entries (empty if there is no file); invalid JSON is an error naming line and column."""
    path = dataset_dir / INFO_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise RegistrationError(
            f"{path} is not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg}); fix it first, it was left untouched"
        ) from error
    if not isinstance(data, dict):
        raise RegistrationError(f"{path} must hold a JSON object of dataset entries")
    return data


def _file_name(dataset_dir: Path, data_file: Path) -> str:
    """Relative to dataset_dir when the file is inside it (portable), else absolute (LLaMA-Factory
    accepts both)."""
    data_file = data_file.resolve()
    try:
        return data_file.relative_to(dataset_dir.resolve()).as_posix()
    except ValueError:
        return str(data_file)


def register_dataset(
    dataset_dir: Path, name: str, data_file: Path, *, formatting: str = "sharegpt", force: bool = False
) -> dict[str, Any]:
    """Add (or confirm) the entry `name` for `data_file`; returns the entry."""
    if not data_file.is_file():
        raise RegistrationError(f"data file {data_file} does not exist")
    dataset_dir.mkdir(parents=True, exist_ok=True)
    info = read_info(dataset_dir)
    entry = dataset_entry(_file_name(dataset_dir, data_file), formatting)
    if name in info:
        if info[name] == entry:
            return entry
        if not force:
            raise RegistrationError(
                f"{dataset_dir / INFO_FILE} already has a different entry {name!r}: "
                f"{json.dumps(info[name])}; pass --force to replace it"
            )
    info[name] = entry
    atomic_write_text(dataset_dir / INFO_FILE, json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    return entry


def register_pruned(
    dataset_dir: Path,
    out: Path,
    name: str,
    ratios: Sequence[str],
    *,
    schema: str | None = None,
    fields: Fields = Fields(),
    force: bool = False,
) -> list[str]:
    """Convert every `out/pruning/<name>_<ratio>.jsonl` to sharegpt in dataset_dir and register it as
    `<name>_<ratio>` (e.g. `limo_pir_0.3`); returns the registered names.

    The pruned records keep the input's schema and field names, so `schema` and `fields` are the prune
    run's. Every entry and every record is checked before any file is written: a refusal leaves
    dataset_dir as it was, never an empty or partial dataset file."""
    from limopro_plugins.train.convert import convert_file

    datasets = [f"{name}_{ratio}" for ratio in ratios]
    info = read_info(dataset_dir)
    for dataset in datasets:
        entry = dataset_entry(_file_name(dataset_dir, dataset_dir / f"{dataset}.jsonl"))
        if dataset in info and not force and info[dataset] != entry:
            raise RegistrationError(
                f"{dataset_dir / INFO_FILE} already has a different entry {dataset!r}: "
                f"{json.dumps(info[dataset])}; pass --force to replace it"
            )
        _check_convertible(out / "pruning" / f"{dataset}.jsonl", schema, fields)
    for dataset in datasets:
        target = dataset_dir / f"{dataset}.jsonl"
        convert_file(str(out / "pruning" / f"{dataset}.jsonl"), target, schema=schema, fields=fields, quiet=True)
        register_dataset(dataset_dir, dataset, target, force=force)
    return datasets


def _check_convertible(source: Path, schema: str | None, fields: Fields) -> None:
    """Raise RegistrationError naming the first record of `source` that cannot become a training record,
    with its line and reason."""
    bad = [item for item in read_chains(str(source), schema=schema, fields=fields) if isinstance(item, Reject)]
    if bad:
        raise RegistrationError(
            f"{len(bad)} pruned record(s) of {source} cannot be converted for training, "
            f"the first at {bad[0].location}: {bad[0].reason}; nothing was registered"
        )
