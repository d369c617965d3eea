"""Bad input an admin sends: how ``sources.toml`` is read, checked and warned about.

Real CLI runs (click's runner, and ``monitor run`` as a subprocess where the daemon's
live reload is what matters) on files written the way editors write them."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_sources
from tests.pages import seed_page
from tests.sites import Request, Response, Site
from tests.test_cli_spine import flat, run, source
from tests.test_daemon_run import Daemons, wait_until

HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich folds output at 80 columns when not on a terminal: give paths room."""
    from monitor.cli import common

    monkeypatch.setenv("COLUMNS", "250")
    for console in (common.console, common.err_console):
        monkeypatch.setattr(console, "_width", 250)


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Daemons]:
    ds = Daemons(tmp_path)
    yield ds
    ds.kill_all()


def one_source(site: Site, name: str = "hn-reply", extra: str = "") -> str:
    return source(name, site.route(f"/{name}", Response(seed_page(0), headers=HTML)), extra)


# --- 5. the file's encoding --------------------------------------------------------------


def test_a_file_saved_with_a_bom_is_read_by_validate_and_check(site: Site,
                                                               tmp_path: Path) -> None:
    path = write_sources(tmp_path / "sources.toml", one_source(site))
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())  # what Notepad saves
    validate = run("sources", "validate", "--sources", str(path))
    assert validate.exit_code == 0, validate.output
    assert flat(validate.stdout) == (f"{path}：有效，1 个来源，0 个接收人（{path}: ok — 1 source, "
                                     "0 watchers）")
    check = run("check", "--sources", str(path))
    assert check.exit_code == 0, check.output
    assert "1 new" in check.stdout and site.hits("/hn-reply") == 1


def test_sources_add_and_remove_edit_a_bom_file_and_keep_its_bom(site: Site,
                                                                  tmp_path: Path) -> None:
    path = write_sources(tmp_path / "sources.toml", one_source(site))
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    url = site.route("/wh-reply", Response(seed_page(1), headers=HTML))
    added = run("sources", "add", url, "--name", "wh-reply", "--sources", str(path))
    assert added.exit_code == 0, added.output
    removed = run("sources", "remove", "hn-reply", "--sources", str(path))
    assert removed.exit_code == 0, removed.output
    assert path.read_bytes().startswith(codecs.BOM_UTF8 + b"[settings]")
    listed = run("sources", "list", "--json", "--sources", str(path))
    assert [s["name"] for s in json.loads(listed.stdout)] == ["wh-reply"]


GBK_LINE = 'title = "湖南省答复"\n'


def gbk_file(site: Site, tmp_path: Path) -> tuple[Path, int, int]:
    """A sources file whose one non-ASCII line is GBK: (path, byte offset, line)."""
    path = write_sources(tmp_path / "sources.toml", one_source(site))
    text = path.read_text(encoding="utf-8") + GBK_LINE
    path.write_bytes(text.encode("gbk"))
    offset = len(text.encode("gbk")) - len(GBK_LINE.encode("gbk")) + len('title = "')
    return path, offset, text.count("\n")


@pytest.mark.parametrize("command", [["sources", "validate"], ["check"]])
def test_a_gbk_file_is_a_configuration_error_saying_where_and_what(
        site: Site, tmp_path: Path, command: list[str]) -> None:
    path, offset, line = gbk_file(site, tmp_path)
    result = run(*command, "--sources", str(path))
    assert result.exit_code == 2, result.output
    assert flat(result.stderr) == (
        f"配置错误：{path} 第 {line} 行第 10 列：文件不是 UTF-8 编码，看起来是 GBK/GB18030 "
        "编码：请另存为 UTF-8 "
        f"技术细节：configuration error: {path}: not UTF-8 (byte {offset}, line {line}, "
        "column 10); it looks like GBK/GB18030: save it as UTF-8")
    assert site.hits("/hn-reply") == 0


