"""A listing's documents after their announcement: a reply told before it could be read
gets its text told later (新文档正文); a reply taken off the column keeps being checked
until its page is gone, which is told; ``monitor status`` counts a listing's gone
documents."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from alerts.compose import Composer
from monitor.config import Config
from monitor.types import Outcome
from storage import Store
from storage.alerts_repo import AlertsRepo
from storage.models import Alert, Change
from tests.sites import Response, Site
from tests.test_listing_sources import (
    GBK,
    Column,
    alerts,
    check_pass,
    config,  # noqa: F401  (the fixture)
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
    from monitor.config import load_config
    from tests.conftest import write_sources

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
