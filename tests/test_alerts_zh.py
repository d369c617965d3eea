"""What a reader of an alert sees, end to end: real pages on a loopback site, the check
pipeline, the outbox, a real SMTP server and a real webhook receiver.

Chinese from end to end (error kinds in Chinese sentences, the technical detail in
brackets, Chinese punctuation, versions numbered per page), emails about one page in one
thread, and links into the web UI at ``public_url``."""

from __future__ import annotations

import email
import email.message
import email.policy
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.delivery import Deliverer
from monitor.config import Config, load_config
from monitor.fetch import Fetcher
from monitor.pipeline import Checker
from monitor.types import CheckResult, Outcome
from storage import Store
from tests.conftest import write_sources
from tests.sites import Request, Response, Site
from tests.test_alerts_support import SmtpServer, later
from tests.test_daemon_run import Daemons, daemons, wait_until  # noqa: F401 (a fixture)

NAME = "hn-0192"
PATH = "/art/2021/6/24/art_1234_0192.html"
ANALYST = "analyst@example.org"
ADMIN = "admin@example.org"
PUBLIC = "https://monitor.example.org/watch"
HTML = {"Content-Type": "text/html; charset=utf-8"}
TITLE = "关于省政协十二届四次会议第0192号提案的答复"
PARAS = [f"第{i}条：关于加快推进产业园区建设的意见，预计总投资{i}亿元，现答复如下。"
         for i in range(1, 25)]
# Two English words in a row: the internals ("the page is gone", "not the page") that must
# not reach a reader.  URLs and addresses are taken out first.
ENGLISH = re.compile(r"[A-Za-z]{2,}[ ,:]+[A-Za-z]{2,}")
NOT_WORDS = re.compile(r"https?://\S+|\S+@\S+|\[monitor\]|^monitor ·", re.MULTILINE)


def page(paras: list[str]) -> Response:
    body = "".join(f"<p>{p}</p>" for p in paras)
    return Response(f"<html><head><title>{TITLE}</title></head><body><div class='c'>"
                    f"{body}</div></body></html>", headers=HTML)


def edited(*numbers: int, word: str = "修订") -> list[str]:
    """The page with paragraphs ``numbers`` (1-based) edited."""
    return [p.replace("意见", word) if i + 1 in numbers else p for i, p in enumerate(PARAS)]


def english(text: str) -> list[str]:
    return ENGLISH.findall(NOT_WORDS.sub(" ", text))


def texts(msg: email.message.EmailMessage) -> tuple[str, str]:
    got = {p.get_content_type(): p.get_content() for p in msg.walk()
           if p.get_content_maintype() == "text"}
    return got["text/plain"], got["text/html"]


class Hook:
    """A webhook receiver on the test site: keeps each JSON body."""

    def __init__(self, site: Site) -> None:
        self.bodies: list[dict[str, object]] = []
        self.url = site.route("/hook", self.answer)

    def answer(self, req: Request) -> Response:
        self.bodies.append(json.loads(req.body))
        return Response("{}", headers={"Content-Type": "application/json"})


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


class World:
    def __init__(self, tmp_path: Path, store: Store, site: Site, smtp: SmtpServer,
                 settings: str = "", webhook_format: str = "generic",
                 mode: str = "immediate") -> None:
        self.store, self.site, self.hook = store, site, Hook(site)
        path = write_sources(tmp_path / "sources.toml", f"""
            [[sources]]
            name = "{NAME}"
            url = "{site.url(PATH)}"
            content = "div.c"

            [[watchers]]
            email = "{ANALYST}"
            sources = ["hn-*"]
            mode = "{mode}"

            [[watchers]]
            webhook = "{self.hook.url}"
            webhook_format = "{webhook_format}"
            sources = ["hn-*"]
            mode = "{mode}"
            """, settings=f'smtp_url = "{smtp.url}"\nretries = 0\n{settings}')
        self.config: Config = load_config(path, env={})

    async def check(self, response: Response) -> CheckResult:
        self.site.route(PATH, response)
        async with Fetcher(self.config.settings) as fetcher:
            return await Checker(self.config, self.store, fetcher).check(
                self.config.source(NAME))

    async def deliver(self, hours: float = 0) -> None:
        report = await Deliverer(self.config, self.store, env={},
                                 clock=later(hours)).deliver_due()
        assert report.retrying == report.dead == 0, report.describe()