def test_run_starts_on_a_bom_file_and_refuses_a_gbk_edit_naming_file_and_line(
        site: Site, tmp_path: Path, daemons: Daemons) -> None:
    path = write_sources(tmp_path / "sources.toml", one_source(site, extra='interval = "1s"'))
    good = codecs.BOM_UTF8 + path.read_bytes()
    path.write_bytes(good)
    d = daemons.start(path)
    wait_until(lambda: site.hits("/hn-reply") >= 1, 60, "the first check")
    _, offset, line = gbk_file(site, tmp_path)  # the same source, saved as GBK
    d.wait_for("edit rejected", 30)
    assert f"not UTF-8 (byte {offset}, line {line}, column 10)" in d.text()
    before = site.hits("/hn-reply")
    wait_until(lambda: site.hits("/hn-reply") > before, 30, "checks go on")
    path.write_bytes(good)
    d.wait_for("is valid again", 30)
    assert d.stop() == 0


# --- 3. one page configured twice ------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), [
    ("http://127.0.0.1:1/hn/reply.html", "http://127.0.0.1:1/hn/reply.html#frag"),
    ("http://127.0.0.1:1/hn/", "http://127.0.0.1:1/hn"),
    ("http://gov.example.cn:80/x", "http://gov.example.cn/x"),
    ("https://gov.example.cn/x", "https://gov.example.cn:443/x"),
    ("https://GOV.Example.cn/x", "https://gov.example.cn/x"),
    ("https://gov.example.cn", "https://gov.example.cn/"),
])
def test_one_page_twice_is_refused_naming_both_sources(tmp_path: Path, first: str,
                                                       second: str) -> None:
    path = write_sources(tmp_path / "sources.toml",
                         source("hn-a", first) + source("hn-b", second))
    result = run("sources", "validate", "--sources", str(path))
    assert result.exit_code == 2, result.output
    assert flat(result.stderr).endswith(
        f"技术细节：configuration error: {path}: source 'hn-b': key 'url': has the same page as "
        f"source 'hn-a' ({first}); keep one of them (at line 15)")  # hn-b's url = line


@pytest.mark.parametrize(("first", "second"), [
    ("http://127.0.0.1:1/x?id=1", "http://127.0.0.1:1/x?id=2"),
    ("http://127.0.0.1:1/x", "http://127.0.0.1:2/x"),
    ("http://gov.example.cn/x", "https://gov.example.cn/x"),
    ("http://gov.example.cn/X", "http://gov.example.cn/x"),
])
def test_different_pages_stay_two_sources(tmp_path: Path, first: str, second: str) -> None:
    path = write_sources(tmp_path / "sources.toml",
                         source("hn-a", first) + source("hn-b", second))
    result = run("sources", "validate", "--sources", str(path))
    assert result.exit_code == 0, result.output


# --- 1. a watcher that cannot be reached stops nothing -----------------------------------

EDIT = ("头雁效应", "引领效应")  # a real change of seed 0's body


class Hook:
    """A webhook receiver on the test site; ``urls`` are the URLs it was called at."""

    def __init__(self, site: Site) -> None:
        self.urls: list[str] = []
        self.url = site.route("/hook", self.answer)

    def answer(self, req: Request) -> Response:
        self.urls.append(req.path)
        return Response('{"errcode": 0}', headers={"Content-Type": "application/json"})


def two_sources(site: Site, body: bytes) -> str:
    return "".join(source(n, site.route(f"/{n}", Response(body, headers=HTML)))
                   for n in ("hn-a", "hn-b"))


def watchers(hook_url: str) -> str:
    return f"""
[[watchers]]
name = "room"
webhook = "{hook_url}"
webhook_secret_env = "ROOM_SECRET"
sources = ["hn-a"]

[[watchers]]
email = "analyst@example.org"
sources = ["hn-*"]
"""


MISSING = ("警告：接收人 'room' 的 webhook_secret_env 指定的环境变量 ROOM_SECRET 未设置：修正之前，"
           "它的 webhook 提醒都会发送失败（其他接收人和检查不受影响）（warning: watcher 'room': "
           "webhook_secret_env names ROOM_SECRET, which is not set in the environment: its "
           "webhook alerts will fail until it is）")


