"""Installed as a user installs it: a wheel built from this source tree, offline, installed (not
editable) into a fresh virtual environment and used from a folder outside the repository."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NAMES = ("limopro", "limopro_aime", "limopro_amc", "limopro_gpqa_diamond")
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
"""No path to the source tree: what runs must come from the installed wheel."""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip wheel .` builds, with this environment's hatchling (the test extra) and no index."""
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(out),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=out,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [built] = out.glob("limopro_plugins-*.whl")
    return built


def _files(folder: str) -> list[str]:
    return sorted(p.relative_to(REPO / folder).as_posix() for p in (REPO / folder).rglob("*") if p.is_file())


def entry_points_of(wheel: Path) -> configparser.ConfigParser:
    """The wheel's entry points (its dist-info's entry_points.txt)."""
    with zipfile.ZipFile(wheel) as archive:
        [listed] = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        found = configparser.ConfigParser()
        found.read_string(archive.read(listed).decode())
    return found


def test_the_wheel_carries_the_task_yamls_and_dataset_info(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    entry_points = entry_points_of(wheel)
    for folder in ("tasks", "dataset_info"):
        files = _files(folder)
        assert files and {f"limopro_plugins/{folder}/{f}" for f in files} <= names, folder
    assert "limopro_plugins/tasks/limopro/limopro_gpqa_diamond.yaml" in names
    assert "limopro_plugins/dataset_info/dataset_info.json" in names
    assert "limopro_plugins_lm_eval.pth" in names  # the start-up hook that lets lm-eval 0.4.13 find the tasks
    assert entry_points["lm_eval.tasks"]["limopro"].endswith(":task_dir")  # the folder lm-eval is to index
    assert not {n.split("/")[0] for n in names} & {"tests", "benchmarks", "docs", "tasks", "dataset_info"}


@pytest.mark.slow
def test_the_wheel_installed_in_a_fresh_venv_works_outside_the_repository(wheel: Path, tmp_path: Path) -> None:
    """pip installs the wheel alone (--no-deps, --no-index); the venv reaches the heavy dependencies
    (torch, lm-eval) through a .pth line naming this environment's site-packages, where the editable
    install's own .pth files are not run, so the source tree is on no path."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=ENV, timeout=300)
    python = str(venv / "bin" / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
    ).stdout.strip()
    (Path(site) / "_deps_from_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([python, *args], capture_output=True, text=True, env=ENV, cwd=elsewhere, timeout=600)

    where = run(
        "-c",
        "import sys, limopro_plugins; from importlib.metadata import entry_points as e;"
        "print(limopro_plugins.__file__); print(e(group='lm_eval.tasks')['limopro'].load()());"
        # the source tree's root (where an editable install points) is on no path; the test environment's
        # site-packages may lie inside it (CI's .venv), so only the root itself is looked for
        f"print({str(REPO)!r} in [p.rstrip('/') for p in sys.path])",
    )
    assert where.returncode == 0, where.stderr[-2000:]
    module, tasks, repo_on_path = where.stdout.split()
    assert module.startswith(site) and tasks == str(Path(site) / "limopro_plugins" / "tasks")
    assert repo_on_path == "False"
    assert (Path(site) / "limopro_plugins" / "dataset_info" / "dataset_info.json").is_file()
    listing = run("-m", "lm_eval", "ls", "tasks")  # no --include_path
    assert listing.returncode == 0, listing.stderr[-2000:]
    rows = {
        cells[1].strip(): cells[2].strip() for line in listing.stdout.splitlines() if len(cells := line.split("|")) > 3
    }
    for name in NAMES:
        assert rows.get(name, "").startswith(str(Path(site) / "limopro_plugins" / "tasks")), name
    assert str(REPO) not in listing.stdout
    prune = run("-m", "limopro_plugins.prune", "--help")
    assert prune.returncode == 0 and prune.stdout.startswith("usage: python -m limopro_plugins.prune"), prune.stderr
    for script in entry_points_of(wheel)["console_scripts"]:  # the console scripts pip wrote into the venv
        proc = subprocess.run(
            [str(venv / "bin" / script), "--help"], capture_output=True, text=True, env=ENV, cwd=elsewhere, timeout=600
        )
        assert proc.returncode == 0 and proc.stdout.startswith("usage:"), (script, proc.stderr[-2000:])
