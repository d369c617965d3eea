"""Email alerts through the outbox, end to end: a change written by the Store, the
delivery loop, and a real SMTP server (aiosmtpd) on loopback — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import hashlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from alerts import plan
from alerts.delivery import Deliverer
from alerts.email_outbox import eml_name
from monitor.config import Config, load_config
from storage import Store
from storage.alerts_repo import AlertsRepo
from storage.instant import utcnow
from tests.conftest import write_sources
from tests.sites import Site
from tests.test_alerts_support import (
    NEW_TEXT,
    OLD_TEXT,
    TITLE,
    URL,
    KillingSink,
    SmtpServer,
    later,
    make_change,
    make_config,
)

ROOT = Path(__file__).resolve().parent.parent

ONE = """
[[watchers]]
name = "alice"
email = "alice@example.cn"
sources = ["hn-*"]
"""
TWO = ONE + """
[[watchers]]
name = "bob"
email = "bob@example.cn"
tags = ["hunan"]
"""
THIRD = """
[[watchers]]
name = "carol"
email = "carol@example.cn"
sources = ["hn-0192"]
"""


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def mid(change_id: int, recipient: str) -> str:
    return f"<change-{change_id}.{hashlib.sha1(recipient.encode()).hexdigest()[:12]}@monitor>"


def parts(msg: email.message.EmailMessage) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in msg.walk()
            if p.get_content_maintype() == "text"}


async def test_a_change_arrives_as_multipart_mail_with_the_changed_characters_marked(
        store: Store, smtp: SmtpServer, tmp_path: Path) -> None:
    config = make_config(tmp_path, ONE, smtp_url=smtp.url)
    change_id = make_change(store, config)
    report = await Deliverer(config, store, env={}).deliver_due()
    assert report.describe() == "1 sent, 0 retrying, 0 dead"
    [msg] = smtp.sink.parsed()
    assert msg["Subject"] == ("[monitor] hn-0192 对省政协十二届四次会议第0192号提案的答复"
                              " — 正文修改（+1 / −1 字）")
    assert msg["Message-ID"] == mid(change_id, "alice@example.cn")
    assert msg["Auto-Submitted"] == "auto-generated"
    body = parts(msg)
    assert set(body) == {"text/plain", "text/html"}
    html, text = body["text/html"], body["text/plain"]
    assert re.search(r"<del\b[^>]*>3000</del><ins\b[^>]*>5000</ins>万元", html)
    assert URL in html and URL in text and "[-3000-]{+5000+}万元" in text
    assert "<script" not in html and "<img" not in html
    [row] = AlertsRepo(store).list()
    assert row.status == "sent" and row.message_id == msg["Message-ID"] and row.attempts == 1
    assert (await Deliverer(config, store, env={}).deliver_due()).sent == 0
    assert len(smtp.sink.messages) == 1


async def test_a_hostile_page_title_cannot_inject_headers_or_break_sending(
        store: Store, smtp: SmtpServer, tmp_path: Path) -> None:
    config = make_config(tmp_path, ONE, smtp_url=smtp.url)
    title = "答复\r\nBcc: victim@evil.example\u2028X-Evil: 1\x1b[31m"  # PostgreSQL refuses NUL
    make_change(store, config, new_title=title)
    report = await Deliverer(config, store, env={}).deliver_due()
    assert report.sent == 1, report.errors
    [(_, rcpts, raw)] = smtp.sink.messages
    assert rcpts == ["alice@example.cn"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert "Bcc: victim@evil.example X-Evil: 1" in msg["Subject"]
    assert not re.search(r"[\r\n\x1b\u2028]", msg["Subject"])
    assert "&lt;" not in msg["Subject"]


async def test_a_short_chinese_title_keeps_every_space_of_the_subject_over_smtp(
        store: Store, smtp: SmtpServer, tmp_path: Path) -> None:
    config = make_config(tmp_path, ONE, smtp_url=smtp.url)
    make_change(store, config, new_title="答复")  # Python's folding lost " " before "+1"
    assert (await Deliverer(config, store, env={}).deliver_due()).sent == 1
    [(_, _, raw)] = smtp.sink.messages
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n"))
    [msg] = smtp.sink.parsed()
    assert msg["Subject"] == "[monitor] hn-0192 答复 — 正文修改（+1 / −1 字）"


async def test_smtp_down_then_back_delivers_exactly_once(store: Store, tmp_path: Path) -> None:
    server = SmtpServer()  # not started: connection refused
    config = make_config(tmp_path, ONE, smtp_url=server.url)
    make_change(store, config)
    before = utcnow()
    report = await Deliverer(config, store, env={}).deliver_due()
    assert report.describe() == "0 sent, 1 retrying, 0 dead"
    [row] = AlertsRepo(store).list()
    assert row.status == "pending" and row.attempts == 1 and "SMTP" in (row.last_error or "")
    # alert_retry_base = 60 s, with ±10 % jitter
    assert before + timedelta(seconds=50) < row.next_attempt_at < utcnow() + timedelta(seconds=70)
    assert (await Deliverer(config, store, env={}).deliver_due()).sent == 0  # not due yet
    server.start()
    try:
        again = Deliverer(config, store, env={}, clock=later(hours=1))
        assert (await again.deliver_due()).describe() == "1 sent, 0 retrying, 0 dead"
        assert (await again.deliver_due()).sent == 0
        assert len(server.sink.messages) == 1
    finally:
        server.stop()
    [row] = AlertsRepo(store).list()
    assert row.status == "sent" and row.last_error is None and row.attempts == 2


async def test_a_rejected_recipient_is_dead_and_the_other_still_gets_the_mail(
        store: Store, smtp: SmtpServer, tmp_path: Path) -> None:
    smtp.sink.reject["bob@example.cn"] = "550 5.1.1 <bob@example.cn>: no such user"
    config = make_config(tmp_path, TWO, smtp_url=smtp.url)
    make_change(store, config)
    report = await Deliverer(config, store, env={}).deliver_due()
    assert report.describe() == "1 sent, 0 retrying, 1 dead"
    rows = {r.recipient: r for r in AlertsRepo(store).list()}
    assert rows["alice@example.cn"].status == "sent"
    assert rows["bob@example.cn"].status == "dead"
    assert "550" in (rows["bob@example.cn"].last_error or "")
    assert "no such user" in (rows["bob@example.cn"].last_error or "")
    assert [m["To"] for m in smtp.sink.parsed()] == ["alice@example.cn"]
    assert [r.id for r in AlertsRepo(store).list(failed=True)] == [rows["bob@example.cn"].id]


async def test_a_4xx_reply_is_retried_not_dead(store: Store, smtp: SmtpServer,
                                               tmp_path: Path) -> None:
    smtp.sink.reject["alice@example.cn"] = "451 4.3.0 mailbox busy, try later"
    config = make_config(tmp_path, ONE, smtp_url=smtp.url,
                         settings="alert_max_attempts = 2\n")
    make_change(store, config)
    assert (await Deliverer(config, store, env={}).deliver_due()).retrying == 1
    late = Deliverer(config, store, env={}, clock=later(hours=2))
    assert (await late.deliver_due()).dead == 1  # the attempt budget is spent
    [row] = AlertsRepo(store).list()
    assert row.status == "dead" and "451" in (row.last_error or "")
    assert "attempt 2" in (row.last_error or "")


async def test_retry_makes_dead_and_waiting_alerts_due_now_but_not_sent_ones(
        store: Store, smtp: SmtpServer, tmp_path: Path) -> None:
    smtp.sink.reject["bob@example.cn"] = "550 5.1.1 no such user"
    smtp.sink.reject["carol@example.cn"] = "451 4.3.0 mailbox busy"
    config = make_config(tmp_path, TWO + THIRD, smtp_url=smtp.url)
    make_change(store, config)
    deliverer = Deliverer(config, store, env={})
    assert (await deliverer.deliver_due()).describe() == "1 sent, 1 retrying, 1 dead"
    smtp.sink.reject.clear()
    repo = AlertsRepo(store)
    ids = {r.recipient.split("@")[0]: r.id for r in repo.list()}
    assert repo.statuses(list(ids.values())) == {
        ids["alice"]: "sent", ids["bob"]: "dead", ids["carol"]: "pending"}
    assert repo.retry([ids["alice"]]) == []
    assert repo.retry(None) == sorted([ids["bob"], ids["carol"]])
    assert (await deliverer.deliver_due()).describe() == "2 sent, 0 retrying, 0 dead"
    assert sorted(m["To"] for m in smtp.sink.parsed()) == [
        "alice@example.cn", "bob@example.cn", "carol@example.cn"]
    assert repo.get(ids["carol"]).attempts == 2 and repo.get(ids["bob"]).attempts == 1


async def test_killed_between_send_and_mark_resends_once_with_the_same_message_id(
        store: Store, smtp: SmtpServer, tmp_path: Path) -> None:
    config = make_config(tmp_path, ONE, smtp_url=smtp.url)
    make_change(store, config)
    dying = Deliverer(config, store, env={}, lease_seconds=60)
    now = utcnow()
    [row] = AlertsRepo(store).claim_due(now, now + timedelta(seconds=60), 10)
    await dying._send([row])  # sent... and the process is killed before marking it
    assert AlertsRepo(store).get(row.id).status == "sending"
    other = Deliverer(config, store, env={})
    assert (await other.deliver_due()).sent == 0  # the lease still holds
    after = Deliverer(config, store, env={}, clock=later(hours=0.1))
    assert (await after.deliver_due()).sent == 1
    assert (await after.deliver_due()).sent == 0
    ids = [m["Message-ID"] for m in smtp.sink.parsed()]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert AlertsRepo(store).get(row.id).status == "sent"


def monitor_check(sources: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``monitor check`` in a process group of its own (it and its diff workers)."""
    return subprocess.Popen([sys.executable, "-m", "monitor", "check", "--sources",
                             str(sources)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)


def finished(proc: subprocess.Popen[bytes], timeout: float = 60) -> tuple[int, str]:
    """Exit code and output; past ``timeout`` the group is killed and the test fails."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # it and any worker holding the pipe
        proc.wait(timeout=10)
        raise
    return proc.returncode, out.decode("utf-8", "replace")


def test_a_monitor_check_killed_after_the_server_took_the_mail_sends_it_once_more(
        db_url: str, site: Site, tmp_path: Path) -> None:
    sink = KillingSink()
    smtp = SmtpServer(sink=sink).start()
    try:
        sources, env = _killed_mid_delivery(db_url, site, tmp_path, smtp, sink)
        store = Store(db_url)
        try:
            asyncio.run(_restart(store, load_config(sources, env=env), smtp))
        finally:
            store.close()
    finally:
        smtp.stop()


def _killed_mid_delivery(db_url: str, site: Site, tmp_path: Path, smtp: SmtpServer,
                         sink: KillingSink) -> tuple[Path, dict[str, str]]:
    """A baseline check, then the page changes and the next check is killed while the
    SMTP server holds its alert.  Returns the sources file and the environment."""
    site.route("/0192.html", _page(OLD_TEXT))
    sources = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "hn-0192"
        url = "{site.url('/0192.html')}"
        {ONE}""")
    env = dict(os.environ, MONITOR_DATABASE_URL=db_url, MONITOR_SMTP_URL=smtp.url)
    code, out = finished(monitor_check(sources, env))  # a new page: no alert
    assert code == 0 and "1 new" in out, out
    site.route("/0192.html", _page(NEW_TEXT))
    sink.arm()
    proc = monitor_check(sources, env)
    sink.target(proc.pid)
    code, out = finished(proc)
    assert code == -signal.SIGKILL and sink.killed.is_set(), out
    return sources, env


