"""The bare limit of a check: httpx fetch + selectolax parse + SHA-256 of the selected text.

    python -m bench.bare JOBS.json --concurrency 10 [--processes 2]

``JOBS.json`` is a list of ``[url, css_selector]``.  Nothing is stored, nothing compared:
what is left of a check when every stage of monitor's own is taken away.  Run in its own
process by ``python -m bench`` so its CPU time is its own (``os.wait4``).

``--processes N``: the jobs are dealt to N forked processes (job *i* to process *i* mod N),
the concurrency divided between them (the sum is ``--concurrency``), as ``monitor check``
splits a pass over its workers (``check_workers``): the limit then has the same cores and
the same requests in flight as the check it is compared with.

httpx is used at its best, as monitor uses it: each request borrows a one-connection
client of its origin (``monitor/fetch/lanes.py``, loaded from its file so that monitor's
package is not imported), up to 100 idle ones kept as ``HttpFetcher`` keeps them, and
httpcore's failed ``import sniffio`` is remembered.  With one pooled client instead, ten
requests to one host spend more CPU in the pool than in HTTP (bench/README.md).  With
only 20 idle lanes (as here until the one-host study), a process of a two-process run
holding 25 of the 50 hosts opened a new connection for ~82% of its requests (817 of
1,000; 10 on one host), so the limit was lower on many hosts than on one and monitor,
which keeps its connections, looked closer to it there.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import httpx
from selectolax.lexbor import LexborHTMLParser

LANES = Path(__file__).resolve().parent.parent / "monitor" / "fetch" / "lanes.py"


def _lanes_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_bench_lanes", LANES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def run(jobs: list[list[str]], concurrency: int) -> int:
    lanes_module = _lanes_module()
    ctx = lanes_module.shared_ssl_context()
    lanes = lanes_module.Lanes(
        lambda proxy, limits: httpx.AsyncClient(limits=limits, timeout=30, verify=ctx),
        max_idle=max(100, concurrency))  # as HttpFetcher keeps them (see the docstring)
    limit = asyncio.Semaphore(concurrency)
    ok = 0

    async def one(url: str, sel: str) -> None:
        nonlocal ok
        target = httpx.URL(url)
        async with limit, lanes.lend(target, None) as client:
            r = await client.get(target)
        node = LexborHTMLParser(r.content).css_first(sel)
        if node is not None:
            hashlib.sha256(node.text().encode()).hexdigest()
            ok += 1

    try:
        await asyncio.gather(*(one(u, s) for u, s in jobs))
    finally:
        await lanes.aclose()
    return ok


def in_processes(jobs: list[list[str]], concurrency: int, processes: int) -> int:
    """``run`` over the jobs dealt to ``processes`` forked children; the pages fetched."""
    children = []
    for k in range(processes):
        share = concurrency // processes + (k < concurrency % processes)
        pid = os.fork()
        if pid == 0:  # the child: its part, its exit code the count of pages it fetched
            ok = asyncio.run(run(jobs[k::processes], max(1, share)))
            os._exit(0 if ok == len(jobs[k::processes]) else 1)
        children.append((pid, len(jobs[k::processes])))
    return sum(n for pid, n in children if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("jobs", type=Path)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--processes", type=int, default=1)
    a = ap.parse_args()
    jobs = json.loads(a.jobs.read_text())
    if a.processes > 1:
        ok = in_processes(jobs, a.concurrency, a.processes)
    else:
        ok = asyncio.run(run(jobs, a.concurrency))
    print(json.dumps({"ok": ok, "total": len(jobs)}))
    sys.exit(0 if ok == len(jobs) else 1)


if __name__ == "__main__":
    main()
