"""A page whose attachment links move to another host, its visible text the same.

The archive records the links the page has now (a new version, 附件链接已更新 in
``monitor history``, nobody told: the files are the same), so every later check, a 304
of the page included, asks the new host and never the old one again; a moved link whose
new URL answers 404 is told once, 附件无法下载, and one failing for a passing reason is
never told.  The page (``test_attachments.Reply``, with an ETag: it answers 304 while
unchanged) is on 127.0.0.1, its files on 127.0.0.2 and then on 127.0.0.3.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from monitor.config import Config
from monitor.types import Outcome
from storage import Store
from storage.models import Version
from tests.sites import Request, Response, Site
from tests.test_attachment_missing import closed_port, kinds
from tests.test_attachments import (
    PDF_TYPE,
    Reply,
    alerts,
    check,
    config,  # noqa: F401  (the fixture)
    message_text,
    reply_pdf,
)
from tests.test_listing_sources import cli

NAME = "答复全文.pdf"
PATH = "/files/reply.pdf"


@pytest.fixture
def hosts() -> Iterator[tuple[Site, Site]]:
    a, b = Site("127.0.0.2"), Site("127.0.0.3")
    yield a, b
    a.close()
    b.close()


def serve(host: Site, body: bytes) -> str:
    """The file at ``PATH`` on ``host``, with an ETag (304 when it matches)."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def handle(req: Request) -> Response:
        if req.headers.get("if-none-match") == etag:
            return Response(b"", status=304, headers={"ETag": etag})
        return Response(body, headers={"Content-Type": PDF_TYPE, "ETag": etag})
    return host.route(PATH, handle)


def move(reply: Reply, to: str) -> None:
    """The page links its file at ``to`` instead: the page's text stays the same."""
    [(name, body, ctype)] = reply.files.values()
    reply.files.clear()
    reply.files[to] = (name, body, ctype)


def linked(store: Store) -> str:
    [entry] = store.latest_version("reply").attachments
    return str(entry["url"])


async def _first_version(config: Config, store: Store, site: Site, old: Site,  # noqa: F811
                         pdf: bytes) -> Reply:
    """The reply page (with an ETag) linking its PDF on ``old``, checked once: new."""
    reply = Reply(site, etag=True)
    reply.files[serve(old, pdf)] = (NAME, pdf, PDF_TYPE)
    assert (await check(config, store)).outcome is Outcome.NEW
    return reply


async def test_links_moved_to_another_host_are_recorded_and_the_old_host_never_asked_again(
        config: Config, store: Store, site: Site, hosts: tuple[Site, Site],  # noqa: F811
        db_url: str) -> None:
    (old, new), pdf = hosts, reply_pdf()
    reply = await _first_version(config, store, site, old, pdf)

    new_url = serve(new, pdf)  # the same bytes; the old host still answers too
    move(reply, new_url)
    moved = await check(config, store)
    assert moved.outcome is Outcome.CHANGED and moved.alerts == 0  # recorded, not told
    assert linked(store) == new_url and store.count(Version) == 2
    asked_old, asked_new, page_304 = len(old.requests), len(new.requests), reply.not_modified
    for _ in range(3):  # the page answers 304: its files are the last version's
        assert (await check(config, store)).outcome is Outcome.UNCHANGED
    assert reply.not_modified == page_304 + 3
    assert len(old.requests) == asked_old  # the host the page no longer links to
    assert len(new.requests) == asked_new + 3
    assert alerts(store) == [] and store.count(Version) == 2

    history = cli("history", "reply", "--sources", str(config.path), db=db_url)
    assert history.returncode == 0, history.stderr
    assert f"附件链接已更新「{NAME}」" in history.stdout
    assert "新增附件" not in history.stdout and "附件已删除" not in history.stdout

    move(reply, old.url(PATH))  # back and forth between two mirrors: never told
    move_back = await check(config, store)
    move(reply, new_url)
    again = await check(config, store)
    assert move_back.outcome is again.outcome is Outcome.CHANGED
    assert alerts(store) == [] and linked(store) == new_url
    assert [k for k, _ in kinds(store)] == ["attachment_changed", "flapping", "flapping"]