async def _restart(store: Store, config: Config, smtp: SmtpServer) -> None:
    """Delivery after the crash: the row is still ``sending`` under the dead claim."""
    [row] = AlertsRepo(store).list()
    assert (row.status, row.attempts, len(smtp.sink.messages)) == ("sending", 1, 1)
    assert (await Deliverer(config, store, env={}).deliver_due()).sent == 0  # leased
    lease_over = Deliverer(config, store, env={},
                           clock=lambda: row.next_attempt_at + timedelta(seconds=1))
    assert (await lease_over.deliver_due()).describe() == "1 sent, 0 retrying, 0 dead"
    assert (await lease_over.deliver_due()).sent == 0
    first, second = smtp.sink.to("alice@example.cn")
    assert len(smtp.sink.messages) == 2 and first["Message-ID"] == second["Message-ID"]
    done = AlertsRepo(store).get(row.id)
    assert (done.status, done.message_id) == ("sent", first["Message-ID"])


def _page(text: str) -> str:
    body = "".join(f"<p>{line}</p>" for line in text.splitlines())
    return f"<html><head><title>{TITLE}</title></head><body><div>{body}</div></body></html>"


async def test_two_deliverers_at_once_send_each_alert_once(store: Store, smtp: SmtpServer,
                                                         tmp_path: Path) -> None:
    watchers = "".join(f"""
[[watchers]]
name = "w{i}"
email = "w{i}@example.cn"
sources = ["hn-0192"]
""" for i in range(6))
    config = make_config(tmp_path, watchers, smtp_url=smtp.url)
    make_change(store, config)
    a, b = (Deliverer(config, store, env={}) for _ in range(2))
    ra, rb = await asyncio.gather(a.deliver_due(limit=2), b.deliver_due(limit=2))
    assert ra.sent + rb.sent == 6
    assert sorted(m["To"] for m in smtp.sink.parsed()) == [f"w{i}@example.cn" for i in range(6)]


