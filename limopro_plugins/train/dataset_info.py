"""The LLaMA-Factory bridge: register converted datasets in `DATASET_DIR/dataset_info.json`.

LLaMA-Factory 0.9.5 has no plugin hook: a dataset exists for it only as an entry of
`<dataset_dir>/dataset_info.json` (default dataset_dir `data`, relative to where `llamafactory-cli` runs).
That file belongs to the user, so an update merges one entry, never drops or reorders another, refuses
to change a different existing entry unless forced, leaves an unreadable or read-only file untouched, and is
written atomically (temporary file + rename). Several processes may register into one file at once (one
`prune --register` per ratio or shard): each read-modify-write holds an advisory lock on
`dataset_info.json.lock` beside the file, so no writer drops another's entry. A symlinked file is written
through its link (its target is replaced, and locked, so every link to it shares one lock).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from limopro_plugins.pir.io import atomic_write_text
from limopro_plugins.pir.records import Fields, Reject, SchemaName, read_chains
from limopro_plugins.train.convert import Format, convert_file

INFO_FILE = "dataset_info.json"
LOCK_SUFFIX = ".lock"


class RegistrationError(ValueError):
    """dataset_info.json cannot be updated as asked; the message says why, the file is untouched."""


def dataset_entry(file_name: str, formatting: Format = "sharegpt") -> dict[str, Any]:
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
    return _read(dataset_dir / INFO_FILE)


def _read(path: Path) -> dict[str, Any]:
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


class Registry:
    """The entries of one dataset_info.json, read under its lock (see `locked_registry`). `check` refuses
    an entry before anything is written; `add` records it; the file is written once, when the lock is
    released after no error."""

    def __init__(self, dataset_dir: Path, info: dict[str, Any]) -> None:
        self.dataset_dir, self.info = dataset_dir, info
        self.changed = False

    def check(self, name: str, data_file: Path, formatting: Format = "sharegpt", force: bool = False) -> dict[str, Any]:
        """The entry `name` would get; RegistrationError if a different one exists and not `force`."""
        entry = dataset_entry(_file_name(self.dataset_dir, data_file), formatting)
        if name in self.info and self.info[name] != entry and not force:
            raise RegistrationError(
                f"{self.dataset_dir / INFO_FILE} already has a different entry {name!r}: "
                f"{json.dumps(self.info[name])}; pass --force to replace it"
            )
        return entry

    def add(self, name: str, data_file: Path, formatting: Format = "sharegpt", force: bool = False) -> dict[str, Any]:
        """Add (or confirm) the entry `name` for `data_file`; returns the entry."""
        if not data_file.is_file():
            raise RegistrationError(f"data file {data_file} does not exist")
        entry = self.check(name, data_file, formatting, force)
        if self.info.get(name) != entry:
            self.info[name] = entry
            self.changed = True
        return entry


def _refuse_read_only(path: Path, target: Path) -> None:
    """A read-only dataset_info.json is the user's way of saying "do not change it". The atomic replace
    needs only the folder to be writable (and root may write anything), so its mode is checked here."""
    if target.exists() and (not target.stat().st_mode & 0o222 or not os.access(target, os.W_OK)):
        raise RegistrationError(f"{path} is read-only: make it writable to register into it; it was left untouched")


@contextmanager
def locked_registry(dataset_dir: Path) -> Iterator[Registry]:
    """Hold the lock of `dataset_dir/dataset_info.json` while the caller checks and adds entries, then
    write the file (through a symlink, to its target) if anything was added. A concurrent registration
    waits for the lock, so every writer's entries survive."""
    path = dataset_dir / INFO_FILE
    try:
        dataset_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RegistrationError(f"cannot create the dataset folder {dataset_dir}: {error.strerror}") from error
    target = path.resolve()
    _refuse_read_only(path, target)
    lock = FileLock(str(target.with_name(target.name + LOCK_SUFFIX)))
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(f"waiting for {lock.lock_file}: another process is registering into {path}", file=sys.stderr)
            lock.acquire()
    except OSError as error:
        raise RegistrationError(
            f"cannot lock {path} for registering ({error.strerror}: {lock.lock_file}); it was left untouched"
        ) from error
    try:
        _refuse_read_only(path, target)  # it may have changed while we waited
        registry = Registry(dataset_dir, _read(target))
        yield registry
        if registry.changed:
            atomic_write_text(target, json.dumps(registry.info, indent=2, ensure_ascii=False) + "\n")
    finally:
        lock.release()


def register_dataset(
    dataset_dir: Path, name: str, data_file: Path, *, formatting: Format = "sharegpt", force: bool = False
) -> dict[str, Any]:
    """Add (or confirm) the entry `name` for `data_file`; returns the entry."""
    if not data_file.is_file():
        raise RegistrationError(f"data file {data_file} does not exist")
    with locked_registry(dataset_dir) as registry:
        return registry.add(name, data_file, formatting, force)


def register_pruned(
    dataset_dir: Path,
    out: Path,
    name: str,
    ratios: Sequence[str],
    *,
    schema: SchemaName | None = None,
    fields: Fields = Fields(),
    force: bool = False,
) -> list[str]:
    """Convert every `out/pruning/<name>_<ratio>.jsonl` to sharegpt in dataset_dir and register it as
    `<name>_<ratio>` (e.g. `limo_pir_0.3`); returns the registered names.

    The pruned records keep the input's schema and field names, so `schema` and `fields` are the prune
    run's. Every entry and every record is checked before any file is written: a refusal leaves
    dataset_dir as it was, never an empty or partial dataset file."""
    datasets = [f"{name}_{ratio}" for ratio in ratios]
    for dataset in datasets:  # before the lock, which creates dataset_dir
        source, target = out / "pruning" / f"{dataset}.jsonl", dataset_dir / f"{dataset}.jsonl"
        if target.exists() and source.exists() and os.path.samefile(source, target):
            raise RegistrationError(f"--register {dataset_dir} is the run's own pruning folder: use another one")
        _check_convertible(source, schema, fields)
    with locked_registry(dataset_dir) as registry:
        for dataset in datasets:
            registry.check(dataset, dataset_dir / f"{dataset}.jsonl", force=force)
        for dataset in datasets:
            target = dataset_dir / f"{dataset}.jsonl"
            convert_file(str(out / "pruning" / f"{dataset}.jsonl"), target, schema=schema, fields=fields, quiet=True)
            registry.add(dataset, target, force=force)
    return datasets


def _check_convertible(source: Path, schema: SchemaName | None, fields: Fields) -> None:
    """Raise RegistrationError naming the first record of `source` that cannot become a training record,
    with its line and reason."""
    bad = [item for item in read_chains(str(source), schema=schema, fields=fields) if isinstance(item, Reject)]
    if bad:
        raise RegistrationError(
            f"{len(bad)} pruned record(s) of {source} cannot be converted for training, "
            f"the first at {bad[0].location}: {bad[0].reason}; nothing was registered"
        )
