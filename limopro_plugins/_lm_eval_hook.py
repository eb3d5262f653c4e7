"""Start-up hook that makes the limopro tasks visible to lm-eval without `--include_path`.

Imported by `limopro_plugins_lm_eval.pth` at every Python start-up, so it must stay nearly free: it only
puts a finder on `sys.meta_path` that reacts to one module name. When (and only when) lm-eval's task
manager is imported, the finder lets the real import run and then hands the module to
`limopro_plugins.eval.discovery.patch_task_manager`, which adds the task folders declared under the
entry-point group `lm_eval.tasks` (the upstream proposal) to every TaskManager's search paths.
Set LIMOPRO_LM_EVAL_HOOK=0 to turn it off.
"""

import os
import sys

_TARGET = "lm_eval.tasks.manager"


class _PatchingLoader:
    """Delegates to the real loader, then patches the freshly executed module."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):  # get_source, get_code, ... for tracebacks and linecache
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        from limopro_plugins.eval.discovery import patch_task_manager

        patch_task_manager(module)


class _TaskManagerFinder:
    """Meta-path finder that only answers for lm-eval's task-manager module."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != _TARGET:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is cls or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


def install() -> None:
    """Put the finder first on sys.meta_path, once."""
    if os.environ.get("LIMOPRO_LM_EVAL_HOOK", "1") == "0" or _TARGET in sys.modules:
        return
    if not any(f is _TaskManagerFinder for f in sys.meta_path):
        sys.meta_path.insert(0, _TaskManagerFinder)


try:
    install()
except Exception:  # a start-up hook must never break the interpreter
    pass
