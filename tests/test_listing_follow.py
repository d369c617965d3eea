"""A listing's documents after their announcement: a reply told before it could be read
gets its text told later (新文档正文); a reply taken off the column keeps being checked
until its page is gone, which is told; ``monitor status`` counts a listing's gone
documents."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from pathlib import Path

from sqlmodel import col, select, update

from alerts.compose import Composer
from monitor.config import Config, load_config, watcher_warnings
from monitor.types import Outcome
from storage import Store
from storage.alerts_repo import AlertsRepo
from storage.instant import utcnow
from storage.models import Alert, Change, Page
from tests.conftest import write_sources
from tests.sites import Response, Site
from tests.test_listing_sources import (
    GBK,
    NAME,
    Column,
    alerts,
    check_pass,
    cli,
    config,  # noqa: F401  (the fixture)
    documents,
    pass_a_day,
    reply_title,
)


def mail(cfg: Config, store: Store, alert: Alert):  # type: ignore[no-untyped-def]
    repo = AlertsRepo(store)
    return Composer(cfg.settings, repo).change(repo.change_view(alert.change_id or 0),
                                                  alert.recipient)


async def test_a_reply_told_before_it_could_be_read_is_told_again_with_its_text(
        config: Config, store: Store, site: Site) -> None:  # noqa: F811
    column = Column(site, 5)
    column.serve_replies()
    store.sync_sources(config.sources)
    await check_pass(config, store)  # the baseline
    new = column.publish()
    path = f"/col/t2021{new:04d}_{new}.html"
    half = ("<html><head><meta charset='gbk'><title>答复</title></head><body>"
            "<div class='loading'>页面正在生成，请稍候</div></body></html>")
    site.route(path, Response(half.encode("gbk"), headers=GBK))  # not published fully

    second = await check_pass(config, store)
    assert second[1].outcome is Outcome.ERROR and second[1].change_kind == "document_added"
    [told] = alerts(store)
    first = mail(config, store, told)
    assert "正文暂未获取" in first.text
    # the reply's title from the listing, not the source's name twice
    assert first.subject == f"[monitor] {config.sources[0].name} {reply_title(new)} — 新文档"

    column.serve_replies()  # the page is readable now
    pass_a_day(store)
    third = await check_pass(config, store)
    [doc] = [r for r in third[1:] if r.document == site.url(path)]
    assert doc.outcome is Outcome.NEW and doc.change_kind == "document_text"
    [_, text] = alerts(store)
    assert text.recipient == told.recipient
    sent = mail(config, store, text)
    assert "新文档正文" in sent.subject and reply_title(new) in sent.subject
    assert f"我厅已安排专项资金{new}万元" in sent.text  # the text "暂未获取" promised

    pass_a_day(store)  # read again: told once, not at every reading
    await check_pass(config, store)
    assert len(alerts(store)) == 2
    with store.session() as s:
        kinds = [c.kind for c in s.exec(select(Change).where(Change.alert))]
    assert kinds == ["document_added", "document_text"]


async def test_a_watcher_of_new_documents_by_kind_gets_the_text_told_later(
        tmp_path: Path, store: Store, site: Site) -> None:
    column = Column(site, 5)
    column.serve_replies()
    cfg = load_config(write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "hn-col"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        match = 't2021\\d{{4}}_\\d+\\.html$'
        [sources.follow]
        content = "div.article"

        [[watchers]]
        email = "new@example.org"
        sources = ["hn-*"]
        kinds = ["document_added"]
        """), env={})
    store.sync_sources(cfg.sources)
    from monitor.cli.check import run_checks

    await run_checks(cfg, store, [cfg.source("hn-col")], progress=False)
    new = column.publish()
    path = f"/col/t2021{new:04d}_{new}.html"
    site.route(path, lambda req: Response(b"", status=404))
    await run_checks(cfg, store, [cfg.source("hn-col")], progress=False)
    column.serve_replies()
    pass_a_day(store)
    await run_checks(cfg, store, [cfg.source("hn-col")], progress=False)
    [added, text] = alerts(store)
    assert mail(cfg, store, added).subject == f"[monitor] hn-col {reply_title(new)} — 新文档"
    assert f"我厅已安排专项资金{new}万元" in mail(cfg, store, text).text


