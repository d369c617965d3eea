"""The edges of a listing source: a later page that fails for a moment, a column page's
own attachments.  The column is the TRS-style GBK column of ``test_listing_sources``
(ten replies a page, newest first, the page count stated by ``createPageHTML``)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import select

from monitor.config import Config, load_config
from monitor.fetch import Fetcher
from monitor.pipeline import inspect_source
from monitor.types import Inspection, Outcome
from storage import Store
from storage.models import Check, Version
from tests.conftest import write_sources
from tests.sites import Response, Site
from tests.test_listing_sources import (
    GBK,
    NAME,
    Column,
    alerts,
    check_pass,
    config,  # noqa: F401  (the fixture)
    documents,
    reply_title,
)


def listed(store: Store) -> list[str]:
    return [p.url for p in documents(store) if p.listed]


async def test_a_later_page_gone_for_a_moment_is_a_failed_check_not_the_column_s_end(
        config: Config, store: Store, site: Site) -> None:  # noqa: F811
    column = Column(site, 25)  # three pages; the column states "3"
    column.serve_replies()
    store.sync_sources(config.sources)
    await check_pass(config, store)
    everything = listed(store)
    assert len(everything) == 25
    site.route("/col/index_1.html", Response("<html><body>404 Not Found</body></html>",
                                             status=404))  # page 2, not regenerated yet
    [failed] = await check_pass(config, store)
    assert failed.outcome is Outcome.ERROR and failed.error_kind == "listing_broken"
    assert "栏目第2页" in (failed.error or "") and "404" in (failed.error or "")
    assert listed(store) == everything  # not one of page 2's or 3's replies unlisted
    with store.session() as s:  # the failure is on record, with the page's status
        last = s.exec(select(Check).order_by(Check.id.desc())).first()  # type: ignore[union-attr]
    assert last is not None and last.error_kind == "listing_broken" and last.http_status == 404

    site.route("/col/index_1.html", column._listing(1))  # back
    [back] = await check_pass(config, store)
    assert back.outcome is Outcome.UNCHANGED  # nothing removed, nothing new, no version
    assert listed(store) == everything and alerts(store) == []
    assert store.count(Version) == 1 + 25


async def test_a_later_page_broken_for_three_checks_keeps_the_pages_before_it(
        config: Config, store: Store, site: Site) -> None:  # noqa: F811
    column = Column(site, 25)
    column.serve_replies()
    store.sync_sources(config.sources)
    await check_pass(config, store)
    everything = listed(store)
    site.route("/col/index_2.html", Response("服务器错误", status=503))  # page 3 stays down
    outcomes = [(await check_pass(config, store))[0].outcome for _ in range(2)]
    assert outcomes == [Outcome.ERROR, Outcome.ERROR]
    new = column.publish()  # a reply on page 1 while page 3 is still broken
    third = await check_pass(config, store)
    assert third[0].outcome is Outcome.CHANGED  # believed: pages 1 and 2 read
    assert [r.change_kind for r in third[1:]] == ["document_added"]  # the reply found
    assert third[1].document == site.url(f"/col/t2021{new:04d}_{new}.html")
    assert set(everything) <= set(listed(store))  # page 3's replies not unlisted
    assert len(alerts(store)) == 1


async def test_page_url_probing_without_a_stated_count_ends_at_a_gone_page(
        tmp_path: Path, site: Site) -> None:
    items = "".join(f"<li><a href='./t2021{n:04d}_{n}.html'>{reply_title(n)}</a>"
                    f"<span>2021-06-{n - 90:02d}</span></li>" for n in range(100, 110))
    page = ("<html><head><meta charset='gbk'><title>建议提案办理</title></head><body>"
            f"<ul class='list'>{items}</ul></body></html>").encode("gbk")
    site.route("/col/index.html", Response(page, headers=GBK))
    site.route("/col/index_1.html", Response(page.replace(b"_10", b"_11"), headers=GBK))
    path = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        page_url = "index_{{n}}.html"
        max_pages = 5
        """)
    cfg = load_config(path, env={})
    async with Fetcher(cfg.settings) as fetcher:
        got = await inspect_source(fetcher, cfg.source(NAME))
    assert isinstance(got, Inspection) and got.complete  # index_2.html: 404, the end
    assert len(got.extracted.documents) == 20
    assert site.hits("/col/index_2.html") == 1 and site.hits("/col/index_3.html") == 0


