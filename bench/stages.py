"""CPU of a check split by stage: ``monitor check``'s own ``run_checks`` with timers.

    python -m bench.stages SOURCES.toml CONTROL_URL

Run by ``python -m bench`` in its own process on a fresh database: a first pass, an
unchanged pass (no ETags, so every page is fetched and read) and a pass where every
page changed.  Each stage's functions are wrapped with a timer of the calling thread's
CPU (``time.thread_time``), exclusive of the stages nested in it, so work on the event
loop and in ``asyncio.to_thread`` workers is both counted:

- extract: ``monitor.extract`` (parse, selectors, layout, metadata) minus normalize,
  and the page's one parse made by the challenge checks for it (``monitor.challenge``'s
  lexbor parse and ``prepared``: the head read and ``drop_non_content``);
- normalize: ``normalize_with_notes``, ``normalize_line``, ``strip_ignored`` and the
  noise rules (``monitor.noise``'s entry points: ``drop_non_content``,
  ``remove_dom_noise``, ``strip_lines``, ``strip_text_noise``); its DOM helpers
  (``outermost``, ``ancestors``) called by extraction itself are extract's;
- hash: ``snapshot`` (canonical form + SHA-256) and the raw body's SHA-256;
- store: every ``Store`` and ``Schedule`` call (reads, leases, the commit);
- diff: ``detect_change_async``'s diff and decision in this process (``decide``, and
  ``monitor.diff._quick``, the exact diff tried in a thread before a worker is asked,
  and ``quick_diff``, the same made with the page's read in ``pipeline._page_read``:
  they answer for most edits) plus the CPU of diff workers (children);
- alert: drafting alerts (``alerts.plan``);
- fetch + loop: the rest of the process's CPU: HTTP, decoding, the event loop, thread
  hops (the GIL passed between the loop and the commit's thread), the garbage
  collector, and the challenge checks' own reading of the parse (``monitor.challenge``:
  the title, the links, the visible text, the checks: ~0.3 ms of a bench page).

The timers cost some CPU themselves (a few µs per call), so the totals here are a little
above the plain ``monitor check`` of the main table.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import os
import resource
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

STAGES = ("fetch + loop", "extract", "normalize", "hash", "store", "diff", "alert")
_local = threading.local()
spent: dict[str, float] = defaultdict(float)
_lock = threading.Lock()


def _stack() -> list[float]:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def timed(stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with its thread CPU added to ``stage`` (nested stages subtracted)."""
    @functools.wraps(fn)
    def run(*a: Any, **kw: Any) -> Any:
        stack = _stack()
        stack.append(0.0)
        t0 = time.thread_time()
        try:
            return fn(*a, **kw)
        finally:
            total = time.thread_time() - t0
            child = stack.pop()
            if stack:
                stack[-1] += total
            with _lock:
                spent[stage] += total - child
    return run


def instrument() -> None:
    from alerts import plan
    from monitor import challenge, detect, diff, noise, normalize, pipeline
    from monitor.extract import html
    from storage import Store
    from storage.schedule import Schedule

    pipeline.extract = timed("extract", pipeline.extract)
    for name in ("normalize_with_notes", "normalize_line", "strip_ignored"):
        setattr(html, name, timed("normalize", getattr(html, name)))
    # Their entry points only: what they call for each line or element is in their stage
    # already, and a wrapped call costs the timers' own µs (two thread-clock reads and a
    # lock): wrapping every function of ``monitor.noise`` and ``normalize_line`` inside
    # ``monitor.normalize`` added ~0.5 ms a bench page to this column.
    for name in ("normalize_text", "normalize_with_notes", "strip_ignored"):
        setattr(normalize, name, timed("normalize", getattr(normalize, name)))
    for name in ("drop_non_content", "remove_dom_noise", "strip_lines", "strip_text_noise"):
        setattr(noise, name, timed("normalize", getattr(noise, name)))
    pipeline.snapshot = timed("hash", pipeline.snapshot)
    detect.snapshot = timed("hash", detect.snapshot)
    pipeline._last_now = timed("hash", pipeline._last_now)
    for name in ("change_alerts", "flap_alerts", "trouble_alerts"):
        setattr(plan, name, timed("alert", getattr(plan, name)))
    for cls in (Store, Schedule):
        for name, fn in list(vars(cls).items()):
            if inspect.isfunction(fn) and not name.startswith("__"):
                setattr(cls, name, timed("store", fn))
    # detect_change_async awaits a diff worker: only its own sync work is on this
    # thread; the worker's CPU is the children's (added at the end)
    detect.diff_texts = timed("diff", detect.diff_texts)
    diff._quick = timed("diff", diff._quick)
    pipeline.quick_diff = timed("diff", pipeline.quick_diff)
    # the page's one parse, made by the challenge checks and handed to extraction
    challenge.LexborHTMLParser = timed("extract", challenge.LexborHTMLParser)
    challenge.prepared = timed("extract", challenge.prepared)
    detect.decide = timed("diff", detect.decide)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def control(base: str, path: str) -> None:
    with urllib.request.urlopen(base + path, timeout=60) as r:
        r.read()


async def _pass(config: Any, store: Any) -> list[Any]:
    from monitor.cli.check import run_checks
    return await run_checks(config, store, config.sources, progress=False)


def main() -> None:
    toml, base = Path(sys.argv[1]), sys.argv[2]
    from monitor.cli.common import load, open_store
    from monitor.diff import shutdown_diff_workers

    instrument()
    config = load(toml, quiet=True)
    out = {}
    control(base, "/_ctl/reset")
    control(base, "/_ctl/etag/0")
    with open_store(config) as store:
        store.sync_sources(config.sources)
        for case, bump in (("first pass", None), ("unchanged", None), ("all changed", "1/0")):
            if bump:
                control(base, f"/_ctl/bump/{bump}")
            spent.clear()
            cpu0, kids0, t0 = _cpu(), _children(), time.monotonic()
            results = asyncio.run(_pass(config, store))
            shutdown_diff_workers()
            wall, cpu = time.monotonic() - t0, _cpu() - cpu0
            kids = _children() - kids0
            spent["diff"] += kids
            n = len(results)
            stages = {s: spent.get(s, 0.0) for s in STAGES[1:]}
            stages["fetch + loop"] = cpu - (sum(stages.values()) - kids)  # the rest
            out[case] = {"checks": n, "wall_s": wall, "cpu_s": cpu + kids,
                         "ms_per_check": {s: 1000 * stages[s] / n for s in STAGES}}
    print(json.dumps(out))
    os._exit(0)


if __name__ == "__main__":
    main()
