"""``/healthz`` tells the truth: a full disk makes it unhealthy, a missing or broken
sources file makes it degraded; both recover and both are said once in the log.

The full disk is real: the SQLite database lives on a small tmpfs (mounted for the
test, which needs root) that a filler file then fills up.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.models import Alert
from tests.conftest import service_missing, write_sources
from tests.sites import Request, Response, Site
from tests.test_daemon_run import (
    ROOT,
    Daemons,
    _get,
    count,
    daemons,  # noqa: F401 (a fixture)
    free_port,
    monitor_cmd,
    page,
    wait_until,
)


def healthz(port: int) -> tuple[int, dict[str, object]]:
    status, body = _get(f"http://127.0.0.1:{port}/healthz")
    return status, json.loads(body)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        service_missing(f"cannot mount a small tmpfs (needs root): {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path) -> None:
    """Write ``path`` until the file system has no byte left."""
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc


FETCHES: dict[str, int] = {}


def growing(req: Request) -> Response:
    """A page that changes at every fetch: every check stores a version of ~60 KB."""
    n = FETCHES[req.path] = FETCHES.get(req.path, 0) + 1
    body = "".join(f"<p>第{n}版第{i}段：{n * 7919 + i}号文件的办理情况。</p>" for i in range(1500))
    return Response(f"<html><head><title>第{n}版</title></head><body><div>{body}</div>"
                    "</body></html>", headers={"Content-Type": "text/html; charset=utf-8"})


def test_a_full_disk_makes_healthz_unhealthy_and_it_recovers_when_space_is_back(
        tmp_path: Path, site: Site, daemons: Daemons, small_disk: Path) -> None:  # noqa: F811
    port = free_port()
    sources = write_sources(tmp_path / "sources.toml", "".join(f"""
        [[sources]]
        name = "grow{i}"
        url = "{site.route(f'/grow{i}.html', growing)}"
        interval = "1s"
        """ for i in range(3)), settings=f"metrics_port = {port}\nhealth_window = 20\n")
    url = f"sqlite:///{small_disk / 'monitor.db'}"
    d = daemons.start(sources, db_url=url)
    wait_until(lambda: site.hits("/grow0.html") >= 3, 60, "first checks")
    status, health = healthz(port)
    assert status == 200 and health["status"] == "ok", health

    filler = small_disk / "filler"
    fill(filler)
    wait_until(lambda: healthz(port)[0] == 503, 60, "/healthz to say unhealthy")
    status, health = healthz(port)
    assert health["status"] == "unhealthy"
    assert any("database writes failing since" in r for r in health["reasons"]), health
    assert "full" in str(health["database"]["last_error"])  # type: ignore[index]
    stored_before = health["database"]["last_stored_at"]  # type: ignore[index]
    log = d.text()
    assert log.count("database unreachable since") == 1, log[-3000:]
    assert "Traceback" not in log

    filler.unlink()
    wait_until(lambda: healthz(port)[0] == 200, 60, "/healthz to recover")
    status, health = healthz(port)
    assert health["status"] == "ok" and health["reasons"] == []
    wait_until(lambda: healthz(port)[1]["database"]["last_stored_at"] != stored_before,  # type: ignore[index]
               30, "a check stored again")
    assert "database back after" in d.text()
    assert d.stop() == 0
    assert "Traceback" not in d.text()

    out = subprocess.run(monitor_cmd("status", "--sources", str(sources)), cwd=ROOT,
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, MONITOR_DATABASE_URL=url))
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("健康：正常 — ") and "（health: ok — " in first, out.stdout


def test_a_deleted_or_looping_sources_file_is_said_once_and_the_last_config_runs_on(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:  # noqa: F811
    site.route("/a.html", page("甲"))
    port = free_port()
    sources = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "a"
        url = "{site.url('/a.html')}"
        interval = "1s"
        """, settings=f'metrics_port = {port}\nadmin_email = "admin@example.org"\n')
    good = sources.read_bytes()
    d = daemons.start(sources)
    wait_until(lambda: site.hits("/a.html") >= 2, 60, "first checks")

    sources.unlink()
    d.wait_for("No such file or directory", 30)
    status, health = healthz(port)
    assert status == 200 and health["status"] == "degraded", health
    assert health["config"]["state"] == "missing"  # type: ignore[index]
    assert "sources.toml" in health["reasons"][0]  # type: ignore[index]
    hits = site.hits("/a.html")
    wait_until(lambda: site.hits("/a.html") >= hits + 3, 30, "checks go on")
    assert d.text().count("No such file or directory") == 1  # once, not every second
    assert count(Alert, event="config") == 1  # the admin is told
    wait_until(lambda: count(Alert, event="config", status="sent"), 30, "the alert sent")

    sources.write_bytes(good)
    d.wait_for("is back and valid", 30)
    assert healthz(port)[1]["status"] == "ok"

    sources.unlink()
    os.symlink(sources.name, sources)  # a link to itself: every open loops
    d.wait_for("Too many levels of symbolic links", 30)
    assert healthz(port)[1]["config"]["state"] == "missing"  # type: ignore[index]
    assert count(Alert, event="config") == 2  # another trouble, another alert
    sources.unlink()
    sources.write_bytes(good)
    wait_until(lambda: d.text().count("is back and valid") == 2, 30, "back again")
    assert healthz(port)[1]["status"] == "ok"
    assert d.stop() == 0
    assert "Traceback" not in d.text()
