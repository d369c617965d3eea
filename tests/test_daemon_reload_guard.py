"""``monitor run``: a live edit that looks half-written is refused though it is valid TOML.

An editor that saved the first lines of ``sources.toml`` (the file ends after its first
source: the other sources and every ``[[watchers]]`` gone) must not cut the watchers off:
the daemon keeps the configuration it runs, logs the refusal and mails the admin in
Chinese (``monitor.reload.mass_removal``).  A restart applies such a file on purpose.

A real daemon subprocess on SQLite, a local test site, a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from pathlib import Path

from monitor.config import Config, parse_config
from monitor.reload import mass_removal
from storage.models import Alert, SourceRow, Version
from tests.conftest import write_sources
from tests.sites import Site
from tests.test_alerts_support import SmtpServer
from tests.test_daemon_run import (
    Daemons,
    count,
    daemons,  # noqa: F401 (a fixture)
    page,
    wait_until,
)

ADMIN = "admin@example.org"
ALICE, BOB = "alice@example.cn", "bob@example.cn"
NAMES = ("hn-0192", "jl-notice", "plan-pdf", "xiongan-plan", "gz-reply")


def _sources(tmp_path: Path, site: Site, smtp: SmtpServer, names: tuple[str, ...],
             watchers: str) -> Path:
    body = "".join(f"""
        [[sources]]
        name = "{n}"
        url = "{site.url(f'/{n}.html')}"
        interval = "1s"
        """ for n in names)
    return write_sources(tmp_path / "sources.toml", body + watchers,
                         settings=f'admin_email = "{ADMIN}"\nsmtp_url = "{smtp.url}"\n')


WATCHERS = f"""
[[watchers]]
name = "watcher"
email = "{ALICE}"
sources = ["*"]

[[watchers]]
name = "replies-only"
email = "{BOB}"
sources = ["hn-*"]
"""
ONE_WATCHER = WATCHERS.split("\n\n[[watchers]]\nname = \"replies-only\"")[0] + "\n"


def _first_source_only(path: Path) -> bytes:
    """What ``head -n N sources.good > sources.toml`` leaves: the file up to its second
    source — settings and the first source, valid TOML, no [[watchers]]."""
    text = path.read_text(encoding="utf-8")
    first = text.index("[[sources]]")
    return text[:text.index("[[sources]]", first + 1)].encode()


def test_a_truncated_edit_is_refused_the_admin_is_mailed_and_watchers_still_alerted(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:  # noqa: F811
    for n in NAMES:
        site.route(f"/{n}.html", page(n))
    smtp = SmtpServer().start()
    try:
        sources = _sources(tmp_path, site, smtp, NAMES, WATCHERS)
        d = daemons.start(sources)
        d.wait_for("monitor running as", 60)
        wait_until(lambda: count(Version) == len(NAMES), 60, "first versions")

        # a deliberate edit, one source and one watcher at a time: applied live
        _sources(tmp_path, site, smtp, NAMES[:4], ONE_WATCHER)
        d.wait_for("reloaded: removed gz-reply; removed watcher replies-only", 30)

        good = sources.read_bytes()
        truncated = _first_source_only(sources)
        sources.write_bytes(truncated)
        d.wait_for("edit rejected", 30)
        log = d.text()
        assert "removes every watcher (1: 'watcher'" in log
        assert "removes 3 of 4 sources ('jl-notice', 'plan-pdf', 'xiongan-plan'" in log
        assert "removed jl-notice" not in log
        wait_until(lambda: smtp.sink.to(ADMIN), 60, "the admin's mail")
        [mail] = smtp.sink.to(ADMIN)
        assert mail["Subject"] == "[monitor] 配置错误：2 个问题"
        text = " ".join(mail.get_body(("plain",)).get_content().split())
        assert "此次修改删除了全部 1 个接收人（[[watchers]]：watcher）" in text
        assert "此次修改删除了 4 个来源中的 3 个（jl-notice、plan-pdf、xiongan-plan）" in text
        assert "如确要删除，请用此文件重启 monitor run" in text
        assert "守护进程保持运行中的配置" in text
        assert count(SourceRow, active=True) == 4  # the sources were not synced away

        # the old watcher is still told about a change of a source the edit removed
        site.route("/xiongan-plan.html", page("雄安规划修订"))
        wait_until(lambda: smtp.sink.to(ALICE), 90, "the change mailed to the watcher")
        assert "xiongan-plan" in smtp.sink.to(ALICE)[0]["Subject"] + \
            smtp.sink.to(ALICE)[0].get_body(("plain",)).get_content()

        sources.write_bytes(good)  # restored: valid again, nothing re-sent
        d.wait_for("is valid again", 30)
        sources.write_bytes(truncated)  # the same broken content again: no second mail
        wait_until(lambda: d.text().count("edit rejected") >= 4, 30, "refused again")
        assert count(Alert, event="config") == 1
        assert d.stop() == 0

        # on purpose: a restart loads the file as it is
        d2 = daemons.start(sources)
        d2.wait_for("monitor running as", 60)
        wait_until(lambda: count(SourceRow, active=True) == 1, 30, "the removal applied")
        assert "edit rejected" not in d2.text()
        assert d2.stop() == 0
    finally:
        smtp.stop()


def _config(names: list[str], watchers: int = 1) -> Config:
    text = "".join(f'[[sources]]\nname = "{n}"\nurl = "http://127.0.0.1/{n}"\n' for n in names)
    text += "".join(f'[[watchers]]\nname = "w{i}"\nemail = "w{i}@example.cn"\n'
                    'sources = ["*"]\n' for i in range(watchers))
    return parse_config(text, path="sources.toml", env={})


def test_what_a_live_edit_may_remove_at_once() -> None:
    """An admin's own edits apply: one or two sources, half of them, a rename of many, a
    watcher while another stays.  Most sources at once, or every watcher, does not."""
    five = [f"s{i}" for i in range(5)]
    allowed = [(five, five[:3]), (five[:3], five[:1]), (five[:4], five[:2]),
               (five, [f"new-{n}" for n in five]), (five, five)]
    for old, new in allowed:
        assert mass_removal(_config(old), _config(new)) == [], (old, new)
    assert mass_removal(_config(five, 2), _config(five, 1)) == []
    assert mass_removal(_config(five, 0), _config(five[:4], 0)) == []
    [most] = mass_removal(_config(five), _config(five[:2]))
    assert "removes 3 of 5 sources ('s2', 's3', 's4'" in str(most)
    [every] = mass_removal(_config(five, 2), _config(five, 0))
    assert "removes every watcher (2: 'w0', 'w1'" in str(every)
