"""The database work of one check, alone: CPU and wall ms per check.

    .venv/bin/python -m bench.bench_checkdb [--pages 100] [--checks 500] [--postgres URL]

What ``monitor check`` asks of the database for each page, without fetching or parsing
(those are timed by ``python -m bench``): ``N`` pages get a first version (the
generated pages of ``bench.site``, 30–120 KB, each with its content selector), then

* **unchanged**: ``Schedule.take``, ``Store.page_state``, ``Store.commit_check`` of an
  unchanged record, ``Schedule.give_back`` (one page alone, as the daemon and a busy
  page's check do);
* **unchanged, batched**: what ``monitor check`` does for a batch of ``BATCH`` pages
  (``monitor.batch``): ``Schedule.take_many``, ``Store.page_states``, then
  ``Store.commit_checks`` of their unchanged records (each ending its lease), per page;
* **changed**: ``Store.page_state``, the old version's text (``LastVersion.text``, which
  the diff reads), ``Store.commit_check`` of a new version (one sentence added).

The records are made before the clock starts (text extracted, hashes taken), so the
figures are the storage layer's own.  SQLite in a temporary file; PostgreSQL with
``--postgres`` (an empty database).
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import tempfile
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from bench.site import render, selector
from monitor.config import SourceConfig
from monitor.extract import extract
from monitor.fetch.encoding import decode_html
from storage import Store
from storage.instant import utcnow
from storage.records import CheckRecord, LeaseEnd, NewVersion
from storage.schedule import Schedule

WORKER = "bench-host:1"
BATCH = 10  # records a group commit of ``monitor check`` holds at concurrency 10


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def version(src: SourceConfig, i: int, rev: int) -> NewVersion:
    """Page ``i`` of the bench site at revision ``rev``, extracted as a check would store it
    (its body's hash taken before, as the fetch takes it: ``NewVersion.raw_hashed``)."""
    raw = render(i, rev)
    got = extract(decode_html(raw, None)[0], content=[selector(i)])
    return NewVersion(
        content_hash=hashlib.sha256(f"{got.title}\n{got.text}".encode()).hexdigest(),
        title=got.title, text=got.text, metadata=dict(got.metadata), raw=raw,
        raw_sha256=hashlib.sha256(raw).hexdigest(), raw_hashed=raw, http_status=200,
        headers={"content-type": "text/html; charset=utf-8"}, url=src.url,
        charset="utf-8", fetched_at=utcnow())


class Bench:
    def __init__(self, store: Store, n: int) -> None:
        self.store, self.n = store, n
        self.sources = [SourceConfig(name=f"p{i:05d}", url=f"http://127.0.0.2/p{i}.html")
                        for i in range(n)]
        store.sync_sources(self.sources)
        self.schedule = Schedule(store, WORKER, 600)
        self.page_ids: list[int] = []

    def commit(self, i: int, version: NewVersion | None) -> None:
        state = self.store.page_state(self.sources[i])
        if version is not None and state.last is not None:
            _ = state.last.text  # the diff reads the old text
        at = utcnow()
        outcome = "unchanged" if version is None else "changed" if state.last else "new"
        self.store.commit_check(CheckRecord(
            page_id=state.page_id,
            expected_last_version_id=state.last.id if state.last else None,
            expected_revision=state.revision, started_at=at, duration=0.01,
            outcome=outcome, http_status=200, bytes=50_000, raw_sha256="0" * 64,
            worker=WORKER, version=version, observed_at=at))

    def batched(self, k: int) -> None:
        """``BATCH`` unchanged checks as ``monitor check`` makes them (one call: k-th batch)."""
        ids = [self.page_ids[(k * BATCH + j) % self.n] for j in range(BATCH)]
        self.schedule.take_many(ids, utcnow())
        states = self.store.page_states(ids)
        at = utcnow()
        self.store.commit_checks([CheckRecord(
            page_id=st.page_id, expected_last_version_id=st.last.id if st.last else None,
            expected_revision=st.revision, started_at=at, duration=0.01, outcome="unchanged",
            http_status=200, bytes=50_000, raw_sha256="0" * 64, worker=WORKER,
            observed_at=at, lease=LeaseEnd(WORKER)) for st in states.values()])

    def unchanged(self, k: int) -> None:
        i = k % self.n
        page_id = self.store.page_state(self.sources[i]).page_id
        self.schedule.take(page_id, utcnow())
        self.commit(i, None)
        self.schedule.give_back(page_id)


def timed(fn: Callable[[int], None], reps: int) -> tuple[float, float]:
    c0, w0 = _cpu(), time.perf_counter()
    for k in range(reps):
        fn(k)
    return (_cpu() - c0) / reps * 1000, (time.perf_counter() - w0) / reps * 1000


def run(url: str, pages: int, checks: int) -> dict[str, tuple[float, float]]:
    store = Store(url)
    try:
        b = Bench(store, pages)
        first = [version(s, i, 0) for i, s in enumerate(b.sources)]
        out = {"first version": timed(lambda k: b.commit(k, first[k]), pages)}
        for k in range(min(50, checks)):  # warm: caches, statements, pool
            b.unchanged(k)
        out["unchanged"] = timed(b.unchanged, checks)
        b.page_ids = [b.store.page_state(s).page_id for s in b.sources]
        b.batched(0)
        cpu, wall = timed(b.batched, max(1, checks // BATCH))
        out[f"unchanged, batched ({BATCH})"] = (cpu / BATCH, wall / BATCH)
        changed = [version(s, i, 1) for i, s in enumerate(b.sources)]
        out["changed"] = timed(lambda k: b.commit(k, changed[k]), pages)
        return out
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--checks", type=int, default=500, help="unchanged checks to time")
    ap.add_argument("--postgres", help="an empty PostgreSQL database URL to measure too")
    args = ap.parse_args()
    table = Table(title="database work of one check (ms per check)")
    for c in ("database", "case", "CPU ms", "wall ms"):
        table.add_column(c, justify="left" if c in ("database", "case") else "right")
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("SQLite", f"sqlite:///{tmp}/bench.db")]
        if args.postgres:
            targets.append(("PostgreSQL", args.postgres))
        for label, url in targets:
            for case, (cpu, wall) in run(url, args.pages, args.checks).items():
                table.add_row(label, case, f"{cpu:.2f}", f"{wall:.2f}")
    Console(width=100).print(table)


if __name__ == "__main__":
    main()