async def test_a_reply_taken_off_the_column_is_checked_until_its_deletion_is_told(
        config: Config, store: Store, site: Site, db_url: str) -> None:  # noqa: F811
    column = Column(site, 5)
    column.serve_replies()
    store.sync_sources(config.sources)
    await check_pass(config, store)
    column.replies.remove(102)
    await check_pass(config, store)  # recorded as unlisted, not alerted
    path = "/col/t20210102_102.html"
    [off] = [p for p in documents(store) if not p.listed]
    assert off.url == site.url(path) and alerts(store) == []

    site.route(path, Response("<h1>404 页面不存在</h1>".encode(), status=404))  # deleted
    for _ in range(config.settings.gone_after):
        pass_a_day(store)
        await check_pass(config, store)
    [gone] = [p for p in documents(store) if p.id == off.id]
    assert gone.status == "gone"
    [told] = alerts(store)
    sent = mail(config, store, told)
    assert "页面已删除" in sent.subject and reply_title(102) in sent.subject

    hits = site.hits(path)
    pass_a_day(store)
    await check_pass(config, store)
    assert site.hits(path) == hits  # gone and off the column: it rests

    sources = str(config.path)
    shown = cli("history", NAME, "--documents", "--sources", sources, db=db_url)
    assert "已删除，已不在栏目中（gone, unlisted）" in shown.stdout, shown.stderr
    status = cli("status", "--sources", sources, db=db_url)
    assert "正常（ok），1 篇文档已删除" in status.stdout, status.stderr
    as_json = json.loads(cli("status", "--json", "--sources", sources, db=db_url).stdout)
    assert as_json["sources"][0]["documents_gone"] == 1


def test_a_watcher_asking_for_unlisted_changes_which_are_never_told_is_warned(
        tmp_path: Path) -> None:
    path = write_sources(tmp_path / "sources.toml", """
        [[sources]]
        name = "hn-col"
        url = "https://example.org/col/index.html"

        [[watchers]]
        email = "off@example.org"
        sources = ["hn-*"]
        kinds = ["unlisted"]
        """)
    loaded = load_config(path, env={})  # a file that loaded before the upgrade still loads
    [said] = watcher_warnings(loaded)
    assert "已从栏目移除" in said and "从不发送提醒" in said and 'kinds = ["gone"]' in said


async def test_status_counts_a_listing_s_documents_whose_page_is_gone(
        config: Config, store: Store, site: Site, db_url: str) -> None:  # noqa: F811
    column = Column(site, 5)
    column.serve_replies()
    store.sync_sources(config.sources)
    await check_pass(config, store)
    # still listed, its page deleted: the column itself reads fine
    site.route("/col/t20210103_103.html", Response(b"not found", status=404))
    for _ in range(config.settings.gone_after):
        pass_a_day(store)
        await check_pass(config, store)
    sources = str(config.path)
    status = cli("status", "--sources", sources, db=db_url)
    assert f"{NAME}" in status.stdout, status.stderr
    assert "正常（ok），1 篇文档已删除" in status.stdout, status.stderr


def _off_since(store: Store, page_id: int, days: int) -> None:
    """The document taken off its listing ``days`` ago (the clock is not the test's)."""
    with store.session() as s:
        s.execute(update(Page).where(col(Page.id) == page_id)
                  .values(unlisted_at=utcnow() - timedelta(days=days)))
        s.commit()


def _waits(store: Store) -> dict[str, float]:
    """Each document's wait until its next check, in days, by URL."""
    now = utcnow()
    return {p.url: ((p.next_check_at.replace(tzinfo=UTC) if p.next_check_at.tzinfo is None
                     else p.next_check_at) - now).total_seconds() / 86400
            for p in documents(store) if p.next_check_at is not None}


async def test_a_reply_taken_off_the_column_is_checked_ever_more_rarely_until_gone(
        config: Config, store: Store, site: Site, db_url: str) -> None:  # noqa: F811
    column = Column(site, 5)
    column.serve_replies()
    store.sync_sources(config.sources)
    await check_pass(config, store)
    column.replies.remove(102)
    await check_pass(config, store)  # recorded as unlisted
    path = "/col/t20210102_102.html"
    [off] = [p for p in documents(store) if not p.listed]
    url = site.url(path)

    # off for a day, then 5, then 40: a follow interval (1d), then 4, then 16
    for days, (low, high) in ((0, (0.0, 1.0)), (5, (3.0, 4.0)), (40, (15.0, 16.0))):
        _off_since(store, off.id or 0, days)
        hits = site.hits(path)
        pass_a_day(store)
        await check_pass(config, store)
        assert site.hits(path) == hits + 1  # still checked: its deletion would be told
        waits = _waits(store)
        assert low <= waits[url] <= high, (days, waits[url])
        assert all(0 < w <= 1.0 for u, w in waits.items() if u != url), waits  # listed

    # its page deleted: still found and told, and status counts it
    site.route(path, Response("<h1>404 页面不存在</h1>".encode(), status=404))
    for _ in range(config.settings.gone_after):
        pass_a_day(store)
        await check_pass(config, store)
    assert [p.status for p in documents(store) if p.id == off.id] == ["gone"]
    assert "页面已删除" in mail(config, store, alerts(store)[-1]).subject
    status = json.loads(cli("status", "--json", "--sources", str(config.path),
                            db=db_url).stdout)
    assert status["sources"][0]["documents_gone"] == 1
