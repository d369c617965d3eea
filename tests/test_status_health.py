"""``monitor status`` opens with what the database says about the daemon's health."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from storage import Store
from storage.models import Check, utcnow
from tests.conftest import write_sources
from tests.sites import Response, Site
from tests.test_daemon_run import ROOT, db_url, monitor_cmd


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(monitor_cmd(*args), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def first_line(sources: Path) -> str:
    out = run("status", "--sources", str(sources))
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[0]


def test_status_says_failing_when_most_checks_fail_and_stale_when_none_are_stored(
        tmp_path: Path, site: Site) -> None:
    site.route("/down.html", Response("服务器内部错误", status=500))
    sources = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "down"
        url = "{site.url('/down.html')}"
        interval = "10m"
        """, settings="retries = 0\n")
    assert first_line(sources) == "health: no checks yet"
    for _ in range(3):
        assert run("check", "--sources", str(sources)).returncode == 0
    line = first_line(sources)
    assert line.startswith("health: failing — newest check "), line
    assert line.endswith(" s ago); 3 of 3 checks failed in the last hour"), line

    store = Store(db_url(), migrate=False)
    try:  # nothing stored for two hours: more than twice the 10 min interval
        with store.session() as s:
            s.execute(update(Check).values(started_at=utcnow() - timedelta(hours=2)))
            s.commit()
    finally:
        store.close()
    line = first_line(sources)
    assert line.startswith("health: stale — "), line
    assert line.endswith("(2 h ago); 0 of 0 checks failed in the last hour"), line
