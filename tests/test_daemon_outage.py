"""PostgreSQL goes away for a while under a running daemon: one log line when it goes,
one when it is back, no traceback, and checks go on afterwards.

The outage is real but private: the daemon reaches the test's PostgreSQL database
through a TCP proxy on 127.0.0.1 that the test cuts (open connections dropped, new ones
refused) and restores; the shared server itself is never stopped."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import write_sources
from tests.sites import Site
from tests.tcpproxy import TcpProxy
from tests.test_daemon_run import (
    Daemons,
    _get,
    daemons,  # noqa: F401 (a fixture)
    free_port,
    page,
    wait_until,
)

OUTAGE = 8.0  # seconds


def healthz(port: int) -> tuple[int, dict[str, object]]:
    status, body = _get(f"http://127.0.0.1:{port}/healthz")
    return status, json.loads(body)


@pytest.mark.postgres
def test_a_database_outage_is_one_line_when_it_goes_and_one_when_it_is_back(
        tmp_path: Path, site: Site, daemons: Daemons, pg_url: str) -> None:  # noqa: F811
    real = make_url(pg_url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432).start()
    try:
        url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        port = free_port()
        sources = write_sources(tmp_path / "sources.toml", "".join(f"""
            [[sources]]
            name = "s{i}"
            url = "{site.route(f'/s{i}.html', page(f'第{i}页'))}"
            interval = "1s"
            """ for i in range(4)), settings=f"metrics_port = {port}\nlease_seconds = 3\n")
        d = daemons.start(sources, db_url=url)
        wait_until(lambda: all(site.hits(f"/s{i}.html") >= 2 for i in range(4)), 60,
                   "checks running")
        time.sleep(2)

        proxy.cut()
        wait_until(lambda: healthz(port)[0] == 503, 30, "/healthz to say unhealthy")
        time.sleep(OUTAGE)
        hits = site.hits("/s0.html")
        proxy.start()
        wait_until(lambda: site.hits("/s0.html") > hits + 2, 60, "checks after the outage")
        wait_until(lambda: healthz(port)[0] == 200, 30, "/healthz to recover")
        assert d.stop() == 0

        log = d.text()
        assert log.count("database unreachable since") == 1, log[-4000:]
        assert log.count("database back after") == 1, log[-4000:]
        assert "Traceback" not in log and "raised an exception" not in log, log[-4000:]
        # Besides the outage line: at most the checks that were running when it began.
        errors = [line for line in log.splitlines() if " ERROR " in line]
        assert len(errors) <= 1 + 2 * 4, "\n".join(errors)
    finally:
        proxy.close()
