"""What ``monitor status`` reads, through the database driver alone (issue 12: a command
typed by hand answers in ≤ 0.3 s).

Importing SQLAlchemy, SQLModel and the table models costs about half a second of CPU,
and opening ``Store`` checks the schema; ``monitor status`` only reads a handful of
small rows.  So when the database is there and its schema is exactly at the newest
migration (``head_revision()``, read from the migration files without importing
alembic), ``status()`` reads those rows with the stdlib ``sqlite3`` or with libpq itself
(``storage.libpq``: importing psycopg alone would cost more than the rest of the
command).  Anything else (no database file yet, a schema behind or ahead, another
backend, no libpq to load) gives None, and the caller opens ``Store`` as before, which
creates or migrates the schema.

The rows are the ``SourceStatus`` / ``RecentChecks`` that ``Schedule.status`` /
``Schedule.recent_checks`` give, with the same queries in plain SQL and the datetimes
read back as ``UTCDateTime`` does (aware, UTC); tests/test_status_health.py compares
the two on SQLite and PostgreSQL, so a change to one belongs in both.  A database error
is a ``StorageError`` worded as ``Store`` words it (libpq's: its DB-API class, then
``(libpq)`` and libpq's message).

On PostgreSQL the read runs in a thread of its own (``begin`` → ``Reading``;
``status`` is begin and wait): ``monitor status`` starts it as soon as it knows the
database, so that the server's work goes on while the command loads its sources.  On
PostgreSQL every statement goes in one round trip (``libpq.Connection.script``: the
session's settings, the schema's revision, the rows — which the statement itself reads
only at that revision —, the newest check, the last hour's outcomes): a revision other
than the head, or no revision table (``42P01``), gives None whatever the later
statements said; at the head, a failed statement is the error.

This module imports nothing heavier than the standard library (the two row types are
defined here rather than in ``storage.records`` for that reason): ``storage.db`` takes
``head_revision`` from here for ``migrate()``.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SourceStatus:
    """One line of ``monitor status``."""

    source: str
    url: str
    status: str
    last_check_at: datetime | None
    last_outcome: str | None
    last_http_status: int | None
    last_error: str | None
    next_check_at: datetime | None
    last_change_at: datetime | None
    failure_streak: int
    versions: int
    lease_owner: str | None
    lease_expires: datetime | None = None  # when the holder's lease runs out
    documents_gone: int = 0  # a listing's documents whose own page is gone
    paused: bool = False  # enabled = false: listed, marked 已暂停, never due


@dataclass(frozen=True)
class RecentChecks:
    """The health line of ``monitor status``: what the check rows say."""

    since: datetime
    newest_check_at: datetime | None  # of any page, whoever checked it
    checks: int  # started since ``since``
    errors: int  # of those, failed checks


MIGRATIONS = Path(__file__).parent / "migrations"
# Seconds a PostgreSQL connection may take (libpq's connect_timeout): a server that
# accepts and never answers (a hung host, a firewall that holds the connection) would
# otherwise hang every command.  A URL's own ``connect_timeout``, or PGCONNECT_TIMEOUT,
# wins.
CONNECT_TIMEOUT = 10
# A driver's words for a connection that was never made (libpq's PQError and psycopg's)
_UNREACHABLE = re.compile(r"^connection (failed|timeout expired)")
_REVISION_LINE = re.compile(r"^(revision|down_revision|rewrites_on|rewrites)\b[^=\n]*=(.+)$",
                            re.M)

# The pages of kind "page" of every source, oldest first (a source's first is its main
# page: Store._main_page's choice), each with its last check and its counts, in one
# statement: one query a source (five, as it was) cost 50,000 round trips for 10,000
# sources.  Scalar subqueries, not a join on the last check's id: PostgreSQL hashed the
# whole checks table for that join.  The last check is one probe of the index on
# (page_id, id) (migration 0012); three probes, still cheaper than a row to hash.
_LAST = "(SELECT k.{} FROM checks k WHERE k.page_id = p.id ORDER BY k.id DESC LIMIT 1)"
_GONE = "(SELECT count(*) FROM pages g WHERE g.parent_id = p.id AND g.status = 'gone')"
_COLUMNS = ("s.name, p.url, p.status, p.last_check_at, p.next_check_at, "
            "p.last_change_at, p.failure_streak, p.lease_owner, p.lease_expires, "
            f"{_LAST.format('outcome')}, {_LAST.format('http_status')}, "
            f"{_LAST.format('error')}, "
            "(SELECT count(*) FROM versions v WHERE v.page_id = p.id), "
            f"{_GONE}")
_PAGES = "FROM pages p JOIN sources s ON s.id = p.source_id WHERE p.kind = 'page'"
_ROWS = f"SELECT {_COLUMNS} {_PAGES} ORDER BY p.id"
# PostgreSQL through libpq: the same rows as one JSON text (one value to fetch, parsed
# by the json module in C; 140,000 values fetched one by one through ctypes cost more
# than the query), the datetimes as UTC without an offset, as SQLite keeps them.  The
# last check's three columns by one probe of that index (a LATERAL subquery with LIMIT
# 1: a nested loop, never a hash of the checks table), the documents gone counted in one
# pass over the pages rather than a probe a page: the server's CPU for 10,000 sources
# 75 → 52 ms (bench/README.md, "monitor status on PostgreSQL within 0.3 s").
_ROWS_JSON = "SELECT json_agg(json_build_array({}) ORDER BY p.id) {}".format(
    _COLUMNS.replace("p.last_check_at, p.next_check_at, p.last_change_at",
                     "p.last_check_at AT TIME ZONE 'UTC', p.next_check_at AT TIME ZONE "
                     "'UTC', p.last_change_at AT TIME ZONE 'UTC'")
    .replace("p.lease_expires,", "p.lease_expires AT TIME ZONE 'UTC',")
    .replace(f"{_LAST.format('outcome')}, {_LAST.format('http_status')}, "
             f"{_LAST.format('error')}", "k.outcome, k.http_status, k.error")
    .replace(_GONE, "coalesce(g.n, 0)"),
    _PAGES.replace(" WHERE p.kind", " LEFT JOIN LATERAL (SELECT c.outcome, c.http_status, "
                   "c.error FROM checks c WHERE c.page_id = p.id ORDER BY c.id DESC LIMIT 1"
                   ") k ON true LEFT JOIN (SELECT parent_id, count(*) AS n FROM pages WHERE "
                   "status = 'gone' AND parent_id IS NOT NULL GROUP BY parent_id) g ON "
                   "g.parent_id = p.id WHERE p.kind"))
# SQLite: the last check's three columns by one probe of that index and one of the
# checks' primary key, not three probes (~0.045 → ~0.035 s of 10,000 rows).  Not on
# PostgreSQL, whose planner hashes the whole checks table for this join.
_ROWS_SQLITE = _ROWS.replace(
    f"{_LAST.format('outcome')}, {_LAST.format('http_status')}, {_LAST.format('error')}",
    "k.outcome, k.http_status, k.error").replace(
    "WHERE p.kind", "LEFT JOIN checks k ON k.id = (SELECT max(c.id) FROM checks c "
    "WHERE c.page_id = p.id) WHERE p.kind")
# SQLAlchemy reports a driver's error under the DB-API class it derives from
_DBAPI_ERRORS = ("IntegrityError", "ProgrammingError", "OperationalError", "DataError",
                 "NotSupportedError", "InternalError", "DatabaseError", "InterfaceError")
_NEWEST = "SELECT started_at FROM checks ORDER BY id DESC LIMIT 1"
_NO_TABLE = "42P01"  # undefined_table: alembic_version not made yet
_OUTCOMES = "SELECT outcome, count(*) FROM checks WHERE started_at >= ? GROUP BY outcome"


@cache
def migrations(versions: Path = MIGRATIONS / "versions"
               ) -> dict[str, tuple[str | None, str, str]]:
    """Each migration's revision: (its ``down_revision``, what it rewrites — the
    ``rewrites = "…"`` line of a migration that rewrites stored data, in Chinese, else
    "" —, and on which database only — its ``rewrites_on = "postgresql"`` line, else ""
    for every one), read as ``head_revision`` reads them.  Empty when a file cannot be
    read so."""
    found: dict[str, tuple[str | None, str, str]] = {}
    for path in versions.glob("*.py"):
        lines = dict(m.groups() for m in _REVISION_LINE.finditer(path.read_text("utf-8")))
        try:
            rev = ast.literal_eval(lines["revision"].strip())
            down = ast.literal_eval(lines.get("down_revision", "None").strip())
            rewrites = ast.literal_eval(lines.get("rewrites", "''").strip())
            on = ast.literal_eval(lines.get("rewrites_on", "''").strip())
        except (KeyError, ValueError, SyntaxError):
            return {}
        if not isinstance(rev, str) or not isinstance(rewrites, str) or \
                not isinstance(on, str):
            return {}
        found[rev] = (down if isinstance(down, str) else None, rewrites, on)
    return found


@cache
def head_revision(versions: Path = MIGRATIONS / "versions") -> str | None:
    """The revision of the newest migration: the one no other migration names as its
    ``down_revision``.  None when the files do not say one head plainly (a branch, two
    files with one revision id, a line this cannot read): then alembic is asked."""
    revisions: list[str] = []
    downs: set[str] = set()
    for path in versions.glob("*.py"):
        found = dict(m.groups() for m in _REVISION_LINE.finditer(path.read_text("utf-8")))
        try:
            rev = ast.literal_eval(found["revision"].strip())
            down = ast.literal_eval(found.get("down_revision", "None").strip())
        except (KeyError, ValueError, SyntaxError):
            return None
        if not isinstance(rev, str):
            return None
        revisions.append(rev)
        downs.update(down if isinstance(down, tuple | list) else [down] if down else [])
    heads = set(revisions) - downs
    if len(heads) != 1 or len(set(revisions)) != len(revisions):
        return None
    return heads.pop()


def status(url: str, sources: Sequence[Any], since: datetime,
           ) -> tuple[list[SourceStatus], RecentChecks] | None:
    """``Schedule.status(sources)`` and ``Schedule.recent_checks(since)`` read through
    the driver, or None when that cannot be done here (see the module's docstring)."""
    return begin(url, since).result(sources)


def begin(url: str, since: datetime) -> Reading:
    """``status``'s read of ``url`` started now, in a thread: ``Reading.result`` waits
    for it.  A caller that knows the database before it has everything else (the
    settings before the sources) overlaps the server's work with its own."""
    return Reading(url, since)


class Reading:
    """On PostgreSQL, the rows read in a thread of their own (a daemon): connecting and
    the server's work go on while the caller's thread runs Python (libpq's waiting calls
    release the GIL).  Only the database's values come back from the thread; they are
    made into rows by ``result``, in the caller's thread.  SQLite is read by ``result``
    itself: sqlite3 lets the GIL go and takes it back at every row's step, and each
    taking-back waits for the busy caller's thread (up to the 5 ms switch interval,
    longer on a loaded machine), so a thread would not overlap the two, only hand the
    GIL to and fro."""

    def __init__(self, url: str, since: datetime) -> None:
        import threading

        self.url, self.since = url, since
        self._got: _Read | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if _postgres(url):  # SQLite is read when asked: see the class's docstring
            _prepare()
            self._thread = threading.Thread(target=self._read, name="monitor-status-read",
                                            daemon=True)
            self._thread.start()

    def _read(self) -> None:
        try:
            self._got = _fetch(self.url, self.since)
        except BaseException as exc:  # raised again in the caller's thread
            self._error = exc

    def result(self, sources: Sequence[Any]
               ) -> tuple[list[SourceStatus], RecentChecks] | None:
        """The rows of ``sources``, in their order, and the recent checks; None when this
        module does not read that database (then ``Store`` does)."""
        if self._thread is None:
            self._read()
        else:
            self._thread.join()  # a Ctrl-C interrupts this wait
        if self._error is not None:
            raise self._error
        got = self._got
        return None if got is None else (got.statuses(sources), got.recent())


@dataclass(frozen=True)
class _Read:
    """What the database gave, as it gave it: SQLite's rows or PostgreSQL's JSON text,
    the newest check's time, the count of each outcome since ``since``."""

    rows: Sequence[Sequence[Any]] | str
    newest: Any
    outcomes: Sequence[tuple[Any, Any]]
    since: datetime

    def statuses(self, sources: Sequence[Any]) -> list[SourceStatus]:
        """Each source's row, in the given order (``Schedule.status``)."""
        rows = self.rows
        if isinstance(rows, str):
            import json

            rows = json.loads(rows)
        # a source's main page is its first: the first row of its name wins
        backwards = rows[::-1]
        found = dict(zip(map(itemgetter(0), backwards), backwards, strict=True))
        return [_status(src, found.get(src.name)) for src in sources]

    def recent(self) -> RecentChecks:
        n = {outcome: int(k) for outcome, k in self.outcomes}
        return RecentChecks(self.since, when(self.newest), sum(n.values()),
                            n.get("error", 0))


def when(value: Any) -> datetime | None:
    """A stored datetime as ``UTCDateTime`` gives it back: aware, in UTC.  SQLite keeps
    SQLAlchemy's text form (``2026-05-01 08:00:00.000000``), meaning UTC; libpq gives
    text too, with its offset (``2026-05-01 08:00:00+00``), or without one in the rows'
    JSON (``AT TIME ZONE 'UTC'``)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:  # naive text, as SQLAlchemy writes it: one parse (replace() costs 8×)
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:  # a text that says its own offset
            value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.utcoffset() is None \
        else value.astimezone(UTC)


def _status(src: Any, row: Sequence[Any] | None) -> SourceStatus:
    if row is None:  # never checked, not even synced
        return SourceStatus(src.name, src.url, "new", None, None, None, None, None, None,
                            0, 0, None)
    (_, url, state, last_at, next_at, change_at, streak, owner, until, outcome,
     http_status, error, versions, gone) = row
    try:  # the times as both backends give them here: naive text, UTC (``when``, inline)
        last_at = None if last_at is None else _at(last_at + "+00:00")
        next_at = None if next_at is None else _at(next_at + "+00:00")
        change_at = None if change_at is None else _at(change_at + "+00:00")
        until = None if until is None else _at(until + "+00:00")
    except (TypeError, ValueError):  # another form: each as ``when`` reads it
        last_at, next_at, change_at, until = map(when, row[3:6] + row[8:9])
    return _made({
        "source": src.name, "url": url, "status": state, "last_check_at": last_at,
        "last_outcome": outcome, "last_http_status": http_status, "last_error": error,
        "next_check_at": next_at, "last_change_at": change_at,
        "failure_streak": streak, "versions": int(versions), "lease_owner": owner,
        "lease_expires": until, "documents_gone": int(gone), "paused": False})


_at = datetime.fromisoformat


def _postgres(url: str) -> bool:
    return url.partition(":")[0].partition("+")[0] in ("postgres", "postgresql")


def _prepare() -> None:
    """What the reading thread needs done in Python, done before it starts: while the
    caller's thread runs Python, the reader gets the GIL only every switch interval
    (5 ms), and the server's work would start that much later.  The head revision, and
    libpq loaded (``ctypes`` and the library, ~5 ms)."""
    from storage import libpq

    head_revision()
    libpq.load()


def _fetch(url: str, since: datetime) -> _Read | None:
    """What ``url``'s database says, None when this module does not read it there."""
    with _connect(url) as conn:
        if conn is None:
            return None
        if hasattr(conn, "script"):  # libpq's
            return _from_postgres(conn, since)
        return _from_sqlite(conn, since)


def _from_sqlite(conn: Any, since: datetime) -> _Read | None:
    def rows(sql: str, *params: Any) -> list[Any]:
        cur = conn.cursor()
        try:
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            cur.close()

    head = head_revision()
    if head is None or not rows("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                "AND name = 'alembic_version'") \
            or rows("SELECT version_num FROM alembic_version") != [(head,)]:
        return None
    newest = rows(_NEWEST)
    stamp = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as UTCDateTime binds
    return _Read(rows(_ROWS_SQLITE), newest[0][0] if newest else None,
                 rows(_OUTCOMES, stamp), since)


def _from_postgres(conn: Any, since: datetime) -> _Read | None:
    """Every statement in one round trip (``libpq.Connection.script``): the schema's
    revision first; the rows' statement reads nothing unless that revision is the head
    (an older schema may lack the index that makes it cheap: ``Store`` migrates it)."""
    head = head_revision()
    if head is None:
        return None
    stamp = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")  # a plain literal
    done, error = conn.script("; ".join([
        "SELECT version_num FROM alembic_version",
        f"{_ROWS_JSON} AND (SELECT version_num FROM alembic_version) = "
        f"'{head.replace(chr(39), chr(39) * 2)}'",
        _NEWEST, _OUTCOMES.replace("?", f"'{stamp}'")]))
    if not done:
        if error is not None and error.state == _NO_TABLE:  # no schema yet
            return None
        raise error or _no_result()
    if done[0] != [(head,)]:
        return None
    if error is not None:
        raise error
    return _Read(done[1][0][0] or "[]", done[2][0][0] if done[2] else None, done[3], since)


def _no_result() -> Exception:
    from storage.libpq import PQError

    return PQError("OperationalError", "no result from the server")


def _made(fields: dict[str, Any]) -> SourceStatus:
    """The row of ``fields`` (every one, from the database) without the frozen
    dataclass's ``__init__``, which sets each field through ``object.__setattr__``:
    half the cost of 10,000 rows (as ``pickle`` restores one)."""
    row = object.__new__(SourceStatus)
    object.__setattr__(row, "__dict__", fields)
    return row


@contextmanager
def _connect(url: str) -> Iterator[Any]:
    """A connection to ``url``'s database (sqlite3's, or ``storage.libpq``'s), None when
    this module does not read it (a SQLite file not made yet, an in-memory database,
    another backend, no libpq to load); a driver's error worded as ``Store`` words it."""
    scheme, _, rest = url.partition("://")
    backend, _, driver = scheme.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        path = sqlite_file(url)
        if path is None:
            yield None
            return
        import sqlite3

        with translated(sqlite3.Error):
            conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
        try:
            with translated(sqlite3.Error):
                yield conn
        finally:
            conn.close()
    elif backend in ("postgres", "postgresql") and driver in ("", "psycopg"):
        from storage import libpq

        with translated(libpq.PQError, url):
            pg = libpq.connect(timed(f"postgresql://{rest}"))
        if pg is None:  # no libpq here: Store reads it
            yield None
            return
        try:
            with translated(libpq.PQError):
                yield pg
        finally:
            pg.close()
    else:
        yield None


def sqlite_file(url: str) -> str | None:
    """The path of ``url``'s SQLite file when it is a plain file that exists (``sqlite:///
    relative``, ``sqlite:////absolute``); None for anything else (another backend, an
    in-memory database, a URL with options, a file not made yet): read by ``Store``."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("sqlite", "sqlite+pysqlite"):
        return None
    path = rest[1:]
    if not path or path == ":memory:" or "?" in path or "%" in path \
            or not Path(path).is_file():
        return None
    return path


def timed(url: str) -> str:
    """A PostgreSQL URL with ``connect_timeout`` (``CONNECT_TIMEOUT``) unless it, or the
    environment, sets one."""
    if "connect_timeout=" in url.partition("?")[2] or os.environ.get("PGCONNECT_TIMEOUT"):
        return url
    return f"{url}{'&' if '?' in url else '?'}connect_timeout={CONNECT_TIMEOUT}"


def unreachable(error: BaseException | None) -> bool:
    """Whether a driver's error (libpq's, psycopg's) is a connection never made."""
    operational = getattr(error, "kind", "") == "OperationalError" or any(
        c.__name__ == "OperationalError" for c in type(error).__mro__)  # ConnectionTimeout
    return operational and bool(_UNREACHABLE.match(str(error)))


@contextmanager
def translated(errors: type[Exception], url: str = "") -> Iterator[None]:
    """A driver's error as ``Store`` reports it (SQLAlchemy's wording of it); a failed
    connection as ``DatabaseUnreachableError``."""
    from monitor.errors import DatabaseUnreachableError, StorageError

    try:
        yield
    except errors as exc:
        kind = type(exc)
        first = (str(exc).splitlines() or [""])[0]
        if hasattr(exc, "kind"):  # libpq's: the DB-API class psycopg would have raised
            said = f"database error: {exc.kind}: (libpq) {first}"
            if unreachable(exc):
                raise DatabaseUnreachableError(said, url) from exc
            raise StorageError(said) from exc
        wrapper = next((c.__name__ for c in kind.__mro__ if c.__name__ in _DBAPI_ERRORS),
                       "DBAPIError")
        raise StorageError(f"database error: {wrapper}: ({kind.__module__}.{kind.__name__}) "
                           f"{first}") from exc
