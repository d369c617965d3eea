"""SQLite through the standard ``sqlite3`` alone: the connections ``Store``'s engine
makes (``storage.db``) and ``storage.quick`` opens itself, with the same pragmas and the
same stoppable waits for the write lock.  Nothing here imports SQLAlchemy.

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

import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

BUSY_TIMEOUT = 30.0  # seconds a statement waits for SQLite's write lock in all
BUSY_STEP = 0.1  # seconds SQLite waits in one try (a stop is heard between two)
BUSY_TIMEOUT_ENV = "MONITOR_TEST_BUSY_TIMEOUT"  # test hook: replaces BUSY_TIMEOUT
# seconds a wait goes on after the stop: the other workers of a stopped pass hold the
# lock a moment each to give their leases back, and those give-backs must all get in; a
# lock held longer (another process's transaction) is not waited for
STOP_GRACE = 2.0
SQLITE_BUSY = 5
T = TypeVar("T")


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

    def run(self, call: Callable[..., T], *args: Any, busy_at_once: bool = False) -> T:
        """``call(*args)``, tried again while SQLite says it waited for the lock in vain;
        with ``busy_at_once``, also when it says busy without waiting (a statement outside
        any transaction: a new file's switch to WAL, below), a step apart."""
        deadline = None
        while True:
            started = time.monotonic()
            try:
                return call(*args)
            except sqlite3.OperationalError as exc:
                now = time.monotonic()
                if busy_at_once and _busy(exc) and now - started < BUSY_STEP / 2:
                    time.sleep(BUSY_STEP / 5)  # SQLite did not wait: wait here
                    now = time.monotonic()
                elif not _waited_out(exc, now - started):
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
    return _busy(exc) and seconds >= BUSY_STEP / 2


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == SQLITE_BUSY


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


def sqlite_pragmas(dbapi_conn: sqlite3.Connection) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers never block the writer; synchronous=NORMAL is durable across a
    # process crash (kill -9), which is the failure this daemon must survive.
    # A new file's switch needs every other connection gone, and SQLite says busy at
    # once while another holds one (two commands creating one archive at the same
    # moment: the second failed "database is locked"): it waits as for the lock.
    waits = getattr(dbapi_conn, "waits", None) or LockWaits()
    waits.run(sqlite3.Cursor.execute, cur, "PRAGMA journal_mode=WAL", busy_at_once=True)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(BUSY_STEP * 1000)}")  # a step (LockWaits)
    cur.close()


def waiting_connection(waits: LockWaits) -> type[sqlite3.Connection]:
    """A ``sqlite3.Connection`` class whose statements wait as ``waits`` says (the
    ``factory`` of ``sqlite3.connect``)."""
    return type("Connection", (_Connection,), {"waits": waits})


def connect(path: str, waits: LockWaits) -> sqlite3.Connection:
    """A connection to the database file at ``path`` as the engine makes them (its
    pragmas, ``waits``), usable from any thread (one at a time)."""
    conn = sqlite3.connect(path, timeout=BUSY_STEP, check_same_thread=False,
                           factory=waiting_connection(waits))
    sqlite_pragmas(conn)
    return conn
