"""An attachment the page still links but that can no longer be downloaded, and one that
was renamed: what the watcher is told, and that the archive keeps the file.

* its URL answers 404/410 (the same link, or a link moved to a URL that answers 404):
  told once, 附件无法下载「name」（HTTP 404，URL）, never again while it stays so; the
  archived bytes stay listed and downloadable (``monitor show``, the version's entry);
  downloadable again with the same bytes: recorded quietly (附件恢复可下载 in
  ``monitor history``), with other bytes: 附件已修改 with the diff;
* a passing failure (5xx, a refused connection) is never told, however often (a link
  moved to a host that refuses it is recorded quietly: 附件链接已更新, see
  ``test_attachment_relinked``);
* the link's text changed and its URL too, the bytes the same: one 附件已改名「旧」→「新」,
  not 新增附件 + 附件已删除, and no diff; the same URL with a new link text: 附件已改名.

The site is ``test_attachments``' reply page (its PDF set in STSong-Light).
"""

from __future__ import annotations

import hashlib
import socket

import httpx
from sqlmodel import col, select

from monitor.config import Config
from monitor.types import Outcome
from monitor.web.app import create_app
from storage import Store
from storage.instant import utcnow
from storage.models import Change, Version
from tests.sites import Response, Site
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
from tests.test_web_api import running

NAME = "答复全文.pdf"


def kinds(store: Store) -> list[tuple[str, str]]:
    with store.session() as s:
        return [(c.kind, c.summary) for c in s.exec(select(Change).order_by(col(Change.id)))]


def archived(store: Store, body: bytes) -> None:
    """The newest version still names the file, and its bytes are stored."""
    sha = hashlib.sha256(body).hexdigest()
    [entry] = store.latest_version("reply").attachments
    assert entry["sha256"] == sha and entry["size"] == len(body)
    assert store.file(sha).body == body


async def test_a_link_that_starts_answering_404_is_told_once_and_the_file_kept(
        config: Config, store: Store, site: Site, db_url: str) -> None:  # noqa: F811
    reply, pdf = Reply(site), reply_pdf()
    reply.attach("/files/reply.pdf", NAME, pdf, PDF_TYPE)
    assert (await check(config, store)).outcome is Outcome.NEW

    site.route("/files/reply.pdf", Response(b"gone", status=404))  # still linked
    missing = await check(config, store)
    assert missing.outcome is Outcome.CHANGED and missing.change_kind == "attachment_changed"
    [alert] = alerts(store)
    subject, body, html = message_text(config, store, alert)
    url = site.url("/files/reply.pdf")
    assert "附件无法下载" in subject and "附件已修改" not in subject + body
    assert f"附件无法下载「{NAME}」（HTTP 404，{url}）" in body
    assert "存档中的文件仍可查看和下载" in body and "[-" not in body
    assert "附件无法下载" in html
    archived(store, pdf)
    assert store.latest_version("reply").attachments[0]["missing"] == "HTTP 404"

    for _ in range(2):  # still 404: the same version, nothing told again
        assert (await check(config, store)).outcome is Outcome.UNCHANGED
    assert len(alerts(store)) == 1 and store.count(Version) == 2

    sources = str(config.path)
    shown = cli("show", "reply", "--sources", sources, db=db_url)
    assert shown.returncode == 0, shown.stderr
    assert f"附件 {NAME} · PDF · {len(pdf)} B · ok · 链接已无法下载（HTTP 404）" in shown.stdout
    version = store.latest_version("reply").id
    with running(create_app(config, store)) as base:
        async with httpx.AsyncClient(base_url=base) as web:
            page = (await web.get(f"/versions/{version}")).text
            got = await web.get(f"/versions/{version}/attachments/1")
    assert "链接已无法下载（HTTP 404）" in page and "下载存档" in page
    assert got.status_code == 200 and got.content == pdf

    reply.attach("/files/reply.pdf", NAME, pdf, PDF_TYPE)  # back, the same bytes
    back = await check(config, store)
    assert back.outcome is Outcome.CHANGED and back.alerts == 0  # recorded, not told
    assert len(alerts(store)) == 1
    assert "missing" not in store.latest_version("reply").attachments[0]
    history = cli("history", "reply", "--sources", sources, db=db_url)
    assert history.returncode == 0, history.stderr
    assert f"附件无法下载「{NAME}」（HTTP 404）" in history.stdout
    assert f"附件恢复可下载「{NAME}」" in history.stdout
    assert "附件已修改" not in history.stdout


