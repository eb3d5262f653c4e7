"""File writing that never loses a user's data: atomic replaces, crash-safe appends, and one writer per
output folder."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

LOCK_FILE = ".lock"
TEMP_GLOB = ".*.tmp"
"""The names `atomic_write_text` gives its temporary files."""


class FolderError(RuntimeError):
    """An output folder cannot be used; the message says which and why."""


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """A failed write() or fsync() (a full disk) raises an OSError without a file name, and a failed
    mkstemp names the temporary file: name the file being written instead."""
    try:
        yield
    except OSError as error:
        if error.errno is not None:  # an OSError of the system, not one raised with a message only
            error.filename = str(path)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, fsync it, then rename it over `path`.

    Readers see the old file or the new one, never a half-written one, even after a crash.
    """
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """`atomic_write_text` for bytes (a picture)."""
    with _naming(path):
        _atomic_write_bytes(path, data)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
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
    with _naming(path):
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


@contextmanager
def claimed_folder(folder: Path, what: str = "--output") -> Iterator[None]:
    """Create `folder` if needed and hold its lock while the caller writes there, after removing the
    temporary files an interrupted writer left (no live writer can own them while the lock is held).

    A second claim is refused, not queued: the same command started twice would only, once the first
    ended, find its work done, and two writers appending to one checkpoint file would duplicate rows.
    The lock is advisory (flock), so a killed holder releases it; the lock file stays in the folder."""
    if folder.exists() and not folder.is_dir():
        raise FolderError(f"{what} {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise FolderError(f"cannot write to the folder {folder} ({what}): {error.strerror or error}") from error
    lock = FileLock(str(folder / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except Timeout as error:
        raise FolderError(
            f"another run is writing to {folder} right now: wait for it to end (the same command then "
            f"resumes from its files) or use another {what}"
        ) from error
    try:
        for stale in [*folder.glob(TEMP_GLOB), *folder.glob(f"*/{TEMP_GLOB}")]:
            stale.unlink(missing_ok=True)
        yield
    finally:
        lock.release()
