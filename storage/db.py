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

Waiting for SQLite's write lock, stoppably: ``storage.sqlite``.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

from monitor.errors import NewerDatabaseError
from storage.glance import MIGRATIONS, head_revision, migrations, timed
from storage.sqlite import (
    BUSY_STEP,
    LockWaits,
    sqlite_pragmas,
    waiting_connection,
)

MIGRATE_LOCK = 0x6D6F6E69746F72  # "monitor": the advisory lock key of migrate()


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
    factory = waiting_connection(waits or LockWaits())
    engine = create_engine(url, connect_args={"check_same_thread": False,
                                              "timeout": BUSY_STEP, "factory": factory},
                           json_serializer=_json)
    event.listen(engine, "connect", lambda conn, _record: sqlite_pragmas(conn))
    return engine


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
