"""Processes starting at once on a fresh database (PostgreSQL or SQLite) all migrate it
cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
N = 6

# Each process opens a Store (which migrates) as soon as all of them are ready to.
SCRIPT = """
import sys, time
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
from storage import Store
Store(sys.argv[1]).close()
print("migrated")
"""


@pytest.mark.postgres
def test_replicas_migrating_a_fresh_postgres_database_at_once_all_succeed(pg_url: str) -> None:
    import time

    start = str(time.time() + 4)  # imports done everywhere before the start line
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, pg_url, start], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(N)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    failed = [err for code, _, err in results if code != 0]
    assert not failed, failed[0][-2000:]
    assert all(out.strip() == "migrated" for _, out, _ in results)
    with psycopg.connect(pg_url) as conn:
        [(head,)] = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        assert head and conn.execute("SELECT count(*) FROM pages").fetchone() == (0,)


def test_processes_opening_a_fresh_sqlite_database_at_once_all_succeed(tmp_path: Path) -> None:
    # `monitor serve` and `monitor run` started together on a new file: both must work
    # (one of them died with "table locks already exists").
    import sqlite3
    import time

    db = tmp_path / "monitor.db"
    start = str(time.time() + 4)
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, f"sqlite:///{db}", start],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(N)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    failed = [err for code, _, err in results if code != 0]
    assert not failed, failed[0][-2000:]
    with sqlite3.connect(db) as conn:
        assert len(conn.execute("SELECT version_num FROM alembic_version").fetchall()) == 1


def test_the_head_read_from_the_migration_files_is_alembics_own() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from storage import db

    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    assert db.head_revision() == ScriptDirectory.from_config(cfg).get_current_head()


OPEN = """
import sys
from storage import Store
Store(sys.argv[1]).close()
print("alembic" in sys.modules)
"""


def test_a_database_at_head_opens_without_alembic_and_one_behind_is_upgraded(
        db_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from storage import db

    def open_store() -> bool:  # in a fresh process: did it import alembic?
        out = subprocess.run([sys.executable, "-c", OPEN, db_url], cwd=ROOT, check=True,
                             capture_output=True, text=True, timeout=120).stdout
        return out.strip() == "True"

    assert open_store()  # a new database: alembic creates the tables
    assert not open_store()  # at head: nothing to import
    engine = create_engine(db.normalize_url(db_url))
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as conn:  # as if the newest migration had not run yet
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
    assert open_store()  # one behind: alembic upgrades it
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() \
            == db.head_revision()
    engine.dispose()


def test_the_head_read_from_files_is_none_when_they_do_not_name_one(tmp_path: Path) -> None:
    """A branch, or two migrations with one revision id (two helpers' 0009 before they
    are rechained): alembic is asked rather than a head guessed."""
    from storage.glance import head_revision

    head = head_revision.__wrapped__  # uncached: the folder changes below

    def write(name: str, rev: str, down: str | None) -> None:
        (tmp_path / f"{name}.py").write_text(
            f'"""{name}."""\nrevision = "{rev}"\ndown_revision = {down and repr(down)}\n',
            encoding="utf-8")

    write("0001_a", "0001", None)
    write("0002_b", "0002", "0001")
    assert head(tmp_path) == "0002"
    write("0003_c", "0003", "0002")
    write("0003_d", "0003", "0002")
    assert head(tmp_path) is None
    (tmp_path / "0003_d.py").unlink()
    write("0004_e", "0004", "0002")  # a branch: 0003 and 0004 both follow 0002
    assert head(tmp_path) is None
