"""Many sources on one host: ``host_concurrency`` checks at once, a warning (once) when
the host cannot be checked on schedule, skipped runs counted instead of logged, and
``monitor status`` showing it all without wrapping when piped."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from tests.conftest import write_sources
from tests.sites import Request, Response, Site
from tests.test_daemon_run import (
    ROOT,
    Daemons,
    daemons,  # noqa: F401 (a fixture)
    free_port,
    metric_values,
    monitor_cmd,
    page,
    wait_until,
)

N = 8
LONG = "hubei-provincial-development-and-reform-commission-replies-to-proposals-2026"


class Slow:
    """Each answer takes a second; counts the requests in flight at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0

    def __call__(self, req: Request) -> Response:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(1.0)
        with self.lock:
            self.now -= 1
        return Response(page(req.path), headers={"Content-Type": "text/html; charset=utf-8"})


def test_a_busy_host_runs_host_concurrency_checks_at_once_and_says_it_falls_behind(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:  # noqa: F811
    slow, port = Slow(), free_port()
    names = [LONG] + [f"p{i}" for i in range(1, N)]
    sources = write_sources(tmp_path / "sources.toml", "".join(f"""
        [[sources]]
        name = "{name}"
        url = "{site.route(f'/p{i}.html', slow)}"
        interval = "2s"
        """ for i, name in enumerate(names)),
        settings=f"metrics_port = {port}\nhost_concurrency = 2\n")
    d = daemons.start(sources)
    wait_until(lambda: len(site.requests) >= 3 * N, 90, "three rounds of checks")
    assert slow.most == 2, slow.most  # two at a time on the host, never more

    host = "host 127.0.0.1: 8 sources every 2 s need ~4 s"
    log = d.text()
    assert log.count(host) == 1, log[-3000:]  # said once, not at every run
    assert "maximum number of running instances" not in log
    assert metric_values(port)["monitor_runs_skipped_total"] > 0  # counted instead

    out = subprocess.run(monitor_cmd("status", "--sources", str(sources)), cwd=ROOT,
                         capture_output=True, text=True, timeout=60)  # stdout is a pipe
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("健康：正常 — ") and "（health: ok — " in lines[0], lines[0]
    assert any(line.startswith("容量：主机 127.0.0.1 的 8 个来源每 2 秒检查一轮，约需 4 秒")
               and "跟不上" in line and f"（capacity: {host}" in line for line in lines), out.stdout
    assert any(LONG in line for line in lines), out.stdout  # whole, on one line
    assert d.stop() == 0


def test_the_daemon_blames_the_hanging_page_not_the_one_queued_behind_it(
        tmp_path: Path, daemons: Daemons) -> None:  # noqa: F811
    # 127.0.0.3, host_concurrency 1: the slow page waits for the hanging one's slot; its
    # fetch_deadline starts when its own request goes out (monitor.fetch.http).
    hung, site = threading.Event(), Site("127.0.0.3")
    try:
        def hang(req: Request) -> Response:
            hung.wait(30)
            return Response("too late")

        site.route("/hang.html", hang)
        site.route("/slow.html", Response(page("发展改革委答复"), delay=1.4,
                                          headers={"Content-Type": "text/html; charset=utf-8"}))
        sources = write_sources(tmp_path / "sources.toml", f"""
            [[sources]]
            name = "hang"
            url = "{site.url('/hang.html')}"
            interval = "1h"

            [[sources]]
            name = "slow"
            url = "{site.url('/slow.html')}"
            interval = "1h"
            """, settings=f"metrics_port = {free_port()}\nretries = 0\nfetch_deadline = 2\n"
                          "read_timeout = 25\n")
        d = daemons.start(sources, db_url=f"sqlite:///{tmp_path / 'm.db'}")
        d.wait_for("check hang error", 60)
        d.wait_for("check slow new", 60)
        log = d.text()
        assert "/hang.html: no complete answer within 2 s (fetch_deadline)" in log, log[-3000:]
        assert "check slow error" not in log and "/slow.html: no complete" not in log
        assert d.stop() == 0
    finally:
        hung.set()
        site.close()
