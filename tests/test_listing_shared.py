"""Two listings that list one document (a reply under both 建议答复 and 提案答复, two
listings of one site): the document is one page with one history, fetched once a round,
told once to each watcher of either listing, and both listings name it."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import col, select

from monitor.cli import cli
from monitor.cli.check import run_checks
from monitor.config import Config, load_config
from storage import Store
from storage.models import Alert, Change, Page
from tests.conftest import write_sources
from tests.sites import Request, Response, Site
from tests.test_listing_sources import GBK, pass_a_day

SHARED = [1, 2, 3]


def title(n: int) -> str:
    return f"关于第{n:04d}号建议的答复"


class Columns:
    """Two columns, 建议答复 (/jy/) and 提案答复 (/ta/), with replies of their own and
    the shared ones, all under /doc/."""

    def __init__(self, site: Site) -> None:
        self.site, self.amended = site, set[int]()
        self.items = {"jy": [*SHARED, 10, 11], "ta": [*SHARED, 20, 21]}
        for name in self.items:
            site.route(f"/{name}/index.html", lambda req, name=name: self._listing(name))
        for n in range(1, 40):
            site.route(f"/doc/t{n}.html", self._reply(n))

    def _listing(self, name: str) -> Response:
        lis = "".join(f"<li><a href='/doc/t{n}.html'>{title(n)}</a><span>2021-06-{n:02d}"
                      "</span></li>" for n in sorted(self.items[name], reverse=True))
        html = (f"<html><head><meta charset='gbk'><title>{name}</title></head><body>"
                f"<ul class='list'>{lis}</ul></body></html>")
        return Response(html.encode("gbk"), headers=GBK)

    def _reply(self, n: int):  # type: ignore[no-untyped-def]
        def handle(req: object) -> Response:
            html = ("<html><head><meta charset='gbk'><title>答复</title></head><body>"
                    f"<div class='article'><h1>{title(n)}</h1><p>现答复如下：第{n}号建议收悉。"
                    f"</p>{'<p>补充：项目已竣工。</p>' if n in self.amended else ''}"
                    "</div></body></html>")
            return Response(html.encode("gbk"), headers=GBK)
        return handle


@pytest.fixture
def config(tmp_path: Path, site: Site) -> Config:
    return load_config(write_sources(tmp_path / "sources.toml", f"""
        [[sources]]
        name = "jy"
        kind = "listing"
        url = "{site.url('/jy/index.html')}"
        links = "ul.list li a"
        [sources.follow]
        content = "div.article"
        interval = "1d"

        [[sources]]
        name = "ta"
        kind = "listing"
        url = "{site.url('/ta/index.html')}"
        links = "ul.list li a"
        [sources.follow]
        content = "div.article"
        interval = "1d"

        [[watchers]]
        email = "jy@example.org"
        sources = ["jy"]

        [[watchers]]
        email = "ta@example.org"
        sources = ["ta"]

        [[watchers]]
        email = "both@example.org"
        sources = ["jy", "ta"]
        """), env={})


async def check_both(config: Config, store: Store):  # type: ignore[no-untyped-def]
    return await run_checks(config, store, list(config.sources), progress=False)


async def jy_then_ta(config: Config, store: Store) -> None:
    """建议答复 found first: its page is the shared replies' one."""
    for name in ("jy", "ta"):
        await run_checks(config, store, [config.source(name)], progress=False)


def pages_of(store: Store, url: str) -> list[Page]:
    with store.session() as s:
        return list(s.exec(select(Page).where(Page.url == url).order_by(col(Page.id))))


def alerts(store: Store) -> list[tuple[str, str]]:
    with store.session() as s:
        return sorted((a.recipient, c.kind) for a, c in s.exec(
            select(Alert, Change).where(Alert.change_id == Change.id)))


