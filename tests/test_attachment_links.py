"""An attachment whose link changes while its file does not: a cache buster or a download
token in the query (``附件.pdf?t=<a new number on every response>``), a ``?v=`` added
once.  The same name and the same bytes are the same attachment: nothing is told, ever
(``monitor.detect._moved``); a new file under the same name at a new link is that
attachment replaced, told once as 附件已修改 with its text diff, never as one file added
and one deleted."""

from __future__ import annotations

import itertools

from monitor.config import Config
from monitor.types import Outcome
from storage import Store
from storage.models import Version
from tests.sites import Request, Response, Site
from tests.test_attachments import (
    NEW_AMOUNT,
    PDF_TYPE,
    Reply,
    alerts,
    check,
    config,  # noqa: F401  (the fixture)
    message_text,
    reply_pdf,
)


class TokenPage:
    """The reply page, linking its PDF with a query that changes on every response."""

    def __init__(self, site: Site) -> None:
        self.files = Reply(site, "/unused.html")  # serves /files/*.pdf, any query
        self.counter, self.query = itertools.count(1), "t={n}"
        site.route("/reply.html", self._page)

    def _page(self, req: Request) -> Response:
        query = self.query.format(n=next(self.counter))
        links = "".join(f"<li><a href='{p}?{query}'>{name}</a></li>"
                        for p, (name, _, _) in self.files.files.items())
        return Response("<html><head><title>答复</title></head><body><div class='article'>"
                        "<h1>第0192号提案的答复</h1><p>张委员：您提出的提案收悉，答复全文见附件。"
                        f"</p><p>附件：</p><ul>{links}</ul></div></body></html>",
                        headers={"Content-Type": "text/html; charset=utf-8"})


async def test_an_attachment_linked_with_a_new_token_each_time_is_told_only_when_replaced(
        config: Config, store: Store, site: Site) -> None:  # noqa: F811
    page = TokenPage(site)
    page.files.attach("/files/reply.pdf", "发展规划.pdf", reply_pdf(), PDF_TYPE)
    assert (await check(config, store)).outcome is Outcome.NEW

    for _ in range(2):  # a new ?t= each time, the same file: nothing to tell
        assert (await check(config, store)).outcome is Outcome.UNCHANGED
    page.query = "v=20210801"  # another parameter, for good
    assert (await check(config, store)).outcome is Outcome.UNCHANGED
    assert alerts(store) == [] and store.count(Version) == 1

    site.route("/files/reply.pdf", Response(b"busy", status=500))  # a passing failure
    failing = await check(config, store)
    assert failing.outcome is Outcome.UNCHANGED and alerts(store) == []

    page.query = "t={n}"
    page.files.attach("/files/reply.pdf", "发展规划.pdf", reply_pdf(NEW_AMOUNT), PDF_TYPE)
    replaced = await check(config, store)
    assert replaced.change_kind == "attachment_changed"
    [alert] = alerts(store)
    subject, body, _ = message_text(config, store, alert)
    assert "附件已修改" in subject and "规模达到[-68.1-]{+71.4+}亿元" in body
    assert "新增附件" not in subject + body and "附件已删除" not in subject + body
    assert (await check(config, store)).outcome is Outcome.UNCHANGED
    assert len(alerts(store)) == 1
