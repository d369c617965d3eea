"""``monitor run``: an alert queued while a delivery round is sending is sent right after
that round, not at the next delivery tick (30 s).

A real daemon subprocess, a real SMTP server (aiosmtpd) that holds the admin's message
until the test lets it go: the round stays busy while a check records a change."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from monitor.daemon import DELIVER_EVERY
from storage.models import Alert, Version
from tests.conftest import write_sources
from tests.sites import Site
from tests.test_alerts_support import MailSink, SmtpServer
from tests.test_daemon_run import (
    Daemons,
    count,
    daemons,  # noqa: F401 (a fixture)
    page,
    wait_until,
)
from tests.test_daemon_shutdown import ADMIN, queue_alerts

WATCHER = "alice@example.cn"


class HoldingSink(MailSink):
    """Holds the admin's message until ``release``: a delivery round that takes its time."""

    def __init__(self) -> None:
        super().__init__()
        self.holding, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if ADMIN in envelope.rcpt_tos:
            self.holding.set()
            await asyncio.to_thread(self.release.wait, 60)
        return await super().handle_DATA(server, session, envelope)


def test_a_change_alerted_during_a_delivery_round_is_sent_right_after_it(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:  # noqa: F811
    assert DELIVER_EVERY >= 30  # the tick the alert must not wait for
    sink = HoldingSink()
    smtp = SmtpServer(sink=sink).start()
    try:
        site.route("/a.html", page("甲"))
        sources = write_sources(tmp_path / "sources.toml", f"""
            [[sources]]
            name = "a"
            url = "{site.url('/a.html')}"
            interval = "1s"

            [[watchers]]
            email = "{WATCHER}"
            sources = ["a"]
            """, settings=f'smtp_url = "{smtp.url}"\n')
        queue_alerts(1)  # sent by the round at start, which the server holds
        d = daemons.start(sources)
        wait_until(lambda: sink.holding.is_set() and count(Version) == 1, 60, "round busy")
        site.route("/a.html", page("乙"))
        wait_until(lambda: count(Alert, event="change") == 1, 30, "the change alerted")
        assert not sink.messages  # the round that started before it is still sending
        sink.release.set()
        released = time.monotonic()
        wait_until(lambda: sink.to(WATCHER), 2 * DELIVER_EVERY, "the change mailed")
        assert time.monotonic() - released < 10  # not at the next tick
        assert [m["To"] for m in sink.parsed()] == [ADMIN, WATCHER]
        assert d.stop(timeout=60) == 0
        assert "Traceback" not in d.text()
    finally:
        sink.release.set()
        smtp.stop()