async def test_two_changes_of_a_page_thread_and_link_to_the_diff_in_chinese(
        tmp_path: Path, store: Store, site: Site, smtp: SmtpServer) -> None:
    w = World(tmp_path, store, site, smtp, settings=f'public_url = "{PUBLIC}"')
    v1 = (await w.check(page(PARAS))).version_id
    v2 = (await w.check(page(edited(3)))).version_id
    await w.deliver()
    v3 = (await w.check(page(edited(3, 13, 20)))).version_id
    await w.deliver()
    assert v1 and v2 and v3

    first, second = smtp.sink.to(ANALYST)
    # One thread: both reply to the page's thread root, for this reader.
    assert first["Message-ID"] != second["Message-ID"]
    root = first["In-Reply-To"]
    assert root and root.startswith("<page-") and root not in (first["Message-ID"],
                                                                second["Message-ID"])
    assert first["References"] == second["References"] == second["In-Reply-To"] == root

    text, html = texts(second)
    assert "来源：hn-0192" in text and "第13段修改，第20段修改" in text
    assert "版本：第2版 → 第3版" in text and f"#{v2} → #{v3}" not in text
    diff = f"{PUBLIC}/diff?a={v2}&b={v3}"
    assert f"查看差异：{diff}" in text and f"查看版本：{PUBLIC}/versions/{v3}" in text
    assert f'href="{diff.replace("&", "&amp;")}"' in html
    assert "第1版 → 第2版" in texts(first)[0] and f"/diff?a={v1}&amp;b={v2}" in texts(first)[1]
    assert english(text) == [] and english(str(second["Subject"])) == []

    # The webhook payload carries the same links and per-page numbers.
    data = w.hook.bodies[-1]["data"]
    assert isinstance(data, dict)
    assert (data["diff_url"], data["version_url"]) == (diff, f"{PUBLIC}/versions/{v3}")
    assert (data["old_version"], data["new_version"]) == (2, 3)


@pytest.mark.parametrize("fmt", ["dingtalk", "wecom", "feishu", "slack"])
async def test_chat_alerts_link_to_the_diff_and_the_version(
        tmp_path: Path, store: Store, site: Site, smtp: SmtpServer, fmt: str) -> None:
    w = World(tmp_path, store, site, smtp, settings=f'public_url = "{PUBLIC}"',
              webhook_format=fmt)
    v1 = (await w.check(page(PARAS))).version_id
    v2 = (await w.check(page(edited(3)))).version_id
    await w.deliver()
    [body] = w.hook.bodies
    raw = json.dumps(body, ensure_ascii=False).replace("&amp;", "&")
    assert f"{PUBLIC}/diff?a={v1}&b={v2}" in raw and f"{PUBLIC}/versions/{v2}" in raw
    assert "查看差异" in raw and "查看版本" in raw and "第1版 → 第2版" in raw


async def test_a_digest_links_each_change_to_its_diff(
        tmp_path: Path, store: Store, site: Site, smtp: SmtpServer) -> None:
    w = World(tmp_path, store, site, smtp, settings=f'public_url = "{PUBLIC}"', mode="digest",
              webhook_format="dingtalk")
    v1 = (await w.check(page(PARAS))).version_id
    v2 = (await w.check(page(edited(3)))).version_id
    v3 = (await w.check(page(edited(3, 13, 20)))).version_id
    await w.deliver(hours=25)
    [msg] = smtp.sink.to(ANALYST)
    assert str(msg["Subject"]) == "[monitor] 变化摘要：2 处变化（1 个来源）"
    text, html = texts(msg)
    for a, b in ((v1, v2), (v2, v3)):
        assert f"查看差异：{PUBLIC}/diff?a={a}&b={b}" in text
        assert f'href="{PUBLIC}/diff?a={a}&amp;b={b}"' in html
    assert "第13段修改，第20段修改" in text and english(text) == []
    [chat] = w.hook.bodies  # the chat digest links each change too
    markdown = chat["markdown"]["text"]  # type: ignore[index]
    assert f"[查看差异]({PUBLIC}/diff?a={v1}&b={v2})" in markdown
    assert f"[查看差异]({PUBLIC}/diff?a={v2}&b={v3})" in markdown