async def test_a_reply_in_two_columns_is_one_page_fetched_once_and_told_once_to_each(
        config: Config, store: Store, site: Site) -> None:
    columns = Columns(site)
    store.sync_sources(config.sources)
    await check_both(config, store)  # the baselines
    shared = site.url("/doc/t1.html")
    assert site.hits("/doc/t1.html") == 1  # fetched once, not once per column
    [history] = [p for p in pages_of(store, shared) if p.kind == "document"]

    columns.items["jy"].append(30)  # a new reply in both columns
    columns.items["ta"].append(30)
    columns.items["jy"].append(31)  # and one in 建议答复 only
    await check_both(config, store)
    assert site.hits("/doc/t30.html") == 1
    assert alerts(store) == sorted([
        ("both@example.org", "document_added"), ("both@example.org", "document_added"),
        ("jy@example.org", "document_added"), ("jy@example.org", "document_added"),
        ("ta@example.org", "document_added")])
    with store.session() as s:
        told = s.exec(select(Change).where(Change.kind == "document_added")).all()
    assert len(told) == 2  # one 新文档 each: t30 once, t31

    pass_a_day(store)
    await check_both(config, store)
    assert site.hits("/doc/t1.html") == 2  # once a round
    assert [p.id for p in pages_of(store, shared) if p.kind == "document"] == [history.id]


def run(*args: str) -> str:
    out = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return out.output