def test_an_unset_secret_warns_and_fails_only_that_watchers_alerts(
        site: Site, tmp_path: Path) -> None:
    hook = Hook(site)
    path = write_sources(tmp_path / "sources.toml",
                         two_sources(site, seed_page(0)) + watchers(hook.url))
    validate = run("sources", "validate", "--sources", str(path))
    assert validate.exit_code == 0, validate.output
    assert flat(validate.stderr) == MISSING
    other = run("check", "--source", "hn-b", "--sources", str(path))  # room does not watch it
    assert other.exit_code == 0, other.output
    assert "1 new" in other.stdout and "ROOM_SECRET" in other.stderr

    assert run("check", "--sources", str(path)).exit_code == 0
    changed = seed_page(0).decode().replace(*EDIT).encode()
    write_sources(path, two_sources(site, changed) + watchers(hook.url))
    result = run("check", "--sources", str(path))
    assert result.exit_code == 0, result.output
    assert "2 changed" in result.stdout
    alerts = json.loads(run("alerts", "list", "--json", "--sources", str(path)).stdout)
    got = {(a["channel"], a["payload"]["source"]): a for a in alerts}
    assert {k: a["status"] for k, a in got.items()} == {
        ("email", "hn-a"): "sent", ("email", "hn-b"): "sent", ("webhook", "hn-a"): "pending"}
    assert got["webhook", "hn-a"]["last_error"] == (
        "webhook_secret_env ROOM_SECRET is not set (attempt 1)")
    assert len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == 2
    assert hook.urls == []  # never sent unsigned


def test_run_starts_with_an_unreachable_watcher_and_says_so_once(
        site: Site, tmp_path: Path, daemons: Daemons) -> None:
    hook = Hook(site)
    body = one_source(site, extra='interval = "1s"') + watchers(hook.url) + """
[[watchers]]
email = "typo@example.org"
tags = ["hunna"]
"""
    path = write_sources(tmp_path / "sources.toml", body)
    d = daemons.start(path)
    d.wait_for("monitor running", 60)
    write_sources(path, body + "# edited\n")  # a reload with the same warnings
    d.wait_for("reloaded", 30)
    log = d.text()
    assert log.count("webhook_secret_env names ROOM_SECRET, which is not set") == 1
    assert log.count("watcher 'typo@example.org': tags 'hunna' is the tag of no source") == 1
    assert "sources 'hn-a' matches no source" in log  # room's pattern (no hn-a here)
    wait_until(lambda: site.hits("/hn-reply") >= 2, 30, "checks go on")
    assert d.stop() == 0


@pytest.mark.parametrize(("extra", "settings", "expected"), [
    ('\n[[watchers]]\nname = "room"\nwebhook = "https://qyapi.weixin.qq.com/cgi-bin/'
     'webhook/send"\nwebhook_format = "wecom"\nwebhook_secret_env = "ROOM_SECRET"\n'
     'sources = ["hn-reply"]\n', "",
     "alert channels: watcher room: wecom webhooks are not signed; remove "
     "webhook_secret_env (the URL itself is the secret)"),
    ("", 'web_enabled = true\nweb_host = "0.0.0.0"\n', "the web UI would listen on 0.0.0.0"),
], ids=["unsigned-format", "web-beyond-loopback"])
def test_validate_refuses_what_run_refuses(site: Site, tmp_path: Path, daemons: Daemons,
                                           extra: str, settings: str, expected: str) -> None:
    path = write_sources(tmp_path / "sources.toml", one_source(site) + extra,
                         settings=settings)
    validate = run("sources", "validate", "--sources", str(path))
    assert validate.exit_code == 2, validate.output
    assert expected in flat(validate.stderr)
    d = daemons.start(path)
    assert d.proc.wait(timeout=60) == 2
    assert expected in flat(d.text())


# --- 2. watchers that match nothing ------------------------------------------------------


