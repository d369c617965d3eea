"""``monitor check`` over unchanged pages on SQLite, through ``sqlite3`` alone (issue 12).

Importing SQLAlchemy costs ~0.1–0.15 s of CPU, a sixth of a pass of 1,000 unchanged pages
(it is the most of what ``monitor check`` does before it forks its workers, and the bare
limit the issue measures against imports none of it).  An unchanged pass needs a handful
of statements: the sources' sync digest, their pages' ids, the leases, the pages'
states, and one check row and one page update a check.  So on SQLite, when the database
file exists and its schema is at the newest migration, ``monitor check --no-deliver``
opens a ``QuickStore`` instead of a ``Store``: it runs those statements itself, and
opens the ``Store`` (importing SQLAlchemy) on the first call that needs anything else —
a changed or new page, a listing, a page another process holds, an edited source, the
outbox.  A pass with changed pages therefore imports SQLAlchemy in its workers rather
than before them (each worker once, side by side), and costs what it did.

One source of truth: the statements are the ``Store``'s and ``Schedule``'s own Core
statements, compiled for SQLite by ``storage.quick_gen`` into ``storage/quick_sql.py``
(a test fails when that file is not what they compile to now); the revision test and
the values a commit writes are ``storage.rows``', which ``Store.commit_checks`` uses
too.  Parameters and columns are converted as the column types do (``UTCDateTime``:
SQLAlchemy's SQLite text, read back aware in UTC; ``Boolean``: 0/1; ``JSON``: text);
tests/test_quick.py compares every row and column written through here with what
``Store`` writes for the same records.  The writers take the same turns
(``storage.turns``; one ``WriterTurns`` shared with the ``Store`` opened later) and wait
for SQLite's lock as ``Store`` does (``storage.sqlite``: ``stop_waiting`` stops both).
Errors are worded as ``Store`` words them (``StorageError``).

Not here, by decision: PostgreSQL (a ``monitor check`` there opens ``Store``: its
daemons and replicas are the case PostgreSQL serves, and libpq's text protocol would
need its own conversions), and a pass that delivers alerts (the delivery loads the
ORM anyway).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from storage import quick_sql, sqlite
from storage.glance import head_revision, sqlite_file, translated, when
from storage.records import CheckRecord, CommitResult, PageRef, PageState, SourceSpec
from storage.rows import LockedPage, page_updates, state_of, written
from storage.turns import WriterTurns

if TYPE_CHECKING:
    from storage.repository import Store
    from storage.schedule import Schedule

_KINDS = dict(quick_sql.PAGE_COLUMNS)  # the pages table's columns: how each is converted
# The check rows' columns in ``insert_check``'s order.
_CHECK_COLUMNS = tuple(name for name, *_ in quick_sql.STATEMENTS["insert_check"][1])


def open_quick(url: str) -> QuickStore | None:
    """A ``QuickStore`` of ``url``: a SQLite file that exists, at the newest migration;
    None for anything else (the caller opens ``Store``, which creates or migrates)."""
    path = sqlite_file(url)
    if path is None:
        return None
    quick = QuickStore(url, path)
    try:
        at = quick._rows("SELECT version_num FROM alembic_version", ())
    except Exception:  # no revision table (not monitor's), unreadable: Store says why
        quick.close()
        return None
    if [r[0] for r in at] != [head_revision()]:
        quick.close()
        return None
    return quick


class QuickStore:
    """``Store``'s face for an unchanged pass on SQLite (the module docstring); any other
    attribute is the ``Store``'s, opened on first use."""

    is_sqlite = True

    def __init__(self, url: str, path: str) -> None:
        self.url, self.path = url, path
        self._waits = sqlite.LockWaits()
        self._writer = WriterTurns(Path(path))
        self._conns: dict[int, sqlite3.Connection] = {}
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        """The ``Store`` of the same database, sharing this one's turns and waits."""
        with self._lock:
            if self._store is None:
                from storage.repository import Store

                self._store = Store(self.url, migrate=False, waits=self._waits,
                                    writer=self._writer)
            return self._store

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.store, name)

    def schedule(self, owner: str, lease_seconds: float) -> QuickSchedule:
        return QuickSchedule(self, owner, lease_seconds)

    def stop_waiting(self) -> None:
        self._waits.stop()

    def close(self) -> None:
        """Every connection closed (made again on the next use), the ``Store``'s too."""
        with self._lock:
            conns, self._conns = list(self._conns.values()), {}
            if self._pid != os.getpid():  # a forked child: the parent's are not ours
                conns, self._pid = [], os.getpid()
        for conn in conns:
            conn.close()
        if self._store is not None:
            self._store.close()

    # --- statements ----------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection."""
        key = threading.get_ident()
        with self._lock:
            if self._pid != os.getpid():
                self._conns, self._pid = {}, os.getpid()
            conn = self._conns.get(key)
            if conn is None:
                with translated(sqlite3.Error):
                    conn = self._conns[key] = sqlite.connect(self.path, self._waits)
            return conn

    def _rows(self, sql: str, args: Sequence[Any]) -> list[Any]:
        with translated(sqlite3.Error):
            cur = self._conn().execute(sql, tuple(args))
            try:
                return cur.fetchall()
            finally:
                cur.close()

    def _select(self, name: str, **given: Any) -> list[Any]:
        """The rows of the statement ``name`` (named tuples, columns converted)."""
        sql, args = _bound(name, given)
        made = _row_type(name)
        kinds = [k for _, k in quick_sql.STATEMENTS[name][2]]
        return [made(*(_read(v, k) for v, k in zip(row, kinds, strict=True)))
                for row in self._rows(sql, args)]

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, in the writers' turn (``BEGIN IMMEDIATE``)."""
        with self._writer, translated(sqlite3.Error):
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

    def _write(self, name: str, **given: Any) -> Any:
        sql, args = _bound(name, given)
        with self._transaction() as conn:
            cur = conn.execute(sql, args)
            try:
                return cur.fetchall() if quick_sql.STATEMENTS[name][2] else cur.rowcount
            finally:
                cur.close()

    # --- Store's methods -----------------------------------------------------------

    def sync_sources(self, sources: Sequence[SourceSpec], digest: str = ""
                     ) -> dict[str, list[str]]:
        """Nothing to do when the last sync was of ``digest`` (``Store.sync_sources``),
        else the ``Store``'s sync."""
        if digest and [r.digest for r in self._select("synced")] == [digest]:
            return {"added": [], "updated": [], "deactivated": []}
        return self.store.sync_sources(sources, digest)

    def pending_alerts(self) -> int:
        return int(self._select("pending_alerts")[0][0])

    def page_states(self, page_ids: Sequence[int]) -> dict[int, PageState]:
        """As ``Store.page_states``: two queries; a changed page's text is read by the
        ``Store`` when the pipeline asks for it."""
        if not page_ids:
            return {}
        ids = list(page_ids)
        rows = self._select("states", page_ids=ids)
        versions: dict[int, list[Any]] = {}
        for v in self._select("last_versions", page_ids=ids):
            versions.setdefault(v[0], []).append(v[1:])
        return {row.id: state_of(row, versions.get(row.id, []), self._text_of)
                for row in rows}

    def _text_of(self, version_id: int, lines: bytes | None) -> str:
        return self.store._text_of_lines(version_id, lines)

    def commit_check(self, rec: CheckRecord) -> CommitResult:
        if rec.documents is not None:
            return self.store.commit_check(rec)
        return self.commit_checks([rec])[0]

    def commit_checks(self, records: Sequence[CheckRecord]) -> list[CommitResult]:
        """As ``Store.commit_checks``, here when every record is a check row and a page
        update only (no version, change, alert or document: an unchanged page, a failed
        fetch); else the ``Store``'s."""
        if not records:
            return []
        if not all(_plain(rec) for rec in records):
            return self.store.commit_checks(records)
        with self._transaction() as conn:
            sql, args = _bound("lock_many", {"ids": sorted({r.page_id for r in records})})
            pages = {row[0]: LockedPage(row[0], row[1], when(row[2]), row[3], row[4])
                     for row in conn.execute(sql, args)}
            writes = []
            for rec in records:
                if rec.page_id not in pages:
                    from monitor.errors import StorageError

                    raise StorageError(f"page {rec.page_id} does not exist")
                w = written(rec, pages[rec.page_id])
                pages[rec.page_id] = w.page
                writes.append(w)
            check_ids = iter([_insert_check(conn, w.row) for w in writes if w.row is not None])
            for params in page_updates(writes):
                _update_pages(conn, params)
        return [w.result(next(check_ids) if w.row is not None else 0) for w in writes]


