"""Opening a SQLite archive: a new file another process is creating is waited for, not a
failure; a file that is not an archive is said in Chinese first."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from storage import sqlite
from tests.conftest import write_sources


def test_a_new_archive_another_process_holds_is_waited_for(tmp_path: Path) -> None:
    """Two commands creating one archive at the same moment: switching the new file to
    WAL finds the other's lock and SQLite says "database is locked" at once; the open
    waits for it instead (it failed the second command before), and ends in WAL."""
    path = tmp_path / "m.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # the other command, inside its first transaction
    holder.execute("CREATE TABLE t (x)")
    threading.Timer(0.6, lambda: holder.execute("COMMIT")).start()
    started = time.monotonic()
    conn = sqlite.connect(str(path), sqlite.LockWaits(timeout=10))
    try:
        assert time.monotonic() - started >= 0.5  # it waited for the holder
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    finally:
        conn.close()
        holder.close()


def test_a_file_that_is_not_an_archive_is_said_in_chinese_first(tmp_path: Path) -> None:
    archive = tmp_path / "data" / "monitor.db"  # MONITOR_DATABASE_URL (tests/conftest.py)
    archive.parent.mkdir()
    archive.write_bytes(b"garbage, not a database " * 100)
    write_sources(tmp_path / "sources.toml", '[[sources]]\nname = "a"\n'
                  'url = "http://127.0.0.1:9/a.html"\n')
    for args in (["check"], ["check", "--no-deliver"], ["history", "a"]):
        run = subprocess.run([sys.executable, "-m", "monitor", *args], cwd=tmp_path,
                             text=True, capture_output=True, timeout=60)
        assert run.returncode == 1, run.stderr
        first = run.stderr.strip().splitlines()[0]
        assert "不是 SQLite 数据库" in first, run.stderr
        assert "file is not a database" in run.stderr  # the driver's words after it
