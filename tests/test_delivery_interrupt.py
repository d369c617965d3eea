"""Ctrl-C (SIGINT) or SIGTERM while ``monitor check`` or ``monitor alerts deliver`` is
sending alerts: the alerts it had claimed and not sent are pending again at once (not
``sending`` for their 5-minute lease), the sends in flight finish and are marked, the
command says how many went back and exits 130; the next ``monitor alerts deliver``
sends the rest, each alert exactly once (SQLite and PostgreSQL).

The same when the delivery waits for SQLite's write lock held by another process: the
command ends within ``STOP_GRACE``, and what the locked database would not take (a
give-back, a mark) is told and sent once (or once more, same Message-ID) after its lease.

A real process, a real SMTP server (aiosmtpd) that takes its time over each message, a
real second process holding SQLite's write lock (``BEGIN IMMEDIATE``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from storage.models import Alert
from tests.conftest import write_sources
from tests.sites import Site
from tests.test_alerts_support import SmtpServer
from tests.test_daemon_run import ROOT, count, monitor_cmd, page, wait_until
from tests.test_daemon_shutdown import SlowSink, queue_alerts

N = 24
LEASE = 15  # seconds: lease_seconds where a test waits for one to end


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

        assert f"{N - sent} sent" in deliver_again(sources, env)  # at once: no lease waited
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


class WriteLock:
    """Another process holding SQLite's write lock (``test_check_interrupt.HOLDER``: a
    transaction begun ``IMMEDIATE``) until ``let_go`` commits it."""

    def __init__(self, database: Path) -> None:
        from tests.test_check_interrupt import HOLDER

        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(database)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert self.proc.stdout is not None and self.proc.stdout.readline() == "held\n"
        except BaseException:
            self.kill()
            raise

    def let_go(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("commit\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline() == "committed\n"

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def deliver_again(sources: Path, env: dict[str, str]) -> str:
    """``monitor alerts deliver`` once more (the lock let go): its output."""
    again = subprocess.run(monitor_cmd("alerts", "deliver", "--sources", str(sources)),
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    return again.stdout


def in_busy_wait(pid: int) -> bool:
    """A thread of ``pid`` other than its main one sleeps: SQLite's busy handler, the
    only sleeper of ``monitor alerts deliver`` (its loop waits in epoll)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        if task.name == str(pid):
            continue
        try:
            if "nanosleep" in (task / "wchan").read_text():
                return True
        except OSError:  # ended meanwhile
            continue
    return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_delivery_waits_for_a_write_lock_another_process_holds(
        tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
        sig: signal.Signals) -> None:
    """Another process holds SQLite's write lock (a ``sqlite3`` shell, a stuck tool):
    ``monitor alerts deliver`` waits for it to claim the due alerts (its busy timeout:
    600 s here).  A Ctrl-C there used to be heard only when that wait ended (30 s by
    default); now the command ends well before the test's bound (``HANG``, far under
    the timeout), says it was interrupted (Chinese first), exits 130 and claimed nothing:
    once the lock is let go, the next ``monitor alerts deliver`` sends every alert,
    each exactly once."""
    from tests.test_check_interrupt import Command

    monkeypatch.setenv("MONITOR_DATABASE_URL", sqlite_url)
    smtp = SmtpServer().start()
    try:
        sources = write_sources(tmp_path / "sources.toml", "",
                                settings=f'smtp_url = "{smtp.url}"\n')
        queue_alerts(5)
        database = tmp_path / "monitor.db"
        env = dict(os.environ, PYTHONUNBUFFERED="1", MONITOR_TEST_BUSY_TIMEOUT="600")
        holder = WriteLock(database)
        deliver = None
        try:
            deliver = Command(monitor_cmd("alerts", "deliver", "--sources", str(sources)),
                              env, tmp_path / "err")
            wait_until(lambda: in_busy_wait(deliver.proc.pid), 60,
                       "the delivery waiting for the write lock")
            os.kill(deliver.proc.pid, sig)
            assert deliver.ended() == 130, deliver.stderr()
            holder.let_go()
        finally:
            if deliver is not None:
                deliver.kill()
            holder.kill()
        err = deliver.stderr()
        assert "Traceback" not in err, err[-3000:]
        said = f"已中断（{sig.name}）"
        assert said in err and err.index(said) < err.index(f"interrupted by {sig.name}"), err
        assert smtp.sink.messages == []
        assert count(Alert, status="sending") == 0  # nothing waits out a lease
        assert count(Alert, status="pending") == 5

        assert "5 sent" in deliver_again(sources, env)
        ids = [m["Message-ID"] for m in smtp.sink.parsed()]
        assert len(ids) == 5 and len(set(ids)) == 5  # each exactly once
        assert count(Alert, status="sent") == 5
    finally:
        smtp.stop()


@dataclass
class HeldDelivery:
    """``monitor`` delivering queued alerts to an SMTP server that holds each message
    until ``sink.release`` (``HoldingSink``), with SQLite's write lock taken by another
    process when the test says (``hold``)."""

    deliver: Any  # tests.test_check_interrupt.Command
    smtp: SmtpServer
    sources: Path
    env: dict[str, str]
    database: Path
    holder: WriteLock | None = None

    @property
    def sink(self) -> Any:
        return self.smtp.sink

    def hold(self) -> None:
        self.holder = WriteLock(self.database)