class QuickSchedule:
    """``Schedule``'s face for an unchanged pass: ``ensure_pages`` of pages that exist,
    the leases; any other attribute is the ``Schedule``'s, on the ``Store``."""

    def __init__(self, quick: QuickStore, owner: str, lease_seconds: float) -> None:
        self.quick, self.owner = quick, owner
        self.lease = timedelta(seconds=lease_seconds)
        self._schedule: Schedule | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._real(), name)

    def _real(self) -> Schedule:
        """The ``Schedule`` of the same leases, on the ``Store``."""
        if self._schedule is None:
            self._schedule = self.quick.store.schedule(self.owner, self.lease.total_seconds())
        return self._schedule

    def ensure_pages(self, sources: Sequence[SourceSpec]) -> dict[str, PageRef]:
        """As ``Schedule.ensure_pages`` when every source and its main page exist (two
        queries); else the ``Schedule``'s (which creates them)."""
        ids = {r.name: r.id for r in self.quick._select(
            "source_ids", names=[s.name for s in sources])}
        mains: dict[int, Any] = {}
        if len(ids) == len({s.name for s in sources}):
            for row in self.quick._select("main_pages", ids=list(ids.values())):
                mains.setdefault(row.source_id, row)
        if len(mains) < len(ids) or len(ids) < len({s.name for s in sources}):
            return self._real().ensure_pages(sources)
        return {name: PageRef(name, mains[i].id, mains[i].last_check_at,
                              mains[i].next_check_at) for name, i in ids.items()}

    def take_many(self, page_ids: Sequence[int], now: datetime) -> set[int]:
        if not page_ids:
            return set()
        return {int(r[0]) for r in self.quick._write(
            "take_many", ids=sorted(set(page_ids)), now_=now, owner_=self.owner,
            expires_=now + self.lease)}

    def renew(self, page_ids: Sequence[int], now: datetime) -> int:
        if not page_ids:
            return 0
        return int(self.quick._write("renew", ids=list(page_ids), owner_=self.owner,
                                     expires_=now + self.lease))

    def give_back(self, page_id: int) -> None:
        self.quick._write("end_lease", id_=page_id, owner_=self.owner)

    def release_all(self) -> int:
        return int(self.quick._write("release_all", owner_=self.owner))


