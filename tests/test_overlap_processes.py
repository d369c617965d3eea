"""The daemon and several ``monitor check`` processes on one database, pages changing
faster than they are checked: the archive still tells each page's history truly.

A soak of real processes (not a timing assertion): whatever interleaving the run
produces, every page must satisfy the invariants an archivist relies on.  Before checks
of a page were serialized and committed in order, a run like this stored duplicate
versions, versions out of fetch order, changes diffed against the wrong version and one
alert too many per such change.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from sqlmodel import col, select

from storage import Store
from storage.models import Alert, Change, Check, Page, Version
from tests.conftest import write_sources
from tests.sites import Request, Response, Site
from tests.test_daemon_run import ROOT, Daemons, monitor_cmd
from tests.test_overlap import reply

N = 12  # pages
INTERVAL = 2  # seconds: the daemon's schedule of every page
CHANGE_EVERY = 0.7  # seconds: how often each page's text changes
SOAK = 12.0  # seconds of overlapping checks
CHECKERS = 3  # ``monitor check`` processes looping beside the daemon


def serve_changing_pages(site: Site) -> None:
    rng, lock = random.Random(7), threading.Lock()
    site.server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]

    def handle(req: Request) -> Response:
        n = int(time.time() / CHANGE_EVERY)  # read at the request: the page's state now
        with lock:
            delay = rng.uniform(0.0, 0.4)  # answers come back out of order
        return Response(reply(n), delay=delay,
                        headers={"Content-Type": "text/html; charset=utf-8"})

    for i in range(N):
        site.route(f"/r{i}.html", handle)


def check_loop(sources: Path, env: dict[str, str], until: float, log: Path) -> None:
    with open(log, "ab") as out:
        while time.time() < until:
            subprocess.run(monitor_cmd("check", "--sources", str(sources), "--no-deliver"),
                           cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                           timeout=120, check=False)


def violations(store: Store) -> list[str]:
    """Every way the stored history of a page is not true to the page, as sentences."""
    bad: list[str] = []
    with store.session() as s:
        versions = defaultdict(list)
        for v in s.exec(select(Version).order_by(col(Version.id))):
            versions[v.page_id].append(v)
        changes = list(s.exec(select(Change).where(col(Change.new_version_id).is_not(None))))
        alerts = Counter((a.change_id, a.recipient) for a in s.exec(
            select(Alert).where(Alert.event == "change")))
        for page_id, vs in versions.items():
            for a, b in itertools.pairwise(vs):
                if a.content_hash == b.content_hash:
                    bad.append(f"page {page_id}: versions {a.id} and {b.id} are the same text")
                if not a.fetched_at < b.fetched_at:
                    bad.append(f"page {page_id}: version {b.id} was fetched before {a.id}")
        previous = {b.id: a.id for vs in versions.values() for a, b in itertools.pairwise(vs)}
        for c in changes:
            if c.old_version_id != previous.get(c.new_version_id):
                bad.append(f"change {c.id}: diffed {c.old_version_id}->{c.new_version_id}, "
                           f"but the version before it is {previous.get(c.new_version_id)}")
            if c.alert and alerts[(c.id, "analyst@example.org")] != 1:
                bad.append(f"change {c.id}: {alerts[(c.id, 'analyst@example.org')]} alerts")
    return bad


def test_the_daemon_and_three_monitor_checks_at_once_keep_every_history_true(
        tmp_path: Path, site: Site, db_url: str) -> None:
    serve_changing_pages(site)
    sources = write_sources(tmp_path / "sources.toml", "".join(
        f'[[sources]]\nname = "r{i}"\nurl = "{site.url(f"/r{i}.html")}"\n'
        f'interval = "{INTERVAL}s"\n\n' for i in range(N)) +
        '[[watchers]]\nemail = "analyst@example.org"\nsources = ["r*"]\n',
        settings="lease_seconds = 5\nconcurrency = 8\n")
    Store(db_url).close()  # migrated once, before the processes start
    env = dict(os.environ, MONITOR_DATABASE_URL=db_url, PYTHONUNBUFFERED="1")
    daemons = Daemons(tmp_path)
    daemon = daemons.start(sources, db_url=db_url)
    try:
        daemon.wait_for("monitor running")
        until = time.time() + SOAK
        loops = [threading.Thread(target=check_loop, args=(sources, env, until,
                                                            tmp_path / f"check{k}.log"))
                 for k in range(CHECKERS)]
        for t in loops:
            t.start()
        for t in loops:
            t.join(timeout=SOAK + 150)
        assert daemon.stop() == 0
    finally:
        daemons.kill_all()

    store = Store(db_url, migrate=False)
    try:
        assert violations(store) == []
        with store.session() as s:
            outcomes = Counter(c.outcome for c in s.exec(select(Check)))
            pages = list(s.exec(select(Page)))
        changed = outcomes["changed"]
        print(f"\n{N} pages, daemon + {CHECKERS} monitor check loops for {SOAK:g}s: "
              f"{dict(outcomes)}, {store.count(Version)} versions")
        assert changed >= 2 * N  # the run really raced on changing pages
        assert all(p.lease_owner is None for p in pages)  # every lease given back
    finally:
        store.close()
