"""More due sources than a host can take: the backlog shows in ``/metrics`` and in
``monitor status``, and goes away when the host answers fast again.  On SQLite and
PostgreSQL (``db_url``)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.conftest import write_sources
from tests.sites import Request, Response, Site
from tests.test_daemon_run import (
    ROOT,
    Daemons,
    _get,
    daemons,  # noqa: F401 (a fixture)
    free_port,
    metric_values,
    monitor_cmd,
    page,
    wait_until,
)

N = 6


class Host:
    """Answers each request after ``delay`` seconds (changed by the test)."""

    def __init__(self) -> None:
        self.delay = 1.0

    def __call__(self, req: Request) -> Response:
        time.sleep(self.delay)
        return Response(page(req.path), headers={"Content-Type": "text/html; charset=utf-8"})


def test_sources_waiting_for_a_busy_host_show_as_backlog_and_lag(
        tmp_path: Path, site: Site, db_url: str, daemons: Daemons) -> None:  # noqa: F811
    host, port = Host(), free_port()
    sources = write_sources(tmp_path / "sources.toml", "".join(f"""
        [[sources]]
        name = "p{i}"
        url = "{site.route(f'/p{i}.html', host)}"
        interval = "3s"
        """ for i in range(N)), settings=f"metrics_port = {port}\n")
    d = daemons.start(sources, db_url=db_url)
    # Six one-second checks every 3 s on a host that takes one at a time: always behind.
    d.wait_for("monitor running as")
    seen: dict[str, float] = {}

    def behind() -> bool:
        m = metric_values(port)
        seen.update(m)
        return (m["monitor_due_backlog"] >= 3 and m["monitor_scheduler_lag_seconds"] >= 2
                and m["monitor_runs_skipped_total"] > 0)  # slots passed while they waited

    wait_until(behind, 90, "a backlog of due sources, a lag and skipped runs in /metrics")
    assert seen["monitor_checks_running"] <= 1  # only one runs; the others wait
    status, body = _get(f"http://127.0.0.1:{port}/healthz")
    assert status == 200 and json.loads(body)["due_backlog"] >= 1

    out = subprocess.run(monitor_cmd("status", "--sources", str(sources)), cwd=ROOT,
                         capture_output=True, text=True, timeout=60,
                         env=_env(db_url))
    assert out.returncode == 0, out.stderr
    line = next((x for x in out.stdout.splitlines() if x.startswith("积压：")), None)
    assert line is not None, out.stdout
    assert int(line.removeprefix("积压：").split()[0]) >= 2, line
    assert "个来源已到检查时间但尚未开始" in line and "（backlog: " in line, line

    host.delay = 0.0  # the host answers at once: the queue drains, nothing waits
    wait_until(lambda: metric_values(port)["monitor_due_backlog"] == 0
               and metric_values(port)["monitor_scheduler_lag_seconds"] < 1, 60,
               "the backlog to drain")
    m = metric_values(port)
    assert m["monitor_scheduler_start_lag_seconds_count"] > 0
    assert d.stop() == 0


def _env(db_url: str) -> dict[str, str]:
    import os

    return dict(os.environ, MONITOR_DATABASE_URL=db_url)


class Recorder:
    """Answers after ``delay`` seconds and keeps the order of the paths asked."""

    def __init__(self, delay: float) -> None:
        self.delay, self.paths = delay, []

    def __call__(self, req: Request) -> Response:
        self.paths.append(req.path)
        time.sleep(self.delay)
        return Response(page(req.path), headers={"Content-Type": "text/html; charset=utf-8"})


def test_a_source_on_schedule_goes_before_a_first_pass_of_new_sources(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:  # noqa: F811
    # One host, one check at a time, 0.5 s a check: 20 new sources take 10 s.  A source
    # checked before, due every 3 s, is checked at its slot among them, not after them.
    host = Recorder(0.5)
    old = f"""
        [[sources]]
        name = "old"
        url = "{site.route('/old.html', host)}"
        interval = "3s"
        """
    new = "".join(f"""
        [[sources]]
        name = "n{i:02d}"
        url = "{site.route(f'/n{i:02d}.html', host)}"
        interval = "1h"
        """ for i in range(20))
    sources = write_sources(tmp_path / "sources.toml", old)
    d = daemons.start(sources)
    wait_until(lambda: "/old.html" in host.paths, 60, "the first check of old")
    write_sources(tmp_path / "sources.toml", old + new)
    d.wait_for("reloaded: added", 30)
    wait_until(lambda: sum(p.startswith("/n") for p in host.paths) == 20, 90,
               "the first pass of the new sources")
    order = host.paths[host.paths.index("/n00.html"):]  # from the first new one on
    assert "/old.html" in order, order
    after = order[order.index("/old.html"):]  # new ones checked after old's slot came
    assert sum(p.startswith("/n") for p in after) >= 10, order
    assert d.stop() == 0
