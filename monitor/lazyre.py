"""Regular expressions compiled on their first use, not when their module is imported.

The text modules (``monitor.noise``, ``spacing``, ``canon``, ``challenge``,
``mojibake``, ``detect``, ``diff``, ``extract.metadata``, ``layout``, ``listing``,
``html``) hold ~100 patterns, many with large CJK character classes; compiling them was
~60 ms of every ``monitor check``'s start-up.
A check of an unchanged page (a 304, or the very bytes of the last version) never runs
them, yet the modules are imported by the pipeline, the fetcher and the scheduler alike.

``compile(pattern, flags)`` stands for ``re.compile(pattern, flags)``: a placeholder
that compiles the pattern when one of its methods is first called (``search``,
``sub``...; ``.pattern`` is known without compiling), then

* puts the compiled pattern in its own place in the module that made it (each name of
  that module's namespace bound to the placeholder), so that module's functions find
  the real ``re.Pattern`` from then on, at no cost per call; and
* keeps the compiled pattern's bound methods as its own attributes, so a placeholder
  held elsewhere (in a rule table, or imported by name into another module) forwards a
  call with one attribute look-up, as a ``re.Pattern`` does.

Compiling twice when two threads first use a pattern at once is harmless: both get
equal patterns.  A pattern that is wrong fails on its first use rather than at import:
``tests/test_lazyre.py`` compiles every one of the text modules'.
"""

from __future__ import annotations

import re
import sys
from typing import Any, cast

_METHODS = ("search", "match", "fullmatch", "sub", "subn", "split", "findall", "finditer",
            "scanner")


class LazyPattern:
    """``re.compile(pattern, flags)`` on first use; see the module docstring."""

    def __init__(self, pattern: str, flags: int, namespace: dict[str, Any]) -> None:
        self.pattern = pattern
        self._flags = flags
        self._namespace = namespace  # the globals of the module that made it
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is not None:
            return self._compiled
        pattern = self._compiled = re.compile(self.pattern, self._flags)
        for name in _METHODS:  # found on the instance from now on: no __getattr__ hop
            self.__dict__[name] = getattr(pattern, name)
        for name, value in list(self._namespace.items()):
            if value is self:
                self._namespace[name] = pattern
        return pattern

    def __getattr__(self, name: str) -> Any:
        """Whatever is not known yet (a method before the first call, ``flags``,
        ``groups``...) is the compiled pattern's; once compiled, the methods are found
        on the instance and this is not called for them again."""
        if name.startswith("__") or name in ("_compiled", "_flags", "_namespace", "pattern"):
            raise AttributeError(name)  # copy/pickle probes, and before __init__ ends
        return getattr(self.compiled(), name)

    def __copy__(self) -> LazyPattern:
        return self  # as re.Pattern: immutable, and a copy must not copy the namespace

    def __deepcopy__(self, memo: Any) -> LazyPattern:
        return self

    def __repr__(self) -> str:
        return f"lazyre.compile({self.pattern!r}, {self._flags})"


def compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, done on first use (module docstring).  Typed as
    the pattern it stands for: it answers the same methods."""
    namespace = sys._getframe(1).f_globals
    return cast("re.Pattern[str]", LazyPattern(pattern, flags, namespace))