async def test_a_moved_link_whose_new_url_answers_404_is_told_once(
        config: Config, store: Store, site: Site, hosts: tuple[Site, Site]) -> None:  # noqa: F811
    (old, new), pdf = hosts, reply_pdf()
    reply = await _first_version(config, store, site, old, pdf)
    new_url = serve(new, pdf)
    move(reply, new_url)
    assert (await check(config, store)).alerts == 0
    asked_old = len(old.requests)

    new.route(PATH, Response(b"gone", status=404))  # the page still links it
    missing = await check(config, store)
    assert missing.change_kind == "attachment_changed" and missing.alerts == 1
    [alert] = alerts(store)
    subject, body, _ = message_text(config, store, alert)
    assert "附件无法下载" in subject
    assert f"附件无法下载「{NAME}」（HTTP 404，{new_url}）" in body
    for _ in range(2):  # still 404: nothing more
        assert (await check(config, store)).outcome is Outcome.UNCHANGED
    assert len(alerts(store)) == 1 and len(old.requests) == asked_old
    [entry] = store.latest_version("reply").attachments
    assert entry["missing"] == "HTTP 404" and store.file(str(entry["sha256"])).body == pdf


async def test_a_link_moved_straight_to_a_404_is_told_once_and_one_refused_never(
        config: Config, store: Store, site: Site, hosts: tuple[Site, Site]) -> None:  # noqa: F811
    (old, new), pdf = hosts, reply_pdf()
    reply = await _first_version(config, store, site, old, pdf)

    refused = f"http://127.0.0.3:{closed_port()}{PATH}"
    move(reply, refused)  # a passing failure at the new URL: recorded, never told
    failing = await check(config, store)
    assert failing.alerts == 0 and failing.attachments_unavailable == 1
    assert linked(store) == refused
    asked_old = len(old.requests)
    assert (await check(config, store)).outcome is Outcome.UNCHANGED
    assert len(old.requests) == asked_old and alerts(store) == []

    move(reply, new.url(PATH))  # linked, not served: 404
    missing = await check(config, store)
    assert missing.change_kind == "attachment_changed" and len(alerts(store)) == 1
    _, body, _ = message_text(config, store, alerts(store)[0])
    assert f"附件无法下载「{NAME}」（HTTP 404，{new.url(PATH)}）" in body
    assert (await check(config, store)).outcome is Outcome.UNCHANGED
    assert len(alerts(store)) == 1 and len(old.requests) == asked_old


async def test_a_text_edit_with_a_link_moved_is_told_as_the_edit_naming_the_new_link(
        config: Config, store: Store, site: Site, hosts: tuple[Site, Site]) -> None:  # noqa: F811
    (old, new), pdf = hosts, reply_pdf()
    reply = await _first_version(config, store, site, old, pdf)

    new_url = serve(new, pdf)
    move(reply, new_url)
    page = site.routes["/reply.html"]
    site.route("/reply.html", lambda req: _edited(req, page))  # type: ignore[arg-type]
    edited = await check(config, store)
    assert edited.change_kind == "changed" and edited.alerts == 1
    subject, body, _ = message_text(config, store, alerts(store)[0])
    assert "正文修改" in subject and "附件链接已更新" not in subject
    assert f"附件链接已更新「{NAME}」 {new_url}" in body and old.url(PATH) in body
    assert "新增附件" not in body and "附件已删除" not in body
    asked_old = len(old.requests)
    later = await check(config, store)
    assert later.outcome is Outcome.UNCHANGED and later.status == 304
    assert len(old.requests) == asked_old and linked(store) == new_url


def _edited(req: Request, page: Callable[[Request], Response]) -> Response:
    """The page with a sentence edited, with an ETag of its own (304 when it matches)."""
    html = page(replace(req, headers={})).payload().decode()
    html = html.replace("答复全文见附件", "答复全文及说明见附件")
    etag = '"' + hashlib.sha256(html.encode()).hexdigest()[:16] + '"'
    if req.headers.get("if-none-match") == etag:
        return Response(b"", status=304, headers={"ETag": etag})
    return Response(html, headers={"Content-Type": "text/html; charset=utf-8", "ETag": etag})
