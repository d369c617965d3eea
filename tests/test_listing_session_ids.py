"""A column on a Java CMS that writes the visitor's session into every link
(``d1.html;jsessionid=…``, a new id on every response: the monitor sends no session
cookie), or PHP's ``?PHPSESSID=…``: each reply is one document, with one history, told
once when it is new, never again because its link carries another session id
(``monitor.session_ids``).  The site behaves as Tomcat does: a path parameter is not part
of the path it serves."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlmodel import select

from monitor.config import Config, load_config
from storage import Store
from storage.models import Page, Version
from tests.conftest import write_sources
from tests.sites import Request, Response, Site
from tests.test_listing_sources import NAME, alerts, check_pass, documents, pass_a_day

HTML = {"Content-Type": "text/html; charset=utf-8"}


class Tomcat(Site):
    """A site that serves ``/a.html;jsessionid=X`` as ``/a.html`` (path parameters are
    the container's, not the page's); ``asked`` keeps the paths as requested."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def answer(self, req: Request) -> Response:
        self.asked.append(req.path)
        return super().answer(replace(req, path=re.sub(r";[^/?]*", "", req.path)))


@pytest.fixture
def tomcat() -> Iterator[Tomcat]:
    s = Tomcat()
    yield s
    s.close()


def reply(n: int) -> str:
    return f"对省政协十二届四次会议第{n:04d}号提案的答复"


class Column:
    """Three replies (more after ``publish``), each linked with a new session id on
    every response of the column, in the forms Java and PHP sites write."""

    def __init__(self, site: Site) -> None:
        self.replies, self.counter = [191, 192, 193], itertools.count(1)
        site.route("/col/index.html", self._listing)
        for n in range(191, 200):
            site.route(f"/col/d{n}.html", Response(
                f"<html><head><meta charset='utf-8'><title>答复</title></head><body>"
                f"<div class='article'><h1>{reply(n)}</h1><p>您提出的第{n}号提案收悉，"
                f"现答复如下：我厅已安排专项资金{n}万元。</p></div></body></html>",
                headers=HTML))

    def _listing(self, req: Request) -> Response:
        sid = f"A{next(self.counter):08X}"
        forms = (f";jsessionid={sid}", f";JSESSIONID={sid}", f"?PHPSESSID={sid}")
        lis = "".join(f"<li><a href='d{n}.html{forms[n % 3]}'>{reply(n)}</a>"
                      f"<span>2021-08-{n - 190:02d}</span></li>"
                      for n in reversed(self.replies))
        return Response("<html><head><meta charset='utf-8'><title>建议提案办理</title>"
                        f"</head><body><ul class='list'>{lis}</ul></body></html>",
                        headers=HTML)


@pytest.fixture
def config(tmp_path: Path, tomcat: Tomcat) -> Config:
    return load_config(write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "{NAME}"
        kind = "listing"
        url = "{tomcat.url('/col/index.html')}"
        [sources.follow]
        content = "div.article"

        [[watchers]]
        email = "analyst@example.org"
        sources = ["*"]
        """), env={})


def urls(store: Store) -> list[str]:
    return sorted(p.url for p in documents(store))


async def test_links_with_a_new_session_id_each_pass_are_the_same_replies_told_once(
        config: Config, store: Store, tomcat: Tomcat) -> None:
    column = Column(tomcat)
    store.sync_sources(config.sources)
    await check_pass(config, store)  # the baseline: three replies, told to nobody
    bare = sorted(tomcat.url(f"/col/d{n}.html") for n in (191, 192, 193))

    for _ in range(2):  # every link has another session id now: nothing new
        pass_a_day(store)
        await check_pass(config, store)
    assert alerts(store) == []
    assert urls(store) == bare  # stored (and fetched) without the session ids
    assert all(p.listed for p in documents(store))
    assert store.count(Version) == 1 + 3  # the column, one version a reply
    assert "/col/d191.html" in tomcat.asked  # the server serves the bare link

    column.replies.append(194)  # a new reply is still news, once
    await check_pass(config, store)
    pass_a_day(store)
    await check_pass(config, store)
    [new] = alerts(store)
    assert new.change_id is not None and len(urls(store)) == 4
    assert reply(194) in _summary(store, new.change_id)


async def test_replies_stored_under_a_session_id_go_on_in_their_own_history(
        config: Config, store: Store, tomcat: Tomcat) -> None:
    """An archive kept before session ids were dropped: its pages' URLs carry the id
    their first listing had.  They are the replies the column lists now."""
    Column(tomcat)
    store.sync_sources(config.sources)
    await check_pass(config, store)
    with store.session() as s:  # as the pages were stored before
        for page in s.exec(select(Page).where(Page.kind == "document")):
            page.url += ";jsessionid=0OLD0"
            s.add(page)
        s.commit()
    before = {p.id for p in documents(store)}

    pass_a_day(store)
    await check_pass(config, store)
    assert alerts(store) == []  # no 新文档 for a reply already kept
    assert {p.id for p in documents(store)} == before  # the same pages, no copies
    assert urls(store) == sorted(tomcat.url(f"/col/d{n}.html") for n in (191, 192, 193))
    assert all(p.listed for p in documents(store))


def test_a_reply_is_looked_up_by_its_link_with_a_session_id(
        config: Config, store: Store, tomcat: Tomcat, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The link a reader copies from the column carries a session id: history, show and
    check --source find the reply by it, as by the bare URL."""
    from click.testing import CliRunner

    from monitor.cli import cli

    Column(tomcat)
    store.sync_sources(config.sources)
    asyncio.run(check_pass(config, store))
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    link = tomcat.url("/col/d192.html;jsessionid=A0000000F")
    for args in (["history", link], ["show", link], ["check", "--source", link,
                                                     "--no-deliver"]):
        got = CliRunner().invoke(cli, [*args, "--sources", str(config.path)])
        assert got.exit_code == 0 and "未找到" not in got.output, (args, got.output)
    got = CliRunner().invoke(cli, ["show", link, "--sources", str(config.path)])
    assert "第0192号提案" in got.output


def _summary(store: Store, change_id: int) -> str:
    from storage.models import Change

    with store.session() as s:
        change = s.get(Change, change_id)
        return change.summary if change else ""
