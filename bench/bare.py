"""The bare limit of a check: httpx fetch + selectolax parse + SHA-256 of the selected text.

    python -m bench.bare JOBS.json --concurrency 10

``JOBS.json`` is a list of ``[url, css_selector]``.  Nothing is stored, nothing compared:
what is left of a check when every stage of monitor's own is taken away.  Run in its own
process by ``python -m bench`` so its CPU time is its own (``os.wait4``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
from pathlib import Path

import httpx
from selectolax.lexbor import LexborHTMLParser


async def run(jobs: list[list[str]], concurrency: int) -> int:
    limit = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    ok = 0
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(url: str, sel: str) -> None:
            nonlocal ok
            async with limit:
                r = await client.get(url)
            node = LexborHTMLParser(r.content).css_first(sel)
            if node is not None:
                hashlib.sha256(node.text().encode()).hexdigest()
                ok += 1

        await asyncio.gather(*(one(u, s) for u, s in jobs))
    return ok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("jobs", type=Path)
    ap.add_argument("--concurrency", type=int, default=10)
    a = ap.parse_args()
    jobs = json.loads(a.jobs.read_text())
    ok = asyncio.run(run(jobs, a.concurrency))
    print(json.dumps({"ok": ok, "total": len(jobs)}))
    sys.exit(0 if ok == len(jobs) else 1)


if __name__ == "__main__":
    main()
