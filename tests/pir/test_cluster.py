"""prune --ray on a real local Ray cluster (two CPU workers, the tiny model): the files of a plain run, byte
for byte, also when a worker is killed mid-run and when the driver is killed with kill -9 and restarted."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from limopro_plugins.prune import main
from tests.pir.test_run import ENV, prune, write_input

CHAINS = 24
WAIT_S = 300


@pytest.fixture(scope="module")
def ray_env() -> Iterator[dict[str, str]]:
    """The environment of a driver that starts its own local Ray instance (two CPU slots, as on a 2-core
    machine), with Ray's session files in a short temporary folder (its socket paths must stay short)."""
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    env = {k: v for k, v in ENV.items() if k != "RAY_ADDRESS"} | {"RAY_TMPDIR": temp}
    yield env
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory, tiny_qwen_dir: Path) -> tuple[list[str], Path]:
    """The common arguments, and the output folder of the same run without Ray."""
    folder = tmp_path_factory.mktemp("ray")
    src = write_input(folder / "chains.jsonl", CHAINS, bad=True)
    common = ["--input", str(src), "--model", str(tiny_qwen_dir), "--ratios", "0.3,0.6"]
    prune(*common, "--output", str(folder / "plain"))
    return common, folder / "plain"


def files(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def assert_same_files(out: Path, plain: Path) -> None:
    assert files(out) == files(plain)
    for name in files(plain):
        assert (out / name).read_bytes() == (plain / name).read_bytes(), name


def start(common: list[str], out: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """The run with --ray in the background, its output to a file (a pipe nobody reads could fill up)."""
    with log.open("w") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "limopro_plugins.prune", *common, "--output", str(out), "--ray"],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def wait_for_rows(proc: subprocess.Popen, out: Path, rows: int) -> None:
    """Until structure.jsonl holds `rows` rows (polled; bounded), with the run still going."""
    path = out / "structure.jsonl"
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.read_bytes().count(b"\n") >= rows:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {rows} rows while running (exit {proc.poll()}): use more chains")


def first_ready_scorer(proc: subprocess.Popen, log: Path) -> psutil.Process:
    """The scorer actor the driver reported ready first (it has chains in flight from then on), as a
    process of this driver's Ray instance."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"scorer ready: pid (\d+)", log.read_text())
        if found:
            process = psutil.Process(int(found.group(1)))
            assert process in psutil.Process(proc.pid).children(recursive=True)
            assert process.cmdline()[0].startswith("ray::ScorerActor"), process.cmdline()
            return process
        time.sleep(0.05)
    raise AssertionError(f"no scorer ready while running (exit {proc.poll()})")


@pytest.mark.slow
def test_ray_run_equals_plain_run_with_a_worker_killed(
    plain: tuple[list[str], Path], tmp_path: Path, ray_env: dict[str, str]
) -> None:
    common, plain_out = plain
    out, log = tmp_path / "ray", tmp_path / "ray.log"
    proc = start(common, out, ray_env, log)
    try:
        scorer = first_ready_scorer(proc, log)
        wait_for_rows(proc, out, 1)
        scorer.send_signal(signal.SIGKILL)  # mid-chain: it scores from ready until the queue runs dry
        proc.wait(timeout=WAIT_S)
    finally:
        proc.kill()
    stderr = log.read_text()
    assert proc.returncode == 0, stderr[-3000:]
    assert "2 scorer actor(s), 1 CPU each" in stderr
    assert re.search(r"the worker scoring line \d+ died \(\w+\); it goes to the next free one", stderr), stderr
    assert_same_files(out, plain_out)


@pytest.mark.slow
def test_driver_killed_and_restarted_resumes_with_nothing_lost_or_twice(
    plain: tuple[list[str], Path], tmp_path: Path, ray_env: dict[str, str]
) -> None:
    common, plain_out = plain
    out, log = tmp_path / "ray", tmp_path / "ray.log"
    proc = start(common, out, ray_env, log)
    try:
        wait_for_rows(proc, out, 3)
        ray_processes = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    # Ray's node processes share the driver's fate; two helper agents outlive it a while: end ours.
    _, alive = psutil.wait_procs(ray_processes, timeout=10)
    for process in alive:
        process.kill()
    done = (out / "structure.jsonl").read_bytes().count(b"\n")
    assert done < CHAINS
    assert not (out / "meta.json").exists()
    with (out / "structure.jsonl").open("a") as handle:  # a torn line, as if killed in the middle of a write
        handle.write('{"index": 99, "steps": [')
    restarted = start(common, out, ray_env, log)
    restarted.wait(timeout=WAIT_S)
    assert restarted.returncode == 0, log.read_text()[-3000:]
    assert_same_files(out, plain_out)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("case", ["unreachable", "not installed"])
def test_ray_that_cannot_run_gives_one_sentence_and_exit_2(
    case: str, tmp_path: Path, tiny_qwen_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    src = write_input(tmp_path / "chains.jsonl", 2)
    address = f"127.0.0.1:{closed_port()}"
    if case == "not installed":
        monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets without the extra
    args = ["--input", str(src), "--model", str(tiny_qwen_dir), "--output", str(tmp_path / "out"), "--ray"]
    assert main([*args, address] if case == "unreachable" else args) == 2
    error = capsys.readouterr().err
    expected = f"no Ray cluster answers at {address}" if case == "unreachable" else "limopro-plugins[ray]"
    assert expected in error and "Traceback" not in error
    assert not (tmp_path / "out" / "structure.jsonl").exists()
