"""A column page (建议提案办理) as a plain source, checked end to end on a real local site.

What a watcher must get: a new reply in the column is told with its link; a render of
the column without its list (a CMS hiccup) is a failed check, never "everything
removed" and never a 内容来回变化 when the list comes back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, select

from alerts.compose import Composer
from monitor.config import Config, load_config
from monitor.fetch import Fetcher
from monitor.pipeline import Checker
from monitor.types import CheckResult, Outcome
from storage import Store
from storage.alerts_repo import AlertsRepo
from storage.models import Alert, Change, Check, Version
from tests.conftest import write_sources
from tests.sites import Response, Site

NAME = "hn-gxt-replies"
PATH = "/gxt/xxgk/jytabl/index.html"
REPLIES = [f"关于省政协十二届四次会议第{n:04d}号提案的答复" for n in range(180, 200)]


def column(titles: list[str], *, with_list: bool = True) -> bytes:
    """The column in GBK, newest first, between nav, pagination and footer."""
    items = "".join(f"<li><a href='t202106{i:02d}_{i}.html' target='_blank'>{t}</a>"
                    f"<span class='date'>2021-06-{i + 1:02d}</span></li>"
                    for i, t in reversed(list(enumerate(titles))))
    body = f"<ul class='list'>{items}</ul>" if with_list else "<div class='list'></div>"
    html = ("<html><head><meta charset='gbk'><title>建议提案办理-湖南省工业和信息化厅</title>"
            "</head><body><div class='nav'><a href='/'>首页</a><a href='/xxgk/'>信息公开</a>"
            f"</div><div class='main'><h2>建议提案办理</h2>{body}"
            "<div class='page'><a href='index_1.html'>下一页</a> 共5页</div></div>"
            "<div class='footer'>主办：湖南省工业和信息化厅 湘ICP备05001982号</div></body></html>")
    return html.encode("gbk")


def serve(site: Site, page: bytes) -> None:
    site.route(PATH, Response(page, headers={"Content-Type": "text/html"}))


@pytest.fixture
def config(tmp_path: Path, site: Site) -> Config:
    path = write_sources(tmp_path / "sources.toml", "\n".join([
        "[[sources]]", f'name = "{NAME}"', f'url = "{site.url(PATH)}"', "",
        "[[watchers]]", 'email = "analyst@example.org"', 'sources = ["hn-*"]', ""]))
    return load_config(path, env={})


async def check(config: Config, store: Store) -> CheckResult:
    async with Fetcher(config.settings) as fetcher:
        return await Checker(config, store, fetcher).check(config.source(NAME))


def changes(store: Store) -> list[Change]:
    with store.session() as s:
        return list(s.exec(select(Change).order_by(col(Change.id))))


async def test_a_new_reply_in_a_column_is_told_with_its_link(
        config: Config, store: Store, site: Site) -> None:
    serve(site, column(REPLIES[:12]))
    assert (await check(config, store)).outcome is Outcome.NEW
    serve(site, column(REPLIES[:13]))

    result = await check(config, store)

    assert result.outcome is Outcome.CHANGED and result.change_kind == "reply_added"
    [change] = changes(store)
    link = site.url("/gxt/xxgk/jytabl/t20210612_12.html")
    assert change.details["documents"] == [
        {"url": link, "title": REPLIES[12], "date": "2021-06-13"}]
    msg = Composer(config.settings, AlertsRepo(store)).change(
        AlertsRepo(store).change_view(change.id or 0), "analyst@example.org")
    assert f"{REPLIES[12]}（2021-06-13） {link}" in msg.text
    assert f'href="{link}"' in msg.html


async def test_a_render_without_the_list_is_a_failed_check_not_everything_removed(
        config: Config, store: Store, site: Site) -> None:
    serve(site, column(REPLIES[:12]))
    await check(config, store)
    for _ in range(2):  # the CMS renders its chrome without the list, twice
        serve(site, column(REPLIES[:12], with_list=False))
        broken = await check(config, store)
        assert broken.outcome is Outcome.ERROR and broken.error_kind == "listing_broken"
        assert "栏目页只列出 0 篇文档（上次 12 篇）" in (broken.error or "")
    serve(site, column(REPLIES[:12]))  # and the list is back

    assert (await check(config, store)).outcome is Outcome.UNCHANGED
    assert store.count(Version) == 1 and changes(store) == []
    assert store.count(Alert) == 0  # not 删除, not 内容来回变化


async def test_a_column_cut_below_half_is_believed_on_the_third_check_in_a_row(
        config: Config, store: Store, site: Site) -> None:
    serve(site, column(REPLIES[:12]))
    await check(config, store)
    serve(site, column(REPLIES[:4]))  # the site really pruned the column
    outcomes = [(await check(config, store)).outcome for _ in range(3)]

    assert outcomes == [Outcome.ERROR, Outcome.ERROR, Outcome.CHANGED]
    assert store.count(Version) == 2
    with store.session() as s:
        kinds = [c.error_kind for c in s.exec(select(Check).order_by(col(Check.id)))]
    assert kinds == [None, "listing_broken", "listing_broken", None]


async def test_an_article_that_loses_a_dated_table_is_still_an_edit(
        config: Config, store: Store, site: Site) -> None:
    rows = "".join(f"<tr><td>项目{i}</td><td>2021-06-0{i}</td></tr>" for i in range(1, 6))
    prose = "<p>现答复如下：我厅高度重视，已安排专项资金用于园区建设，取得明显成效。</p>" * 6

    def page(table: str) -> bytes:
        return (f"<html><head><title>答复</title></head><body><div class='article'>{prose}"
                f"<table>{table}</table></div></body></html>").encode("gbk")

    serve(site, page(rows))
    await check(config, store)
    serve(site, page(""))
    assert (await check(config, store)).outcome is Outcome.CHANGED


# --- a watched URL that answers with a file ---------------------------------------------


@pytest.mark.parametrize("content_type", ["application/pdf", "text/html; charset=utf-8"])
async def test_a_pdf_at_a_watched_url_is_tracked_by_its_text_never_binary_noise(
        config: Config, store: Store, site: Site, content_type: str) -> None:
    from tests import documents as docs

    first = docs.pdf([docs.REPLY, docs.REPLY_PAGE2], table=docs.REPLY_TABLE)
    site.route(PATH, Response(first, headers={"Content-Type": content_type}))
    assert (await check(config, store)).outcome is Outcome.NEW
    stored = store.latest_version(NAME)
    assert stored.text.split("\n")[:len(docs.REPLY)] == docs.REPLY
    assert stored.metadata["文件格式"] == "PDF" and "\ufffd" not in stored.text

    amended = [p.replace("68.1", "71.5") for p in docs.REPLY_TABLE[1]]
    table = [docs.REPLY_TABLE[0], amended, docs.REPLY_TABLE[2]]
    site.route(PATH, Response(docs.pdf([docs.REPLY, docs.REPLY_PAGE2], table=table),
                              headers={"Content-Type": content_type}))
    result = await check(config, store)
    assert result.outcome is Outcome.CHANGED and result.change_kind == "changed"
    assert "71.5" in store.latest_version(NAME).text


async def test_a_scanned_pdf_is_a_version_told_apart_by_its_bytes(
        config: Config, store: Store, site: Site) -> None:
    from tests import documents as docs

    site.route(PATH, Response(docs.scanned_pdf(), headers={"Content-Type": "application/pdf"}))
    assert (await check(config, store)).outcome is Outcome.NEW
    meta = store.latest_version(NAME).metadata
    assert meta["文本"] == "文本无法提取（无文本层：可能是扫描件或图片）"
    assert len(meta["文件SHA-256"]) == 64
    assert (await check(config, store)).outcome is Outcome.UNCHANGED
