"""Names imported on their first use, not when the module that uses them is imported.

Why (issue 12).  ``monitor check`` over many sources imports everything before it forks
its workers: one core, while the other waits.  The pipeline's parse side — extraction,
challenge pages, listings, attachments, change detection, the alert plans: ~30 ms of CPU
of imports — is not used by a check of an unchanged page (a 304, or the very bytes of
the last version: nothing is read), so importing it before the fork made an unchanged
pass wait for code it never ran.  Imported on first use instead, it is loaded in a
worker when that worker first reads a page (on a pass with changes each worker loads it
once, at the same time as the other).

``later(globals(), "monitor.extract", "extract", "sniff")`` stands for ``from
monitor.extract import extract, sniff``: one placeholder per name, which on its first
use (an attribute, for a module; a call, for a function) does that import and

* puts the real object in its own place in the namespace that holds it (each name of
  that namespace bound to the placeholder), so that module's functions find the real
  module or function from then on, at no cost per use (as ``monitor.lazyre`` does for
  patterns); and
* keeps it, so a placeholder held elsewhere (a wrapper made around it, as
  ``bench.stages`` wraps the pipeline's functions) forwards to it.

Importing is thread-safe (Python's import lock); two threads resolving one placeholder
at once both find the same module.  A name that does not exist fails on first use, not
at import: ``tests/test_lazyre.py`` resolves every placeholder of the modules that make
them.  Type checkers see the real imports (``if TYPE_CHECKING:``) beside each use.
"""

from __future__ import annotations

import importlib
from typing import Any


class Later:
    """``from module import name``, done on first use; see the module docstring."""

    def __init__(self, module: str, name: str, namespace: dict[str, Any]) -> None:
        self._module, self._name, self._namespace = module, name, namespace
        self._target: Any = None

    def resolve(self) -> Any:
        if self._target is not None:
            return self._target
        module = importlib.import_module(self._module)
        try:
            target = getattr(module, self._name)
        except AttributeError:  # a submodule not imported yet, as ``from`` finds it
            target = importlib.import_module(f"{self._module}.{self._name}")
        self._target = target
        for key, value in list(self._namespace.items()):
            if value is self:
                self._namespace[key] = target
        return target

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") or attr in ("_module", "_name", "_namespace", "_target"):
            raise AttributeError(attr)
        return getattr(self.resolve(), attr)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<later: from {self._module} import {self._name}>"


def later(namespace: dict[str, Any], module: str, *names: str) -> tuple[Any, ...]:
    """Placeholders for ``from module import *names`` in ``namespace`` (a module's
    ``globals()``), in the order of ``names``."""
    return tuple(Later(module, name, namespace) for name in names)