async def test_without_public_url_an_alert_has_no_web_links(
        tmp_path: Path, store: Store, site: Site, smtp: SmtpServer) -> None:
    w = World(tmp_path, store, site, smtp)
    await w.check(page(PARAS))
    await w.check(page(edited(3)))
    await w.deliver()
    [msg] = smtp.sink.to(ANALYST)
    text, _ = texts(msg)
    assert "查看差异" not in text and "/diff?" not in text and "版本：第1版 → 第2版" in text
    assert w.hook.bodies[0]["data"]["diff_url"] is None  # type: ignore[index]


async def test_trouble_recovery_and_gone_are_told_in_chinese(
        tmp_path: Path, store: Store, site: Site, smtp: SmtpServer) -> None:
    w = World(tmp_path, store, site, smtp, settings=f'admin_email = "{ADMIN}"')
    assert (await w.check(page(PARAS))).outcome is Outcome.NEW
    challenge = Response("<html><title>Just a moment...</title></html>",
                         headers={**HTML, "cf-mitigated": "challenge"})
    for _ in range(3):
        assert (await w.check(challenge)).error_kind == "challenge"
    await w.check(page(PARAS))  # recovered
    await w.deliver()

    by_event = {m["X-Monitor-Event"]: m for m in smtp.sink.to(ADMIN)}
    trouble, recovered = by_event["trouble"], by_event["recovered"]
    assert str(trouble["Subject"]) == f"[monitor] 来源检查失败：{NAME}"
    text, html = texts(trouble)
    assert "详情：连续 3 次检查失败：网站返回的是验证页或拦截页，不是原页面（challenge）" in text
    assert "not the page" not in text + html and english(text) == []
    assert str(recovered["Subject"]) == f"[monitor] 来源恢复正常：{NAME}"
    # Trouble about the page threads with the page's other mails to that reader.
    assert trouble["In-Reply-To"] == recovered["In-Reply-To"] and trouble["In-Reply-To"]

    for _ in range(2):  # gone_after = 2
        assert (await w.check(Response("nope", status=404))).error_kind == "gone"
    await w.deliver()
    [gone] = smtp.sink.to(ANALYST)
    text, html = texts(gone)
    assert "摘要：页面已删除或不存在（HTTP 404）" in text
    assert "the page is gone" not in text + html and english(text) == []


async def test_a_page_left_unrendered_by_its_cms_is_not_called_a_block(
        tmp_path: Path, store: Store, site: Site, smtp: SmtpServer) -> None:
    # A body refused as "not the page" for its unfilled template is told as such: the
    # admin looks at the site's CMS, not for a firewall.
    w = World(tmp_path, store, site, smtp, settings=f'admin_email = "{ADMIN}"')
    assert (await w.check(page(PARAS))).outcome is Outcome.NEW
    broken = Response("<html><body><h1>${article.title}</h1><p>发布时间：$!{article.pubDate}"
                      "</p><div>{{ content }}</div><div>{{ source }}</div></body></html>",
                      headers=HTML)
    for _ in range(3):
        assert (await w.check(broken)).error_kind == "challenge"
    await w.deliver()
    [trouble] = [m for m in smtp.sink.to(ADMIN) if m["X-Monitor-Event"] == "trouble"]
    text, _ = texts(trouble)
    assert ("连续 3 次检查失败：网站返回的页面未渲染完整（残留模板占位符），"
            "不是原页面（challenge）") in text
    assert "验证页或拦截页" not in text


