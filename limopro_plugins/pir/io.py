"""File writing that never loses a user's data: atomic replaces and crash-safe appends."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, fsync it, then rename it over `path`.

    Readers see the old file or the new one, never a half-written one, even after a crash.
    """
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """`atomic_write_text` for bytes (a picture)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file readable by its owner only: give it the mode of the file it replaces,
        # or that of a newly created file, so shared datasets stay readable by the group
        os.chmod(fd, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_umask() -> int:
    """The process's umask. Linux reports it in /proc; elsewhere reading it means setting it and setting
    it back, which is done once, at import, before any writer thread runs (a thread reading it while
    another held it at 0 could create world-writable files)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        status = ""
    for line in status.splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: Path, records: Iterable[Any]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def append_jsonl(path: Path, record: Any) -> None:
    """Append one record as a line and fsync, so a finished record survives kill -9."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl_tolerant(path: Path, repair: bool = True) -> list[Any]:
    """Records of a JSONL file we append to, without a torn last line (a crash mid-write). With `repair`
    (the run that appends to the file, resuming) that line is also cut off the file; readers that only
    look (analyze, merge) leave the file as it is, since a live run may be writing that line.

    Only the last line may be torn: a bad line elsewhere means the file was edited, which is an error.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    records, offset = [], 0
    for raw in data.splitlines(keepends=True):
        try:
            if not raw.endswith(b"\n"):
                raise ValueError("unterminated line")
            records.append(json.loads(raw))
        except ValueError as error:
            if offset + len(raw) != len(data):
                raise ValueError(f"{path}: corrupt line {len(records) + 1}: {error}") from error
            if repair:
                with path.open("r+b") as handle:
                    handle.truncate(offset)
            break
        offset += len(raw)
    return records
