"""Browser fetching beside the plain fetcher, on the same pages.

    .venv/bin/python -m bench.bench_browser [--pages N]

The pages are the four seed pages (``tests/pages.py``: real government texts in CMS
templates), each behind a script that writes one more paragraph after load (what the
browser is for), served by a loopback server (``tests/sites.py``) without delay.  Each
fetcher gets all N pages through ``Fetcher.fetch_source``; the browser at
``browser_concurrency`` 1 and 2 (one shared Chromium, a fresh context per page), and once
more at 2 with ``browser_max_pages`` a quarter of the pages (what restarting costs).

* pages/s: N over the wall time of the run (the browser's start included: one start
  per run, as in a daemon that has just started);
* peak memory: the largest memory seen (sampled every 50 ms) of this process plus its
  descendants (the Playwright driver and every Chromium process), as RSS summed (what
  ``ps`` shows; counts the libraries Chromium's processes share once per process) and as
  PSS (each shared page divided among its sharers: what the machine really spends).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from monitor.config import SourceConfig
from monitor.fetch import Fetcher
from monitor.settings import Settings
from tests.pages import seed_page
from tests.sites import Response, Site

SCRIPT = (b"<script>setTimeout(function(){var p=document.createElement('p');"
          b"p.textContent='\xe8\xa1\xa5\xe5\x85\x85';document.body.appendChild(p)},50)</script>")


def tree() -> list[int]:
    """This process and all its descendants."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [os.getpid()]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += parents.get(pid, [])
    return out


def memory() -> tuple[int, int]:
    """(RSS, PSS) in bytes of the process tree, from /proc/PID/smaps_rollup."""
    rss = pss = 0
    for pid in tree():
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(("Rss:", "Pss:")):
                kib = int(line.split()[1]) * 1024
                rss, pss = (rss + kib, pss) if line[0:3] == "Rss" else (rss, pss + kib)
    return rss, pss


async def run(settings: Settings, sources: list[SourceConfig]) -> tuple[float, int, int]:
    peak = memory()
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            now = await asyncio.to_thread(memory)
            peak = (max(peak[0], now[0]), max(peak[1], now[1]))
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    async with Fetcher(settings) as fetcher:
        limit = asyncio.Semaphore(settings.browser_concurrency)

        async def one(src: SourceConfig) -> None:
            async with limit:
                await fetcher.fetch_source(src)

        await asyncio.gather(*(one(s) for s in sources))
    elapsed = time.monotonic() - started
    done.set()
    await sampler
    return len(sources) / elapsed, *peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40)
    args = parser.parse_args()
    site = Site()
    urls = [site.route(f"/p{i}.html", Response(
        seed_page(i % 4).replace(b"</body>", SCRIPT + b"</body>"),
        headers={"Content-Type": "text/html; charset=utf-8"})) for i in range(args.pages)]
    base = Settings(allow_private_network=True, respect_robots=False, host_delay=0,
                    host_concurrency=2)
    table = Table("fetcher", "concurrency", "pages/s", "peak RSS (MB)", "peak PSS (MB)",
                  title=f"{args.pages} seed pages on loopback")
    restart = max(args.pages // 4, 1)  # the last row: a fresh browser every `restart` pages
    runs = [("http", 1, 200), ("http", 2, 200), ("browser", 1, 200), ("browser", 2, 200),
            ("browser", 2, restart)]
    for fetch, n, max_pages in runs:
        settings = base.model_copy(update={"browser_concurrency": n, "host_concurrency": n,
                                           "browser_max_pages": max_pages})
        sources = [SourceConfig(name=f"p{i}", url=u, fetch=fetch) for i, u in enumerate(urls)]
        rate, rss, pss = asyncio.run(run(settings, sources))
        name = f"browser, restarted every {max_pages}" if max_pages < 200 else fetch
        table.add_row(name, str(n), f"{rate:.1f}", f"{rss / 1e6:.0f}", f"{pss / 1e6:.0f}")
    site.close()
    Console().print(table)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