def test_a_broken_sources_file_is_told_in_chinese_with_the_running_config_kept(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:  # noqa: F811
    """The real daemon, a real edit of its file: the admin's mail (an .eml in the outbox,
    no SMTP configured) says where and what in Chinese, and that nothing changed."""
    site.route(PATH, page(PARAS))
    sources = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        url = "{site.url(PATH)}"
        interval = "1h"
        """, settings=f'admin_email = "{ADMIN}"\n')
    d = daemons.start(sources)
    d.wait_for("check hn-0192 new", 60)
    lines = sources.read_text(encoding="utf-8").splitlines()
    lines.append('title = "答复\x01"')  # a control character: not valid TOML
    sources.write_text("\n".join(lines) + "\n", encoding="utf-8")
    d.wait_for("edit rejected", 30)

    outbox = tmp_path / "data" / "outbox"
    wait_until(lambda: list(outbox.glob("*.eml")), 30, "the admin's mail")
    [eml] = outbox.glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["To"] == ADMIN and str(msg["Subject"]) == "[monitor] 配置错误：1 个问题"
    text, html = texts(msg)  # type: ignore[arg-type]
    text = text.replace("\r\n", "\n")
    said = f"{sources} 第 {len(lines)} 行第 12 列：不是有效的 TOML 格式"
    after = text.split(said)[1].splitlines()  # the rest of its line, then the detail
    assert after[1].startswith("技术细节：") and "not valid TOML" in after[1], text
    assert "守护进程保持运行中的配置，此次修改未生效。" in text
    assert "技术细节：" in html and "\x01" not in text + html  # never the raw character
    assert "not valid TOML" in d.text()  # the admin's log keeps the English detail too
    assert d.stop() == 0


def test_every_broken_source_is_told_and_a_watcher_edit_is_logged_as_a_change(
        tmp_path: Path, site: Site, daemons: Daemons) -> None:  # noqa: F811
    """Two sources broken in one edit: the admin's mail has both, each with its line, the
    value and the reason in Chinese; then an edit of a watcher alone is logged as what it
    changed, not "no change"."""
    site.route(PATH, page(PARAS))
    body = f"""
        [[sources]]
        name = "{NAME}"
        url = "{site.url(PATH)}"
        interval = "1h"

        [[watchers]]
        email = "analyst@example.org"
        sources = ["*"]
        """
    sources = write_sources(tmp_path / "sources.toml", body,
                            settings=f'admin_email = "{ADMIN}"\n')
    good = sources.read_text(encoding="utf-8")
    d = daemons.start(sources)
    d.wait_for("check hn-0192 new", 60)
    broken = good.replace('interval = "1h"', 'interval = "30 分钟"') + (
        '\n[[sources]]\nname = "wh-reply"\nurl = "http://127.0.0.1:9/r.html"\n'
        "ignore_text = ['点击[:：\\s*\\d+']\n")
    sources.write_text(broken, encoding="utf-8")
    d.wait_for("edit rejected", 30)
    outbox = tmp_path / "data" / "outbox"
    wait_until(lambda: list(outbox.glob("*.eml")), 30, "the admin's mail")
    [eml] = outbox.glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert str(msg["Subject"]) == "[monitor] 配置错误：2 个问题"
    text = texts(msg)[0].replace("\r\n", "\n")  # type: ignore[arg-type]
    lines = broken.splitlines()
    interval = lines.index('interval = "30 分钟"') + 1
    regex = next(i for i, x in enumerate(lines, 1) if x.startswith("ignore_text"))
    assert (f"来源 {NAME}，键 interval 第 {interval} 行：取值无效；写的是：30 分钟；"
            "原因：不是有效的时间间隔；可用的写法：") in text, text
    assert (f"来源 wh-reply，键 ignore_text 第 {regex} 行：不是有效的正则表达式；"
            "写的是：点击[:：\\s*\\d+；原因：字符集的 [ 没有对应的 ]") in text, text
    assert "详见日志" not in text

    sources.write_text(good.replace('sources = ["*"]', 'sources = ["*"]\nkinds = ["gone"]'),
                       encoding="utf-8")
    d.wait_for("reloaded: changed watcher analyst@example.org", 30)
    assert "reloaded: no change" not in d.text()
    assert d.stop() == 0
