"""CPU of the fetch stage alone: ``HttpFetcher.fetch`` of the bench site's pages.

    .venv/bin/python -m bench.bench_fetch [--pages 100] [--rounds 5] [--port 18101] [--ir] [--etag]
                                          [--dns]

``bench.site``'s pages (30–120 KB, 50 hosts), each a 200 read whole and decoded (what a
changed check's fetch does), ten in flight, one ``HttpFetcher`` as ``monitor check``
holds one; a first round opens the connections, then ``--rounds`` rounds are counted.
``--etag``: the site sends ETags and the counted rounds ask with them (304s, an unchanged
check's fetch with validators).
``--dns``: the pages are asked by name (``h2.bench.test`` for 127.0.0.2 ...) with the
network guard on, as in production; ``socket.getaddrinfo`` is replaced by a table that
answers those names without any query (the thread hop of a lookup stays) and counts the
lookups, and the guard takes the bench's loopback hosts for public ones.  Also printed:
getaddrinfo calls a fetch in the counted rounds, and all of them in the first.
Printed: CPU ms a fetch (``time.process_time``, threads included), or with ``--ir``
instructions a fetch (``valgrind --tool=callgrind``, instrumentation on during the
counted rounds only, every thread; the site is not counted).  Instruction counts hold
still on a loaded machine; CPU time does not.  Needs ``valgrind``, ``callgrind.h`` and
``cc`` for ``--ir``.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.__main__ import ROOT, Site, _env, urls
from bench.turn_ir import HELPER

LOOKUPS = [0, 0]  # getaddrinfo calls of bench names with --dns: counted rounds, first


def _simulate_dns(jobs: list[str]) -> list[str]:
    """``--dns``: the jobs by name, a counting getaddrinfo table, loopback judged public."""
    from monitor.fetch import netguard

    netguard.is_forbidden_ip = lambda ip: False  # the bench's hosts stand for public ones
    real = socket.getaddrinfo

    def table(host: bytes | str | None, port: object, *args: object, **kw: object) -> list:
        name = host.decode() if isinstance(host, bytes) else host
        if name and name.endswith(".bench.test"):
            LOOKUPS[0] += 1
            host = "127.0.0." + name.split(".")[0][1:]  # numeric: answered without a query
        return real(host, port, *args, **kw)  # type: ignore[arg-type]

    socket.getaddrinfo = table  # type: ignore[assignment]
    return [re.sub(r"//127\.0\.0\.(\d+)", r"//h\1.bench.test", url) for url in jobs]


async def _fetch_all(jobs: list[str], rounds: int, lib: str | None, etag: bool,
                     dns: bool = False) -> float:
    from monitor.fetch.http import HttpFetcher
    from monitor.settings import Settings

    cg = ctypes.CDLL(lib) if lib else None
    settings = Settings(allow_private_network=not dns, host_delay=0, concurrency=10,
                        host_concurrency=1, respect_robots=False, retries=0)
    slots = asyncio.Semaphore(10)
    etags: dict[str, str | None] = {}

    async def one(url: str) -> None:
        async with slots:
            got = await fetcher.fetch(url, etag=etags.get(url))
            assert got.not_modified if etags.get(url) else got.text
            if etag:
                etags[url] = got.etag

    async with HttpFetcher(settings, verify_peer=dns) as fetcher:
        await asyncio.gather(*(one(u) for u in jobs))  # connections opened
        LOOKUPS[:] = [0, LOOKUPS[0]]
        if cg:
            cg.cg_start()
        t0 = time.process_time()
        for _ in range(rounds):
            await asyncio.gather(*(one(u) for u in jobs))
        spent = time.process_time() - t0
        if cg:
            cg.cg_stop()
    return spent


def _inside(args: argparse.Namespace) -> None:
    jobs = [url for url, _ in urls(args.pages, 50, args.port, "many hosts")]
    if args.dns:
        jobs = _simulate_dns(jobs)
    spent = asyncio.run(_fetch_all(jobs, args.rounds, os.environ.get("BENCH_FETCH_CG"),
                                   args.etag, args.dns))
    print(f"{1000 * spent / args.rounds / args.pages:.3f} "
          f"{LOOKUPS[0] / args.rounds / args.pages:.3f} {LOOKUPS[1]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--port", type=int, default=18101)
    ap.add_argument("--ir", action="store_true")
    ap.add_argument("--etag", action="store_true")
    ap.add_argument("--dns", action="store_true")
    args = ap.parse_args()
    if os.environ.get("BENCH_FETCH_INSIDE"):
        _inside(args)
        return
    own = [f"--pages={args.pages}", f"--rounds={args.rounds}", f"--port={args.port}",
           *(["--etag"] if args.etag else []), *(["--dns"] if args.dns else [])]
    env = {**_env(), "BENCH_FETCH_INSIDE": "1"}
    site = Site(args.pages, 50, args.port)
    try:
        site.control(f"/_ctl/etag/{int(args.etag)}")
        if not args.ir:
            out = subprocess.run([sys.executable, "-m", "bench.bench_fetch", *own], cwd=ROOT,
                                 env=env, check=True, capture_output=True, text=True).stdout
            cpu, lookups, first = out.split()
            print(f"{float(cpu):.3f} CPU ms a fetch" + (
                f", {float(lookups):.2f} getaddrinfo calls a fetch ({first} in the first "
                "round, connections opened)" if args.dns else ""))
            return
        with tempfile.TemporaryDirectory() as tmp:
            lib, out_file = str(Path(tmp) / "libcg.so"), Path(tmp) / "callgrind.out"
            (Path(tmp) / "cg.c").write_text(HELPER + "void cg_stop(void) "
                                            "{ CALLGRIND_STOP_INSTRUMENTATION; }\n")
            subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", lib,
                            str(Path(tmp) / "cg.c")], check=True)
            subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                            f"--callgrind-out-file={out_file}", sys.executable, "-m",
                            "bench.bench_fetch", *own], cwd=ROOT,
                           env={**env, "BENCH_FETCH_CG": lib}, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            totals = next(line for line in out_file.read_text().splitlines()
                          if line.startswith("totals:"))
            ir = int(totals.split()[1]) / args.rounds / args.pages
            print(f"{ir / 1e6:.3f} M instructions a fetch")
    finally:
        site.close()


if __name__ == "__main__":
    main()
