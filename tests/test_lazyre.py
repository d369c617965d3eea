"""monitor.lazyre: patterns compiled on first use answer exactly as ``re.compile``'s, and
every pattern of the text modules compiles (an error would show only on first use)."""

from __future__ import annotations

import dataclasses
import importlib
import re
from typing import Any

import pytest

from monitor import later, lazyre

CASES = [
    (r"(\d+)[年/-](\d{1,2})", 0, "发布于2024年11月，另2023-5"),
    (r"点击|浏览", 0, "点击：12 浏览：3"),
    (r"^\s*(?P<n>\d[\d,，]*)\s*$", 0, " 1,234 "),
    (r"jsessionid=[\w.]+", re.IGNORECASE, "a;JSESSIONID=ab.c1?x"),
    (r"x*", 0, ""),
]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, re.Match):
        return isinstance(b, re.Match) and (a.span(), a.groups()) == (b.span(), b.groups())
    return a == b


@pytest.mark.parametrize(("pattern", "flags", "text"), CASES)
def test_a_lazy_pattern_answers_as_the_compiled_one(pattern: str, flags: int, text: str) -> None:
    real = re.compile(pattern, flags)
    for method, args in [("search", (text,)), ("match", (text,)), ("fullmatch", (text,)),
                         ("sub", ("#", text)), ("subn", ("#", text)), ("split", (text,)),
                         ("findall", (text,)), ("search", (text, 1))]:
        lazy = lazyre.compile(pattern, flags)  # a fresh one: each method may come first
        assert _same(getattr(lazy, method)(*args), getattr(real, method)(*args)), method
        assert _same(getattr(lazy, method)(*args), getattr(real, method)(*args)), method
    lazy = lazyre.compile(pattern, flags)
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in real.finditer(text)]
    assert (lazy.pattern, lazy.flags, lazy.groups, dict(lazy.groupindex)) == \
        (real.pattern, real.flags, real.groups, dict(real.groupindex))


def test_after_its_first_use_a_module_finds_the_real_pattern() -> None:
    """What keeps a per-line function as fast as before: from its first use on, the
    module's name is bound to the compiled pattern itself; a copy of the placeholder
    held in a table still answers."""
    namespace: dict[str, Any] = {"lazyre": lazyre}
    exec("P = lazyre.compile(r'\\d+')\nTABLE = (('digits', P),)\n"
         "def count(line):\n    return len(P.findall(line))\n", namespace)
    assert not isinstance(namespace["P"], re.Pattern)
    assert namespace["count"]("1 22 333") == 3
    assert isinstance(namespace["P"], re.Pattern)
    assert namespace["TABLE"][0][1].sub("#", "a1b22") == "a#b#"


def test_a_copied_rule_shares_its_pattern_as_with_re() -> None:
    """``copy``/``deepcopy`` (``dataclasses.asdict`` of a rule) keep the pattern itself,
    as they do a ``re.Pattern``: never a copy of the module it belongs to."""
    import copy

    pattern = lazyre.compile(r"\d+")
    assert copy.copy(pattern) is pattern and copy.deepcopy([pattern])[0] is pattern


def test_a_wrong_pattern_fails_on_first_use_as_re_would() -> None:
    wrong = lazyre.compile("[unclosed")
    with pytest.raises(re.error):
        wrong.search("x")


TEXT_MODULES = ["monitor.noise", "monitor.spacing", "monitor.canon", "monitor.challenge",
                "monitor.mojibake", "monitor.detect", "monitor.diff",
                "monitor.extract.metadata", "monitor.extract.layout",
                "monitor.extract.listing", "monitor.extract.html"]


def _placeholders(value: Any, depth: int = 0) -> list[lazyre.LazyPattern]:
    if isinstance(value, lazyre.LazyPattern):
        return [value]
    if depth > 3:
        return []
    if isinstance(value, tuple | list):
        return [p for v in value for p in _placeholders(v, depth + 1)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [p for f in dataclasses.fields(value)
                for p in _placeholders(getattr(value, f.name), depth + 1)]
    return []


def test_every_pattern_of_the_text_modules_compiles() -> None:
    """Each placeholder still waiting for its first use (the module-level ones used by
    earlier tests are real patterns by now) compiles."""
    values = [v for name in TEXT_MODULES for v in vars(importlib.import_module(name)).values()]
    waiting = [p for value in values for p in _placeholders(value)]
    done = [v for v in values if isinstance(v, re.Pattern)]
    assert len(waiting) + len(done) > 100  # the rule tables' patterns too
    for pattern in waiting:
        assert isinstance(pattern.compiled(), re.Pattern)


def test_a_later_name_is_what_from_import_gives_and_takes_its_place() -> None:
    """``monitor.later``: a module's placeholder answers attributes, a function's is
    called; either becomes the real object in its namespace on first use, and a
    wrapper made around it before then still forwards to it."""
    import json
    import json.decoder

    space: dict[str, Any] = {}
    space["decoder"], space["loads"] = later.later(space, "json", "decoder", "loads")
    wrapped = space["loads"]
    assert isinstance(wrapped, later.Later)
    assert space["decoder"].JSONDecodeError is json.decoder.JSONDecodeError
    assert space["decoder"] is json.decoder  # a submodule, as `from json import decoder`
    assert space["loads"]("[1]") == [1] and space["loads"] is json.loads
    assert wrapped("[2]") == [2]  # held elsewhere: forwards
    missing = later.Later("json", "no_such_name", {})
    with pytest.raises(ModuleNotFoundError):
        missing.resolve()


def test_every_later_name_of_the_pipeline_resolves() -> None:
    """The pipeline's parse side (imported on a check's first read): every placeholder
    names a real module or function, and once resolved the pipeline holds it."""
    from monitor import pipeline

    waiting = {k: v for k, v in vars(pipeline).items() if isinstance(v, later.Later)}
    for name, placeholder in waiting.items():
        real = placeholder.resolve()
        assert getattr(pipeline, name) is real
        assert callable(real) or isinstance(real, type(pipeline))
    for name in ("plan", "triggers", "attachments", "challenge", "crawl", "documents",
                 "detect_change_async", "snapshot", "extract", "extract_document",
                 "extract_feed", "listing", "sniff"):
        assert not isinstance(getattr(pipeline, name), later.Later), name
