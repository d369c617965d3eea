"""The store stage of a changed check and of a first version: CPU ms of ``Store`` calls.

    .venv/bin/python -m bench.bench_commit [--pages 100] [--rounds 3] [--postgres URL]
                                           [--profile first|changed]

``N`` generated pages of ``bench.site`` (30–120 KB, each with its content selector) get a
first version, then ``--rounds`` changed versions each (one sentence added, the view
counter moved: ``bench.site.render``).  Per check, what the pipeline asks of ``Store``
for a page that changed: ``page_state``, the old version's text (the diff reads it;
``LastVersion.text``) and ``commit_check`` of a record with its change row; for a first
version ``page_state`` and ``commit_check``.  The records are made before the clock
starts, so the figures are the storage layer's own (``--postgres``: a new database is
made on that server for the run and dropped after): CPU of this process (user + system,
``time.process_time``; on PostgreSQL the server's work is not in it), median over the
rounds of the mean per check, split into state / old text / commit; ``in turn`` (SQLite):
the part of the commit's CPU spent holding the writers' turn (``storage.turns``), what a
sibling writer waits for (not added to the total again); ``bench.turn_ir`` counts the
same commits' instructions in the turn and in all (callgrind: steadier than CPU time on
a shared machine).

``--profile first`` or ``--profile changed`` prints the top of a cProfile of those
commits (on SQLite, or on PostgreSQL with ``--postgres``).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.bench_checkdb import version
from monitor.config import SourceConfig
from monitor.types import ChangeDecision, ChangeKind
from storage import Store
from storage.instant import utcnow
from storage.records import CheckRecord, NewVersion

WORKER = "bench-host:1"


class Clock:
    """CPU spent per part, summed over the calls."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {"state": 0.0, "old text": 0.0, "commit": 0.0,
                                        "in turn": 0.0}

    def __call__(self, part: str, fn: Callable[[], Any]) -> Any:
        t0 = time.process_time()
        try:
            return fn()
        finally:
            self.spent[part] += time.process_time() - t0


class TurnClock:
    """The store's writers' turn (SQLite) timed from taken to given back: the CPU of the
    commit done while holding the database's write lock, that another writer waits for
    (``in turn``, part of ``commit``).  PostgreSQL has no turn: none is counted."""

    def __init__(self, turn: Any) -> None:
        self.turn, self.clock = turn, Clock()

    def __enter__(self) -> Any:
        got = self.turn.__enter__()
        self.t0 = time.process_time()
        return got

    def __exit__(self, *exc: Any) -> Any:
        self.clock.spent["in turn"] += time.process_time() - self.t0
        return self.turn.__exit__(*exc)


def check(store: Store, src: SourceConfig, new: NewVersion, clock: Clock,
          profile: cProfile.Profile | None = None) -> None:
    rec = record(store, src, new, clock)
    if profile is not None:
        profile.enable()
    clock("commit", lambda: store.commit_check(rec))
    if profile is not None:
        profile.disable()


def record(store: Store, src: SourceConfig, new: NewVersion, clock: Clock) -> CheckRecord:
    """The record of a check of ``src`` that fetched ``new``: the page's state and (when
    it has a version) its old text read, a change row when it had one."""
    state = clock("state", lambda: store.page_state(src))
    changes: tuple[ChangeDecision, ...] = ()
    if state.last is not None:
        old = clock("old text", lambda: state.last.text)
        changes = (ChangeDecision(kind=ChangeKind.CHANGED, summary="1 paragraph added",
                                  stats={"added": 1, "removed": 0},
                                  patch=f"@@ +1 @@\n+{new.text[-40:]}\n"),)
        assert old
    at = utcnow()
    return CheckRecord(
        page_id=state.page_id, expected_last_version_id=state.last.id if state.last else None,
        expected_revision=state.revision, started_at=at, duration=0.01,
        outcome="changed" if state.last else "new", http_status=200, bytes=len(new.raw),
        raw_sha256=new.raw_sha256, worker=WORKER, version=new, observed_at=at,
        changes=changes)


def run(url: str, pages: int, rounds: int, profile: str | None
        ) -> tuple[dict[str, dict[str, float]], cProfile.Profile | None]:
    store = Store(url)
    turns = TurnClock(store._writer) if store.is_sqlite else None
    if turns is not None:
        store._writer = turns
    prof = cProfile.Profile() if profile else None
    try:
        sources = [SourceConfig(name=f"p{i:05d}", url=f"http://127.0.0.2/p{i}.html")
                   for i in range(pages)]
        store.sync_sources(sources)
        firsts = [version(s, i, 0) for i, s in enumerate(sources)]
        # warm: statements, the pool, caches (a page beyond the timed ones)
        extra = SourceConfig(name="warm", url="http://127.0.0.2/warm.html")
        store.sync_sources([*sources, extra])
        for rev in range(3):
            check(store, extra, version(extra, pages, rev), Clock())
        out: dict[str, dict[str, float]] = {}
        clock = _timed_turns(turns, Clock())
        for i, s in enumerate(sources):
            check(store, s, firsts[i], clock, prof if profile == "first" else None)
        out["first version"] = {k: v / pages * 1000 for k, v in clock.spent.items()}
        per_round = []
        for rev in range(1, rounds + 1):
            changed = [version(s, i, rev) for i, s in enumerate(sources)]
            clock = _timed_turns(turns, Clock())
            for i, s in enumerate(sources):
                check(store, s, changed[i], clock, prof if profile == "changed" else None)
            per_round.append({k: v / pages * 1000 for k, v in clock.spent.items()})
        out["changed"] = {k: statistics.median(r[k] for r in per_round)
                          for k in per_round[0]}
        return out, prof
    finally:
        store.close()


def _timed_turns(turns: TurnClock | None, clock: Clock) -> Clock:
    if turns is not None:
        turns.clock = clock
    return clock


@contextmanager
def scratch_postgres(url: str) -> Iterator[str]:
    """A new empty database on the server of ``url`` (its database: where to connect to
    create it), dropped afterwards."""
    import psycopg

    admin_url = url.replace("postgresql+psycopg://", "postgresql://")
    name = f"bench_commit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{url.rsplit('/', 1)[0]}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3, help="changed versions per page")
    ap.add_argument("--postgres", help="a PostgreSQL URL: a new database on its server")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--profile", choices=("first", "changed"))
    args = ap.parse_args()
    table = Table(title="Store CPU ms per check (this process)")
    for c in ("database", "case", "state", "old text", "commit", "in turn", "total"):
        table.add_column(c, justify="left" if c in ("database", "case") else "right")
    with tempfile.TemporaryDirectory() as tmp:
        targets = [] if args.no_sqlite else [("SQLite", f"sqlite:///{tmp}/bench.db")]
        if args.postgres:
            targets.append(("PostgreSQL", args.postgres))
        for label, url in targets:
            with (scratch_postgres(url) if label == "PostgreSQL" else nullcontext(url)) as db:
                got, prof = run(db, args.pages, args.rounds, args.profile)
            for case, parts in got.items():
                table.add_row(label, case, *(f"{parts[k]:.2f}" for k in parts),
                              f"{sum(v for k, v in parts.items() if k != 'in turn'):.2f}")
            if prof is not None:
                pstats.Stats(prof).sort_stats("tottime").print_stats(35)
    Console(width=110).print(table)


if __name__ == "__main__":
    main()
