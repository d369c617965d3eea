"""Ctrl-C (SIGINT) or SIGTERM while ``monitor check`` or ``monitor alerts deliver`` is
sending alerts: the alerts it had claimed and not sent are pending again at once (not
``sending`` for their 5-minute lease), the sends in flight finish and are marked, the
command says how many went back and exits 130; the next ``monitor alerts deliver``
sends the rest, each alert exactly once (SQLite and PostgreSQL).

A real process, a real SMTP server (aiosmtpd) that takes its time over each message."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from storage.models import Alert
from tests.conftest import write_sources
from tests.sites import Site
from tests.test_alerts_support import SmtpServer
from tests.test_daemon_run import ROOT, count, monitor_cmd, page, wait_until
from tests.test_daemon_shutdown import SlowSink, queue_alerts

N = 24


@pytest.mark.parametrize("command,sig", [(("check",), signal.SIGINT),
                                         (("alerts", "deliver"), signal.SIGTERM)])
def test_a_signal_mid_delivery_gives_back_the_claimed_alerts_at_once(
        tmp_path: Path, site: Site, db_url: str, monkeypatch: pytest.MonkeyPatch,
        command: tuple[str, ...], sig: signal.Signals) -> None:
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    smtp = SmtpServer(sink=SlowSink()).start()
    try:
        site.route("/a.html", page("甲"))
        sources = write_sources(tmp_path / "sources.toml", f"""
            [[sources]]
            name = "a"
            url = "{site.url('/a.html')}"
            """, settings=f'smtp_url = "{smtp.url}"\n')
        queue_alerts(N)
        log = tmp_path / "run.log"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(log, "wb") as out:
            proc = subprocess.Popen(monitor_cmd(*command, "--sources", str(sources)),
                                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: len(smtp.sink.messages) >= 2, 60, "delivery under way")
            proc.send_signal(sig)
            assert proc.wait(60) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
        text = log.read_text(encoding="utf-8")
        assert "Traceback" not in text, text[-3000:]
        assert count(Alert, status="sending") == 0  # nothing waits out a lease
        sent = count(Alert, status="sent")
        assert 2 <= sent < N and sent == len(smtp.sink.messages)  # in flight: finished
        assert count(Alert, status="pending") == N - sent
        assert f"{N - sent} alert(s) not sent are pending again" in text
        assert f"{N - sent} 条提醒未发送，已放回待发队列" in text

        again = subprocess.run(monitor_cmd("alerts", "deliver", "--sources", str(sources)),
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"{N - sent} sent" in again.stdout  # at once: none waited for its lease
        ids = [m["Message-ID"] for m in smtp.sink.parsed()]
        assert len(ids) == N and len(set(ids)) == N  # each exactly once
    finally:
        smtp.stop()


def test_a_second_signal_cuts_the_sends_in_flight_and_keeps_only_those_sending(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sends cut short may have gone out: their alerts stay ``sending`` (their
    lease), never given back to go twice; every other claimed alert is pending again.
    The cut is at once: the connections are dropped, not closed with a QUIT that waits
    for the server's answer up to the SMTP timeout (120 s here)."""
    from alerts.delivery import CONCURRENCY
    from tests.test_daemon_delivery import HoldingSink

    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    sink = HoldingSink()  # holds every message to the admin: the sends never end
    smtp = SmtpServer(sink=sink).start()
    try:
        sources = write_sources(tmp_path / "sources.toml", "",
                                settings=f'smtp_url = "{smtp.url}?timeout=120"\n')
        queue_alerts(10)
        log = tmp_path / "deliver.log"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(log, "wb") as out:
            proc = subprocess.Popen(monitor_cmd("alerts", "deliver", "--sources", str(sources)),
                                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until(sink.holding.is_set, 60, "sends under way")
            proc.send_signal(signal.SIGINT)
            wait_until(lambda: count(Alert, status="pending") == 10 - CONCURRENCY, 60,
                       "the alerts not sending given back")
            proc.send_signal(signal.SIGINT)
            assert proc.wait(60) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
        text = log.read_text(encoding="utf-8")
        assert "Traceback" not in text, text[-3000:]
        assert count(Alert, status="sending") == CONCURRENCY  # cut mid-send: their lease
        assert count(Alert, status="pending") == 10 - CONCURRENCY
        assert count(Alert, status="sent") == 0 and sink.messages == []
    finally:
        sink.release.set()
        smtp.stop()
