"""A listing source (``kind = "listing"``) on a paginated GBK column that gains replies.

The local site is a TRS-style column: ``index.html``, ``index_1.html``, ``index_2.html``
(pages found from its ``createPageHTML`` script), ten items a page, newest first, each
linking a GBK reply page.  What the watcher must get, counted: nothing for the first
crawl, one 新文档 alert with the reply's title, list date, link and text for a reply
published later, one alert for an amended older reply, nothing for a broken render or
for an item pushed to page 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from alerts.compose import Composer
from monitor.cli.check import run_checks
from monitor.config import Config, load_config
from monitor.fetch import Fetcher
from monitor.pipeline import inspect_source
from monitor.types import CheckResult, Inspection, Outcome
from storage import Store
from storage.alerts_repo import AlertsRepo
from storage.archive import Archive
from storage.models import Alert, Change, Page, Version, utcnow
from tests.conftest import write_sources
from tests.sites import Request, Response, Site
from tests.test_daemon_run import ROOT, Daemons, monitor_cmd, wait_until

NAME = "hn-gxt-replies"
PER_PAGE = 10
GBK = {"Content-Type": "text/html"}  # no charset: the page's <meta> says gbk


def reply_title(n: int) -> str:
    return f"关于省政协十二届四次会议第{n:04d}号提案的答复"


def list_date(n: int) -> str:
    """The date reply ``n`` shows in the list: a newer reply, a later date."""
    return (date(2021, 1, 1) + timedelta(days=n)).isoformat()


class Column:
    """The column's state: its replies (oldest first), what each says, a broken render."""

    def __init__(self, site: Site, count: int) -> None:
        self.site, self.lock = site, threading.Lock()
        self.replies = list(range(100, 100 + count))
        self.amended: set[int] = set()
        self.broken = False
        for k in range(4):
            site.route("/col/index.html" if k == 0 else f"/col/index_{k}.html",
                       self._listing(k))

    def publish(self) -> int:
        with self.lock:
            self.replies.append(self.replies[-1] + 1)
            return self.replies[-1]

    def serve_replies(self) -> None:
        for n in range(100, 200):
            self.site.route(f"/col/t2021{n:04d}_{n}.html", self._reply(n))

    def _listing(self, k: int):  # type: ignore[no-untyped-def]
        def handle(req: Request) -> Response:
            with self.lock:
                newest = list(reversed(self.replies))
                pages = max(1, -(-len(newest) // PER_PAGE))
                items = newest[k * PER_PAGE:(k + 1) * PER_PAGE]
                broken = self.broken and k == 0
            lis = "" if broken else "".join(
                f"<li><a href='./t2021{n:04d}_{n}.html'>{reply_title(n)}</a>"
                f"<span>{list_date(n)}</span></li>" for n in items)
            html = ("<html><head><meta charset='gbk'><title>建议提案办理</title></head><body>"
                    "<div class='nav'><a href='/'>首页</a><a href='/xxgk/'>信息公开</a>"
                    "<a href='/zwfw/'>政务服务</a><a href='/hdjl/'>互动交流</a></div>"
                    "<div class='intro'>本栏目发布省政协委员提案和省人大代表建议的办理答复，"
                    "欢迎社会各界监督。</div>"
                    f"<ul class='list'>{lis}</ul><div class='page'><script>"
                    f'createPageHTML({pages}, {k}, "index", "html");</script></div>'
                    "<div class='footer'>湘ICP备05001982号</div></body></html>")
            return Response(html.encode("gbk"), headers=GBK)
        return handle

    def _reply(self, n: int):  # type: ignore[no-untyped-def]
        def handle(req: Request) -> Response:
            extra = "<p>另，补充说明：该项目已于近期完成竣工验收。</p>" if n in self.amended else ""
            html = ("<html><head><meta charset='gbk'><title>答复</title></head><body>"
                    f"<div class='article'><h1>{reply_title(n)}</h1>"
                    f"<p>您提出的关于加快发展的第{n}号提案收悉，现答复如下：</p>"
                    f"<p>我厅已安排专项资金{n}万元，用于支持园区建设。</p>{extra}"
                    "</div><div class='footer'>湘ICP备05001982号</div></body></html>")
            return Response(html.encode("gbk"), headers=GBK)
        return handle


@pytest.fixture
def config(tmp_path: Path, site: Site) -> Config:
    path = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        match = 't2021\\d{{4}}_\\d+\\.html$'
        max_pages = 3
        interval = "1h"
        [sources.follow]
        content = "div.article"
        interval = "1d"
        tags = ["reply"]

        [[watchers]]
        email = "analyst@example.org"
        tags = ["reply"]
        """)
    return load_config(path, env={})


async def check_pass(config: Config, store: Store) -> list[CheckResult]:
    """What ``monitor check`` does for the listing (its own code): the listing under its
    lease, then its due documents."""
    return await run_checks(config, store, [config.source(NAME)], progress=False)


def first_page(store: Store) -> int:
    return store.resolve_page(NAME)[1].id or 0


def pass_a_day(store: Store) -> None:
    """Every document is due again, as a day later (the clock is not the test's to move)."""
    with store.session() as s:
        s.execute(update(Page).where(Page.kind == "document")
                  .values(next_check_at=utcnow() - timedelta(seconds=1)))
        s.commit()


def alerts(store: Store) -> list[Alert]:
    with store.session() as s:
        return list(s.exec(select(Alert).order_by(col(Alert.id))))


def documents(store: Store) -> list[Page]:
    with store.session() as s:
        return list(s.exec(select(Page).where(Page.kind == "document")
                           .order_by(col(Page.id))))


async def test_a_column_is_crawled_new_replies_are_told_with_their_text_and_nothing_twice(
        config: Config, store: Store, site: Site) -> None:
    column = Column(site, 25)
    column.serve_replies()
    store.sync_sources(config.sources)

    first = await check_pass(config, store)  # the baseline: 3 pages, 25 replies
    assert first[0].outcome is Outcome.NEW and first[0].documents_added == 25
    assert [r.outcome for r in first[1:]] == [Outcome.NEW] * 25
    assert len(documents(store)) == 25 and alerts(store) == []

    new = column.publish()  # a reply appears on page 1, page 1's last item goes to page 2
    second = await check_pass(config, store)
    assert second[0].outcome is Outcome.CHANGED and second[0].alerts == 0
    assert [(r.document or "").rsplit("/", 1)[1] for r in second[1:]] == [
        f"t2021{new:04d}_{new}.html"]
    assert second[1].change_kind == "document_added" and second[1].alerts == 1
    [alert] = alerts(store)
    msg = Composer(config.settings, AlertsRepo(store)).change(
        AlertsRepo(store).change_view(alert.change_id or 0), "analyst@example.org")
    link = site.url(f"/col/t2021{new:04d}_{new}.html")
    assert "新文档" in msg.subject and reply_title(new) in msg.subject
    assert f"{reply_title(new)}（{list_date(new)}） {link}" \
        in msg.text
    assert f"我厅已安排专项资金{new}万元" in msg.text  # readable from the alert
    with store.session() as s:
        assert not list(s.exec(select(Change).where(Change.kind == "unlisted")))
        [own] = s.exec(select(Change).where(Change.page_id == first_page(store)))
    # the listing's own change is on record, named by its items, and not news
    assert (own.kind, own.summary, own.alert) == ("changed", f"新增「{reply_title(new)}」",
                                                  False)
    assert [c.kind for c in Archive(store).changes(news=True)] == ["document_added"]

    column.broken = True  # page 1 rendered without its list
    broken = await check_pass(config, store)
    assert broken[0].outcome is Outcome.ERROR and broken[0].error_kind == "listing_broken"
    assert all(p.listed for p in documents(store)) and len(alerts(store)) == 1
    column.broken = False

    column.amended.add(103)  # an older reply gains a sentence...
    third = await check_pass(config, store)
    assert third[1:] == []  # ...not looked at before its follow interval (1d) is up
    pass_a_day(store)
    third = await check_pass(config, store)
    amended = [r for r in third[1:] if r.outcome is Outcome.CHANGED]
    assert [r.document for r in amended] == [site.url("/col/t20210103_103.html")]
    assert len(alerts(store)) == 2  # expected 2, sent 2: no false alert
    assert store.count(Version) == 1 + 1 + 26 + 1  # listing ×2, replies, the amendment


async def test_a_listing_page_without_document_links_is_a_failed_check(
        config: Config, store: Store, site: Site) -> None:
    # the column was redesigned: its links no longer match the source's ``match``
    items = "".join(f"<li><a href='/xxgk/info.jsp?id={i}'>{reply_title(i)}</a>"
                    f"<span>2021-06-0{i}</span></li>" for i in range(1, 6))
    site.route("/col/index.html", Response(
        f"<html><body><ul class='list'>{items}</ul></body></html>".encode("gbk"),
        headers=GBK))
    store.sync_sources(config.sources)
    [result] = await check_pass(config, store)
    assert result.outcome is Outcome.ERROR and result.error_kind == "listing_broken"
    assert "没有找到文档链接" in (result.error or "")
    assert store.count(Version) == 0


def short_column(lis: str) -> bytes:
    """A column page as a CMS renders it: nav, a one-line intro, its list, a footer."""
    return ("<html><head><meta charset='gbk'><title>建议提案办理</title></head><body>"
            "<div class='nav'><a href='/'>首页</a><a href='/xxgk/'>信息公开</a>"
            "<a href='/zwfw/'>政务服务</a><a href='/hdjl/'>互动交流</a></div>"
            "<div class='intro'>本栏目发布省政协委员提案和省人大代表建议的办理答复，"
            f"欢迎社会各界监督。</div><ul class='list'>{lis}</ul>"
            "<div class='footer'>湘ICP备05001982号</div></body></html>").encode("gbk")


@pytest.mark.parametrize("count", [1, 2])
async def test_a_column_of_one_or_two_replies_lists_them_without_a_links_setting(
        config: Config, store: Store, site: Site, count: int) -> None:
    replies = range(100, 100 + count)
    Column(site, 0).serve_replies()  # the reply pages (its column page replaced below)
    site.route("/col/index.html", Response(short_column("".join(
        f"<li><a href='./t2021{n:04d}_{n}.html'>{reply_title(n)}</a>"
        f"<span>{list_date(n)}</span></li>" for n in replies)), headers=GBK))
    store.sync_sources(config.sources)
    [result, *docs] = await check_pass(config, store)
    assert result.outcome is Outcome.NEW, result.error
    assert [p.url for p in documents(store)] == [
        site.url(f"/col/t2021{n:04d}_{n}.html") for n in replies]
    assert [p.list_title for p in documents(store)] == [reply_title(n) for n in replies]
    assert len(docs) == count and all(r.outcome is Outcome.NEW for r in docs)


async def test_a_column_page_of_nav_links_only_is_not_a_list_and_says_what_to_set(
        config: Config, store: Store, site: Site) -> None:
    # undated links in list elements (a second menu, "专题专栏"): not documents
    menu = "".join(f"<li><a href='./t2021{n:04d}_{n}.html'>{reply_title(n)}</a></li>"
                   for n in (100, 101))
    site.route("/col/index.html", Response(short_column(menu), headers=GBK))
    store.sync_sources(config.sources)
    [result] = await check_pass(config, store)
    assert result.outcome is Outcome.ERROR and result.error_kind == "listing_broken"
    assert "没有找到文档链接" in (result.error or "")
    assert 'links = "ul.list li a"' in (result.error or "")  # what to do, in Chinese first
    assert (result.error or "").index("links =") < (result.error or "").index("no document")
    assert store.count(Version) == 0


async def test_a_reply_taken_off_the_column_is_recorded_not_alerted_once_all_pages_read(
        config: Config, store: Store, site: Site) -> None:
    column = Column(site, 15)
    column.serve_replies()
    store.sync_sources(config.sources)
    await check_pass(config, store)
    column.replies.remove(101)  # on page 2 (newest first: 114 … 105 | 104 … 100)
    site.route("/col/index_1.html", Response("服务器错误", status=500))

    await check_pass(config, store)  # page 2 failed: 101 may well be on it
    assert all(p.listed for p in documents(store))

    site.route("/col/index_1.html", column._listing(1))
    await check_pass(config, store)
    gone = [p for p in documents(store) if not p.listed]
    assert [p.url for p in gone] == [site.url("/col/t20210101_101.html")]
    with store.session() as s:
        [change] = s.exec(select(Change).where(Change.kind == "unlisted"))
    assert change.page_id == gone[0].id and not change.alert
    assert "已从栏目移除" in change.summary and alerts(store) == []


async def test_page_url_and_next_page_settings_walk_the_pages(
        tmp_path: Path, store: Store, site: Site) -> None:
    column = Column(site, 22)
    column.serve_replies()
    for how in ('page_url = "index_{n}.html"', 'next_page = "a.next"'):
        site.route("/col/index.html", _with_next(column, 0))
        site.route("/col/index_1.html", _with_next(column, 1))
        path = write_sources(tmp_path / "sources.toml", f"""
            [[sources]]
            name = "{NAME}"
            kind = "listing"
            url = "{site.url('/col/index.html')}"
            {how}
            max_pages = 3
            """)
        config = load_config(path, env={})
        async with Fetcher(config.settings) as fetcher:
            got = await inspect_source(fetcher, config.source(NAME))
        assert isinstance(got, Inspection) and got.complete
        assert len(got.extracted.documents) == 22, how


def _with_next(column: Column, k: int):  # type: ignore[no-untyped-def]
    plain = column._listing(k)

    def handle(req: Request) -> Response:
        r = plain(req)
        html = r.payload().decode("gbk").replace(
            "<div class='page'>", f"<div class='page'><a class='next' href='index_{k + 1}.html'>"
            "下一页</a>")
        return Response(html.encode("gbk"), headers=GBK)
    return handle


def cli(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MONITOR_DATABASE_URL=db)
    return subprocess.run(monitor_cmd(*args), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_listing_from_the_command_line_test_check_and_its_documents(
        config: Config, site: Site, db_url: str) -> None:
    column = Column(site, 12)
    column.serve_replies()
    sources = str(config.path)

    tried = cli("sources", "test", NAME, "--sources", sources, "--json", db=db_url)
    assert tried.returncode == 0, tried.stderr
    got = json.loads(tried.stdout)
    assert got["kind"] == "listing" and got["complete"] and len(got["documents"]) == 12
    assert got["documents"][0] == {"title": reply_title(111), "date": list_date(111),
                                   "url": site.url("/col/t20210111_111.html")}
    sample = got["first_document"]  # read with [sources.follow], as a check will
    assert sample["ok"] and "您提出的关于加快发展的第111号提案收悉" in sample["start"]

    bad = config.path.read_text("utf-8").replace('content = "div.article"',
                                                 'content = "div.nothing"')
    config.path.write_text(bad, "utf-8")
    tried = cli("sources", "test", NAME, "--sources", sources, db=db_url)
    assert "the first document fails with [sources.follow]: selector" in tried.stderr
    config.path.write_text(bad.replace("div.nothing", "div.article"), "utf-8")

    checked = cli("check", "--sources", sources, "--json", db=db_url)
    assert checked.returncode == 0, checked.stderr
    results = json.loads(checked.stdout)["results"]
    assert len(results) == 13 and sum(r["document"] is not None for r in results) == 12

    docs = json.loads(cli("history", NAME, "--documents", "--json", "--sources", sources,
                          db=db_url).stdout)
    assert [d["title"] for d in docs] == [reply_title(n) for n in range(111, 99, -1)]
    one = cli("history", site.url("/col/t20210105_105.html"), "--sources", sources,
              db=db_url)
    assert one.returncode == 0 and reply_title(105) in one.stdout
    shown = cli("show", site.url("/col/t20210105_105.html"), "--sources", sources, db=db_url)
    assert "我厅已安排专项资金105万元" in shown.stdout


def test_the_daemon_follows_a_listing_and_mails_a_new_reply_with_its_text(
        tmp_path: Path, site: Site) -> None:
    from email import message_from_bytes, policy

    column = Column(site, 12)
    column.serve_replies()
    sources = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        max_pages = 2
        interval = "2s"
        [sources.follow]
        content = "div.article"
        interval = "1d"

        [[watchers]]
        email = "analyst@example.org"
        sources = ["hn-*"]
        """)
    outbox = tmp_path / "data" / "outbox"
    daemons = Daemons(tmp_path)
    daemon = daemons.start(sources)
    try:
        wait_until(lambda: all(site.hits(f"/col/t2021{n:04d}_{n}.html") == 1
                               for n in range(100, 112)), 60, "every reply fetched once")
        assert not list(outbox.glob("*.eml"))  # the first crawl is a baseline
        new = column.publish()
        wait_until(lambda: list(outbox.glob("*.eml")), 60, "the new reply's mail")
        time.sleep(4)  # two more listing checks: nothing more to tell
        assert daemon.stop() == 0
    finally:
        daemons.kill_all()
    [eml] = outbox.glob("*.eml")
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "新文档" in mail["Subject"] and reply_title(new) in mail["Subject"]
    assert site.url(f"/col/t2021{new:04d}_{new}.html") in text
    assert f"我厅已安排专项资金{new}万元" in text
    assert all(site.hits(f"/col/t2021{n:04d}_{n}.html") == 1 for n in range(100, new + 1))


def rss(items: list[int]) -> bytes:
    entries = "".join(
        f"<item><title>{reply_title(n)}</title>"
        f"<link>/col/t2021{n:04d}_{n}.html?utm_source=rss</link>"
        f"<pubDate>Mon, {1 + n % 28:02d} Mar 2021 00:30:00 +0800</pubDate></item>"
        for n in reversed(items))
    return ("<?xml version='1.0' encoding='gb2312'?><rss version='2.0'><channel>"
            f"<title>建议提案办理</title><link>/col/</link>{entries}</channel></rss>"
            ).encode("gb2312")


async def test_a_feed_source_tracks_its_entries_like_a_listing(
        tmp_path: Path, store: Store, site: Site) -> None:
    column = Column(site, 3)
    column.serve_replies()
    site.route("/col/rss.xml", Response(rss([100, 101, 102]),
                                        headers={"Content-Type": "application/rss+xml"}))
    path = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        kind = "feed"
        url = "{site.url('/col/rss.xml')}"
        [sources.follow]
        content = "div.article"

        [[watchers]]
        email = "analyst@example.org"
        sources = ["hn-*"]
        """)
    config = load_config(path, env={})
    store.sync_sources(config.sources)
    first = await check_pass(config, store)
    assert first[0].outcome is Outcome.NEW and first[0].documents_added == 3
    assert [d.url for d in documents(store)] == [
        site.url(f"/col/t2021{n:04d}_{n}.html") for n in (102, 101, 100)]
    assert documents(store)[0].list_date == "2021-03-19"  # Beijing's date, not UTC's

    site.route("/col/rss.xml", Response(rss([100, 101, 102, 103]),
                                        headers={"Content-Type": "application/rss+xml"}))
    second = await check_pass(config, store)
    assert [r.change_kind for r in second[1:]] == ["document_added"]
    assert len(alerts(store)) == 1

    site.route("/col/rss.xml", Response(rss([]), headers={"Content-Type": "text/xml"}))
    [broken] = await check_pass(config, store)
    assert broken.outcome is Outcome.ERROR and broken.error_kind == "listing_broken"


def test_feed_and_page_kinds_refuse_the_keys_of_a_listing(tmp_path: Path) -> None:
    from monitor.errors import ConfigError

    for kind, key in (("feed", 'next_page = "a.next"'), ("page", "max_pages = 3")):
        path = write_sources(tmp_path / "sources.toml", f"""
            [[sources]]
            name = "x"
            kind = "{kind}"
            url = "http://127.0.0.1:1/x"
            {key}
            """)
        with pytest.raises(ConfigError, match=f'not for kind = "{kind}"'):
            load_config(path, env={})


async def test_an_item_pushed_past_the_pages_read_is_not_removed_a_newer_one_is(
        tmp_path: Path, store: Store, site: Site) -> None:
    column = Column(site, 15)  # two pages; the source reads only the first
    column.serve_replies()
    path = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        """)
    config = load_config(path, env={})
    store.sync_sources(config.sources)
    await check_pass(config, store)
    column.publish()  # 105, page 1's last item, slides to page 2: out of view, not removed
    await check_pass(config, store)
    assert all(p.listed for p in documents(store))

    column.replies.remove(110)  # taken off the column while newer than what is read
    await check_pass(config, store)
    assert [p.url for p in documents(store) if not p.listed] == [
        site.url("/col/t20210110_110.html")]
    requested = {r.path for r in site.requests}
    assert "/col/index_1.html" not in requested  # max_pages = 1: page 2 is never read


async def test_page_url_stops_at_the_page_count_the_column_states(
        tmp_path: Path, store: Store, site: Site) -> None:
    Column(site, 8).serve_replies()  # one page: createPageHTML(1, 0, …)
    path = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        page_url = "index_{{n}}.html"
        max_pages = 3
        """)
    config = load_config(path, env={})
    async with Fetcher(config.settings) as fetcher:
        got = await inspect_source(fetcher, config.source(NAME))
    assert isinstance(got, Inspection) and got.complete and len(got.extracted.documents) == 8
    assert site.hits("/col/index_1.html") == 0


async def test_the_follow_tags_are_the_sources_tags_too(
        config: Config, store: Store, site: Site) -> None:
    from monitor.config import watcher_warnings
    from storage.search import Search

    Column(site, 3).serve_replies()
    watching = replace(config, watchers=(replace(config.watchers[0], tags=("reply",)),))
    assert watcher_warnings(watching) == []  # "reply" is a tag of the documents
    store.sync_sources(config.sources)
    await check_pass(config, store)
    hits = Search(store).search("我厅已安排专项资金101万元", tag="reply")
    assert [h.source for h in hits.hits] == [NAME]


def test_a_document_is_checked_on_demand_and_a_shorter_follow_interval_applies(
        tmp_path: Path, site: Site, db_url: str) -> None:
    column = Column(site, 3)
    column.serve_replies()

    def write(interval: str) -> str:
        return str(write_sources(tmp_path / "sources.toml", f"""
            [[sources]]
            name = "{NAME}"
            kind = "listing"
            url = "{site.url('/col/index.html')}"
            [sources.follow]
            content = "div.article"
            interval = "{interval}"
            """))

    sources = write("1d")
    assert cli("check", "--sources", sources, db=db_url).returncode == 0
    doc = site.url("/col/t20210101_101.html")
    column.amended.add(101)
    asked = cli("check", "--source", doc, "--sources", sources, "--json", db=db_url)
    assert asked.returncode == 0, asked.stderr
    [result] = json.loads(asked.stdout)["results"]
    assert (result["document"], result["outcome"]) == (doc, "changed")
    shown = cli("diff", doc, "--sources", sources, db=db_url)
    assert "{+另，补充说明：该项目已于近期完成竣工验收。+}" in shown.stdout

    column.amended.add(102)  # and the follow interval is cut from a day to 2 s
    sources = write("2s")
    time.sleep(2.2)
    again = json.loads(cli("check", "--sources", sources, "--json", db=db_url).stdout)
    changed = [r["document"] for r in again["results"] if r["outcome"] == "changed"]
    assert changed == [site.url("/col/t20210102_102.html")]

    wrong = cli("check", "--source", site.url("/col/nothing.html"), "--sources", sources,
                db=db_url)
    assert wrong.returncode == 3 and "no source and no document has the URL" in wrong.stderr
    assert "未找到：没有哪个来源或栏目文档的网址是" in wrong.stderr  # the argument, not the file


async def test_a_column_with_links_set_stores_its_items_whatever_their_count(
        config: Config, store: Store, site: Site) -> None:
    # with ``links`` set, two items used to be stored as the whole page (nav, intro, footer,
    # "…答复2021-04-11" run together) and three as one line per item: every count change
    # across 3 was a 正文修改 of page chrome in diff, history, the web UI and the feeds
    text = config.path.read_text("utf-8").replace(
        "max_pages = 3", 'links = "ul.list li a"\n        max_pages = 3')
    config.path.write_text(text, "utf-8")
    linked = load_config(config.path, env={})
    Column(site, 0).serve_replies()
    shown: list[int] = []
    site.route("/col/index.html", lambda req: Response(short_column("".join(
        f"<li><a href='./t2021{n:04d}_{n}.html'>{reply_title(n)}</a>"
        f"<span>{list_date(n)}</span></li>" for n in shown)), headers=GBK))
    store.sync_sources(linked.sources)
    for replies in ([100, 101], [100, 101, 102], [100, 101], [100, 101, 103, 104]):
        shown[:] = replies
        [result, *_] = await run_checks(linked, store, [linked.source(NAME)], progress=False)
        assert result.outcome in (Outcome.NEW, Outcome.CHANGED), result.error
        latest = store.history(NAME)[-1]
        assert store.version(latest.id).text == "\n".join(
            f"{reply_title(n)} | {list_date(n)}" for n in replies)
    with store.session() as s:
        own = list(s.exec(select(Change).where(Change.page_id == first_page(store))
                          .order_by(col(Change.id))))
    assert [c.summary for c in own] == [
        f"新增「{reply_title(102)}」", f"删除「{reply_title(102)}」",
        f"新增「{reply_title(103)}」；新增「{reply_title(104)}」"]
    shown.clear()  # no item at all: a failed check that says so, not the page's chrome
    [result] = await run_checks(linked, store, [linked.source(NAME)], progress=False)
    assert result.outcome is Outcome.ERROR and result.error_kind == "listing_broken"
    assert "没有找到文档链接" in (result.error or "") and len(store.history(NAME)) == 4


async def test_an_undated_item_in_a_column_with_links_set_keeps_items_named(
        tmp_path: Path, store: Store, site: Site) -> None:
    """One undated item among dated ones: every change is still told by the items'
    titles (新增「…」), not by paragraph numbers (第4段新增)."""
    config = load_config(write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        links = "ul.list li a"
        interval = "1h"
        """), env={})
    Column(site, 0).serve_replies()
    site.route("/col/d3.html", "<html><body><div>" + "关于E的答复。" * 20 + "</div></body></html>")
    dated = [102, 101, 100]

    def serve(*, undated: bool) -> None:
        lis = "".join(f"<li><a href='./t2021{n:04d}_{n}.html'>{reply_title(n)}</a>"
                      f"<span>{list_date(n)}</span></li>" for n in dated)
        lis += "<li><a href='d3.html'>关于E的答复</a></li>" if undated else ""
        site.route("/col/index.html", Response(short_column(lis), headers=GBK))

    def summaries() -> list[str]:
        with store.session() as s:
            return [c.summary for c in s.exec(
                select(Change).where(Change.page_id == first_page(store),
                                     Change.kind == "changed").order_by(col(Change.id)))]

    store.sync_sources(config.sources)
    serve(undated=False)
    await check_pass(config, store)
    serve(undated=True)
    await check_pass(config, store)
    dated.insert(0, 103)
    serve(undated=True)
    await check_pass(config, store)
    dated.remove(101)
    serve(undated=True)
    await check_pass(config, store)
    said = summaries()
    assert said == ["新增「关于E的答复」", f"新增「{reply_title(103)}」",
                    f"删除「{reply_title(101)}」"], said


async def test_a_links_setting_that_matches_nothing_is_named_not_suggested_again(
        tmp_path: Path, store: Store, site: Site) -> None:
    config = load_config(write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        links = "ul.list li a"
        interval = "1h"
        """), env={})
    # the column was redesigned: its items are no longer in ul.list
    site.route("/col/index.html", Response(short_column("").replace(
        b"<ul class='list'></ul>", "<div class='items'><a href='./t20210100_100.html'>"
        f"{reply_title(100)}</a></div>".encode("gbk")), headers=GBK))
    store.sync_sources(config.sources)
    [result] = await check_pass(config, store)
    error = result.error or ""
    assert result.outcome is Outcome.ERROR and result.error_kind == "listing_broken", error
    assert 'links = "ul.list li a" 没有匹配到任何文档链接' in error
    assert "例如" not in error and error.index("没有匹配到") < error.index("no document")


async def test_an_item_retitled_under_the_same_link_is_one_item_changed(
        tmp_path: Path, store: Store, site: Site) -> None:
    """The same URL, its title and date changed: 「旧」改为「新」 with the date, not 新增 and
    删除; a date change alone reads as before; a new link is still 新增."""
    config = load_config(write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        links = "ul.list li a"
        interval = "1h"
        """), env={})
    Column(site, 0).serve_replies()
    titles = {n: reply_title(n) for n in (100, 101, 102)}
    dates = {n: list_date(n) for n in titles}

    def serve() -> None:
        lis = "".join(f"<li><a href='./t2021{n:04d}_{n}.html'>{titles[n]}</a>"
                      f"<span>{dates[n]}</span></li>" for n in sorted(titles, reverse=True))
        site.route("/col/index.html", Response(short_column(lis), headers=GBK))

    store.sync_sources(config.sources)
    serve()
    await check_pass(config, store)
    titles[101], dates[101] = f"{reply_title(101)}（修订）", "2021-06-01"
    serve()
    await check_pass(config, store)
    dates[100] = "2021-06-02"
    serve()
    await check_pass(config, store)
    titles[102] = f"{reply_title(102)}（已撤回）"  # retitled, same date
    titles[103], dates[103] = reply_title(103), list_date(103)  # and a new item
    serve()
    await check_pass(config, store)
    with store.session() as s:
        said = [c.summary for c in s.exec(
            select(Change).where(Change.page_id == first_page(store),
                                 Change.kind == "changed").order_by(col(Change.id)))]
    assert said == [
        f"「{reply_title(101)}」改为「{reply_title(101)}（修订）」，"
        f"日期 {list_date(101)} → 2021-06-01",
        f"「{reply_title(100)}」日期 {list_date(100)} → 2021-06-02",
        f"新增「{reply_title(103)}」；「{reply_title(102)}」改为「{reply_title(102)}（已撤回）」",
    ], said
