"""Shared fixtures: test sites, stores on SQLite and PostgreSQL, sources files.

PostgreSQL: ``MONITOR_TEST_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1:5432/test).
Each test gets a database of its own, dropped afterwards.  Without a server the
PostgreSQL tests skip with the reason, unless ``MONITOR_REQUIRE_SERVICES=1`` (set by
``.ci/run``), which turns a missing server into a failure.
"""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sites import Site

PG_URL = os.environ.get("MONITOR_TEST_POSTGRES_URL",
                        "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE = os.environ.get("MONITOR_REQUIRE_SERVICES") == "1"


def service_missing(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"{reason} (MONITOR_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg

    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        service_missing(f"PostgreSQL not reachable at {PG_URL}: {str(exc).strip()[:120]}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    admin = _pg_admin()
    name = f"monitor_t_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'monitor.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'monitor.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(db_url: str) -> Iterator[object]:
    from storage import Store

    s = Store(db_url)
    yield s
    s.close()


def write_sources(path: Path, body: str, *, settings: str = "") -> Path:
    """Write a sources.toml; ``settings`` lines go into [settings] with test defaults."""
    text = "[settings]\nallow_private_network = true\nhost_delay = 0\nretry_backoff = 0.01\n"
    text += "respect_robots = false\n" + textwrap.dedent(settings) + "\n"
    path.write_text(text + textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _robots_forget_earlier_tests() -> None:
    """Each test starts with no robot sends remembered.  The chat robots' rate limiter is
    one per process (``alerts.ratelimit.ROBOTS``, keyed by the webhook URL), and a
    robot's URL is its test server's loopback port, which the system may give again to a
    later test's server in the same worker: that test's robot would then look busy with
    an earlier test's sends (seen: a 1-a-minute robot kept an alert queued)."""
    from alerts.ratelimit import ROBOTS

    with ROBOTS.lock:
        ROBOTS.finished.clear()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never pick up a developer's MONITOR_* variables or write to ./data (nor to
    ~/.cache)."""
    for key in list(os.environ):
        if key.startswith("MONITOR_") and key not in ("MONITOR_TEST_POSTGRES_URL",
                                                      "MONITOR_REQUIRE_SERVICES"):
            monkeypatch.delenv(key)
        if key.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(key)  # nor a developer's proxy
    monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'monitor.db'}")
    monkeypatch.setenv("MONITOR_OUTBOX_DIR", str(tmp_path / "data" / "outbox"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # monitor.configcache
