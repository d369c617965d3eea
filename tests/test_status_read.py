"""How ``monitor status`` reads PostgreSQL without SQLAlchemy (``storage.glance`` through
``storage.libpq``): every statement in one round trip, the rows read only from a schema
at the newest migration, anything else left to ``Store``, which makes or migrates it."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import SourceConfig, load_config
from storage import Store, glance, libpq
from storage.models import utcnow
from storage.schedule import Schedule
from tests.conftest import write_sources

pytestmark = pytest.mark.postgres


def test_several_statements_go_at_once_and_stop_at_the_first_that_fails(
        pg_url: str) -> None:
    """``Connection.script``: each statement's rows in order, up to the one that fails,
    and its error with its SQLSTATE; the connection's settings (UTC, ISO dates) apply to
    the first statement already."""
    conn = libpq.connect(pg_url)
    assert conn is not None
    try:
        done, error = conn.script("SELECT 1, 'a'; SELECT current_setting('TimeZone'), "
                                  "'2026-05-01 08:00+08'::timestamptz; "
                                  "SELECT * FROM no_such_table; SELECT 3")
        assert done == [[("1", "a")], [("UTC", "2026-05-01 00:00:00+00")]]
        assert error is not None and error.state == "42P01" and error.kind == "ProgrammingError"
        assert "no_such_table" in str(error)
        assert conn.script("SELECT 4") == ([[("4",)]], None)  # the connection goes on
    finally:
        conn.close()


def _archive(url: str, tmp_path: Path) -> list[SourceConfig]:
    sources = write_sources(tmp_path / "sources.toml", """
        [[sources]]
        name = "a"
        url = "http://127.0.0.1:9/a.html"
        interval = "10m"
        """)
    config = load_config(sources)
    store = Store(url)
    try:
        store.sync_sources(config.sources)
        Schedule(store, "test", 300).ensure_pages(config.sources)
    finally:
        store.close()
    return list(config.sources)


def _psql(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def test_a_schema_not_at_the_newest_migration_is_left_to_store(
        pg_url: str, tmp_path: Path) -> None:
    """At head the driver reads the rows; a revision behind, or no revision table at
    all (tables made by hand, or by another tool), gives None — ``monitor status`` then
    opens ``Store``, which migrates or says what is wrong — not an error of the rows'
    statement on a schema it was not written for."""
    sources = _archive(pg_url, tmp_path)
    read = glance.status(pg_url, sources, utcnow())
    assert read is not None and [r.status for r in read[0]] == ["new"]
    _psql(pg_url, "UPDATE alembic_version SET version_num = '0011'")
    assert glance.status(pg_url, sources, utcnow()) is None
    # as at 0003: no documents yet, the rows' statement would fail on parent_id
    _psql(pg_url, "UPDATE alembic_version SET version_num = '0003'; "
                  "ALTER TABLE pages DROP COLUMN parent_id CASCADE")
    assert glance.status(pg_url, sources, utcnow()) is None
    _psql(pg_url, "DROP TABLE alembic_version")
    assert glance.status(pg_url, sources, utcnow()) is None


def test_a_statement_that_fails_at_head_is_said_not_skipped(
        pg_url: str, tmp_path: Path) -> None:
    """At head, a failing read is the database's error as ``Store`` words it (here the
    checks table gone), not a silent fall back."""
    from monitor.errors import StorageError

    sources = _archive(pg_url, tmp_path)
    _psql(pg_url, "DROP TABLE checks CASCADE")
    with pytest.raises(StorageError, match=r"^database error: ProgrammingError: \(libpq\) "
                                           r"ERROR:  relation \"checks\" does not exist"):
        glance.status(pg_url, sources, utcnow())
