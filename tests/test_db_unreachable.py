"""A PostgreSQL server that cannot be reached: every command says so in Chinese (what to
check, the URL with its password masked), then the driver's words, exit 1; one that
accepts the connection and never answers does the same after ``connect_timeout``
instead of hanging (``storage.glance.CONNECT_TIMEOUT``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_sources

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def silent() -> Iterator[int]:
    """A loopback port whose server accepts connections and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for conn in held:
        conn.close()


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


def _monitor(url: str, sources: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MONITOR_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "monitor", *args, "--sources", str(sources)],
                          cwd=ROOT, env=env, text=True, capture_output=True, timeout=60)


@pytest.mark.parametrize("server", ["silent", "refused"])
def test_a_database_that_cannot_be_reached_is_said_in_chinese(
        server: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    port = request.getfixturevalue("silent") if server == "silent" else _closed_port()
    sources = write_sources(tmp_path / "sources.toml", """
        [[sources]]
        name = "p"
        url = "http://127.0.0.1:9/p.html"
        """)
    url = f"postgresql://monitor:s3cret@127.0.0.1:{port}/archive?connect_timeout=2"
    for command in (["status"], ["history", "p"]):  # libpq's reader, then psycopg's
        out = _monitor(url, sources, *command)
        assert out.returncode == 1, (command, out.stderr)
        first, detail = [*out.stderr.splitlines(), ""][:2]
        assert first.startswith("错误：无法连接数据库（postgresql"), (command, out.stderr)
        assert first.endswith(f"monitor:***@127.0.0.1:{port}/archive?connect_timeout=2）："
                              "请检查数据库是否运行、地址和权限"), (command, out.stderr)
        assert detail.startswith("技术细节：error: database error: OperationalError: ")
        assert "s3cret" not in out.stderr and "Traceback" not in out.stderr


def test_a_server_that_never_answers_times_out_without_a_timeout_in_the_url(
        silent: int, tmp_path: Path) -> None:
    """No ``connect_timeout`` in the URL: ten seconds (``CONNECT_TIMEOUT``), not forever."""
    sources = write_sources(tmp_path / "sources.toml", "")
    env = {k: v for k, v in os.environ.items() if k != "PGCONNECT_TIMEOUT"}
    for command in (["status"], ["history", "p"]):  # libpq's reader, then psycopg's
        out = subprocess.run(
            [sys.executable, "-m", "monitor", *command, "--sources", str(sources)], cwd=ROOT,
            env={**env, "MONITOR_DATABASE_URL": f"postgresql://monitor@127.0.0.1:{silent}/a"},
            text=True, capture_output=True, timeout=45)
        assert out.returncode == 1, (command, out.stderr)
        assert out.stderr.startswith("错误：无法连接数据库（postgresql"), (command, out.stderr)


def test_a_sqlite_file_that_cannot_be_opened_is_said_in_chinese(tmp_path: Path) -> None:
    """SQLite's "unable to open database file" (a directory that cannot be written, a
    path that is a directory) as a database that cannot be reached: what to check and
    the path, in Chinese, then the driver's words; exit 1, as for PostgreSQL."""
    where = tmp_path / "data"
    where.mkdir()  # the database's path is a directory: SQLite cannot open it
    sources = write_sources(tmp_path / "sources.toml", """
        [[sources]]
        name = "p"
        url = "http://127.0.0.1:9/p.html"
        """)
    url = f"sqlite:///{where}"
    for command in (["check", "--no-deliver"], ["status"], ["history", "p"]):
        out = _monitor(url, sources, *command)
        assert out.returncode == 1, (command, out.stderr)
        first, detail = [*out.stderr.splitlines(), ""][:2]
        assert first.startswith(f"错误：无法打开数据库文件 {where}（数据库设置 {url}）：请确认所在"
                                "目录存在且可写"), (command, out.stderr)
        assert detail == ("技术细节：error: database error: OperationalError: "
                          "(sqlite3.OperationalError) unable to open database file"), (
                              command, out.stderr)
        assert "Traceback" not in out.stderr
