"""The daemon with many sources: RSS of its process tree and how late checks start.

    .venv/bin/python -m bench.bench_daemon                       # 10,000 sources, SQLite
    .venv/bin/python -m bench.bench_daemon --db postgres         # MONITOR_TEST_POSTGRES_URL
    .venv/bin/python -m bench.bench_daemon --sources 2000 --interval 300 --window 300

A generated ``sources.toml`` of N sources spread over H loopback hosts (127.0.0.2,
127.0.0.3, …), served by a separate process (asyncio, keep-alive, ``TCP_NODELAY``);
``monitor run`` runs as a subprocess against it.  The pages are small (a title and
twelve paragraphs, ~2 KB): this measures the scheduler, memory and queues, not the cost
of one check (``python -m bench`` does that).  A share of the pages (``--change``)
changes every minute, so diffs (and their worker processes) happen as they would.

Measured:

* **RSS**: the sum of ``VmRSS`` over the daemon and all its descendants (diff workers
  included), sampled every second: peak during the first pass (every source new and
  due at once), and peak in the steady state after it.
* **lag**: at the server, each request's arrival minus the source's latest slot on its
  grid (``monitor.scheduler.plan_for``, the daemon's own plan): p50/p95/max over the
  window after the first pass.  A slot in the window with no request in the interval
  after it is a **missed slot**; a source with none at all is **never checked**.
* the daemon's own ``/metrics``: ``monitor_due_backlog`` and
  ``monitor_scheduler_lag_seconds`` (sampled), and the start-lag histogram's p95.
* **CPU per check** after the first pass: user + system time of the daemon's process
  tree (and, on PostgreSQL, of the server's backends for the benchmark's database) over
  the checks of the window.  Unlike the lag, it does not depend on what else the
  machine runs; ``1000 / cpu_ms_per_check`` is the rate one free core allows.

The settings are the defaults except ``host_delay = 0`` (a local server); ``--jitter``
sets that one too (the runs before 2026-12-06 08:00 used 0.5).  The first pass ends when
every source has been checked once (``outcome="new"``).

The latest run (2026-12-06 evening, after the Core rewrite): bench/README.md, "The daemon
with 10,000 sources".  The morning's (2-core VM shared with four other jobs, load 4-12;
10,000 sources over 50 hosts, 10-minute interval, 5% of the pages changing each minute,
so ~40% of the checks store a version):

=================================  ======================  ======================
                                   before (96b27ab,        after (branch h/daemon)
                                   jitter 0.5)             default jitter 1
=================================  ======================  ======================
SQLite: first pass                 404 s                   258 s
SQLite: lag at the server after    p50 89 s, p95 146 s,    p50 0.015 s, p95 0.067 s,
  the first pass (10 min)          max 596 s               max 1.06 s; none missed
SQLite: daemon CPU per check       14.2 ms (load 6-7)      15.3 ms (load 3-6)
SQLite: tree RSS peak / steady     165 / 151 MB            165 / 150 MB
PostgreSQL: first pass             525 s                   442 s
PostgreSQL: lag after the first    p50 219 s, p95 396 s,   p50 0.048 s, p95 0.298 s,
  pass (10 min)                    max 599 s; 962 sources  max 1.68 s; every source
                                   never checked           checked
PostgreSQL: CPU per check, daemon  24.4 + 13.7 ms          19.0 + 11.7 ms
  + server backends                (load 10-11)            (load 4-9)
PostgreSQL: tree RSS peak / steady 217 / 153 MB            196 / 152 MB
=================================  ======================  ======================

What changed: the slots of an interval are spread over all of it (``jitter`` 1: 16.7
checks a second instead of 33/s in the first half, 167/s with the old default 0.1);
host queues and the concurrency cap go earliest deadline first, so the first pass
takes the capacity the slots leave (before, every slot due during the first pass
waited behind it, and the backlog took most of the next interval to clear); the
dispatcher reads the next 2 s of slots once a second and hands each page over at its
slot by a timer (it polled every 0.2 s); the check's commit ends its lease (one
transaction a check less); httpcore's failed ``import sniffio`` (six a request) is
cached.  Unchanged pages only, all due at once (a saturated daemon, SQLite), the
daemon's CPU per check went from 8.0-9.4 ms to 6.0-8.2 ms (load 6-8).  Client CPU of a
check's database work alone (claim, state, commit, release), 250 checks: SQLite 1.6 →
1.4 ms, PostgreSQL 6.4 → 5.0 ms.  What is left of a check's CPU is mostly the fetch:
in a yappi profile of the unchanged checks, httpx/httpcore took ~60% of the daemon's
CPU (the pool scanning every connection on each request ~20%, ``proxy_for`` reading
the environment's proxies twice a request ~10%), the database ~15%.

The CPU per check of this mixed run did not move beyond the noise of a shared machine
(14.2 → 15.3 ms on SQLite; the run before also spread fixed costs over 14,000 checks
of a backlog): the savings above are ~1-2 ms of a check whose rest is the pipeline's.
The lag did, by the schedule and the queue order.  At 16.7 checks a second the daemon
needs 16.7 × 14 ms ≈ 25% of one core on SQLite, and
16.7 × 19 ms ≈ 32% plus the server's 20% on PostgreSQL: with the machine's load above
~8 on its 2 cores, it gets about that much and the lag grows, whatever the scheduler.

Earlier numbers (2026-12-06, load average 10-20, ``jitter = 0.5``):

=================================  ======================  ===========================
                                   before (77ecafd)        after (branch h/daemon)
=================================  ======================  ===========================
start to "monitor running"         47-110 s                18 s
checks in the first 180 s          0 (still starting)      1,883 (SQLite), 1,786 (PG)
first pass, 10,000 new pages       2,617 done after 8 min  350 s (SQLite)
daemon RSS, first pass (all due)   210-227 MB              212 MB peak (SQLite),
                                                           197 MB peak (PostgreSQL)
tree RSS, steady, with diffs       + 2 × 93 MB workers     162 MB median, 212 MB peak
                                   (console script)        (workers only for rewrites,
                                                           21-25 MB, stopped when idle)
backlog / lag gauges, first pass   none / 0 s              9,992 due / up to 332 s
=================================  ======================  ===========================

PostgreSQL's 197 MB run came after two start-up fixes (page refs by columns, heap
handed back; 258 MB before them), on a less loaded machine (6,759 checks in its first
180 s).  Lag after the first pass, at 10,000 sources (SQLite): p50 24 s, p95 241 s,
no source left unchecked in the 10 minutes: this machine ran ~30 checks/s,
and ``jitter = 0.5`` puts the 10,000 slots of each interval in its first 5 minutes,
33/s; the gauges showed the backlog the whole time.  With 2,000 sources (same hosts
and interval, ``--sources 2000 --window 300``) the CPU keeps up: lag at the server p50
0.115 s, p95 0.228 s, max 0.417 s over 1,119 checks (the daemon's histogram: p95 ≤
0.25 s), first pass 69 s, tree RSS 120 MB, no diff worker started.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
LATE = 5.0  # seconds: a slot this close to the window's end may be checked after it
PG_URL = os.environ.get("MONITOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


# --- the site: one process, one asyncio server per loopback host --------------------------


def page(i: int, version: int) -> bytes:
    body = "".join(f"<p>第{i}号文件的答复第{k}段：办理情况如下，第{version}版。</p>"
                   for k in range(12))
    return (f"<html><head><title>文件{i}</title></head><body><div>{body}</div>"
            f"</body></html>").encode()


def serve(hosts: list[str], n: int, change: float, ready: object, stop: object,
          out: object) -> None:
    """Runs in its own process: serves /s{i}.html, logs (i, arrival) per request."""
    versions = [0] * n
    arrivals: list[tuple[int, float]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                while (await reader.readline()).strip():
                    pass
                path = line.split()[1].decode()
                status, data = b"404 Not Found", b"not found"
                if path.startswith("/s") and path.endswith(".html"):
                    i = int(path[2:-5])
                    arrivals.append((i, time.time()))
                    status, data = b"200 OK", page(i, versions[i])
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html; "
                             b"charset=utf-8\r\nContent-Length: " + str(len(data)).encode()
                             + b"\r\n\r\n" + data)
                await writer.drain()
        except (ConnectionError, IndexError, ValueError):
            pass
        finally:
            writer.close()

    async def changes() -> None:
        k = 0
        while True:
            await asyncio.sleep(60)
            step = max(1, int(1 / change)) if change else 0
            for i in range(k % max(step, 1), n, step or n + 1):
                versions[i] += 1
            k += 1

    async def main() -> None:
        servers = [await asyncio.start_server(handle, h, 0) for h in hosts]
        ready.send([s.sockets[0].getsockname()[1] for s in servers])  # type: ignore[attr-defined]
        task = asyncio.create_task(changes())
        await asyncio.to_thread(stop.wait)  # type: ignore[attr-defined]
        task.cancel()
        out.send(arrivals)  # type: ignore[attr-defined]

    asyncio.run(main())


# --- the daemon ------------------------------------------------------------------------


def write_sources(path: Path, urls: list[str], interval: int, metrics_port: int,
                  jitter: float | None = None) -> None:
    head = (f"[settings]\nallow_private_network = true\nhost_delay = 0\n"
            f"respect_robots = false\nmetrics_port = {metrics_port}\n"
            + (f"jitter = {jitter}\n" if jitter is not None else "") + "\n")
    parts = [head]
    for i, url in enumerate(urls):
        parts.append(f'[[sources]]\nname = "s{i:05d}"\nurl = "{url}"\n'
                     f'interval = "{interval}s"\n\n')
    path.write_text("".join(parts), encoding="utf-8")


def tree_rss(pid: int, cpu: dict[int, float] | None = None) -> tuple[int, int]:
    """(bytes of VmRSS summed over ``pid`` and its descendants, number of processes);
    ``cpu`` gets each one's CPU seconds so far (user + system) by pid."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, count, todo = 0, 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        count += 1
            if cpu is not None:
                with open(f"/proc/{p}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                cpu[p] = (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError, ValueError):
            pass
    return total, count


def metrics(port: int) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            label = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[s.name + (f"{{{label}}}" if label else "")] = s.value
    return out


def histogram_p95(m: dict[str, float], name: str) -> float | None:
    buckets = sorted((float(k.split("le=")[1].rstrip("}")), v) for k, v in m.items()
                     if k.startswith(f"{name}_bucket{{"))
    if not buckets or not buckets[-1][1]:
        return None
    total = buckets[-1][1]
    return next(le for le, v in buckets if v >= 0.95 * total)


def db_cpu(pg: object, out: dict[int, float]) -> None:
    """CPU seconds of the PostgreSQL backends serving the benchmark's database, by pid
    (the server runs on this machine)."""
    if pg is None:
        return
    admin, name = pg  # type: ignore[misc]
    try:
        pids = [r[0] for r in admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))]
    except Exception:
        return
    for p in pids:
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            out[p] = (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError, ValueError):
            pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the analysis ----------------------------------------------------------------------


