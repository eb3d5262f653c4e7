"""lm-eval finds the limopro tasks with no --include_path; the start-up hook is cheap and fails safe."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from limopro_plugins.eval.discovery import patch_task_manager, task_dir, with_plugin_paths

NAMES = ("limopro", "limopro_aime", "limopro_amc", "limopro_gpqa_diamond")


def test_lm_eval_ls_tasks_lists_the_four_names(tmp_path: Path) -> None:
    proc = subprocess.run(["lm_eval", "ls", "tasks"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = {cell.strip() for line in proc.stdout.splitlines() for cell in line.split("|")}
    assert set(NAMES) <= listed


def test_include_path_still_works_and_is_not_indexed_twice(tmp_path: Path) -> None:
    extra = tmp_path / "mine"
    extra.mkdir()
    (extra / "my_task.yaml").write_text(
        "include: " + str(Path(task_dir()) / "limopro" / "limopro_aime.yaml") + "\ntask: my_aime_variant\n"
    )
    code = (
        "from lm_eval.tasks import TaskManager as T; import sys;"
        f"t = T(include_path=[{str(extra)!r}, {task_dir()!r}]);"
        "print(t.include_path);"
        "print('my_aime_variant' in t.all_tasks, 'limopro_aime' in t.all_tasks)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    paths, found = proc.stdout.strip().splitlines()[-2:]
    assert found == "True True"
    assert paths.count(repr(task_dir())) == 1  # the user listed it: kept once, where the user put it


def test_plugin_paths_come_before_user_paths_without_duplicates() -> None:
    assert with_plugin_paths(None) == [task_dir()]
    assert with_plugin_paths("x") == [task_dir(), "x"]
    assert with_plugin_paths([task_dir(), "x"]) == [task_dir(), "x"]


def test_changed_lm_eval_internals_give_a_warning_naming_include_path() -> None:
    class TaskManager:  # a future lm-eval whose constructor no longer takes include_path
        def __init__(self, paths=None):
            self.paths = paths

    module = types.ModuleType("fake_manager")
    module.TaskManager = TaskManager
    with pytest.warns(UserWarning, match="--include_path"):
        patch_task_manager(module)
    assert module.TaskManager().paths is None  # untouched and still working
    with pytest.warns(UserWarning, match="--include_path"):
        patch_task_manager(types.ModuleType("no_task_manager_at_all"))


def test_the_start_up_hook_imports_nothing_heavy() -> None:
    """The hook runs at every Python start-up: it may import only the package's own small modules (what
    that costs in time is a benchmark's question, not a test's)."""
    on = {**os.environ, "LIMOPRO_LM_EVAL_HOOK": "1"}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "pass"], env=on, capture_output=True, text=True, check=True
    )
    imported = {line.split("|")[2].strip() for line in proc.stderr.splitlines() if line.count("|") == 2}
    ours = {m for m in imported if m.startswith("limopro_plugins")}
    assert ours and ours <= {"limopro_plugins", "limopro_plugins._lm_eval_hook"}, ours
    assert not {m for m in imported if m.split(".")[0] in ("lm_eval", "torch", "transformers", "numpy")}