# --- conversions ---------------------------------------------------------------------


def _plain(rec: CheckRecord) -> bool:
    """A record that writes a check row and its page's columns only."""
    return (rec.version is None and not rec.changes and not rec.alerts
            and rec.documents is None)


def _insert_check(conn: sqlite3.Connection, row: dict[str, Any]) -> int:
    sql, params, _ = quick_sql.STATEMENTS["insert_check"]
    args = tuple(_bind(row[name], kind) for name, kind, _, _ in params)
    cur = conn.execute(sql, args)
    try:
        return int(cur.fetchone()[0])
    finally:
        cur.close()


def _update_pages(conn: sqlite3.Connection, params: list[dict[str, Any]]) -> None:
    """One set of columns of many pages: ``UPDATE pages SET … WHERE pages.id = ?`` as
    SQLAlchemy compiles ``Store``'s ``_UPDATE_PAGE`` (the columns in the table's order)."""
    names = [n for n in _KINDS if n in params[0]]
    if len(names) + 1 != len(params[0]):  # a value of no column: as Store, an error
        from monitor.errors import StorageError

        raise StorageError(f"pages has no column {sorted(set(params[0]) - set(_KINDS))}")
    sql = (f"UPDATE pages SET {', '.join(f'{n}=?' for n in names)} "
           "WHERE pages.id = ?")
    rows = [(*(_bind(p[n], _KINDS[n]) for n in names), p["page_id_"]) for p in params]
    conn.executemany(sql, rows)


def _bound(name: str, given: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """The statement's SQL with its expanding lists written out, and its arguments."""
    sql, params, _ = quick_sql.STATEMENTS[name]
    args: list[Any] = []
    for pname, kind, value, required in params:
        value = given[pname] if required or pname in given else value
        if isinstance(value, list):
            sql = sql.replace(f"__[POSTCOMPILE_{pname}]", ", ".join("?" * len(value)), 1)
            args.extend(_bind(v, kind) for v in value)
        else:
            args.append(_bind(value, kind))
    return sql, tuple(args)


def _bind(value: Any, kind: str | None) -> Any:
    """A parameter as SQLAlchemy's SQLite types bind it."""
    if value is None or kind is None:
        return value
    if kind == "dt":
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if kind == "bool":
        return int(bool(value))
    return json.dumps(value, ensure_ascii=False)


def _read(value: Any, kind: str | None) -> Any:
    """A column as SQLAlchemy's SQLite types give it back."""
    if value is None or kind is None:
        return value
    if kind == "dt":
        return when(value)
    if kind == "bool":
        return bool(value)
    return json.loads(value)


_ROW_TYPES: dict[str, type] = {}


def _row_type(name: str) -> type:
    """A named tuple of the statement's columns (rows read by attribute, as Row's)."""
    made = _ROW_TYPES.get(name)
    if made is None:
        cols = [c for c, _ in quick_sql.STATEMENTS[name][2]]
        made = _ROW_TYPES[name] = NamedTuple(f"{name}_row", [(c, Any) for c in cols])
    return made