def test_sources_test_names_the_attachments_of_a_page_and_of_a_listing_s_document(
        tmp_path: Path, site: Site) -> None:
    from tests import documents as gen
    from tests.test_attachments import DOCX_TYPE, PDF_TYPE, Reply, reply_pdf
    from tests.test_listing_sources import cli

    reply = Reply(site, "/col/t20210101_101.html")
    reply.attach("/files/reply.pdf", "答复全文", reply_pdf(), PDF_TYPE)
    reply.attach("/files/note.docx", "说明.docx", gen.docx(["办理说明。"]), DOCX_TYPE)
    items = (f"<li><a href='./t20210101_101.html'>{reply_title(101)}</a>"
             "<span>2021-06-01</span></li>" + "".join(
                 f"<li><a href='./t2021{n:04d}_{n}.html'>{reply_title(n)}</a>"
                 f"<span>2021-05-{n - 80:02d}</span></li>" for n in range(90, 95)))
    site.route("/col/index.html", Response(
        ("<html><head><meta charset='gbk'><title>建议提案办理</title></head><body>"
         f"<ul class='list'>{items}</ul></body></html>").encode("gbk"), headers=GBK))
    path = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "reply"
        url = "{site.url('/col/t20210101_101.html')}"
        content = "div.article"

        [[sources]]
        name = "{NAME}"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        [sources.follow]
        content = "div.article"
        """)
    db = f"sqlite:///{tmp_path / 'unused.db'}"
    pdf, docx = site.url("/files/reply.pdf"), site.url("/files/note.docx")

    page = cli("sources", "test", "reply", "--sources", str(path), db=db)
    assert page.returncode == 0, page.stderr
    rows = [line for line in page.stdout.splitlines() if "/files/" in line]
    assert len(rows) == 2
    assert "答复全文" in rows[0] and "PDF" in rows[0] and pdf in rows[0]
    assert "说明.docx" in rows[1] and "DOCX" in rows[1] and docx in rows[1]

    listing = cli("sources", "test", NAME, "--sources", str(path), db=db)
    assert listing.returncode == 0, listing.stderr
    assert "attachments of the first document" in listing.stdout
    assert pdf in listing.stdout and docx in listing.stdout
    got = json.loads(cli("sources", "test", NAME, "--json", "--sources", str(path),
                         db=db).stdout)
    assert got["first_document"]["attachments"] == [
        {"name": "答复全文", "format": "pdf", "url": pdf},
        {"name": "说明.docx", "format": "docx", "url": docx}]
    assert site.hits("/files/reply.pdf") == 0  # named, not downloaded by a test


async def test_a_column_s_file_links_are_documents_when_listed_its_chrome_files_are_not_fetched(
        tmp_path: Path, store: Store, site: Site) -> None:
    """The decision (README, listing sources): a column page's own attachments are not
    fetched.  A file listed as an item is a document (its text is its version, a new
    file is 新文档, a replaced one a change); a file in the page's chrome is not the
    news and would cost a download on every listing check."""
    from tests.test_attachments import NEW_AMOUNT, PDF_TYPE, reply_pdf
    from tests.test_listing_sources import pass_a_day

    pdf = {"body": reply_pdf()}
    site.route("/col/t20210102_102.pdf",
               lambda req: Response(pdf["body"], headers={"Content-Type": PDF_TYPE}))
    site.route("/col/guide.pdf", Response(reply_pdf(), headers={"Content-Type": PDF_TYPE}))
    for n in (100, 101):
        site.route(f"/col/t2021{n:04d}_{n}.html", Response(
            f"<html><body><div class='article'><h1>{reply_title(n)}</h1><p>您提出的第{n}号"
            "提案收悉，现答复如下：我厅已安排专项资金，用于支持园区建设。</p></div>"
            "</body></html>", headers={"Content-Type": "text/html; charset=utf-8"}))
    items = (f"<li><a href='./t20210102_102.pdf'>{reply_title(102)}</a>"
             "<span>2021-06-03</span></li>" + "".join(
                 f"<li><a href='./t2021{n:04d}_{n}.html'>{reply_title(n)}</a>"
                 f"<span>2021-06-0{n - 99}</span></li>" for n in (101, 100)))
    site.route("/col/index.html", Response(
        "<html><head><title>建议提案办理</title></head><body><div class='side'>"
        "<a href='/col/guide.pdf'>办事指南.pdf</a></div>"
        f"<ul class='list'>{items}</ul></body></html>",
        headers={"Content-Type": "text/html; charset=utf-8"}))
    path = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        [sources.follow]
        interval = "1d"

        [[watchers]]
        email = "analyst@example.org"
        sources = ["*"]
        """)
    cfg = load_config(path, env={})
    store.sync_sources(cfg.sources)
    await check_pass(cfg, store)
    file_doc = site.url("/col/t20210102_102.pdf")
    assert file_doc in listed(store) and len(listed(store)) == 3
    text = store.latest_version(file_doc).text
    assert "68.1亿元" in text  # the PDF reply's own text is its version
    assert site.hits("/col/guide.pdf") == 0  # the column's chrome file: not fetched
    assert not store.latest_version(NAME).attachments

    pdf["body"] = reply_pdf(NEW_AMOUNT)  # the reply PDF replaced under its link
    pass_a_day(store)
    results = await check_pass(cfg, store)
    [changed] = [r for r in results if r.outcome is Outcome.CHANGED]
    assert changed.document == file_doc and changed.alerts == 1
    assert "71.4亿元" in store.latest_version(file_doc).text
    assert site.hits("/col/guide.pdf") == 0


def test_sources_test_says_when_max_pages_left_older_documents_unread(
        tmp_path: Path, site: Site) -> None:
    from tests.test_listing_sources import cli

    Column(site, 15).serve_replies()  # two pages; the source reads one
    path = write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        kind = "listing"
        url = "{site.url('/col/index.html')}"
        max_pages = 1
        """)
    out = cli("sources", "test", NAME, "--sources", str(path),
              db=f"sqlite:///{tmp_path / 'unused.db'}")
    assert out.returncode == 0, out.stderr
    assert "10 documents (more pages than max_pages = 1: older ones not read)" in out.stdout
