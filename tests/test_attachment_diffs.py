"""An attachment's change read outside the alert: ``monitor diff``, the web UI's diff
page, ``monitor diff --html`` and the Atom feeds show the replaced file's text diff (not
only "附件已修改"), and "文本无法提取（…）" for a file without text, never binary noise.

The site is ``test_attachments``' reply page with a PDF set in STSong-Light whose amount
changes (68.1亿元 → 71.4亿元), then is swapped for a scan.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from monitor.config import Config
from monitor.types import Outcome
from monitor.web.app import create_app
from storage import Store
from tests import documents as gen
from tests.sites import Site
from tests.test_attachments import (
    NEW_AMOUNT,
    PDF_TYPE,
    Reply,
    check,
    config,  # noqa: F401  (the fixture)
    reply_pdf,
)
from tests.test_listing_sources import cli
from tests.test_web_api import running

CLI_DIFF = "规模达到[-68.1-]{+71.4+}亿元"
HTML_DIFF = ">68.1</del><ins"


async def test_diff_web_and_feeds_show_an_attachment_s_text_diff(
        config: Config, store: Store, site: Site, db_url: str,  # noqa: F811
        tmp_path: Path) -> None:
    reply = Reply(site)
    reply.attach("/files/reply.pdf", "答复全文.pdf", reply_pdf(), PDF_TYPE)
    assert (await check(config, store)).outcome is Outcome.NEW
    reply.attach("/files/reply.pdf", "答复全文.pdf", reply_pdf(NEW_AMOUNT), PDF_TYPE)
    changed = await check(config, store)
    assert changed.change_kind == "attachment_changed"
    old, new = sorted(v.id for v in store.history("reply"))
    sources = str(config.path)

    plain = cli("diff", "reply", "--sources", sources, db=db_url)
    assert plain.returncode == 0, plain.stderr
    assert f"附件已修改「答复全文.pdf」 {site.url('/files/reply.pdf')}" in plain.stdout
    assert CLI_DIFF in plain.stdout  # the file's own text, diffed
    as_json = json.loads(cli("diff", str(old), str(new), "--json", "--sources", sources,
                             db=db_url).stdout)
    [att] = as_json["attachments"]
    assert att["change"] == "changed" and att["name"] == "答复全文.pdf"
    assert CLI_DIFF in att["text"]
    page = tmp_path / "diff.html"
    assert cli("diff", "reply", "--html", str(page), "--sources", sources,
               db=db_url).returncode == 0
    assert HTML_DIFF in page.read_text(encoding="utf-8")

    with running(create_app(config, store)) as base:
        async with httpx.AsyncClient(base_url=base) as web:
            diff_page = (await web.get("/diff", params={"a": old, "b": new})).text
            api = (await web.get("/api/diff", params={"a": old, "b": new})).json()
            feed = (await web.get("/feeds/changes.atom")).text
            source_feed = (await web.get("/feeds/sources/reply.atom")).text
    assert "附件变化" in diff_page and HTML_DIFF in diff_page
    [api_att] = api["attachments"]  # programs get what the page shows
    assert api_att["change"] == "changed" and api_att["name"] == "答复全文.pdf"
    assert CLI_DIFF in api["attachments_text"] and HTML_DIFF in api["attachments_html"]
    # the feed carries the diff as escaped HTML text
    assert "&gt;68.1&lt;/del&gt;&lt;ins" in feed and "答复全文.pdf" in feed
    assert "&gt;68.1&lt;/del&gt;&lt;ins" in source_feed


async def test_a_file_without_text_is_said_so_never_diffed(
        config: Config, store: Store, site: Site, db_url: str) -> None:  # noqa: F811
    reply = Reply(site)
    reply.attach("/files/reply.pdf", "答复全文.pdf", reply_pdf(), PDF_TYPE)
    await check(config, store)
    reply.attach("/files/reply.pdf", "答复全文.pdf", gen.scanned_pdf(), PDF_TYPE)
    assert (await check(config, store)).change_kind == "attachment_changed"
    out = cli("diff", "reply", "--sources", str(config.path), db=db_url)
    assert out.returncode == 0, out.stderr
    assert "附件已修改「答复全文.pdf」" in out.stdout and "文本无法提取（" in out.stdout
    assert "[-" not in out.stdout  # the page text is the same; the file is not diffed