def slots_of(n: int, interval: int, jitter: float | None) -> list[tuple[float, float]]:
    """(first slot as epoch seconds, interval) for each source, from the daemon's plan."""
    from monitor.config import SourceConfig, parse_interval
    from monitor.scheduler import plan_for
    from monitor.settings import Settings

    settings = Settings() if jitter is None else Settings(jitter=jitter)
    out = []
    now = datetime.now(UTC)
    for i in range(n):
        src = SourceConfig(name=f"s{i:05d}", url="http://x/", interval=parse_interval(
            f"{interval}s"))
        out.append((plan_for(src, settings).next_after(now).timestamp(), float(interval)))
    return out


def lag_report(arrivals: list[tuple[int, float]], n: int, interval: int,
               window: tuple[float, float], jitter: float | None) -> dict[str, object]:
    grid = slots_of(n, interval, jitter)
    per: list[list[float]] = [[] for _ in range(n)]
    for i, t in arrivals:
        per[i].append(t)
    lags, missed, slots, never, closing = [], 0, 0, 0, 0
    start, end = window
    for i, times in enumerate(per):
        first, step = grid[i]
        inside = [t for t in times if start <= t <= end]
        if not inside:
            # due by LATE before the window closed, or only in its last seconds (its
            # check may start after the window: not counted as never checked)
            due = first + math.ceil((start - first) / step) * step <= end - LATE
            never += due
            closing += not due
        for t in inside:
            k = (t - first) // step
            lags.append(t - (first + k * step))
        # every slot of the window whose whole interval lies in the window
        s = first + math.ceil((start - first) / step) * step
        while s + step <= end:
            slots += 1
            j = bisect.bisect_left(times, s)
            if j == len(times) or times[j] >= s + step:
                missed += 1
            s += step
    lags.sort()
    q = (lambda p: round(lags[min(len(lags) - 1, int(p * len(lags)))], 3)) if lags else (
        lambda p: None)
    return {"checks_in_window": len(lags), "lag_p50_s": q(0.5), "lag_p95_s": q(0.95),
            "lag_max_s": round(lags[-1], 3) if lags else None, "slots_in_window": slots,
            "missed_slots": missed, "sources_never_checked_in_window": never,
            f"sources_due_only_in_the_last_{LATE:g}_s_not_checked": closing}


