"""Three ``monitor run`` replicas on one PostgreSQL database share 200 sources.

Counted at the server: every page is fetched once per period (never twice in one slot
of its schedule, whichever replica fires first), and when one replica is killed with
``kill -9`` the pages it held are checked again once its lease expires.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from monitor.config import SourceConfig
from monitor.scheduler import plan_for
from monitor.settings import Settings
from storage import Store
from tests.conftest import write_sources
from tests.sites import Request, Response, Site
from tests.test_daemon_run import Daemon, Daemons, page, wait_until

N = 200
PERIOD = 8  # seconds: the interval of every source (a round of 200 checks takes ~3 s)
LEASE = 2  # seconds: settings.lease_seconds, short so the takeover is quick


class Recorder:
    """Wall-clock time of every fetch, per path."""

    def __init__(self, site: Site) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()
        # The test server writes headers and body separately: without TCP_NODELAY, Nagle
        # and the client's delayed ACK add 40 ms to every fetch.
        site.server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        for i in range(N):
            body = Response(page(f"第{i}号提案的答复"),
                            headers={"Content-Type": "text/html; charset=utf-8"})
            site.route(f"/p{i}.html", self._handler(body))

    def _handler(self, body: Response):  # type: ignore[no-untyped-def]
        def handle(req: Request) -> Response:
            with self.lock:
                self.times[req.path].append(time.time())
            return body
        return handle

    def between(self, path: str, start: float, end: float) -> list[float]:
        with self.lock:
            return [t for t in self.times[path] if start <= t < end]


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Daemons]:
    ds = Daemons(tmp_path)
    yield ds
    ds.kill_all()


def slot_of(i: int, at: float) -> int:
    """The index of the schedule slot of source ``p{i}`` that contains ``at``."""
    src = SourceConfig(name=f"p{i}", url="http://x/", interval=timedelta(seconds=PERIOD))
    first = plan_for(src, Settings()).next_after(datetime.fromtimestamp(0, UTC))
    return math.floor((at - first.timestamp()) / PERIOD)


def leases(pg_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute("SELECT s.name, p.lease_owner FROM pages p JOIN sources s "
                            "ON s.id = p.source_id WHERE p.lease_owner IS NOT NULL").fetchall()


def checks_by_worker(pg_url: str) -> dict[str, int]:
    with psycopg.connect(pg_url) as conn:
        return dict(conn.execute("SELECT worker, count(*) FROM checks GROUP BY worker"))


@pytest.mark.postgres
def test_three_replicas_fetch_each_page_once_per_period_and_take_over_after_kill_9(
        tmp_path: Path, site: Site, pg_url: str, daemons: Daemons) -> None:
    rec = Recorder(site)
    sources = write_sources(tmp_path / "sources.toml", "".join(
        f'[[sources]]\nname = "p{i}"\nurl = "{site.url(f"/p{i}.html")}"\n'
        f'interval = "{PERIOD}s"\n\n' for i in range(N)), settings=f"lease_seconds = {LEASE}\n")
    Store(pg_url).close()  # migrate once, before the replicas start
    replicas = [daemons.start(sources, db_url=pg_url) for _ in range(3)]
    wait_until(lambda: len(rec.times) == N, 120, "every page fetched once")

    t0 = time.time() + PERIOD  # after the start-up round
    time.sleep(PERIOD + 3 * PERIOD)
    t1 = t0 + 3 * PERIOD
    per_path = [rec.between(f"/p{i}.html", t0, t1) for i in range(N)]
    for i, times in enumerate(per_path):
        slots = [slot_of(i, t) for t in times]
        assert len(slots) == len(set(slots)), f"p{i} fetched twice in one period: {times}"
        assert len(times) >= 2, f"p{i} missed periods: {times}"  # 3 periods, ±1 at the edges
    total = sum(len(t) for t in per_path)
    spread = sorted(Counter(len(t) for t in per_path).items())
    print(f"\n{N} sources x 3 replicas, 3 periods of {PERIOD}s: {total} fetches, "
          f"(fetches per page, pages): {spread}, never 2 in one slot; "
          f"checks by replica: {sorted(checks_by_worker(pg_url).values())}")
    assert 3 * N - N // 2 <= total <= 3 * N + N // 2

    victim, orphans = _kill_a_replica_holding_leases(pg_url, replicas)
    killed_at = time.time()
    for name in orphans:
        wait_until(lambda n=name: rec.between(f"/{n}.html", killed_at, 1e12), 4 * PERIOD,
                   f"{name} taken over")
    if orphans:
        takeover = max(rec.between(f"/{n}.html", killed_at, 1e12)[0]
                       for n in orphans) - killed_at
        print(f"kill -9 of a replica holding {len(orphans)} leases: taken over after "
              f"{takeover:.1f}s (lease {LEASE}s)")

    after = killed_at + LEASE  # every page is checked again by the two survivors
    wait_until(lambda: all(rec.between(f"/p{i}.html", after, 1e12) for i in range(N)),
               4 * PERIOD, "every page checked after the kill")
    for d in replicas:
        if d is not victim:
            assert d.stop() == 0


def _kill_a_replica_holding_leases(pg_url: str, replicas: list[Daemon]
                                   ) -> tuple[Daemon, list[str]]:
    by_pid = {str(d.pid): d for d in replicas}
    deadline = time.monotonic() + 4 * PERIOD
    while time.monotonic() < deadline:
        for _, owner in leases(pg_url):
            victim = by_pid.get(owner.rsplit(":", 1)[-1])
            if victim is not None:
                victim.proc.send_signal(signal.SIGKILL)
                victim.proc.wait()
                orphans = [n for n, o in leases(pg_url) if o == owner]
                return victim, orphans
        time.sleep(0.02)
    raise AssertionError("no replica ever held a lease")