async def test_without_smtp_the_mail_is_written_as_an_eml_file(store: Store,
                                                              tmp_path: Path) -> None:
    config = make_config(tmp_path, ONE)
    change_id = make_change(store, config)
    assert (await Deliverer(config, store, env={}).deliver_due()).sent == 1
    outbox = tmp_path / "outbox"
    [path] = list(outbox.iterdir())
    assert path.name == eml_name(mid(change_id, "alice@example.cn"))
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "alice@example.cn" and msg["Subject"].startswith("[monitor] hn-0192")
    assert re.search(r"<ins\b[^>]*>5000</ins>", parts(msg)["text/html"])
    assert b"\r\n" in path.read_bytes()  # RFC 5322 line ends


async def test_digest_watchers_get_one_message_at_their_digest_time(
        store: Store, smtp: SmtpServer, tmp_path: Path) -> None:
    config = make_config(tmp_path, """
[[watchers]]
name = "daily"
email = "daily@example.cn"
sources = ["hn-0192"]
mode = "digest"
digest_at = "08:00"
""", smtp_url=smtp.url)
    make_change(store, config)
    make_change(store, config, old="第二版正文", new="第三版正文，新增一句。")
    assert (await Deliverer(config, store, env={}).deliver_due()).sent == 0  # held
    report = await Deliverer(config, store, env={}, clock=later(hours=25)).deliver_due()
    assert report.describe() == "2 sent, 0 retrying, 0 dead"
    [msg] = smtp.sink.parsed()
    assert msg["Subject"] == "[monitor] 变化摘要：2 处变化（1 个来源）"
    html = parts(msg)["text/html"]
    assert re.search(r"<ins\b[^>]*>5000</ins>", html) and "新增一句" in html