# --- one run ---------------------------------------------------------------------------


def database(kind: str, tmp: Path) -> tuple[str, object]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'monitor.db'}", None
    import psycopg

    admin = psycopg.connect(PG_URL, autocommit=True)
    name = f"monitor_bench_{os.getpid()}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_URL.rsplit('/', 1)[0]}/{name}", (admin, name)


def run(args: argparse.Namespace, kind: str) -> dict[str, object]:
    hosts = [f"127.0.0.{2 + h}" for h in range(args.hosts)]
    ctx = multiprocessing.get_context("spawn")
    ready_r, ready_w = ctx.Pipe(False)
    out_r, out_w = ctx.Pipe(False)
    stop = ctx.Event()
    server = ctx.Process(target=serve, args=(hosts, args.sources, args.change, ready_w, stop,
                                             out_w), daemon=True)
    server.start()
    ports = ready_r.recv()
    urls = [f"http://{hosts[i % len(hosts)]}:{ports[i % len(hosts)]}/s{i}.html"
            for i in range(args.sources)]
    with tempfile.TemporaryDirectory(prefix="bench-daemon-") as tmpdir:
        tmp = Path(tmpdir)
        url, pg = database(kind, tmp)
        mport = free_port()
        sources = tmp / "sources.toml"
        write_sources(sources, urls, args.interval, mport, args.jitter)
        env = dict(os.environ, MONITOR_DATABASE_URL=url, MONITOR_OUTBOX_DIR=str(tmp / "outbox"),
                   PYTHONPATH=str(ROOT))
        log = open(tmp / "daemon.log", "wb")
        t0 = time.time()
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--sources",
                                 str(sources)], cwd=tmp, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        samples: list[tuple[float, int, int, dict[str, float]]] = []
        cpu: dict[int, float] = {}  # pid -> CPU seconds, the daemon's tree
        dbcpu: dict[int, float] = {}  # pid -> CPU seconds, PostgreSQL's backends
        cpu_at: list[tuple[float, float]] = []  # (tree, database) CPU s at each sample
        first_pass_end = None
        try:
            while True:
                time.sleep(1.0)
                if proc.poll() is not None:
                    tail = (tmp / "daemon.log").read_text()[-3000:]
                    raise SystemExit(f"the daemon exited: {tail}")
                rss, nproc = tree_rss(proc.pid, cpu)
                db_cpu(pg, dbcpu)
                m = metrics(mport)
                samples.append((time.time(), rss, nproc, m))
                cpu_at.append((sum(cpu.values()), sum(dbcpu.values())))
                checks = sum(v for k, v in m.items() if k.startswith("monitor_checks_total"))
                # every source checked once: slots of the sources checked first come due
                # during the first pass (and go first), so all checks would end it early
                first = m.get('monitor_checks_total{outcome=new}', 0)
                if first_pass_end is None and first >= args.sources:
                    first_pass_end = time.time()
                    print(f"{kind}: first pass done in {first_pass_end - t0:.0f} s", flush=True)
                if first_pass_end is None and time.time() - t0 > args.first_pass_limit:
                    first_pass_end = time.time()
                    print(f"{kind}: first pass not done after {args.first_pass_limit} s "
                          f"({first:.0f} sources of {checks:.0f} checks)", flush=True)
                if first_pass_end is not None and time.time() - first_pass_end >= args.window:
                    break
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            stop.set()
            arrivals = out_r.recv()
            server.join(10)
            log.close()
            if pg is not None:
                admin, name = pg
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.close()
    assert first_pass_end is not None
    window = (first_pass_end, samples[-1][0])
    steady = [s for s in samples if s[0] >= first_pass_end]
    last = next((s[3] for s in reversed(samples) if s[3]), {})  # a scrape may time out
    i0 = next(i for i, s in enumerate(samples) if s[0] >= first_pass_end)
    checks_at = [sum(v for k, v in s[3].items() if k.startswith("monitor_checks_total"))
                 if s[3] else None for s in samples]
    i1 = max(i for i, c in enumerate(checks_at) if c is not None)
    i0 = min((i for i in range(i0, i1 + 1) if checks_at[i] is not None), default=i1)
    done = (checks_at[i1] or 0) - (checks_at[i0] or 0)
    cpu_s = cpu_at[i1][0] - cpu_at[i0][0]
    db_s = cpu_at[i1][1] - cpu_at[i0][1]
    report: dict[str, object] = {
        "db": kind, "sources": args.sources, "hosts": args.hosts,
        "interval_s": args.interval, "jitter": args.jitter,
        "first_pass_s": round(first_pass_end - t0, 1),
        "window_s": round(window[1] - window[0], 1),
        "rss_peak_mb": round(max(s[1] for s in samples) / 2**20, 1),
        "rss_steady_peak_mb": round(max(s[1] for s in steady) / 2**20, 1),
        "rss_steady_median_mb": round(statistics.median(s[1] for s in steady) / 2**20, 1),
        "processes_max": max(s[2] for s in samples),
        "checks_total": sum(v for k, v in last.items() if k.startswith("monitor_checks_total")),
        "metric_backlog_max_first_pass": max((s[3].get("monitor_due_backlog", 0)
                                              for s in samples if s[0] < first_pass_end),
                                             default=None),
        "metric_lag_max_first_pass_s": max((s[3].get("monitor_scheduler_lag_seconds", 0)
                                            for s in samples if s[0] < first_pass_end),
                                           default=None),
        "metric_start_lag_p95_s": histogram_p95(last, "monitor_scheduler_start_lag_seconds"),
        # after the first pass: load-independent cost, and the rate one core would allow
        "steady_checks": done, "steady_cpu_s": round(cpu_s, 1),
        "cpu_ms_per_check": round(1000 * cpu_s / done, 2) if done else None,
        "db_server_cpu_ms_per_check": round(1000 * db_s / done, 2) if done and pg else None,
        "checks_per_cpu_s": round(done / cpu_s, 1) if cpu_s else None,
        "load_average": os.getloadavg(),
    }
    report.update(lag_report(arrivals, args.sources, args.interval, window, args.jitter))
    return report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sources", type=int, default=10_000)
    p.add_argument("--hosts", type=int, default=50)
    p.add_argument("--interval", type=int, default=600, help="seconds")
    p.add_argument("--window", type=int, default=600,
                   help="seconds measured after the first pass")
    p.add_argument("--first-pass-limit", type=int, default=1200)
    p.add_argument("--change", type=float, default=0.05, help="share changed each minute")
    p.add_argument("--jitter", type=float, help="the setting (default: the daemon's)")
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    p.add_argument("--json", type=Path, help="also write the reports here")
    args = p.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    reports = []
    for kind in kinds:
        report = run(args, kind)
        print(json.dumps(report, ensure_ascii=False), flush=True)
        reports.append(report)
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