@contextmanager
def held_delivery(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
                  command: tuple[str, ...], alerts: int) -> Iterator[HeldDelivery]:
    """``command`` started on ``alerts`` queued alerts (``lease_seconds = LEASE``, a busy
    wait of 600 s); on the way out the server lets go, the command and the lock's holder
    are killed and the server stops."""
    from tests.test_check_interrupt import Command
    from tests.test_daemon_delivery import HoldingSink

    monkeypatch.setenv("MONITOR_DATABASE_URL", sqlite_url)
    smtp = SmtpServer(sink=HoldingSink()).start()
    held = None
    try:
        sources = write_sources(tmp_path / "sources.toml", "",
                                settings=f'smtp_url = "{smtp.url}"\nlease_seconds = {LEASE}\n')
        queue_alerts(alerts)
        env = dict(os.environ, PYTHONUNBUFFERED="1", MONITOR_TEST_BUSY_TIMEOUT="600")
        deliver = Command(monitor_cmd(*command, "--sources", str(sources)), env,
                          tmp_path / "err")
        held = HeldDelivery(deliver, smtp, sources, env, tmp_path / "monitor.db")
        yield held
    finally:
        smtp.sink.release.set()
        if held is not None:
            held.deliver.kill()
            if held.holder is not None:
                held.holder.kill()
        smtp.stop()


@pytest.mark.parametrize("command", [("alerts", "deliver"), ("check",)], ids=" ".join)
def test_a_message_sent_whose_mark_a_locked_database_refuses_is_told_and_goes_once_more(
        tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
        command: tuple[str, ...]) -> None:
    """The SMTP server took the message, then marking it sent waits for SQLite's write
    lock, held by another process past the stop (``monitor alerts deliver``, or
    ``monitor check``'s delivery): a Ctrl-C ends the wait (exit 130) and
    the command says, Chinese first, that the alert went out but is not marked.  Its row
    stays ``sending`` until its lease ends; the next delivery after that sends it once
    more, with the same Message-ID (a mail client shows it once) — the one duplicate the
    outbox allows (``alerts.delivery``), never a silent one."""
    with held_delivery(tmp_path, sqlite_url, monkeypatch, command, 1) as run:
        wait_until(run.sink.holding.is_set, 60, "the message being sent")
        lease_over = time.monotonic() + LEASE + 1
        run.hold()
        run.sink.release.set()  # accepted: now its mark waits for the lock
        wait_until(lambda: in_busy_wait(run.deliver.proc.pid), 60,
                   "the mark waiting for the write lock")
        assert len(run.sink.messages) == 1
        run.deliver.ctrl_c()
        assert run.deliver.ended() == 130, run.deliver.stderr()
        assert run.holder is not None
        run.holder.let_go()
        err = run.deliver.stderr()
        assert "Traceback" not in err, err[-3000:]
        said = "1 条提醒已发出，但数据库被另一进程锁定，未能记为已发送"
        assert said in err and err.index(said) < err.index("1 alert(s) sent but not marked"), err
        assert count(Alert, status="sending") == 1  # its lease: not given back to go at once

        time.sleep(max(0.0, lease_over - time.monotonic()))  # claimed before it held
        assert "1 sent" in deliver_again(run.sources, run.env)
        ids = [m["Message-ID"] for m in run.sink.parsed()]
        assert len(ids) == 2 and len(set(ids)) == 1  # once more, the same Message-ID
        assert count(Alert, status="sent") == 1


def test_alerts_a_locked_database_will_not_take_back_are_told_and_sent_once_later(
        tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Six alerts claimed, a few being sent (the SMTP server holds them), the rest
    waiting for a send slot, when another process takes SQLite's write lock and Ctrl-C
    comes: the waiting ones cannot be given back (the lock), nor the sent ones marked.
    The command ends at once all the same (exit 130) and says both, Chinese first; once
    the lease ends, the next delivery sends those not sent once, and the sent ones once
    more with their Message-ID."""
    from alerts.delivery import CONCURRENCY

    n = CONCURRENCY + 2
    with held_delivery(tmp_path, sqlite_url, monkeypatch, ("alerts", "deliver"), n) as run:
        wait_until(run.sink.holding.is_set, 60, "the messages being sent")
        lease_over = time.monotonic() + LEASE + 1
        run.hold()
        run.deliver.ctrl_c()
        wait_until(lambda: in_busy_wait(run.deliver.proc.pid), 60,
                   "the give-back waiting for the write lock")
        run.sink.release.set()  # the sends in flight accepted: their marks wait too
        assert run.deliver.ended() == 130, run.deliver.stderr()
        assert run.holder is not None
        run.holder.let_go()
        err = run.deliver.stderr()
        assert "Traceback" not in err, err[-3000:]
        sent = len(run.sink.messages)
        assert 1 <= sent <= CONCURRENCY
        for zh, en in ((f"{sent} 条提醒已发出，但数据库被另一进程锁定，未能记为已发送",
                        f"{sent} alert(s) sent but not marked"),
                       (f"{n - sent} 条提醒未发送，但数据库被另一进程锁定，未能放回待发队列",
                        f"{n - sent} alert(s) not sent could not be given back")):
            assert zh in err and err.index(zh) < err.index(en), err
        assert count(Alert, status="sending") == n  # their lease: none goes twice at once

        time.sleep(max(0.0, lease_over - time.monotonic()))  # claimed before it held
        assert f"{n} sent" in deliver_again(run.sources, run.env)
        ids = [m["Message-ID"] for m in run.sink.parsed()]
        assert len(ids) == n + sent and len(set(ids)) == n  # the unmarked ones twice
        assert count(Alert, status="sent") == n