def test_watchers_matching_nothing_are_warned_about_with_the_closest_name(
        site: Site, tmp_path: Path) -> None:
    path = write_sources(tmp_path / "sources.toml", one_source(site, extra='tags = ["hunan"]')
                         + source("wh-reply", "http://127.0.0.1:1/wh") + """
[[watchers]]
name = "typos"
email = "a@example.org"
sources = ["hn-rpely", "wh-*", "zz-*"]
tags = ["hunna", "beijing"]
""")
    result = run("sources", "validate", "--sources", str(path))
    assert result.exit_code == 0, result.output
    # Chinese first, the English warning whole in brackets (for grep)
    assert result.stderr.splitlines() == [
        "警告：接收人 'typos' 的 sources 'hn-rpely' 不匹配任何来源（是否想写 'hn-reply'？）："
        "它收不到这些来源的提醒（warning: watcher 'typos': sources 'hn-rpely' matches no source "
        "(did you mean 'hn-reply'?)）",
        "警告：接收人 'typos' 的 sources 'zz-*' 不匹配任何来源：它收不到这些来源的提醒"
        "（warning: watcher 'typos': sources 'zz-*' matches no source）",
        "警告：接收人 'typos' 的 tags 'hunna' 不是任何来源的标签（是否想写 'hunan'？）："
        "它收不到这些来源的提醒（warning: watcher 'typos': tags 'hunna' is the tag of no "
        "source (did you mean 'hunan'?)）",
        "警告：接收人 'typos' 的 tags 'beijing' 不是任何来源的标签：它收不到这些来源的提醒"
        "（warning: watcher 'typos': tags 'beijing' is the tag of no source）",
    ]
    assert flat(result.stdout) == (f"{path}：有效，2 个来源，1 个接收人（{path}: ok — 2 sources, "
                                   "1 watcher）")


