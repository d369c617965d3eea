"""Engine creation and migrations.

SQLite runs in WAL mode with a busy timeout so the web UI can read while the daemon
writes; PostgreSQL URLs are routed to psycopg 3.  The schema is owned by Alembic from
the first table on: ``migrate()`` upgrades to head and is safe to run at every start.

Several replicas starting at once on a fresh PostgreSQL database would each run the
migrations and collide in the catalog (``UniqueViolation pg_type_typname_nsp_index``):
``migrate()`` holds a transaction-level advisory lock (``MIGRATE_LOCK``) while it runs,
so the first replica migrates and the others wait, then find the schema at head.
On SQLite the migration runs in one ``BEGIN IMMEDIATE`` transaction (SQLite's DDL is
transactional): a second process opening a new file at the same moment (``monitor serve``
beside ``monitor run``) waits for the write lock (``busy_timeout``), then finds the
schema at head, instead of creating the tables a second time.

Most starts find the schema at head already, and importing alembic (with Mako and its
DDL modules) to learn that costs a fifth of a second of CPU on every command.  So
``migrate()`` first compares the database's ``alembic_version`` with
``head_revision()`` (``storage.glance``: read from the migration files' ``revision =``
and ``down_revision =`` lines without importing alembic; tests/test_daemon_migrate.py
keeps it equal to alembic's own head); only a database that is not exactly at that
head goes through alembic, which then upgrades it.  A revision none of the files names
is a database a newer release migrated: ``NewerDatabaseError`` says so in Chinese (the
command exits 1), not alembic's traceback.  A migration whose file has a ``rewrites =
"…"`` line rewrites stored data (0016 refolds the search index): one line on stderr
when it starts and one when it ends, whichever command opened the database.  With a
``rewrites_on = "postgresql"`` line too, it rewrites on that database only (0017
reclusters PostgreSQL's paragraphs), and is not named on the other.

Waiting for SQLite's write lock, stoppably.  A writer that finds the lock held by another
process (a ``sqlite3`` shell, another release, a process stuck in a transaction) waits up
to ``BUSY_TIMEOUT`` seconds.  SQLite's own busy handler would do that wait inside one
C call, deaf to Ctrl-C: the main thread hears a signal only when the call returns, and a
thread's wait holds up ``asyncio.run``'s exit, which joins its threads.  Python's
``sqlite3`` cannot install a busy handler of its own, so SQLite's waits ``BUSY_STEP`` at
a time (``PRAGMA busy_timeout``) and the connection's cursors (``_Cursor``) try the
statement again until ``BUSY_TIMEOUT`` — stopping, in any thread, ``STOP_GRACE`` (2 s)
after the engine's ``LockWaits`` was told to stop (``Store.stop_waiting``: the pass's
Ctrl-C; the grace lets the workers of one stopped pass, each holding the lock a moment
to give its leases back, all get in), and a Ctrl-C in the main thread is raised between
two steps.  A failed try wrote nothing
(the statement did not get the lock), so it is tried again, or given up, whole.  Only a
``SQLITE_BUSY`` that came after SQLite's handler waited its full step is tried again: a
busy answer given at once (a deferred transaction's read turning into a write while
another writer holds the lock, ``SQLITE_BUSY_SNAPSHOT``) is SQLite's final word and stays
so.  Test hook: ``MONITOR_TEST_BUSY_TIMEOUT`` (seconds) replaces ``BUSY_TIMEOUT``.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

from monitor.errors import NewerDatabaseError
from storage.glance import MIGRATIONS, head_revision, migrations, timed

MIGRATE_LOCK = 0x6D6F6E69746F72  # "monitor": the advisory lock key of migrate()
BUSY_TIMEOUT = 30.0  # seconds a statement waits for SQLite's write lock in all
BUSY_STEP = 0.1  # seconds SQLite waits in one try (a stop is heard between two)
BUSY_TIMEOUT_ENV = "MONITOR_TEST_BUSY_TIMEOUT"  # test hook: replaces BUSY_TIMEOUT
# seconds a wait goes on after the stop: the other workers of a stopped pass hold the
# lock a moment each to give their leases back, and those give-backs must all get in; a
# lock held longer (another process's transaction) is not waited for
STOP_GRACE = 2.0
SQLITE_BUSY = 5

T = TypeVar("T")


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def is_sqlite(url: str) -> bool:
    return make_url(normalize_url(url)).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    u = make_url(normalize_url(url))
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def _json(value: object) -> str:
    # Chinese as UTF-8, not \uXXXX escapes: a third of the bytes in every JSON column
    return json.dumps(value, ensure_ascii=False)


def create(url: str, waits: LockWaits | None = None) -> Engine:
    """The engine of ``url``; on SQLite its statements wait for the write lock as
    ``waits`` says (a new ``LockWaits`` when not given)."""
    url = normalize_url(url)
    if not is_sqlite(url):
        if make_url(url).get_backend_name() == "postgresql":
            url = timed(url)  # no answer in CONNECT_TIMEOUT s: a failed connection
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5,
                             json_serializer=_json)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    # the engine's own connection class: its connections wait as ``waits`` says
    factory = type("Connection", (_Connection,), {"waits": waits or LockWaits()})
    engine = create_engine(url, connect_args={"check_same_thread": False,
                                              "timeout": BUSY_STEP, "factory": factory},
                           json_serializer=_json)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class LockWaits:
    """An engine's waits for SQLite's write lock (see the module docstring): each
    statement waits up to ``timeout`` seconds, ``BUSY_STEP`` at a time; from
    ``STOP_GRACE`` after ``stop()`` a wait gives up at its next step (a statement that
    finds the lock free still runs: a lease given back on the way out)."""

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = timeout or float(os.environ.get(BUSY_TIMEOUT_ENV) or BUSY_TIMEOUT)
        self.stopped: float | None = None  # when: set in a signal handler, read in threads

    def stop(self) -> None:
        self.stopped = self.stopped or time.monotonic()

    def run(self, call: Callable[..., T], *args: Any) -> T:
        deadline = None
        while True:
            started = time.monotonic()
            try:
                return call(*args)
            except sqlite3.OperationalError as exc:
                now = time.monotonic()
                if not _waited_out(exc, now - started):
                    raise  # not a wait for the lock: SQLite's own answer
                if self.stopped is not None and now >= self.stopped + STOP_GRACE:
                    raise sqlite3.OperationalError(
                        "database is locked by another process; the wait for it was "
                        "stopped (Ctrl-C)") from exc
                deadline = deadline or started + self.timeout
                if now >= deadline:
                    raise


def _waited_out(exc: sqlite3.OperationalError, seconds: float) -> bool:
    """SQLite answered busy after its handler waited the whole step (a signal may cut
    the handler's last sleep short: half a step is enough to tell)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == SQLITE_BUSY and seconds >= BUSY_STEP / 2


class _Connection(sqlite3.Connection):
    """A connection whose cursors wait for the write lock stoppably (``LockWaits``)."""

    waits: LockWaits  # the engine's (``create`` makes a subclass per engine)

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _Cursor)

    def commit(self) -> None:  # a COMMIT told busy may be tried again (SQLite's docs)
        self.waits.run(super().commit)


