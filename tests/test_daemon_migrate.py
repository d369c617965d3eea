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


def _downgraded(db_url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from storage import db

    engine = create_engine(db.normalize_url(db_url))
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    engine.dispose()


def _archive(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database with one page and its version; the sources file of a read-only
    command (its database from the environment)."""
    from tests.test_archive_data import one_reply_archive

    return one_reply_archive(db_url, tmp_path, monkeypatch, "湘工信提案函〔2021〕204号 办理中。")


def _monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=120)


def test_a_read_only_command_says_when_a_migration_rewrites_the_archive(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Migrations 0016 and 0018 refold the search index: a command that meets them (here
    `history`, which only reads) says so when it starts and when it is done, then does
    its work."""
    sources = _archive(db_url, tmp_path, monkeypatch)
    _downgraded(db_url, "0015")
    out = _monitor("history", "hn-reply", "--sources", str(sources))
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    # every rewriting migration on the way is named in the one line: 0017 after 0016 on
    # PostgreSQL, whose paragraphs it rewrites; on SQLite it has nothing to do and is not
    # named
    postgres = db_url.startswith("postgresql")
    said = "重建搜索索引（括号改作分隔符）（迁移 0016）" + (
        "；重写段落表、重建搜索索引（迁移 0017）" if postgres else "") + (
        "；重建搜索索引（横线、连接号统一）（迁移 0018）")
    revs = "0016, 0017, 0018" if postgres else "0016, 0018"
    assert lines[0] == (f"正在升级数据库：{said}，档案较大时需要一些时间，请勿中断。(migrating "
                        f"the database: {revs} rewrite(s) stored data, which can take a "
                        "while on a big archive)"), out.stderr
    assert "SQLite" not in out.stderr and "PostgreSQL" not in out.stderr
    assert lines[1].startswith(f"数据库升级完成：{said}，用时 "), out.stderr
    assert "用时 " in lines[1], out.stderr
    assert "第1版" in out.stdout
    again = _monitor("search", "2021", "--sources", str(sources))  # at head: nothing said
    assert again.returncode == 0 and "数据库" not in again.stderr, again.stderr
    assert "hn-reply" in again.stdout


def test_a_database_a_newer_release_migrated_is_refused_in_chinese(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A revision this code does not know (a newer release upgraded the database): a
    sentence saying to upgrade monitor and a non-zero exit, never alembic's traceback."""
    from sqlalchemy import create_engine, text

    from monitor.errors import NewerDatabaseError
    from storage import Store, db

    sources = _archive(db_url, tmp_path, monkeypatch)
    engine = create_engine(db.normalize_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    for command in (["history", "hn-reply"], ["check"], ["alerts", "list"]):
        out = _monitor(*command, "--sources", str(sources))
        assert out.returncode == 1, (command, out.stderr)
        assert out.stderr.startswith(
            f"错误：数据库由较新版本的 monitor 升级过（数据库修订 0099，此版本只认识到 "
            f"{db.head_revision()}），此版本无法读写它：请升级 monitor 后再运行\n技术细节：error: "
            "database revision '0099' unknown"), (command, out.stderr)
        assert "Traceback" not in out.stderr
    with pytest.raises(NewerDatabaseError):
        Store(db_url)