async def test_source_trouble_and_recovery_reach_the_admin(store: Store, smtp: SmtpServer,
                                                          tmp_path: Path) -> None:
    config = make_config(tmp_path, ONE, smtp_url=smtp.url,
                         settings='admin_email = "ops@example.cn"\n')
    source = config.source("hn-0192")
    repo = AlertsRepo(store)
    repo.enqueue(plan.trouble_alerts(config, source, "trouble", "1",
                                     "3 次检查失败: HTTP 503 <b>busy</b>\r\nX: y"))
    repo.enqueue(plan.trouble_alerts(config, source, "recovered", "1", "恢复正常"))
    assert (await Deliverer(config, store, env={}).deliver_due()).sent == 2
    subjects = sorted(m["Subject"] for m in smtp.sink.to("ops@example.cn"))
    assert subjects == ["[monitor] 来源恢复正常：hn-0192", "[monitor] 来源检查失败：hn-0192"]
    trouble = next(m for m in smtp.sink.parsed() if "失败" in m["Subject"])
    assert "&lt;b&gt;busy&lt;/b&gt;" in parts(trouble)["text/html"] and URL in parts(
        trouble)["text/plain"]


async def test_a_configuration_error_reaches_the_admin_once(store: Store, smtp: SmtpServer,
                                                           tmp_path: Path) -> None:
    config = make_config(tmp_path, ONE, smtp_url=smtp.url,
                         settings='admin_email = "ops@example.cn"\n')
    repo = AlertsRepo(store)
    problems = ["watcher room: webhook_secret_env names ROOM_SECRET, which is not set"]
    assert len(repo.enqueue(plan.config_alerts(config, problems, "k1"))) == 1
    assert repo.enqueue(plan.config_alerts(config, problems, "k1")) == []  # same key: once
    assert (await Deliverer(config, store, env={}).deliver_due()).sent == 1
    [msg] = smtp.sink.to("ops@example.cn")
    assert msg["Subject"] == "[monitor] 配置错误：1 个问题"
    assert "ROOM_SECRET" in parts(msg)["text/plain"]


