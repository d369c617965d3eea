"""``monitor run`` stops on SIGTERM even while work it started is stuck in a thread.

A check's database steps run in threads (``asyncio.to_thread``).  One blocked there (the
database locked by another process, a stalled connection) cannot be cancelled: the
daemon stops waiting for it after a bounded time, gives back what it can, and exits
instead of waiting at exit for the thread (``Daemon.run``).  Real subprocess, real
database, loopback site; the lock is the test's own (SQLite: the writers' turn file;
PostgreSQL: a table lock).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storage import Store, db
from storage.models import Check
from tests.conftest import write_sources
from tests.sites import Site
from tests.test_daemon_run import Daemons, daemons, page, wait_until  # noqa: F401


def checks(url: str) -> int:
    store = Store(url, migrate=False)
    try:
        return store.count(Check)
    except Exception:  # the daemon has not made the tables yet
        return 0
    finally:
        store.close()


@contextmanager
def database_locked(url: str) -> Iterator[None]:
    """No write of the daemon's gets through while the block runs (reads do)."""
    path = db.sqlite_path(db.normalize_url(url))
    if path is not None:
        fd = os.open(f"{path}-writers", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # the writers' turn (storage.turns), held
            yield
        finally:
            os.close(fd)
        return
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as c:
        c.execute("LOCK TABLE pages IN EXCLUSIVE MODE")  # claims and releases wait
        yield
        c.rollback()


def test_sigterm_while_the_database_is_locked_still_stops_the_daemon(
        tmp_path: Path, site: Site, db_url: str, daemons: Daemons) -> None:  # noqa: F811
    site.route("/p.html", page("答复"))
    sources = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "p"
        url = "{site.url('/p.html')}"
        interval = "2s"
        """, settings="shutdown_grace = 1\n")
    d = daemons.start(sources, db_url=db_url)
    wait_until(lambda: checks(db_url) >= 1, 60, "a first check stored")
    with database_locked(db_url):
        time.sleep(3)  # the next slot (every 2 s) came: its claim waits in a thread
        assert d.stop(timeout=45) == 0  # while the lock is still held
    log = d.text()
    assert "monitor stopped" in log
    assert "not waited for" in log, log[-2000:]
