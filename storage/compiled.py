"""A changed check's row writes on SQLite through the driver's cursor, each statement
compiled once per set of parameter names (``Store.commit_check``, inside the writers'
turn).

SQLAlchemy's ``Connection.execute`` of a cached Core statement still spends ~16 µs of
Python a call before and after SQLite's own work (the cache key, an execution context,
the parameters' processing, a result object): measured, 28–30 µs an ``INSERT … RETURNING
id`` of a check row against 11–13 µs through the cursor.  Inside the writers' turn every
other writer of the database waits for that, four times a changed check (its version,
change and check rows and its page's update).  So on SQLite these statements are
compiled here once for the parameter names given (SQLAlchemy's own compiler: the same
SQL text), and each value goes through the same bind processor SQLAlchemy would apply
(its JSON serializer, ``UTCDateTime``, booleans), and a column left out gets its
Python-side default as a Core insert gives it: the bytes stored are the same
(tests/test_fast_paths.py compares every column of every row).  A driver error comes out
as SQLAlchemy's (``DBAPIError.instance``, as ``Connection.execute`` raises it), so
``Store`` translates it as before.  A statement whose defaults are not plain values or
functions, and any other database, goes through ``Connection.execute``.

What the cursor path leaves out, by decision: SQLAlchemy's execution events
(``before_execute``/``after_execute``, ``before_cursor_execute``/``after_cursor_execute``;
an error still comes out as SQLAlchemy's, see above) and its statement logging
(``echo``, the ``sqlalchemy.engine`` logger) do not see these statements.  Nothing in
the project listens to them: the one engine event is ``connect`` (``storage/db.py``'s
SQLite pragmas, which the cursor's connection has had like any other); logging, metrics
(``monitor/metrics.py`` counts checks, not statements) and the tests watch the database
through its rows, never through execution events.  tests/test_fast_paths.py asserts
that no such listener is registered on a store's engine: one added later (query
counting, tracing) must either route these statements through ``Connection.execute``
or fire itself here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase


@dataclass(frozen=True)
class _Form:
    """A statement compiled for one set of parameter names: its SQL text, the names in
    the order of its ``?`` marks with each one's bind processor (None: the value as is)
    and default (None: given by the caller)."""

    sql: str
    binds: tuple[tuple[str, Callable[[Any], Any] | None, Callable[[], Any] | None], ...]


_FORMS: dict[tuple[UpdateBase, frozenset[str]], _Form | None] = {}


def insert_id(c: Connection, stmt: UpdateBase, params: Mapping[str, Any]) -> int:
    """Run an ``INSERT … RETURNING id``; the new row's id."""
    form = _form(c, stmt, params)
    if form is None:
        return int(c.execute(stmt, dict(params)).scalar_one())
    cur = _run(c, form, params)
    try:
        return int(cur.fetchone()[0])
    finally:
        cur.close()  # the statement reset: none left in progress at the commit


def execute(c: Connection, stmt: UpdateBase, params: Mapping[str, Any]) -> None:
    """Run an insert or update that returns nothing."""
    form = _form(c, stmt, params)
    if form is None:
        c.execute(stmt, dict(params))
    else:
        _run(c, form, params).close()


def rows(c: Connection, sql: str, args: Sequence[Any] = ()) -> list[Any]:
    """SQLite: the rows (tuples) of a statement in the driver's own form (``?`` marks,
    ``args`` as the driver takes them), through its cursor.  ``exec_driver_sql`` makes a
    SQLAlchemy result of the same rows: measured ~40 µs more for the ~150 lines of a
    bench page's old text (~180 against ~145 µs), ~15 µs more for a small statement.
    For plain column reads and writes whose values need no processing (ids, digests,
    texts); SQLite only."""
    cur = _cursor(c, sql, args)
    try:
        return cur.fetchall()
    finally:
        cur.close()


def run_many(c: Connection, sql: str, args: Sequence[Sequence[Any]]) -> None:
    """SQLite: ``executemany`` of a statement in the driver's form (as ``rows``)."""
    cur = c.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(sql, args)
    except c.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, args, exc, c.dialect.loaded_dbapi.Error,
                                  dialect=c.dialect) from exc
    finally:
        cur.close()


def _cursor(c: Connection, sql: str, args: Sequence[Any]) -> Any:
    """The driver's cursor having run ``sql``; a driver error comes out as SQLAlchemy's."""
    cur = c.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        return cur.execute(sql, args)
    except c.dialect.loaded_dbapi.Error as exc:
        cur.close()
        raise DBAPIError.instance(
            sql, args, exc, c.dialect.loaded_dbapi.Error, dialect=c.dialect
        ) from exc


def _run(c: Connection, form: _Form, params: Mapping[str, Any]) -> Any:
    args = []
    for name, proc, default in form.binds:
        value = params[name] if default is None else default()
        args.append(value if proc is None else proc(value))
    return _cursor(c, form.sql, tuple(args))


def _form(c: Connection, stmt: UpdateBase, params: Mapping[str, Any]) -> _Form | None:
    if c.dialect.name != "sqlite":
        return None
    key = (stmt, frozenset(params))  # the statement held: its id is never reused
    try:
        return _FORMS[key]
    except KeyError:
        form = _FORMS[key] = _compile(c, stmt, params)
        return form


def _compile(c: Connection, stmt: UpdateBase, params: Mapping[str, Any]) -> _Form | None:
    compiled = stmt.compile(dialect=c.dialect, column_keys=list(params))
    if not compiled.positional or compiled.positiontup is None:
        return None
    defaults: dict[str, Callable[[], Any]] = {}
    for col in (*compiled.insert_prefetch, *compiled.update_prefetch):
        default = col.onupdate if compiled.isupdate else col.default
        if default is None or not (default.is_scalar or default.is_callable):
            return None
        arg = default.arg  # type: ignore[attr-defined]
        defaults[col.key] = (lambda v=arg: v) if default.is_scalar else (lambda f=arg: f(None))
    procs = compiled._bind_processors
    key_of = {name: bind.key for bind, name in compiled.bind_names.items()}
    binds = []
    for name in compiled.positiontup:
        key = key_of.get(name, name)
        if key not in params and key not in defaults:
            return None
        binds.append((key, procs.get(name), defaults.get(key)))
    return _Form(compiled.string, tuple(binds))