async def test_both_columns_name_the_reply_and_show_its_one_history(
        config: Config, store: Store, site: Site, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    Columns(site)
    store.sync_sources(config.sources)
    await jy_then_ta(config, store)
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    shared, own = site.url("/doc/t1.html"), site.url("/doc/t20.html")
    by = {name: {d["url"]: d for d in json.loads(run(
        "history", name, "--documents", "--json", "--sources", str(config.path)))}
        for name in ("jy", "ta")}
    assert by["jy"][shared]["id"] == by["ta"][shared]["id"]  # one page
    assert by["jy"][shared]["versions"] == by["ta"][shared]["versions"] == 1
    assert by["jy"][shared]["listings"] == by["ta"][shared]["listings"] == ["jy", "ta"]
    assert by["ta"][own]["listings"] == ["ta"]
    table = run("history", "ta", "--documents", "--sources", str(config.path))
    assert "亦列于栏目 jy" in table
    page = json.loads(run("history", shared, "--json", "--sources", str(config.path)))
    assert page["page"]["listings"] == ["jy", "ta"] and len(page["versions"]) == 1
    assert "列于栏目 jy、ta" in run("history", shared, "--sources", str(config.path))


async def test_a_reply_one_column_had_is_not_news_when_the_other_lists_it_but_its_edits_are(
        config: Config, store: Store, site: Site) -> None:
    columns = Columns(site)
    columns.items["ta"].remove(3)
    store.sync_sources(config.sources)
    await check_both(config, store)
    columns.items["ta"].append(3)  # 提案答复 lists a reply 建议答复 had
    await check_both(config, store)
    assert alerts(store) == [] and site.hits("/doc/t3.html") == 1

    columns.amended.add(3)  # the reply amended: told once to each watcher of either
    pass_a_day(store)
    await check_both(config, store)
    assert site.hits("/doc/t3.html") == 2
    assert alerts(store) == [("both@example.org", "changed"), ("jy@example.org", "changed"),
                             ("ta@example.org", "changed")]


async def test_a_column_removed_hands_its_shared_replies_to_the_other(
        tmp_path: Path, config: Config, store: Store, site: Site) -> None:
    columns = Columns(site)
    store.sync_sources(config.sources)
    await jy_then_ta(config, store)
    [owner] = [p for p in pages_of(store, site.url("/doc/t1.html")) if p.kind == "document"]
    assert owner.source_id == store.resolve_page("jy")[0].id
    only_ta = load_config(write_sources(tmp_path / "ta.toml", f"""
        [[sources]]
        name = "ta"
        kind = "listing"
        url = "{site.url('/ta/index.html')}"
        links = "ul.list li a"
        [sources.follow]
        content = "div.article"
        interval = "1d"

        [[watchers]]
        email = "ta@example.org"
        sources = ["ta"]
        """), env={})
    store.sync_sources(only_ta.sources)  # 建议答复 removed from the file
    [mine] = pages_of(store, site.url("/doc/t1.html"))  # its page, handed over at once
    assert mine.id == owner.id and mine.kind == "document"
    assert mine.source_id == store.resolve_page("ta")[0].id
    await check_both(only_ta, store)
    assert site.hits("/doc/t1.html") == 1 and alerts(store) == []  # not due, not news
    assert store.resolve_page(site.url("/doc/t1.html"))[1].id == mine.id  # history URL
    columns.amended.add(1)
    pass_a_day(store)
    await check_both(only_ta, store)
    assert alerts(store) == [("ta@example.org", "changed")]


async def test_a_reply_one_column_took_off_is_listed_while_the_other_lists_it(
        config: Config, store: Store, site: Site) -> None:
    from storage.instant import utcnow
    from storage.schedule import Schedule

    columns = Columns(site)
    store.sync_sources(config.sources)
    await jy_then_ta(config, store)
    columns.items["jy"].remove(1)  # 建议答复 (its page's owner) takes it off
    await jy_then_ta(config, store)
    pass_a_day(store)
    jy = store.resolve_page("jy")[1].id or 0
    schedule = Schedule(store, "test", 60)

    def off() -> object:
        [row] = [r for r in schedule.due_documents([jy], utcnow())
                 if r[2] == site.url("/doc/t1.html")]
        return row[3]

    assert off() is None  # 提案答复 still lists it: checked at the follow interval
    columns.items["ta"].remove(1)
    await jy_then_ta(config, store)
    pass_a_day(store)
    assert off() is not None  # off both: the slower plan of an unlisted document


async def test_a_paused_column_keeps_its_shared_replies(
        tmp_path: Path, config: Config, store: Store, site: Site) -> None:
    Columns(site)
    store.sync_sources(config.sources)
    await jy_then_ta(config, store)
    text = config.path.read_text(encoding="utf-8")
    (tmp_path / "paused.toml").write_text(text.replace(
        'name = "jy"', 'name = "jy"\nenabled = false', 1), encoding="utf-8")
    paused = load_config(tmp_path / "paused.toml", env={})
    assert not paused.source("jy").enabled
    store.sync_sources(paused.sources)
    await run_checks(paused, store, [paused.source("ta")], progress=False)
    await jy_then_ta(config, store)  # resumed: still one page, checked once
    assert len([p for p in pages_of(store, site.url("/doc/t1.html"))
                if p.kind == "document"]) == 1
    assert site.hits("/doc/t1.html") == 1


def etag_listing(site: Site, columns: Columns, name: str) -> None:
    """The column answers 304 to a request that names its ETag: unchanged for weeks."""
    def handle(req: Request) -> Response:
        if any(k.lower() == "if-none-match" and v == '"v1"' for k, v in req.headers.items()):
            return Response(b"", status=304, headers={"ETag": '"v1"'})
        page = columns._listing(name)
        return replace(page, headers={**page.headers, "ETag": '"v1"'})
    site.route(f"/{name}/index.html", handle)


async def jy_removed_after_both(tmp_path: Path, config: Config, store: Store, db_url: str,
                                monkeypatch: pytest.MonkeyPatch) -> Path:
    """Both columns checked (jy, then ta), then jy removed from a copy of the file with
    ``monitor sources remove``: the copy, naming ta only."""
    store.sync_sources(config.sources)
    await jy_then_ta(config, store)
    only_ta = tmp_path / "only_ta.toml"
    only_ta.write_text(config.path.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    run("sources", "remove", "jy", "--sources", str(only_ta))
    return only_ta


async def test_a_column_removed_hands_over_at_once_while_the_other_answers_304(
        tmp_path: Path, config: Config, store: Store, site: Site, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The remaining column unchanged (304): the reply is still checked, its edit told
    to that column's watchers, one history that goes on (history, diff, check URL)."""
    columns = Columns(site)
    etag_listing(site, columns, "ta")
    only_ta = await jy_removed_after_both(tmp_path, config, store, db_url, monkeypatch)
    cfg = load_config(only_ta, env={})
    assert [s.name for s in cfg.sources] == ["ta"]
    store.sync_sources(cfg.sources)
    columns.amended.add(1)
    pass_a_day(store)
    await check_both(cfg, store)
    [*_, last] = [r for r in site.requests if r.path == "/ta/index.html"]
    assert any(k.lower() == "if-none-match" for k in last.headers)  # answered 304
    assert site.hits("/doc/t1.html") == 2  # checked though the column answered 304
    told = [a for a in alerts(store) if a[1] == "changed"]
    assert told == [("both@example.org", "changed"), ("ta@example.org", "changed")]
    shared = site.url("/doc/t1.html")
    page = json.loads(run("history", shared, "--json", "--sources", str(only_ta)))
    assert page["page"]["versions"] == len(page["versions"]) == 2  # one history goes on
    assert page["source"] == "ta" and page["page"]["listings"] == ["ta"]
    assert "项目已竣工" in run("diff", shared, "--sources", str(only_ta))
    checked = await asyncio.to_thread(run, "check", "--source", shared, "--no-deliver",
                                      "--json", "--sources", str(only_ta))
    assert json.loads(checked)["results"][0]["source"] == "ta"


async def test_a_column_removed_is_no_longer_named_by_the_other(
        tmp_path: Path, config: Config, store: Store, site: Site, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    Columns(site)
    store.sync_sources(config.sources)
    await jy_then_ta(config, store)  # 建议答复 owns the shared replies
    only_jy = tmp_path / "only_jy.toml"
    only_jy.write_text(config.path.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    run("sources", "remove", "ta", "--sources", str(only_jy))
    store.sync_sources(load_config(only_jy, env={}).sources)
    shared = site.url("/doc/t1.html")
    [doc] = [d for d in json.loads(run("history", "jy", "--documents", "--json",
                                       "--sources", str(only_jy))) if d["url"] == shared]
    assert doc["listings"] == ["jy"]
    assert "亦列于栏目" not in run("history", "jy", "--documents", "--sources", str(only_jy))
    page = json.loads(run("history", shared, "--json", "--sources", str(only_jy)))
    assert page["page"]["listings"] == ["jy"]


async def test_a_watcher_of_the_other_column_is_told_under_that_column_s_name(
        config: Config, store: Store, site: Site) -> None:
    from alerts.compose import Composer
    from storage.alerts_repo import AlertsRepo

    columns = Columns(site)
    store.sync_sources(config.sources)
    await jy_then_ta(config, store)  # 建议答复 (jy) owns the shared reply
    columns.amended.add(1)
    pass_a_day(store)
    await check_both(config, store)
    repo = AlertsRepo(store)
    with store.session() as s:
        rows = {a.recipient: a.id or 0 for a, c in s.exec(
            select(Alert, Change).where(Alert.change_id == Change.id, Change.kind == "changed"))}
    subjects = {who: Composer(config.settings, repo).compose([repo.get(i)]).subject
                for who, i in rows.items()}
    assert subjects["ta@example.org"].startswith("[monitor] ta ")  # the column they follow
    assert subjects["jy@example.org"].startswith("[monitor] jy ")
    assert subjects["both@example.org"].startswith("[monitor] jy ")  # the owner: theirs too
    composer = Composer(config.settings, repo)
    with composer.sharing():  # as a delivery round: one change, composed once per listing
        shared = {who: composer.compose([repo.get(i)]) for who, i in rows.items()}
    assert {who: m.subject for who, m in shared.items()} == subjects
    assert all(f"发给 {who}" in m.text and m.text.count("@example.org") == 1
               for who, m in shared.items())


async def test_check_of_a_removed_column_s_own_reply_says_why_in_chinese(
        tmp_path: Path, config: Config, store: Store, site: Site, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    Columns(site)
    only_ta = await jy_removed_after_both(tmp_path, config, store, db_url, monkeypatch)
    own = site.url("/doc/t10.html")  # 建议答复's alone: not handed over
    out = await asyncio.to_thread(CliRunner().invoke, cli, [
        "check", "--source", own, "--sources", str(only_ta)])
    assert out.exit_code == 2
    assert "已不在文件中" in out.output and "取值无效" not in out.output, out.output
    out = await asyncio.to_thread(CliRunner().invoke, cli, [
        "check", "--source", site.url("/doc/nowhere.html"), "--sources", str(only_ta)])
    assert out.exit_code == 3  # not found: the argument is wrong, not the file
    assert "请核对网址" in out.output and "取值无效" not in out.output, out.output