async def test_rows_whose_lease_runs_short_before_their_turn_are_given_back(
        store: Store, smtp: SmtpServer, tmp_path: Path) -> None:
    config = make_config(tmp_path, ONE, smtp_url=smtp.url)
    make_change(store, config)
    now = utcnow()
    clock = iter([now, now + timedelta(seconds=250)])  # claim, then the row's turn
    slow = Deliverer(config, store, env={}, clock=lambda: next(clock, now))
    assert (await slow.deliver_due()).describe() == "0 sent, 0 retrying, 0 dead"
    [row] = AlertsRepo(store).list()
    assert (row.status, row.attempts) == ("pending", 0) and not smtp.sink.messages
    assert (await Deliverer(config, store, env={}).deliver_due()).sent == 1


@pytest.mark.parametrize("sender", ["monitor <monitor@localhost>", '"监控, 值班" <m@gov.cn>',
                                    "网站监控 <monitor@example.cn>", "m@example.cn"])
def test_an_eml_is_byte_for_byte_what_the_email_package_writes(
        monkeypatch: pytest.MonkeyPatch, sender: str) -> None:
    """The outbox's policy keeps the headers it made (``alerts.email_mime.POLICY``, for
    speed): a mail client gets the same bytes ``policy.SMTP`` writes — odd senders, a
    folded Chinese subject, a thread, and a second message built from kept headers."""
    import random

    from alerts import email_mime
    from alerts.message import Message

    at = utcnow().replace(microsecond=0)
    monkeypatch.setattr(email_mime, "utcnow", lambda: at)

    def eml(n: int, recipient: str, thread: str | None) -> bytes:
        message = Message(event="change", subject="[monitor] " + TITLE * 2 + " — 正文修改",
                          text=OLD_TEXT + "\n" + NEW_TEXT * 3, html=f"<p>{NEW_TEXT}</p>" * 20,
                          message_id=f"<change-7.{n}@monitor>", title=TITLE,
                          thread=thread)
        random.seed(7)  # the MIME boundary
        return email_mime.build_email(message, sender, recipient).as_bytes()

    cases = [(r, t) for r in ("alice@example.cn", "张三 <zhang@example.cn>")
             for t in (None, "<page-7.x@monitor>")]
    fast = [eml(n % 4, r, t) for n, (r, t) in enumerate(cases * 2)]  # then: kept headers
    monkeypatch.setattr(email_mime, "POLICY", email.policy.SMTP)
    plain = [eml(n % 4, r, t) for n, (r, t) in enumerate(cases * 2)]
    assert fast == plain
    assert all(b"\r\n" in m and b"\n" not in m.replace(b"\r\n", b"") for m in fast)


def watchers(n: int, **extra: str) -> str:
    lines = "".join(f'{k} = "{v}"\n' for k, v in extra.items())
    return "".join(f'\n[[watchers]]\nname = "w{i}"\nemail = "w{i}@example.cn"\n'
                   f'sources = ["hn-0192"]\n{lines}' for i in range(n))