async def test_a_file_going_404_and_back_again_and_again_is_condensed_as_flapping(
        config: Config, store: Store, site: Site) -> None:  # noqa: F811
    reply, pdf = Reply(site), reply_pdf()
    reply.attach("/files/reply.pdf", NAME, pdf, PDF_TYPE)
    got = [await check(config, store)]
    for _ in range(3):
        site.route("/files/reply.pdf", Response(b"gone", status=404))
        got.append(await check(config, store))
        reply.attach("/files/reply.pdf", NAME, pdf, PDF_TYPE)
        got.append(await check(config, store))
    # told missing at once; back quietly (one outage is no flapping); missing again:
    # flapping, told at once; back again: one held (condensed) alert, which the later
    # flips take over: what goes out is the state the file is in
    assert [r.alerts for r in got] == [0, 1, 0, 1, 1, 0, 0]
    assert [r.change_kind for r in got] == [None, "attachment_changed", "attachment_changed",
                                            "flapping", "flapping", "flapping", "flapping"]
    changes = kinds(store)
    assert "附件恢复可下载「答复全文.pdf」" in changes[-1][1]
    with store.session() as s:
        last = s.exec(select(Change).order_by(col(Change.id).desc())).first()
    assert last is not None and [a.change_id for a in alerts(store)][-1] == last.id
    archived(store, pdf)


async def test_one_outage_and_return_is_no_flapping_and_the_next_404_is_told_at_once(
        config: Config, store: Store, site: Site, db_url: str) -> None:  # noqa: F811
    reply, pdf = Reply(site), reply_pdf()
    reply.attach("/files/reply.pdf", NAME, pdf, PDF_TYPE)
    assert (await check(config, store)).outcome is Outcome.NEW
    site.route("/files/reply.pdf", Response(b"gone", status=404))
    assert (await check(config, store)).alerts == 1  # 附件无法下载
    assert (await check(config, store)).outcome is Outcome.UNCHANGED  # still 404

    reply.attach("/files/reply.pdf", NAME, pdf, PDF_TYPE)  # back, the same bytes
    back = await check(config, store)
    assert back.change_kind == "attachment_changed" and back.alerts == 0
    assert kinds(store)[-1] == ("attachment_changed", f"附件恢复可下载「{NAME}」")
    history = cli("history", "reply", "--sources", str(config.path), db=db_url)
    assert history.returncode == 0, history.stderr
    assert f"附件恢复可下载「{NAME}」" in history.stdout and "来回变化" not in history.stdout

    # a later outage is news of its own: told now, not held as a condensed flip
    site.route("/files/reply.pdf", Response(b"gone", status=404))
    again = await check(config, store)
    assert again.alerts == 1
    told = alerts(store)[-1]
    with store.session() as s:
        change = s.get(Change, told.change_id)
    assert change is not None and not change.details.get("condensed")
    assert told.next_attempt_at <= utcnow()  # due now, not at the end of a flap_hold
    assert f"附件无法下载「{NAME}」" in message_text(config, store, told)[1]
    archived(store, pdf)


async def test_a_link_moved_to_a_url_that_answers_404_is_told_once_then_replaced(
        config: Config, store: Store, site: Site) -> None:  # noqa: F811
    reply, pdf = Reply(site), reply_pdf()
    reply.attach("/files/reply.pdf", NAME, pdf, PDF_TYPE)
    assert (await check(config, store)).outcome is Outcome.NEW

    del reply.files["/files/reply.pdf"]
    reply.files["/files/2026/reply.pdf"] = (NAME, pdf, PDF_TYPE)  # linked, not served: 404
    moved = await check(config, store)
    assert moved.outcome is Outcome.CHANGED and moved.change_kind == "attachment_changed"
    [alert] = alerts(store)
    subject, body, _ = message_text(config, store, alert)
    new_url = site.url("/files/2026/reply.pdf")
    assert "附件无法下载" in subject
    assert f"附件无法下载「{NAME}」（HTTP 404，{new_url}）" in body
    assert f"原链接 {site.url('/files/reply.pdf')}" in body
    assert "新增附件" not in subject + body and "附件已删除" not in subject + body
    archived(store, pdf)

    assert (await check(config, store)).outcome is Outcome.UNCHANGED  # still 404
    assert len(alerts(store)) == 1

    reply.attach("/files/2026/reply.pdf", NAME, reply_pdf(NEW_AMOUNT), PDF_TYPE)
    replaced = await check(config, store)
    assert replaced.change_kind == "attachment_changed" and len(alerts(store)) == 2
    subject, body, _ = message_text(config, store, alerts(store)[-1])
    assert "附件已修改" in subject and "规模达到[-68.1-]{+71.4+}亿元" in body
    assert "附件无法下载" not in subject + body
    assert store.file(hashlib.sha256(pdf).hexdigest()).body == pdf  # the old one kept