def test_unreachable_and_never_told_watchers_are_warned_about_chinese_first(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PHONE_URL", raising=False)
    path = write_sources(tmp_path / "sources.toml", one_source(site) + """
[[watchers]]
name = "phone"
apprise_env = "PHONE_URL"
sources = ["hn-*"]
kinds = ["unlisted"]
""")
    result = run("sources", "validate", "--sources", str(path))
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("警告：接收人 'phone' 的 kinds 'unlisted'：「unlisted」"
                               "（已从栏目移除）只记录、从不发送提醒"), lines
    assert lines[0].endswith("（warning: watcher 'phone': kinds 'unlisted': 「unlisted」（已从栏目"
                             "移除）只记录、从不发送提醒：文档从栏目移除不算消息；文档页面被删除时发送"
                             "「gone」（页面已删除），可写 kinds = [\"gone\"] (unlisted changes "
                             "are recorded, never alerted; a document's page going away is "
                             "'gone')）"), lines
    assert lines[1] == (
        "警告：接收人 'phone' 的 apprise_env 指定的环境变量 PHONE_URL 未设置：修正之前，它的 "
        "Apprise 提醒都会发送失败（其他接收人和检查不受影响）（warning: watcher 'phone': "
        "apprise_env names PHONE_URL, which is not set in the environment: its Apprise alerts "
        "will fail until it is fixed）")
    monkeypatch.setenv("PHONE_URL", "nosuchservice://x")
    bad = run("sources", "validate", "--sources", str(path)).stderr.splitlines()[1]
    assert bad.startswith("警告：接收人 'phone' 的 apprise_env 指定的环境变量 PHONE_URL 不是可用的 "
                          "Apprise 网址：") and "not an Apprise URL" in bad, bad


def test_a_file_without_watchers_is_warned_about(site: Site, tmp_path: Path) -> None:
    path = write_sources(tmp_path / "sources.toml", one_source(site))
    result = run("sources", "validate", "--sources", str(path))
    assert result.exit_code == 0, result.output
    assert flat(result.stderr) == (
        "警告：没有接收人（[[watchers]]）：页面的变化只记录，不会提醒任何人；运行中的 monitor "
        "会拒绝删除全部接收人的修改（像是没写完的文件），如确要如此，请重启 monitor run"
        "（warning: no [[watchers]]: changes are recorded but nobody is alerted）")


# --- 4. credentials in URLs --------------------------------------------------------------


def hook_watcher(url: str, fmt: str) -> str:
    return (f'\n[[watchers]]\nname = "hn-room"\nwebhook = "{url}"\nwebhook_format = "{fmt}"\n'
            'sources = ["hn-reply"]\n')


@pytest.mark.parametrize(("entry", "expected"), [
    (source("hn-b", "https://editor:s3cr3t@gov.example.cn/x"),
     "source 'hn-b': key 'url': 'https://gov.example.cn/…' has a user name or password in "
     "it: sources are public pages, fetched without logging in; remove the "
     "'user:password@' part"),
    (hook_watcher("https://oapi.dingtalk.com/robot/send?access_token=s3cr3t", "dingtalk"),
     "watcher 'hn-room': key 'webhook': holds a secret (access_token=…) in the file: put the "
     "whole URL in an environment variable and name it instead, e.g. webhook_env = "
     '"HN_ROOM_WEBHOOK"; a signing secret goes in the variable named by webhook_secret_env'),
    (hook_watcher("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=s3cr3t", "wecom"),
     "watcher 'hn-room': key 'webhook': holds a secret (key=…) in the file: put the whole URL "
     'in an environment variable and name it instead, e.g. webhook_env = "HN_ROOM_WEBHOOK"'),
    (hook_watcher("https://bot:s3cr3t@hooks.example.org/x", "generic"),
     "watcher 'hn-room': key 'webhook': holds a secret (a user name or password) in the file"),
    (hook_watcher("https://oapi.dingtalk.com/robot/send?access_token=s3cr3t", "dingtalk")
     .replace('name = "hn-room"\n', ""),
     "watcher 'https://oapi.dingtalk.com/…': key 'webhook': holds a secret (access_token=…)"),
], ids=["source-password", "dingtalk-token", "wecom-key", "webhook-password", "unnamed"])
def test_credentials_in_the_file_are_refused_naming_what_to_use(
        site: Site, tmp_path: Path, entry: str, expected: str) -> None:
    path = write_sources(tmp_path / "sources.toml", one_source(site) + entry)
    for command in (["sources", "validate"], ["check"]):
        result = run(*command, "--sources", str(path))
        assert result.exit_code == 2, result.output
        message = flat(result.stderr)
        assert message.startswith("配置错误："), message
        assert f"技术细节：configuration error: {path}: {expected}" in message, message
        assert "s3cr3t" not in result.output
    assert site.hits("/hn-reply") == 0


def test_a_webhook_url_from_the_environment_is_called_and_never_stored(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = Hook(site)
    monkeypatch.setenv("HN_ROOM_WEBHOOK", hook.url + "?access_token=s3cr3t")
    monkeypatch.setenv("HN_ROOM_SECRET", "sign-me")
    watcher = ('\n[[watchers]]\nname = "hn-room"\nwebhook_env = "HN_ROOM_WEBHOOK"\n'
               'webhook_format = "dingtalk"\nwebhook_secret_env = "HN_ROOM_SECRET"\n'
               'sources = ["hn-reply"]\n')
    path = write_sources(tmp_path / "sources.toml", one_source(site) + watcher)
    validate = run("sources", "validate", "--sources", str(path))
    assert (validate.exit_code, validate.stderr) == (0, "")
    assert run("check", "--sources", str(path)).exit_code == 0
    site.route("/hn-reply", Response(seed_page(0).decode().replace(*EDIT), headers=HTML))
    result = run("check", "--sources", str(path))
    assert result.exit_code == 0, result.output
    assert "alerts: 1 sent" in flat(result.stdout)
    [called] = hook.urls
    assert called.startswith("/hook?access_token=s3cr3t&timestamp=") and "&sign=" in called
    listed = run("alerts", "list", "--json", "--sources", str(path)).stdout
    assert "s3cr3t" not in listed and '"recipient": "env:HN_ROOM_WEBHOOK"' in listed
    for db in (tmp_path / "data").glob("monitor.db*"):  # with the WAL
        assert b"s3cr3t" not in db.read_bytes()
