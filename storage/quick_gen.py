"""Writes ``storage/quick_sql.py``: the statements of an unchanged pass compiled for
SQLite by SQLAlchemy, so that ``storage.quick`` runs them without importing it.

    .venv/bin/python -m storage.quick_gen      # after changing a statement listed here

The statements stay where they are defined and used (``Store``, ``Schedule``): this is
their SQLite text, the names of their parameters in the order of the ``?`` marks (with
the value of those the statement carries itself, such as ``kind = 'page'``), and how
each parameter and result column is converted (``UTCDateTime``: ``dt``; ``Boolean``:
``bool``; ``JSON``: ``json``; else as the driver gives it).  tests/test_quick.py fails
when the file is not what this module writes now, so a statement edited without running
it cannot drift from what ``storage.quick`` sends.
"""

from __future__ import annotations

import pprint
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Boolean, insert
from sqlalchemy.dialects import sqlite

from storage import repository, schedule
from storage.tables import UTCDateTime, checks, pages

OUT = Path(__file__).with_name("quick_sql.py")
# The columns of a check row as ``repository._check_values`` gives them, in its order.
CHECK_COLUMNS = ("page_id", "started_at", "duration", "outcome", "http_status", "bytes",
                 "raw_sha256", "error_kind", "error", "version_id", "worker")


def statements() -> dict[str, Any]:
    return {
        "synced": repository._SYNCED,
        "pending_alerts": repository._PENDING_ALERTS,
        "source_ids": schedule._SOURCE_IDS,
        "main_pages": schedule._MAIN_PAGES,
        "take_many": schedule._TAKE_MANY,
        "renew": schedule._RENEW,
        "end_lease": schedule._END_LEASE,
        "release_all": schedule._RELEASE_ALL,
        "states": repository._STATES_OF_PAGES,
        "last_versions": repository._LAST_VERSIONS_OF,
        "lock_many": repository._LOCK_MANY,
        "insert_check": insert(checks).returning(checks.c.id),
    }


def _kind(type_: Any) -> str | None:
    if isinstance(type_, UTCDateTime):
        return "dt"
    if isinstance(type_, Boolean):
        return "bool"
    if isinstance(type_, JSON):
        return "json"
    return None


def compiled(stmt: Any) -> tuple[str, tuple[tuple[Any, ...], ...], tuple[tuple[Any, ...], ...]]:
    """(SQL, parameters, result columns) of ``stmt`` on SQLite: each parameter as (name,
    kind, its own value or None, whether the caller gives it), each column as (name,
    kind)."""
    keys = list(CHECK_COLUMNS) if stmt.is_insert else None
    cp = stmt.compile(dialect=sqlite.dialect(), column_keys=keys)
    assert cp.positiontup is not None
    params = []
    for name in cp.positiontup:
        bind = cp.binds[name]
        given = bind.required or (keys is not None and name in keys)
        params.append((name, _kind(bind.type), None if given else bind.value, given))
    cols = stmt._returning if stmt.is_dml else stmt.selected_columns
    columns = tuple((c.key or c.name, _kind(c.type)) for c in (cols or ()))
    return cp.string, tuple(params), columns


def source() -> str:
    """The text of ``quick_sql.py``."""
    made = {name: compiled(stmt) for name, stmt in statements().items()}
    page_columns = tuple((c.name, _kind(c.type)) for c in pages.columns)
    return ('"""The SQLite statements of ``storage.quick``, written by ``python -m '
            'storage.quick_gen``\n(see there): do not edit."""\n\n'
            f"STATEMENTS = {pprint.pformat(made, width=92, sort_dicts=False)}\n\n"
            f"PAGE_COLUMNS = {pprint.pformat(page_columns, width=92)}\n")


def main() -> None:
    OUT.write_text(source(), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