async def test_a_410_is_missing_too(config: Config, store: Store, site: Site) -> None:  # noqa: F811
    reply, pdf = Reply(site), reply_pdf()
    reply.attach("/files/reply.pdf", NAME, pdf, PDF_TYPE)
    assert (await check(config, store)).outcome is Outcome.NEW
    site.route("/files/reply.pdf", Response(b"gone", status=410))
    assert (await check(config, store)).change_kind == "attachment_changed"
    [alert] = alerts(store)
    _, body, _ = message_text(config, store, alert)
    assert f"附件无法下载「{NAME}」（HTTP 410，" in body
    archived(store, pdf)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed when the block ends: connection refused


async def test_passing_failures_are_never_told_and_a_404_once_whatever_comes_between(
        config: Config, store: Store, site: Site) -> None:  # noqa: F811
    reply, pdf = Reply(site), reply_pdf()
    reply.attach("/files/reply.pdf", NAME, pdf, PDF_TYPE)
    assert (await check(config, store)).outcome is Outcome.NEW

    site.route("/files/reply.pdf", Response(b"busy", status=500))
    for _ in range(4):  # more than trouble_after (3) failed checks of the file
        failing = await check(config, store)
        assert failing.outcome is Outcome.UNCHANGED and failing.attachments_unavailable == 1
    assert alerts(store) == [] and store.count(Version) == 1

    site.route("/files/reply.pdf", Response(b"gone", status=404))
    assert (await check(config, store)).change_kind == "attachment_changed"
    assert len(alerts(store)) == 1
    site.route("/files/reply.pdf", Response(b"busy", status=500))  # still missing
    assert (await check(config, store)).outcome is Outcome.UNCHANGED
    site.route("/files/reply.pdf", Response(b"gone", status=404))  # not a second 无法下载
    assert (await check(config, store)).outcome is Outcome.UNCHANGED
    assert len(alerts(store)) == 1 and store.count(Version) == 2

    del reply.files["/files/reply.pdf"]  # moved to a host that refuses connections:
    reply.files[f"http://127.0.0.1:{closed_port()}/reply.pdf"] = (NAME, pdf, PDF_TYPE)
    refused = await check(config, store)  # the new link recorded, nothing told
    assert refused.outcome is Outcome.CHANGED and refused.attachments_unavailable == 1
    assert refused.alerts == 0 and len(alerts(store)) == 1
    assert kinds(store)[-1][1].startswith(f"附件链接已更新「{NAME}」")
    archived(store, pdf)

    reply.files.clear()  # downloadable again, the same bytes, under a new name: renamed
    reply.attach("/files/0192/answer.pdf", "第0192号提案答复.pdf", pdf, PDF_TYPE)
    assert (await check(config, store)).change_kind == "attachment_changed"
    subject, body, _ = message_text(config, store, alerts(store)[-1])
    assert len(alerts(store)) == 2 and "附件已改名" in subject
    assert f"附件已改名「{NAME}」→「第0192号提案答复.pdf」" in body
    assert "附件恢复可下载" not in subject + body


async def test_an_attachment_renamed_and_moved_with_the_same_bytes_is_one_rename(
        config: Config, store: Store, site: Site) -> None:  # noqa: F811
    reply, pdf = Reply(site), reply_pdf()
    reply.attach("/files/reply.pdf", NAME, pdf, PDF_TYPE)
    assert (await check(config, store)).outcome is Outcome.NEW

    del reply.files["/files/reply.pdf"]
    reply.attach("/files/0192/answer.pdf", "第0192号提案答复.pdf", pdf, PDF_TYPE)
    renamed = await check(config, store)
    assert renamed.outcome is Outcome.CHANGED and renamed.change_kind == "attachment_changed"
    [alert] = alerts(store)
    subject, body, _ = message_text(config, store, alert)
    assert "附件已改名" in subject
    assert f"附件已改名「{NAME}」→「第0192号提案答复.pdf」" in body
    assert "文件内容未变" in body and f"原链接 {site.url('/files/reply.pdf')}" in body
    assert "新增附件" not in subject + body and "附件已删除" not in subject + body
    assert "规模达到" not in body  # the same bytes: no text of the file, no diff
    [(kind, summary)] = kinds(store)
    assert kind == "attachment_changed" and summary.startswith(
        f"附件已改名「{NAME}」→「第0192号提案答复.pdf」")
    archived(store, pdf)
    assert (await check(config, store)).outcome is Outcome.UNCHANGED

    reply.files["/files/0192/answer.pdf"] = ("答复函.pdf", pdf, PDF_TYPE)  # the same URL
    again = await check(config, store)
    assert again.change_kind == "attachment_changed" and len(alerts(store)) == 2
    subject, body, _ = message_text(config, store, alerts(store)[-1])
    assert "附件已改名" in subject and "附件已改名「第0192号提案答复.pdf」→「答复函.pdf」" in body
    assert "原链接" not in body and "新增附件" not in body and "附件已删除" not in body