@pytest.fixture
def diffs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the diffs composing runs (``alerts.compose`` renders one per change part)."""
    from alerts import compose

    made: list[int] = []
    real = compose.diff_texts

    def counted(*args, **kw):  # type: ignore[no-untyped-def]
        made.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(compose, "diff_texts", counted)
    return made


async def test_one_change_to_six_watchers_is_diffed_once_and_each_gets_a_mail_of_their_own(
        store: Store, smtp: SmtpServer, tmp_path: Path, diffs: list[int]) -> None:
    config = make_config(tmp_path, watchers(6), smtp_url=smtp.url,
                         settings='public_url = "http://monitor.example.cn"\n')
    change_id = make_change(store, config)
    report = await Deliverer(config, store, env={}).deliver_due()
    assert report.describe() == "6 sent, 0 retrying, 0 dead"
    assert len(diffs) == 1  # not once per recipient (four sends run at once)
    everyone = [f"w{i}@example.cn" for i in range(6)]
    assert sorted(rcpts[0] for _, rcpts, _ in smtp.sink.messages) == everyone
    for _, rcpts, raw in smtp.sink.messages:
        [me] = rcpts
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert msg["To"] == me and msg["Cc"] is None and msg["Bcc"] is None
        assert msg["Message-ID"] == mid(change_id, me)
        body = parts(msg)
        assert f"发给 {me}" in body["text/plain"] and f"发给 {me}" in body["text/html"]
        assert re.search(r"<ins\b[^>]*>5000</ins>", body["text/html"])
        text = raw.decode("ascii", "replace") + body["text/plain"] + body["text/html"]
        others = [a for a in everyone if a != me]
        assert not any(a in text for a in others), me  # no other watcher in any byte
        assert not any(mid(change_id, a)[1:-1] in text for a in others)


async def test_each_eml_is_byte_for_byte_the_mail_composed_for_that_watcher_alone(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        diffs: list[int]) -> None:
    from alerts import email_mime
    from alerts.compose import Composer

    at = utcnow().replace(microsecond=0)
    monkeypatch.setattr(email_mime, "utcnow", lambda: at)
    config = make_config(tmp_path, watchers(5), settings='public_url = "http://m.example.cn"\n')
    make_change(store, config, new_title="答复 <b>&</b>", new_meta={"文号": "湘〔2021〕255号"})
    repo = AlertsRepo(store)
    alone = {r.recipient: Composer(config.settings, repo).compose([r]) for r in repo.list()}
    assert len(diffs) == 5  # composed alone: once each
    assert (await Deliverer(config, store, env={}).deliver_due()).sent == 5
    assert len(diffs) == 6  # delivered: once for the five
    files = sorted((tmp_path / "outbox").iterdir())
    assert len(files) == 5
    for path in files:
        raw = path.read_bytes()
        got = email.message_from_bytes(raw, policy=email.policy.default)
        expected = email_mime.build_email(alone[got["To"]], config.settings.smtp_from,
                                          got["To"])
        expected.set_boundary(got.get_boundary())  # the MIME boundary is random
        assert raw == expected.as_bytes()


async def test_digest_watchers_of_the_same_changes_share_their_diffs_not_their_mail(
        store: Store, smtp: SmtpServer, tmp_path: Path, diffs: list[int]) -> None:
    config = make_config(tmp_path, watchers(3, mode="digest", digest_at="08:00"),
                         smtp_url=smtp.url)
    make_change(store, config)
    make_change(store, config, old="第二版正文", new="第三版正文，新增一句。")
    report = await Deliverer(config, store, env={}, clock=later(hours=25)).deliver_due()
    assert report.describe() == "6 sent, 0 retrying, 0 dead"
    assert len(diffs) == 2  # one per change, not per (change, watcher)
    mails = smtp.sink.parsed()
    assert sorted(m["To"] for m in mails) == [f"w{i}@example.cn" for i in range(3)]
    for m in mails:
        html = parts(m)["text/html"]
        assert "新增一句" in html and re.search(r"<ins\b[^>]*>5000</ins>", html)
        assert [a for a in ("w0@", "w1@", "w2@") if a in m.as_string()] == [m["To"][:3]]
