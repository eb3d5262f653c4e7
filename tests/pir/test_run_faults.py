"""The prune command against a busy, broken or full output folder: one sentence each, nothing lost.

Root (as in CI) may write anywhere, so a read-only folder is made real for it by dropping the
capability that lets root ignore file modes (`setpriv`); a full disk is a small tmpfs mounted in a
mount namespace of the run's own (`unshare`), where ENOSPC comes from the kernel as on a real disk.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pir.test_run import ENV, prune, read_jsonl, write_input
from tests.train.test_convert import as_unprivileged


def test_a_second_run_on_the_same_folder_is_refused_never_interleaved(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    src = write_input(tmp_path / "chains.jsonl", 30)
    out = tmp_path / "out"
    command = ["--input", str(src), "--output", str(out), "--model", str(tiny_qwen_dir), "--ratios", "0.5"]
    first = subprocess.Popen(
        [sys.executable, "-m", "limopro_plugins.prune", *command], env=ENV, stdout=subprocess.PIPE, text=True
    )
    structure = out / "structure.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and first.poll() is None and not structure.exists():
        time.sleep(0.05)
    assert first.poll() is None, "the first run ended before the second started; use more chains"
    second = prune(*command, check=False)
    still_running = first.poll() is None
    assert first.wait(timeout=600) == 0
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert f"another run is writing to {out} right now" in second.stderr
    assert still_running, "the first run ended before the second was refused; use more chains"
    assert [row["index"] for row in read_jsonl(structure)] == list(range(30))
    assert json.loads((out / "meta.json").read_text())["counts"]["scored"] == 30


def test_stale_temporary_files_and_files_of_earlier_ratios_are_removed(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    src = write_input(tmp_path / "chains.jsonl", 2)
    out = tmp_path / "out"
    common = ["--input", str(src), "--output", str(out), "--model", str(tiny_qwen_dir)]
    prune(*common, "--ratios", "0.3,0.6")
    stale = [out / ".meta.json.k2j3h4.tmp", out / "pruning" / ".chains_pir_0.3.jsonl.x8y9z0.tmp"]
    for path in stale:  # as a kill -9 between mkstemp and rename leaves them
        path.write_text("half")
    prune(*common, "--ratios", "0.3")
    assert not any(path.exists() for path in stale)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["ratios"] == ["0.3"] and list(meta["tokens_per_ratio"]) == ["0.3"]
    assert sorted(p.name for p in (out / "pruning").iterdir()) == ["chains_pir_0.3.jsonl"]


def test_an_output_that_is_a_file_or_read_only_gets_one_sentence(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    src = write_input(tmp_path / "chains.jsonl", 1)
    common = ["--input", str(src), "--model", str(tiny_qwen_dir), "--ratios", "0.5"]
    a_file = tmp_path / "taken"
    a_file.write_text("mine")
    proc = prune(*common, "--output", str(a_file), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: --output {a_file} is a file, not a folder"
    assert a_file.read_text() == "mine"

    read_only = tmp_path / "read_only"
    read_only.mkdir()
    read_only.chmod(0o555)
    proc = subprocess.run(
        [*as_unprivileged(), sys.executable, "-m", "limopro_plugins.prune", *common, "--output", str(read_only)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: cannot write to the folder {read_only} (--output): Permission denied"
    assert list(read_only.iterdir()) == []


# One namespace holds the tmpfs for both runs: the first fills it, the second runs after it is grown,
# as a user frees space and runs the same command again.
_FULL_DISK = """
set -u
mount -t tmpfs -o size=16k tmpfs "$DISK" || exit 77
"$PY" -m limopro_plugins.prune "$@" --output "$DISK/out" > "$LOG/first.out" 2> "$LOG/first.err"
echo $? > "$LOG/first.rc"
cp -r "$DISK/out" "$LOG/after_first"
mount -o remount,size=16m "$DISK"
"$PY" -m limopro_plugins.prune "$@" --output "$DISK/out" > "$LOG/second.out" 2> "$LOG/second.err"
echo $? > "$LOG/second.rc"
cp -r "$DISK/out" "$LOG/out"
"""


def test_a_full_disk_mid_run_exits_1_and_the_same_command_resumes(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("no unshare: a small tmpfs cannot be mounted for this test")
    src = write_input(tmp_path / "chains.jsonl", 24, bad=True)
    common = ["--input", str(src), "--model", str(tiny_qwen_dir), "--ratios", "0.3,0.6"]
    disk, log = tmp_path / "disk", tmp_path / "log"
    disk.mkdir()
    log.mkdir()
    env = {**ENV, "DISK": str(disk), "LOG": str(log), "PY": sys.executable}
    proc = subprocess.run(
        ["unshare", "--mount", "--map-root-user", "sh", "-c", _FULL_DISK, "sh", *common],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode == 77 or "unshare failed" in proc.stderr or "Operation not permitted" in proc.stderr:
        pytest.skip(f"mount namespaces are not allowed here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    first_err = (log / "first.err").read_text()
    assert (log / "first.rc").read_text().strip() == "1", first_err
    assert "Traceback" not in first_err
    assert "no space left on the device; the chains finished so far are kept" in first_err
    assert "run the same command again to resume" in first_err
    finished = (log / "after_first" / "structure.jsonl").read_text()
    assert 0 < finished.count("\n") < 20 and not (log / "after_first" / "meta.json").exists()  # mid-run
    assert (log / "second.rc").read_text().strip() == "0", (log / "second.err").read_text()

    prune(*common, "--output", str(tmp_path / "straight"))
    straight = tmp_path / "straight"
    files = sorted(p.relative_to(straight) for p in straight.rglob("*") if p.is_file())
    assert Path("structure.jsonl") in files and Path("pruning/chains_pir_0.6.jsonl") in files
    for name in files:
        assert (log / "out" / name).read_bytes() == (straight / name).read_bytes(), name


def test_unreadable_records_are_rejects_and_the_run_goes_on(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    """Lines that raised out of the reader (every rerun died at the same line) are rejected; a byte-order
    mark no longer costs the first record."""
    src = write_input(tmp_path / "chains.jsonl", 3)
    lines = src.read_text().splitlines()
    lines[1:1] = ["[" * 100_000 + "]" * 100_000, '{"question": "q", "n": ' + "7" * 4400 + "}"]
    src.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")
    out = tmp_path / "out"
    proc = prune("--input", str(src), "--output", str(out), "--model", str(tiny_qwen_dir), "--ratios", "0.5")
    assert "rejected line 2: nested more than 200 levels deep" in proc.stderr
    assert "rejected line 3: holds an integer of more than 4,300 digits" in proc.stderr
    assert "read: 5, scored: 3, skipped (too long, kept unpruned): 0, rejected: 2" in proc.stdout
    assert [r["line"] for r in read_jsonl(out / "rejects.jsonl")] == [2, 3]
