"""SIGTERM while alerts are being sent: sends in flight finish, the rest go back to
pending at once, no traceback; a restart delivers every alert exactly once.

A real daemon subprocess and a real SMTP server (aiosmtpd) that takes its time over
each message."""

from __future__ import annotations

import asyncio
from pathlib import Path

from storage import Store
from storage.alerts_repo import AlertsRepo
from storage.models import Alert
from storage.records import AlertDraft
from tests.conftest import write_sources
from tests.sites import Site
from tests.test_alerts_support import MailSink, SmtpServer
from tests.test_daemon_run import (
    Daemons,
    count,
    daemons,  # noqa: F401 (a fixture)
    db_url,
    page,
    wait_until,
)

N = 24
ADMIN = "admin@example.org"


class SlowSink(MailSink):
    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        await asyncio.sleep(1.0)  # a slow mail server: each message takes a second
        return await super().handle_DATA(server, session, envelope)


def queue_alerts(n: int) -> None:
    store = Store(db_url())
    try:
        AlertsRepo(store).enqueue([AlertDraft(
            dedupe_key=f"config:test{i}:{ADMIN}", event="config", channel="email",
            recipient=ADMIN, watcher="admin",
            payload={"problems": [f"问题 {i}"], "file": "sources.toml", "source": None,
                     "key": None, "format": "email"}) for i in range(n)])
    finally:
        store.close()


def test_sigterm_mid_delivery_leaves_nothing_sending_and_a_restart_sends_each_once(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:  # noqa: F811
    smtp = SmtpServer(sink=SlowSink()).start()
    try:
        site.route("/a.html", page("甲"))
        sources = write_sources(tmp_path / "sources.toml", f"""
            [[sources]]
            name = "a"
            url = "{site.url('/a.html')}"
            interval = "1h"
            """, settings=f'smtp_url = "{smtp.url}"\nshutdown_grace = 20\n')
        queue_alerts(N)
        d = daemons.start(sources)
        wait_until(lambda: len(smtp.sink.messages) >= 2, 60, "delivery under way")
        assert d.stop(timeout=60) == 0
        assert count(Alert, status="sending") == 0  # nothing waits for a lease
        sent_first = count(Alert, status="sent")
        assert 2 <= sent_first < N
        assert sent_first == len(smtp.sink.messages)  # the sends in flight finished
        log = d.text()
        assert "Traceback" not in log and "CancelledError" not in log, log[-3000:]
        assert count(Alert, status="pending") == N - sent_first
        assert f"{sent_first} sent, 0 retrying, 0 dead, {N - sent_first} given back" in log

        d2 = daemons.start(sources)
        wait_until(lambda: count(Alert, status="sent") == N, 60, "every alert sent")
        assert d2.stop(timeout=60) == 0
        ids = [m["Message-ID"] for m in smtp.sink.parsed()]
        assert len(ids) == N and len(set(ids)) == N  # each exactly once
        assert "Traceback" not in d2.text()
    finally:
        smtp.stop()
