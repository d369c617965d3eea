"""An attachment re-generated with the same text (a PDF re-exported: a new creation date,
the same words): what the watcher is told, and that the archive keeps both files.

* other bytes, the same extracted text, the same name: recorded as a new version, nobody
  told (附件文件已更新（正文无变化） in ``monitor history``); with a change of the page's
  text it is named after it, never diffed;
* a scan (no text can be extracted) replaced by other bytes: 附件已修改, always: "the
  same text" cannot be said of it;
* a real edit of the file's text: 附件已修改 with the diff, as before;
* renamed, moved and re-generated with the same text: one 附件已改名「旧」→「新」, not
  新增附件 + 附件已删除.

The site is ``test_attachments``' reply page (its PDF set in STSong-Light).
"""

from __future__ import annotations

import hashlib
import re

from monitor.config import Config
from monitor.types import Outcome
from storage import Store
from tests import documents as gen
from tests.sites import Site
from tests.test_attachment_missing import kinds
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
from tests.test_listing_sources import cli

NAME, SCAN = "答复全文.pdf", "扫描件.pdf"


def regenerated(pdf: bytes) -> bytes:
    """The same PDF exported again: another creation date, the same pages."""
    out = re.sub(rb"/CreationDate \(D:\d{14}", b"/CreationDate (D:20200101000000", pdf)
    assert out != pdf
    return out


def stored(store: Store, *bodies: bytes) -> None:
    """The archive holds each of these files, byte for byte."""
    for body in bodies:
        assert store.file(hashlib.sha256(body).hexdigest()).body == body


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def test_a_pdf_regenerated_with_the_same_text_is_recorded_quietly_a_scan_is_told(
        config: Config, store: Store, site: Site, db_url: str) -> None:  # noqa: F811
    reply, pdf, scan = Reply(site), reply_pdf(), gen.scanned_pdf()
    reply.attach("/files/reply.pdf", NAME, pdf, PDF_TYPE)
    reply.attach("/files/scan.pdf", SCAN, scan, PDF_TYPE)
    assert (await check(config, store)).outcome is Outcome.NEW

    again = regenerated(pdf)
    reply.attach("/files/reply.pdf", NAME, again, PDF_TYPE)
    quiet = await check(config, store)
    assert quiet.outcome is Outcome.CHANGED and quiet.alerts == 0 and alerts(store) == []
    assert kinds(store)[-1] == ("attachment_changed", f"附件文件已更新（正文无变化）「{NAME}」")
    latest = {a["name"]: a["sha256"] for a in store.latest_version("reply").attachments}
    assert latest[NAME] == sha(again)
    stored(store, pdf, again)  # the archive keeps both: the evidence
    history = cli("history", "reply", "--sources", str(config.path), db=db_url)
    assert history.returncode == 0, history.stderr
    assert f"附件文件已更新（正文无变化）「{NAME}」" in history.stdout
    assert "附件已修改" not in history.stdout
    assert (await check(config, store)).outcome is Outcome.UNCHANGED

    # a scan's text cannot be compared: other bytes are told
    new_scan = regenerated(scan)
    reply.attach("/files/scan.pdf", SCAN, new_scan, PDF_TYPE)
    told = await check(config, store)
    assert told.change_kind == "attachment_changed" and told.alerts == 1
    [alert] = alerts(store)
    subject, body, _ = message_text(config, store, alert)
    assert "附件已修改" in subject and f"附件已修改「{SCAN}」" in body and "文本无法提取" in body
    stored(store, scan, new_scan)

    # a real edit of the PDF's text: told, with the diff
    edited = reply_pdf(NEW_AMOUNT)
    reply.attach("/files/reply.pdf", NAME, edited, PDF_TYPE)
    edit = await check(config, store)
    assert edit.alerts == 1
    _, body, _ = message_text(config, store, alerts(store)[-1])
    assert f"附件已修改「{NAME}」" in body and "[-68.1-]{+71.4+}亿元" in body
    stored(store, edited)


async def test_a_pdf_regenerated_with_a_page_edit_is_named_not_diffed(
        config: Config, store: Store, site: Site) -> None:  # noqa: F811
    reply, pdf, other = Reply(site), reply_pdf(), reply_pdf(NEW_AMOUNT)
    reply.attach("/files/reply.pdf", NAME, pdf, PDF_TYPE)
    reply.attach("/files/other.pdf", "补充说明.pdf", other, PDF_TYPE)
    assert (await check(config, store)).outcome is Outcome.NEW

    reply.attach("/files/reply.pdf", NAME, regenerated(pdf), PDF_TYPE)
    del reply.files["/files/other.pdf"]  # the page's other change: a file removed
    told = await check(config, store)
    assert told.change_kind == "attachment_removed" and told.alerts == 1
    subject, body, _ = message_text(config, store, alerts(store)[-1])
    assert "附件已删除「补充说明.pdf」" in body
    assert f"附件文件已更新（正文无变化）「{NAME}」" in body
    assert "提取的正文与存档相同" in body and "附件已修改" not in subject + body


async def test_renamed_moved_and_regenerated_with_the_same_text_is_one_rename(
        config: Config, store: Store, site: Site) -> None:  # noqa: F811
    reply, pdf = Reply(site), reply_pdf()
    reply.attach("/files/reply.pdf", NAME, pdf, PDF_TYPE)
    assert (await check(config, store)).outcome is Outcome.NEW

    again = regenerated(pdf)
    del reply.files["/files/reply.pdf"]
    reply.attach("/files/2026/final.pdf", "答复意见（定稿）.pdf", again, PDF_TYPE)
    told = await check(config, store)
    assert told.change_kind == "attachment_changed" and told.alerts == 1
    subject, body, _ = message_text(config, store, alerts(store)[-1])
    assert f"附件已改名「{NAME}」→「答复意见（定稿）.pdf」" in body
    assert "提取的正文与存档相同" in body
    assert "新增附件" not in subject + body and "附件已删除" not in subject + body
    stored(store, pdf, again)