class _Cursor(sqlite3.Cursor):
    connection: _Connection

    def execute(self, sql: str, parameters: Any = ()) -> _Cursor:
        return self.connection.waits.run(super().execute, sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> _Cursor:
        rows = seq_of_parameters if isinstance(seq_of_parameters, list | tuple) \
            else list(seq_of_parameters)  # tried again whole: an iterator only once
        return self.connection.waits.run(super().executemany, sql, rows)


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers never block the writer; synchronous=NORMAL is durable across a
    # process crash (kill -9), which is the failure this daemon must survive.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(BUSY_STEP * 1000)}")  # a step (LockWaits)
    cur.close()


def at_head(engine: Engine) -> bool:
    """The database's schema is at ``head_revision()`` (read, no lock taken)."""
    head = head_revision()
    if head is None:
        return False
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars()) \
            == [head]


def revisions(engine: Engine) -> list[str]:
    """The database's ``alembic_version`` (empty: a new database)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return []
        return [str(r) for r in conn.execute(text("SELECT version_num FROM alembic_version"))
                .scalars()]


def migrate(engine: Engine) -> None:
    if at_head(engine):  # the usual start: no alembic to import, no write lock
        return
    current, known = revisions(engine), migrations()
    newer = [r for r in current if known and r not in known]
    if newer:  # migrated by a newer release: said, never alembic's traceback
        raise NewerDatabaseError(newer[0], head_revision())
    from alembic import command  # here: a command that opens no database loads no alembic
    from alembic.config import Config as AlembicConfig
    from alembic.util import CommandError

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    rewrites = _rewrites(current, known, engine.dialect.name)
    said = "；".join(f"{zh}（迁移 {rev}）" for rev, zh in rewrites)
    revs = ", ".join(rev for rev, _ in rewrites)
    started = time.monotonic()
    if rewrites:
        _say(f"正在升级数据库：{said}，档案较大时需要一些时间，请勿中断。(migrating the "
             f"database: {revs} rewrite(s) stored data, which can take a while on a big "
             "archive)")
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # one replica at a time; released at commit
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK})
        else:  # the write lock from the first statement, so the DDL is ours alone
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        cfg.attributes["connection"] = conn
        try:
            command.upgrade(cfg, "head")
        except CommandError as exc:  # files this code could not read ahead (``known``)
            if m := re.search(r"Can't locate revision identified by '([^']+)'", str(exc)):
                raise NewerDatabaseError(m[1], head_revision()) from None
            raise
    if rewrites:
        took = round(time.monotonic() - started)
        _say(f"数据库升级完成：{said}，用时 {took} 秒。(database migrated: {revs} done in "
             f"{took} s)")


def _rewrites(current: list[str], known: dict[str, tuple[str | None, str, str]],
              dialect: str) -> list[tuple[str, str]]:
    """The migrations between ``current`` and head that rewrite stored data on
    ``dialect``'s database, oldest first: (revision, its ``rewrites = "…"`` line, in
    Chinese).  None for a new database (its tables are empty: nothing to rewrite,
    nothing to wait for)."""
    if len(current) != 1:
        return []
    found, rev = [], head_revision()
    while rev and rev != current[0] and rev in known:
        down, rewrites, on = known[rev]
        if rewrites and on in ("", dialect):
            found.append((rev, rewrites))
        rev = down
    return found[::-1]


def _say(line: str) -> None:
    """One line on stderr, whichever command (or the daemon) opened the database: a
    migration that rewrites data can take minutes, and a silent command looks hung."""
    print(line, file=sys.stderr, flush=True)
