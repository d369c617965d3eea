"""``monitor alerts list|retry|deliver`` for admins, through the real click command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import cli
from storage import Store
from storage.alerts_repo import AlertsRepo
from storage.instant import utcnow
from storage.records import AlertDraft
from tests.conftest import write_sources
from tests.pages import seed_page
from tests.sites import Response, Site
from tests.test_alerts_support import SmtpServer, make_change, make_config

EDIT = ("头雁效应", "引领效应")  # a real edit of two characters in seed 0's body
HTML = {"Content-Type": "text/html; charset=utf-8"}

WATCHERS = """
[[watchers]]
name = "alice"
email = "alice@example.cn"
sources = ["hn-0192"]

[[watchers]]
name = "bob"
email = "bob@example.cn"
sources = ["hn-0192"]
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_list_failed_and_retry(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    smtp = SmtpServer().start()
    try:
        smtp.sink.reject["bob@example.cn"] = "550 5.1.1 no such user"
        db = tmp_path / "cli.db"
        monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite:///{db}")
        monkeypatch.setenv("MONITOR_SMTP_URL", smtp.url)
        config = make_config(tmp_path, WATCHERS, smtp_url=smtp.url)
        sources = tmp_path / "sources.toml"
        sources.write_text(_sources_text(tmp_path, WATCHERS), encoding="utf-8")
        store = Store(f"sqlite:///{db}")
        make_change(store, config)

        code, out = run("alerts", "deliver", "--sources", str(sources))
        assert code == 0 and "1 sent, 0 retrying, 1 dead" in out and "550" in out
        # the failed send Chinese first, the English line (the server's words) after it
        assert re.search(r"^  提醒 \d+ 发往 bob@example.cn 失败（第 1 次尝试）（alert \d+ to "
                         r"bob@example.cn: .*550.*\(attempt 1\)）$", out, re.M), out

        code, out = run("alerts", "list", "--failed", "--json", "--sources", str(sources))
        [dead] = json.loads(out)
        assert dead["recipient"] == "bob@example.cn" and dead["status"] == "dead"
        assert "550" in dead["last_error"]

        code, out = run("alerts", "list", "--sources", str(sources))
        assert code == 0 and "alice@example.cn" in out and "dead" in out, out
        # the headers in Chinese; a row's status and event Chinese first, the word after
        assert "┃ 状态 " in out and "┃ 接收人 " in out, out
        assert "已放弃（dead）" in out and "已发送（sent）" in out and "页面变化（change）" in out
        code, out = run("alerts", "list", "--pending", "--sources", str(sources))
        # one sent, one dead
        assert code == 0 and out.strip() == "没有待发的提醒（no pending alerts）"

        smtp.sink.reject.clear()
        code, out = run("alerts", "retry", str(dead["id"]), "--sources", str(sources))
        assert code == 0 and "1 alert(s) due now" in out and "monitor alerts deliver" in out
        assert AlertsRepo(store).get(dead["id"]).status == "pending"
        code, out = run("alerts", "list", "--pending", "--json", "--sources", str(sources))
        assert [(r["recipient"], r["status"]) for r in json.loads(out)] == [
            ("bob@example.cn", "pending")]  # not yet delivered: alice's sent one left out
        code, out = run("alerts", "deliver", "--sources", str(sources))
        assert "1 sent" in out
        assert sorted(m["To"] for m in smtp.sink.parsed()) == ["alice@example.cn",
                                                               "bob@example.cn"]
        code, out = run("alerts", "retry", "--all", "--sources", str(sources))
        assert "0 alert(s) due now" in out
        code, out = run("alerts", "retry", "--sources", str(sources))
        assert code == 2  # IDs or --all
        store.close()
    finally:
        smtp.stop()


def test_retry_brings_dead_and_waiting_alerts_forward_but_never_a_sent_one(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    smtp = SmtpServer().start()
    try:
        smtp.sink.reject["bob@example.cn"] = "550 5.1.1 no such user"  # dead at once
        smtp.sink.reject["carol@example.cn"] = "451 4.3.0 mailbox busy"  # waits to retry
        sources, store = _setup(tmp_path, monkeypatch, smtp, WATCHERS + CAROL)
        code, out = run("alerts", "deliver", "--sources", str(sources))
        assert "1 sent, 1 retrying, 1 dead" in out
        ids = {r.recipient: r.id for r in AlertsRepo(store).list()}
        alice, bob, carol = (ids[f"{n}@example.cn"] for n in ("alice", "bob", "carol"))
        code, out = run("alerts", "list", "--failed", "--json", "--sources", str(sources))
        assert {(r["id"], r["status"]) for r in json.loads(out)} == {(bob, "dead"),
                                                                    (carol, "pending")}
        code, out = run("alerts", "list", "--pending", "--json", "--sources", str(sources))
        assert [r["id"] for r in json.loads(out)] == [carol]  # bob's dead, alice's sent
        code, out = run("alerts", "list", "--pending", "--failed", "--json", "--sources",
                        str(sources))
        assert {r["id"] for r in json.loads(out)} == {bob, carol}  # either
        smtp.sink.reject.clear()
        code, out = run("alerts", "deliver", "--sources", str(sources))
        assert "0 sent" in out  # carol's next attempt is still 30 s away

        code, out = run("alerts", "retry", str(alice), "--sources", str(sources))
        assert code == 3 and f"{alice} (already sent)" in out
        code, out = run("alerts", "retry", str(carol), "--sources", str(sources))
        assert code == 0 and "1 alert(s) due now" in out, out
        assert AlertsRepo(store).get(carol).next_attempt_at <= utcnow()
        code, out = run("alerts", "retry", "--all", "--sources", str(sources))
        assert code == 0 and "2 alert(s) due now" in out, out

        code, out = run("alerts", "deliver", "--sources", str(sources))
        assert "2 sent, 0 retrying, 0 dead" in out, out
        assert sorted(m["To"] for m in smtp.sink.parsed()) == [
            "alice@example.cn", "bob@example.cn", "carol@example.cn"]
        assert {r.status for r in AlertsRepo(store).list()} == {"sent"}
        code, out = run("alerts", "retry", "--all", "--sources", str(sources))
        assert code == 0 and "0 alert(s) due now" in out
        code, out = run("alerts", "retry", str(bob), "999", "--sources", str(sources))
        assert code == 3 and f"{bob} (already sent)" in out and "999 (unknown)" in out
        store.close()
    finally:
        smtp.stop()


CAROL = """
[[watchers]]
name = "carol"
email = "carol@example.cn"
sources = ["hn-0192"]
"""


def _setup(tmp_path: Path, monkeypatch, smtp: SmtpServer,  # type: ignore[no-untyped-def]
           watchers: str) -> tuple[Path, Store]:
    """A sources file, a database with one change (one alert per watcher), and the env."""
    db = tmp_path / "cli.db"
    monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("MONITOR_SMTP_URL", smtp.url)
    sources = tmp_path / "sources.toml"
    sources.write_text(_sources_text(tmp_path, watchers), encoding="utf-8")
    store = Store(f"sqlite:///{db}")
    make_change(store, make_config(tmp_path, watchers, smtp_url=smtp.url))
    return sources, store


def _sources_text(tmp_path: Path, watchers: str) -> str:
    from tests.test_alerts_support import URL

    return f"""[settings]
allow_private_network = true
outbox_dir = "{tmp_path / 'outbox'}"

[[sources]]
name = "hn-0192"
url = "{URL}"
tags = ["hunan"]
{watchers}"""


# --- monitor check delivers what it raised -------------------------------------------------

ANALYST = "analyst@example.cn"
ROOT = Path(__file__).resolve().parent.parent


def _check_setup(tmp_path: Path, monkeypatch, site: Site,  # type: ignore[no-untyped-def]
                 smtp: SmtpServer) -> Path:
    """Seed 0 on the test site, one e-mail watcher, SMTP to the test server (from the env,
    where the credentials of a real one would be)."""
    monkeypatch.setenv("MONITOR_SMTP_URL", smtp.url)
    site.route("/0192.html", Response(seed_page(0), headers=HTML))
    return write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "hn-0192"
        url = "{site.url('/0192.html')}"

        [[watchers]]
        name = "analyst"
        email = "{ANALYST}"
        sources = ["hn-0192"]
        """)


def _edit(site: Site) -> None:
    site.route("/0192.html", Response(seed_page(0, edit=EDIT), headers=HTML))


def test_check_delivers_the_alerts_it_raised_before_it_exits(
        tmp_path: Path, monkeypatch, site: Site) -> None:  # type: ignore[no-untyped-def]
    smtp = SmtpServer().start()
    try:
        sources = _check_setup(tmp_path, monkeypatch, site, smtp)
        code, out = run("check", "--sources", str(sources))
        assert code == 0 and "1 new; alerts: 0 sent, 0 retrying, 0 dead" in out, out
        assert smtp.sink.messages == []  # a baseline is nobody's news

        _edit(site)
        code, out = run("check", "--sources", str(sources))
        assert code == 0, out
        # Already in the mailbox when the command has returned, and only once.
        assert [rcpts for _, rcpts, _ in smtp.sink.messages] == [[ANALYST]], out
        assert "1 changed; alerts: 1 sent, 0 retrying, 0 dead" in out, out
        [mail] = smtp.sink.to(ANALYST)
        assert "hn-0192" in mail["Subject"] and "正文修改" in mail["Subject"]
        text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "[-头雁-]{+引领+}" in text, text
        code, out = run("alerts", "list", "--json", "--sources", str(sources))
        [row] = json.loads(out)
        assert (row["recipient"], row["status"], row["attempts"]) == (ANALYST, "sent", 1)

        code, out = run("check", "--sources", str(sources))  # unchanged: nothing more
        assert code == 0 and "alerts: 0 sent" in out and len(smtp.sink.messages) == 1
    finally:
        smtp.stop()


def test_check_no_deliver_leaves_the_alert_pending_in_the_outbox(
        tmp_path: Path, monkeypatch, site: Site) -> None:  # type: ignore[no-untyped-def]
    smtp = SmtpServer().start()
    try:
        sources = _check_setup(tmp_path, monkeypatch, site, smtp)
        code, out = run("check", "--no-deliver", "--sources", str(sources))
        assert code == 0 and "wait in the outbox" not in out, out  # a baseline: none
        _edit(site)
        code, out = run("check", "--no-deliver", "--sources", str(sources))
        assert code == 0, out
        assert smtp.sink.messages == []
        assert "1 changed" in out and "alerts:" not in out, out
        assert ("1 alert(s) wait in the outbox (--no-deliver): monitor alerts deliver sends "
                "them") in out, out
        code, out = run("alerts", "list", "--json", "--sources", str(sources))
        [row] = json.loads(out)
        assert (row["event"], row["recipient"], row["status"], row["attempts"]) == (
            "change", ANALYST, "pending", 0)
        code, out = run("alerts", "list", "--sources", str(sources))
        assert code == 0 and "pending" in out and ANALYST in out

        code, out = run("alerts", "deliver", "--sources", str(sources))  # sent later
        assert code == 0 and "1 sent" in out, out
        assert [rcpts for _, rcpts, _ in smtp.sink.messages] == [[ANALYST]]
    finally:
        smtp.stop()


# --- alerts list piped: whole names, and whose alert each row is -------------------------

LONG_SOURCE = "hn-reply-zhengxie-shierjie-sici-huiyi-0192-gongye-he-xinxihua-ting-dafu"
LONG_WATCHER = "provincial-cppcc-proposal-office-analysts"
LONG_EMAIL = "proposal-office-analysts.hunan-cppcc@long-department-name.example.cn"
DUTY = "general-office-dingtalk-duty-group-for-replies"
HOOK = "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef"


def _long_named_alerts(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    """A source and watchers with long names, one e-mail and one DingTalk webhook watcher
    (a change alert each, waiting in the outbox), and a config alert for the admin."""
    from alerts import plan
    from monitor.config import parse_config
    from monitor.types import ChangeDecision, ChangeKind
    from tests.test_alerts_support import NEW_TEXT, OLD_TEXT, TITLE, URL, _commit, new_version

    db = tmp_path / "long.db"
    monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("DUTY_HOOK", HOOK)  # the webhook's URL holds its token: not in the file
    sources = tmp_path / "sources.toml"
    sources.write_text(f"""[settings]
outbox_dir = "{tmp_path / 'outbox'}"
admin_email = "admin@example.cn"

[[sources]]
name = "{LONG_SOURCE}"
url = "{URL}"

[[watchers]]
name = "{LONG_WATCHER}"
email = "{LONG_EMAIL}"
sources = ["hn-reply-*"]

[[watchers]]
name = "{DUTY}"
webhook_env = "DUTY_HOOK"
webhook_format = "dingtalk"
sources = ["{LONG_SOURCE}"]
""", encoding="utf-8")
    config = parse_config(sources.read_text(encoding="utf-8"), path=sources,
                          env={"DUTY_HOOK": HOOK})
    source = config.source(LONG_SOURCE)
    store = Store(f"sqlite:///{db}")
    now = utcnow()
    _commit(store, source, new_version(OLD_TEXT, TITLE, {}, now - timedelta(days=1)))
    _commit(store, source, new_version(NEW_TEXT, TITLE, {}, now),
            changes=(ChangeDecision(ChangeKind.CHANGED, "第3段修改", stats={}),),
            alerts=tuple(plan.change_alerts(config, source, 0, now)))
    AlertsRepo(store).enqueue(plan.config_alerts(config, ["sources.toml: bad key"], "k1"))
    store.close()
    return sources


def test_alerts_list_piped_keeps_every_name_whole_and_says_whose_row_it_is(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sources = _long_named_alerts(tmp_path, monkeypatch)
    # a real subprocess whose stdout is a pipe, as in `monitor alerts list > file`
    done = subprocess.run([sys.executable, "-m", "monitor", "alerts", "list", "--sources",
                           str(sources)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    mail = [x for x in lines if LONG_EMAIL in x]
    hook = [x for x in lines if "webhook (dingtalk)" in x]
    admin = [x for x in lines if "admin@example.cn" in x]
    assert len(mail) == len(hook) == len(admin) == 1, done.stdout
    # each row is one line: its source and its watcher, whole, next to the address
    assert LONG_SOURCE in mail[0] and LONG_WATCHER in mail[0] and "change" in mail[0]
    assert LONG_SOURCE in hook[0] and DUTY in hook[0]
    # the URL (and its token) is in the environment: the row names the variable
    assert "webhook (dingtalk): env:DUTY_HOOK" in hook[0]
    assert "access_token" not in done.stdout and "0123456789abcdef" not in done.stdout
    assert "config" in admin[0] and "admin" in admin[0] and "—" in admin[0]
    assert max(len(x) for x in lines) > 80  # not cut to 80 columns
    assert "\x1b[" not in done.stdout
    as_json = json.loads(subprocess.run(
        [sys.executable, "-m", "monitor", "alerts", "list", "--json", "--sources",
         str(sources)], cwd=ROOT, capture_output=True, text=True, timeout=120).stdout)
    assert sorted((r["source"], r["watcher"]) for r in as_json) == [
        ("", "admin"), (LONG_SOURCE, DUTY), (LONG_SOURCE, LONG_WATCHER)]


def test_alerts_list_on_a_terminal_still_fits_the_screen(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import io
    import re

    from rich.cells import cell_len
    from rich.console import Console

    import monitor.cli.alerts as alerts_cli

    sources = _long_named_alerts(tmp_path, monkeypatch)
    screen = io.StringIO()
    monkeypatch.setattr(alerts_cli, "console", Console(file=screen, force_terminal=True,
                                                       width=100, color_system="standard"))
    assert run("alerts", "list", "--sources", str(sources))[0] == 0
    lines = re.sub(r"\x1b\[[0-9;]*m", "", screen.getvalue()).splitlines()
    assert lines and max(cell_len(x) for x in lines) <= 100
    assert "dingtalk" in screen.getvalue()


def test_alerts_list_says_when_older_alerts_are_left_out(
        tmp_path: Path, monkeypatch, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """The newest --limit rows (100 by default), never cut without a word: the table is
    followed by a line, --json keeps its array and says so on stderr; --limit 0: all."""
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    sources = write_sources(tmp_path / "sources.toml", "")
    store = Store(db_url)
    try:
        AlertsRepo(store).enqueue([AlertDraft(
            dedupe_key=f"config:t{i}", event="config", channel="email",
            recipient="admin@example.org", watcher="admin",
            payload={"problems": [f"问题 {i}"], "file": "sources.toml", "source": None,
                     "key": None, "format": "email"}) for i in range(105)])
    finally:
        store.close()
    said = "the newest 100 shown; older alerts exist: --limit N for more"
    listed = CliRunner().invoke(cli, ["alerts", "list", "--json", "--sources", str(sources)])
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) == 100
    assert said in listed.stderr
    listed = CliRunner().invoke(cli, ["alerts", "list", "--sources", str(sources)])
    assert listed.exit_code == 0 and said in listed.stdout
    every = CliRunner().invoke(cli, ["alerts", "list", "--json", "--limit", "0", "--sources",
                                     str(sources)])
    assert len(json.loads(every.stdout)) == 105 and "older" not in every.stderr
    exact = CliRunner().invoke(cli, ["alerts", "list", "--limit", "105", "--sources",
                                     str(sources)])
    assert exact.exit_code == 0 and "older alerts exist" not in exact.stdout
