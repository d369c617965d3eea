"""``monitor --version``, ``monitor status`` and a check's start with many sources (issue 12).

    .venv/bin/python -m bench.bench_status [--sources 10000] [--db sqlite|postgres] [--runs 5]

Builds, without fetching anything, the database a daemon leaves after watching N
sources for a while: the ``sources.toml`` of ``bench/bench_daemon.py`` (N sources over
50 loopback hosts, 10-minute interval), the sources synced and their pages made by the
store itself, then per page 3 check rows (the last one a failure for 5% of them, with an
error message), one version, and the page columns a daemon writes (last check, next
slot, last change, status).  Then runs each command ``--runs`` times in a fresh process
(bytecode cached) and prints the median CPU (user + system of the child) and wall time:

* ``monitor --version``;
* ``monitor status`` piped (every row, plain lines), ``status --json``, and ``status``
  on a terminal (rich forced by ``FORCE_COLOR``/``COLUMNS``; the summary, or every row
  with ``--all``);
* ``monitor sources list`` piped (the file only: its parse, or the cached one).

The first run of each command is untimed (it writes the bytecode and the parsed-file
cache, ``monitor.configcache``).  ``--no-cache`` points ``XDG_CACHE_HOME`` at a
directory that cannot be written, so every run parses the file (what a run after an
edit pays).  PostgreSQL: a database of its own (``MONITOR_TEST_POSTGRES_URL``'s server),
dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.bench_daemon import database, write_sources

ROOT = Path(__file__).resolve().parent.parent


def fill(url: str, sources_path: Path) -> None:
    """The database of a daemon that has watched the file's sources for a while."""
    from monitor.config import load_config
    from storage import Store
    from storage.schedule import Schedule

    config = load_config(sources_path)
    store = Store(url)
    store.sync_sources(config.sources)
    refs = Schedule(store, "bench", 60).ensure_pages(list(config.sources))
    now = datetime.now(UTC).replace(tzinfo=None)
    ids = sorted(r.page_id for r in refs.values())
    checks, versions, pages = [], [], []
    for n, pid in enumerate(ids):
        last = now - timedelta(seconds=n % 600)
        failing = n % 20 == 0
        for k in range(3):
            bad = failing and k == 2
            checks.append((pid, _t(last - timedelta(minutes=10 * (2 - k))),
                           "error" if bad else ("new" if k == 0 else "unchanged"),
                           None if bad else 200,
                           "连接超时 (ConnectTimeout: timed out after 10 s)" if bad else None))
        versions.append((pid, _t(last - timedelta(minutes=20)), "0" * 64, f"page {n}",
                         b"", b"", "{}", b"", "{}", f"http://x/{n}"))
        pages.append(("failing" if failing else "ok", _t(last),
                      _t(last + timedelta(minutes=10)), _t(last - timedelta(minutes=20)),
                      1 if failing else 0, pid))
    with store.engine.begin() as c:
        raw = c.connection.driver_connection
        cur = raw.cursor()
        p = "?" if store.is_sqlite else "%s"
        cur.executemany("INSERT INTO checks (page_id, started_at, duration, outcome, "
                        "http_status, bytes, error) VALUES "
                        f"({p}, {p}, 0.1, {p}, {p}, 2000, {p})", checks)
        cur.executemany("INSERT INTO versions (page_id, fetched_at, content_hash, title, "
                        "line_ids, field_ids, meta, raw_body, headers, url, text_len, raw_codec, "
                        "raw_chain, raw_size, raw_sha256, http_status, text_sha256, number, "
                        f"record_hash) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, "
                        f"{p}, 0, 'zstd', 0, 0, '', 200, '', 1, '')", versions)
        cur.executemany(f"UPDATE pages SET status = {p}, last_check_at = {p}, "
                        f"next_check_at = {p}, last_change_at = {p}, failure_streak = {p} "
                        f"WHERE id = {p}", pages)
    if not store.is_sqlite:
        with store.engine.connect() as c:
            c.exec_driver_sql("ANALYZE")
            c.commit()
    store.close()


def _t(at: datetime) -> object:
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sources", type=int, default=10_000)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--no-cache", action="store_true",
                   help="the parsed-file cache unwritable: every run parses the file")
    p.add_argument("--keep", type=Path, help="build the database in this directory, keep it")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmpdir:
        tmp = args.keep or Path(tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        url, pg = database(args.db, tmp)
        sources = tmp / "sources.toml"
        urls = [f"http://127.0.0.{2 + i % 50}:8000/s{i}.html" for i in range(args.sources)]
        write_sources(sources, urls, 600, 19999)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MONITOR_SOURCES": str(sources),
               "MONITOR_DATABASE_URL": url, "MONITOR_OUTBOX_DIR": str(tmp / "outbox"),
               "XDG_CACHE_HOME": str(tmp / "cache"), "COLUMNS": "160"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if args.no_cache:
            (tmp / "cache").write_text("not a directory")
        os.environ.update({k: env[k] for k in ("MONITOR_DATABASE_URL", "MONITOR_OUTBOX_DIR",
                                               "XDG_CACHE_HOME")})
        started = time.perf_counter()
        fill(url, sources)
        print(f"{args.db}: {args.sources} sources filled in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        terminal = {**env, "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"}
        cases = [("monitor --version", ["--version"], env),
                 ("monitor status (piped)", ["status"], env),
                 ("monitor status --json", ["status", "--json"], env),
                 ("monitor status (terminal)", ["status"], terminal),
                 ("monitor status --all (terminal)", ["status", "--all"], terminal),
                 ("monitor sources list (piped)", ["sources", "list"], env)]
        print(f"{'command':36} {'CPU median s':>13} {'wall median s':>14}  "
              f"(load {os.getloadavg()[0]:.1f})")
        try:
            for name, argv, e in cases:
                try:
                    _run(["-m", "monitor", *argv], e)  # bytecode, the cache
                except subprocess.CalledProcessError:
                    print(f"{name:36} (fails here: not in this version)")
                    continue
                got = [_run(["-m", "monitor", *argv], e) for _ in range(args.runs)]
                print(f"{name:36} {statistics.median(c for _, c in got):13.3f} "
                      f"{statistics.median(w for w, _ in got):14.3f}", flush=True)
        finally:
            if pg is not None:
                admin, dbname = pg
                admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
                admin.close()


if __name__ == "__main__":
    main()
