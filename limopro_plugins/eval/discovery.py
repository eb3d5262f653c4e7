"""Where the limopro lm-eval tasks live, and how lm-eval finds them without `--include_path`.

The YAML files sit in the top-level `tasks/` folder of the source tree; a wheel carries them as
`limopro_plugins/tasks`. `task_dir()` finds either, which is what the `lm_eval.tasks` entry point names.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

ENTRY_POINT_GROUP = "lm_eval.tasks"


def task_dir() -> str:
    """Folder holding the limopro task YAMLs (installed wheel first, then the source checkout)."""
    here = Path(__file__).resolve().parent.parent  # the limopro_plugins package folder
    for candidate in (here / "tasks", here.parent / "tasks"):
        if candidate.is_dir():
            return str(candidate)
    raise FileNotFoundError(f"limopro task folder not found next to {here}")


def _entry_point_dirs() -> list[Path]:
    """Task folders declared by every installed distribution under the `lm_eval.tasks` group.

    An entry point may name a folder path (str/Path), a callable returning one, or a package/module
    whose folder holds the YAMLs. A broken plugin is reported and skipped, never fatal.
    """
    found: list[Path] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            target: Any = ep.load()
            if callable(target):
                target = target()
            if isinstance(target, ModuleType):
                target = Path(str(target.__file__)).parent
            found.append(Path(target))
        except Exception as error:  # noqa: BLE001 - a third-party plugin must not break lm-eval
            warnings.warn(f"lm-eval task plugin {ep.name!r} ({ep.value}) skipped: {error}", stacklevel=2)
    return found


def with_plugin_paths(include_path: Any) -> list[str]:
    """`include_path` with the plugin folders put before it, so a user's own path still wins.

    Folders already present (e.g. the user also passed `--include_path`) are not added twice.
    """
    if include_path is None:
        user: list[str] = []
    elif isinstance(include_path, (list, tuple)):
        user = [str(p) for p in include_path]
    else:
        user = [str(include_path)]
    seen = {Path(p).resolve() for p in user}
    plugins = [str(p) for p in _entry_point_dirs() if p.resolve() not in seen]
    return list(dict.fromkeys(plugins)) + user


def patch_task_manager(module: ModuleType) -> None:
    """Wrap `module.TaskManager.__init__` so that every TaskManager also indexes the plugin folders.

    Fails safe: if lm-eval's internals changed so that this cannot be done, lm-eval keeps working
    unchanged and a warning says to pass `--include_path` instead.
    """
    try:
        cls = module.TaskManager
        init = cls.__init__
        signature = inspect.signature(init)
        if "include_path" not in signature.parameters:
            raise TypeError("TaskManager.__init__ has no include_path parameter")
        if getattr(init, "_limopro_patched", False):
            return

        @functools.wraps(init)
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            try:
                bound = signature.bind(self, *args, **kwargs)
                bound.arguments["include_path"] = with_plugin_paths(bound.arguments.get("include_path"))
                args, kwargs = bound.args[1:], bound.kwargs
            except Exception as error:  # noqa: BLE001
                _warn(error)
            init(self, *args, **kwargs)

        __init__._limopro_patched = True  # type: ignore[attr-defined]
        cls.__init__ = __init__
    except Exception as error:  # noqa: BLE001
        _warn(error)


def _warn(error: Exception) -> None:
    try:
        where = task_dir()
    except FileNotFoundError:
        where = "<limopro_plugins>/tasks"
    warnings.warn(
        f"limopro-plugins could not register its tasks with this lm-eval version ({error}); "
        f"pass --include_path {where} to lm_eval instead.",
        stacklevel=3,
    )
