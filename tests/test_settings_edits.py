"""An admin edits a source's settings (``content``, ``ignore_text``) in sources.toml.

The new settings apply at the next check even when the page did not change: it is read
whole, without If-None-Match / If-Modified-Since and without the same-bytes shortcut,
until one check has read it so (``pages.settings_read_at``, ``monitor.pipeline.
settings_read``); then it is asked conditionally again.  What the settings alone change
is stored as a version without telling the watchers; a real edit found in the same
check is told, its diff computed against the old page read with the new settings
(``Checker._settings_apart``).  Real HTTP servers on 127.0.0.1, SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlmodel import select

import monitor.fetch.http
import monitor.pipeline
from alerts.compose import Composer
from monitor.cli.check import run_checks
from monitor.config import load_config
from monitor.fetch.encoding import decode_declared, decode_html
from monitor.types import Outcome
from monitor.web.app import create_app
from storage import Store, db, rawcodec
from storage.alerts_repo import AlertsRepo
from storage.models import Page, Version
from tests.conftest import write_sources
from tests.pages import seed_page
from tests.sites import Request, Response, Site
from tests.test_pipeline import ANALYST, EDIT, Env, html, make_env  # noqa: F401  (fixture)

CONTENT = 'content = ".v_news_content"'  # seed 000's body, as the admin first chose it
NOWHERE = 'content = "div.nosuchthing"'
IGNORED = "向淑晃委员"  # seed 000's salutation, a paragraph of its own
IGNORE = f"ignore_text = ['{IGNORED}']"
IGNORE_NOTHING = "ignore_text = ['这句话不在页面上']"


class Conditional:
    """A server that sends an ETag and answers 304 to it; it keeps every request."""

    def __init__(self, body: bytes, etag: str = '"v1"') -> None:
        self.body, self.etag = body, etag
        self.asked: list[str | None] = []  # the If-None-Match of each request

    def __call__(self, req: Request) -> Response:
        sent = req.headers.get("if-none-match")
        self.asked.append(sent)
        if sent == self.etag:
            return Response(b"", status=304, headers={"ETag": self.etag})
        return html(self.body, ETag=self.etag)


def edit(make_env: Callable[..., Env], *lines: str) -> Env:  # noqa: F811  (the fixture)
    """The admin's edit of the source in sources.toml, synced as ``monitor check`` does."""
    env = make_env(source_lines="\n".join(lines))
    env.store.sync_sources(env.config.sources)
    return env


def last_ok(env: Env) -> object:
    """When the page was last confirmed (its last successful check)."""
    with env.store.session() as s:
        page = s.get(Page, env.page().page_id)
        assert page is not None
        return page.last_ok_at


# --- bug 1: a 304 must not skip the new settings ------------------------------------------


async def test_a_new_content_selector_is_applied_though_the_server_would_answer_304(
        make_env: Callable[..., Env]) -> None:  # noqa: F811  (the fixture)
    env = edit(make_env, CONTENT)
    server = Conditional(seed_page(0))
    env.serve(server)
    assert (await env.check()).outcome is Outcome.NEW
    assert (await env.check()).status == 304
    confirmed = last_ok(env)

    edited = edit(make_env, NOWHERE)
    result = await edited.check()

    # the page is read whole, and the selector that matches nothing fails the check,
    # as it does on a server without ETags (not "unchanged │ 304")
    assert server.asked == [None, '"v1"', None]
    assert result.outcome is Outcome.ERROR and result.status == 200
    assert "div.nosuchthing" in (result.error or "")
    assert len(edited.versions()) == 1
    assert last_ok(edited) == confirmed  # "last confirmed" did not move
    # and until the selector reads the page, every check reads it whole
    assert (await edited.check()).outcome is Outcome.ERROR
    assert server.asked[-1] is None


async def test_a_new_ignore_text_is_applied_though_the_server_would_answer_304(
        make_env: Callable[..., Env]) -> None:  # noqa: F811  (the fixture)
    env = make_env()
    server = Conditional(seed_page(0))
    env.serve(server)
    await env.check()
    assert (await env.check()).status == 304

    edited = edit(make_env, IGNORE)
    result = await edited.check()

    assert server.asked == [None, '"v1"', None]  # read whole, no If-None-Match
    assert result.outcome is Outcome.CHANGED and result.status == 200
    v1, v2 = edited.versions()
    assert IGNORED in edited.store.version(v1.id).text
    assert IGNORED not in edited.store.version(v2.id).text
    # read once with the new settings: 304s again
    again = await edited.check()
    assert again.outcome is Outcome.UNCHANGED and again.status == 304
    assert server.asked[-1] == '"v1"'


async def test_after_one_whole_read_that_finds_the_same_text_the_page_is_asked_with_304s(
        make_env: Callable[..., Env]) -> None:  # noqa: F811  (the fixture)
    env = make_env()
    server = Conditional(seed_page(0))
    env.serve(server)
    await env.check()

    edited = edit(make_env, IGNORE_NOTHING)  # changes nothing on this page
    first, second, third = [await edited.check() for _ in range(3)]

    assert (first.outcome, first.status) == (Outcome.UNCHANGED, 200)  # read whole
    assert [(r.outcome, r.status) for r in (second, third)] == [(Outcome.UNCHANGED, 304)] * 2
    assert server.asked == [None, None, '"v1"', '"v1"']
    assert len(edited.versions()) == 1  # the whole read stored no version


def _broken(*args: object, **kw: object) -> object:
    raise RuntimeError("extraction ran")


async def test_without_etags_the_same_bytes_take_the_cheap_path_again_after_one_read(
        make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811  (the fixture)
    env = make_env()
    env.serve(html(seed_page(0)))
    await env.check()
    edited = edit(make_env, IGNORE_NOTHING)
    assert (await edited.check()).outcome is Outcome.UNCHANGED  # read whole: same text

    # the same bytes again: not parsed (the broken extraction would fail the check)
    monkeypatch.setattr(monitor.pipeline, "extract", _broken)
    again = await edited.check()
    assert again.outcome is Outcome.UNCHANGED and again.error_kind is None


async def test_the_same_bytes_are_not_even_decoded_and_new_bytes_are_read_whole(
        make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811  (the fixture)
    """An unchanged page without validators: its text is the last version's, so the
    body's charset is neither detected nor decoded (``FetchResult.decoded``); an
    edited page's body still is, and its edit is found."""
    env = make_env()
    env.serve(html(seed_page(0)))
    assert (await env.check()).outcome is Outcome.NEW
    decodings: list[int] = []

    def counted(body: bytes, *args: object) -> tuple[str, str]:
        decodings.append(len(body))
        return decode_html(body, *args)  # type: ignore[arg-type]

    def counted_declared(body: bytes, *args: object) -> tuple[str, str] | None:
        got = decode_declared(body, *args)  # type: ignore[arg-type]
        if got is not None:  # else decode_html decodes it (counted there)
            decodings.append(len(body))
        return got

    # both ways the fetcher decodes: on the loop (a declared charset) or in a thread
    monkeypatch.setattr(monitor.fetch.http, "decode_html", counted)
    monkeypatch.setattr(monitor.fetch.http, "decode_declared", counted_declared)
    again = await env.check()
    assert (again.outcome, again.status, decodings) == (Outcome.UNCHANGED, 200, [])

    env.serve(html(seed_page(0, edit=EDIT)))
    edited = await env.check()
    assert edited.outcome is Outcome.CHANGED and edited.change_kind is not None
    assert decodings == [len(seed_page(0, edit=EDIT))]
    assert EDIT[1] in env.store.version(env.versions()[-1].id).text


def _sources(tmp_path: Path, site: Site, n: int, line: str = "") -> Path:
    return write_sources(tmp_path / "sources.toml", "".join(
        f'[[sources]]\nname = "p{i}"\nurl = "{site.url(f"/p{i}.html")}"\n{line}\n\n'
        for i in range(n)), settings="concurrency = 3\n")


async def test_monitor_check_group_commits_record_the_whole_read(
        tmp_path: Path, site: Site, store: Store) -> None:
    """``monitor check`` commits its unchanged checks in groups (``Store.commit_checks``):
    a whole read stored there counts too, and the next pass is 304s again."""
    servers = [Conditional(seed_page(i % 4), etag=f'"p{i}"') for i in range(3)]
    for i, server in enumerate(servers):
        site.route(f"/p{i}.html", server)

    async def check_all(line: str = "") -> list[tuple[Outcome, int | None]]:
        config = load_config(_sources(tmp_path, site, 3, line), env={})
        await asyncio.to_thread(store.sync_sources, config.sources)
        results = await run_checks(config, store, config.sources, progress=False)
        return sorted((r.outcome, r.status) for r in results)

    assert await check_all() == [(Outcome.NEW, 200)] * 3
    assert await check_all() == [(Outcome.UNCHANGED, 304)] * 3
    assert await check_all(IGNORE_NOTHING) == [(Outcome.UNCHANGED, 200)] * 3  # read whole
    assert await check_all(IGNORE_NOTHING) == [(Outcome.UNCHANGED, 304)] * 3
    assert [s.asked for s in servers] == [[None, f'"p{i}"', None, f'"p{i}"']
                                          for i in range(3)]


async def test_a_source_with_headers_is_asked_with_304s_at_every_pass(
        tmp_path: Path, site: Site, store: Store) -> None:
    """``headers`` (pairs) stored on the source's row read back as lists: the row of a
    source with headers was "updated" at every sync, so every ``monitor check`` took its
    settings for new and read the page whole, without If-None-Match."""
    server = Conditional(seed_page(0))
    site.route("/p0.html", server)
    line = 'headers = { Referer = "https://www.example.gov.cn/" }'

    async def check() -> tuple[Outcome, int | None]:
        config = load_config(_sources(tmp_path, site, 1, line), env={})
        synced = await asyncio.to_thread(store.sync_sources, config.sources)
        assert synced["updated"] == []
        [r] = await run_checks(config, store, config.sources, progress=False)
        return r.outcome, r.status

    assert [await check() for _ in range(3)] == [
        (Outcome.NEW, 200), (Outcome.UNCHANGED, 304), (Outcome.UNCHANGED, 304)]
    assert server.asked == [None, '"v1"', '"v1"']


# --- bug 2: a settings edit is not an edit of the page --------------------------------------


async def test_what_the_settings_alone_change_is_a_version_nobody_is_told_of(
        make_env: Callable[..., Env]) -> None:  # noqa: F811  (the fixture)
    env = make_env()
    env.serve(html(seed_page(0)))  # no ETag
    await env.check()

    edited = edit(make_env, IGNORE)
    result = await edited.check()

    assert result.outcome is Outcome.CHANGED and result.version_id is not None
    assert result.alerts == 0 and edited.alerts() == []
    v1, v2 = edited.versions()  # the archive follows the settings
    assert IGNORED not in edited.store.version(v2.id).text
    [change] = edited.changes()
    assert change.alert is False and (change.old_version_id, change.new_version_id) == (
        v1.id, v2.id)
    assert change.summary.startswith("设置变更后重新提取（页面本身未变）")
    # and the page's next real edit is told as usual, against the new version
    edited.serve(html(seed_page(0, edit=EDIT)))
    real = await edited.check()
    assert real.outcome is Outcome.CHANGED and real.alerts == 1
    assert [a.event for a in edited.alerts()] == ["change"]
    # the feeds carry what watchers are told: the edit, not the silent re-read
    app = create_app(edited.config, edited.store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as web:
        feed = (await web.get("/feeds/changes.atom")).text
    assert feed.count("<entry") == 1 and "引领" in feed and "设置变更" not in feed, feed


async def test_settings_that_bring_back_an_older_reading_are_not_called_flapping(
        make_env: Callable[..., Env]) -> None:  # noqa: F811  (the fixture)
    """An ignore_text taken out, then put back: the third version reads as the first, but
    the page never changed, so it is a settings re-read, not 内容来回变化."""
    env = make_env(source_lines=IGNORE)
    env.serve(html(seed_page(0)))
    await env.check()
    await edit(make_env).check()  # the filter taken out: the salutation is read again

    again = edit(make_env, IGNORE)  # and put back
    result = await again.check()

    assert result.outcome is Outcome.CHANGED and result.alerts == 0
    change = again.changes()[-1]
    assert change.kind != "flapping" and "flapping" not in change.details
    assert change.summary.startswith("设置变更后重新提取（页面本身未变）："), change.summary
    assert "内容来回变化" not in change.summary


async def test_a_real_edit_with_a_settings_edit_is_told_with_the_pages_edit_only(
        make_env: Callable[..., Env]) -> None:  # noqa: F811  (the fixture)
    env = make_env()
    env.serve(html(seed_page(0)))
    await env.check()

    edited = edit(make_env, IGNORE)
    edited.serve(html(seed_page(0, edit=EDIT)))  # and the page was edited meanwhile
    result = await edited.check()

    assert result.outcome is Outcome.CHANGED and result.alerts == 1
    [alert] = edited.alerts()
    [change] = edited.changes()
    assert alert.change_id == change.id and change.alert is True
    assert change.stats["added"] == 2 and change.stats["removed"] == 2  # 头雁 → 引领
    repo = AlertsRepo(edited.store)
    msg = Composer(edited.config.settings, repo).change(repo.change_view(change.id or 0),
                                                        ANALYST)
    assert "（+2 / −2 字）" in msg.subject, msg.subject
    assert "引领" in msg.text and "头雁" in msg.text
    assert IGNORED not in msg.text  # the salutation the filter took out is no "deletion"
    assert "段删除" not in msg.text
    for part in (msg.text, msg.html):  # and why the old side was read again
        assert "来源的设置（content、ignore_text 等）已修改：旧版已按新设置重新提取" in part
        assert "monitor 升级" not in part

    # the web UI's diff of the two versions (the alert's link) shows the same edit
    v1, v2 = edited.versions()
    app = create_app(edited.config, edited.store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as web:
        page = (await web.get(f"/diff?a={v1.id}&b={v2.id}")).text
        whole = (await web.get(f"/diff?a={v1.id}&b={v2.id}&stored=1")).text
        feed = (await web.get("/feeds/changes.atom")).text
    assert "引领" in feed and IGNORED not in feed  # the feed's diff is the alert's too
    shown = page.split('id="diff"')[1]
    assert "引领" in shown and "头雁" in shown and IGNORED not in shown
    assert "来源的设置（content、ignore_text 等）已修改" in page  # and why the old side differs
    assert f"/diff?a={v1.id}&amp;b={v2.id}&amp;mode=inline&amp;context=1&amp;stored=1" in page
    # as stored, the settings' part shows too: the salutation the filter took out
    assert IGNORED in whole.split('id="diff"')[1] and "已修改" not in whole


@pytest.mark.parametrize("case", ["other body", "selector reads only the new page"])
async def test_a_last_version_that_cannot_be_read_again_is_compared_as_stored(
        make_env: Callable[..., Env], case: str) -> None:  # noqa: F811  (the fixture)
    """The last version cannot be read with the new settings (its body is not the one
    stored; the new selector matches nothing in it): the settings' part of the
    difference cannot be told apart, so the difference is told, as before the fix
    (never silence about what may be an edit)."""
    env = make_env()
    env.serve(html(seed_page(0)))
    await env.check()
    if case == "other body":
        with env.store.session() as s:
            row = s.exec(select(Version)).one()
            row.raw_body, row.raw_codec = rawcodec.compress(seed_page(1)), "zstd"
            s.add(row)
            s.commit()
        edited = edit(make_env, IGNORE)
    else:  # the site's new template, and the admin's selector for it
        edited = edit(make_env, 'content = ".zoom"')
        new = seed_page(0, edit=EDIT).replace(b'class="v_news_content"', b'class="zoom"')
        edited.serve(html(new))

    result = await edited.check()

    assert result.outcome is Outcome.CHANGED and result.alerts == 1
    [change] = edited.changes()
    assert change.alert is True and not change.summary.startswith("设置变更")
    assert "reread" not in change.details


def cli(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    from click.testing import CliRunner

    from monitor.cli import cli as monitor

    monkeypatch.setenv("MONITOR_DATABASE_URL", env.store.url)
    monkeypatch.setenv("COLUMNS", "400")  # the history table's change column unfolded
    out = CliRunner().invoke(monitor, [*args, "--sources", str(tmp_path / "sources.toml")])
    assert out.exit_code == 0, out.output
    return out.output


SETTINGS_NOTE = "两版之间来源的设置（content、ignore_text 等）已修改"


async def test_history_labels_a_settings_re_read_and_diff_notes_the_settings_edit(
        make_env: Callable[..., Env], tmp_path: Path,  # noqa: F811  (the fixture)
        monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env()
    env.serve(html(seed_page(0)))
    await env.check()
    edited = edit(make_env, IGNORE)
    await edited.check()  # the settings alone: a version nobody is told of
    edited.serve(html(seed_page(0, edit=EDIT)))
    await edited.check()  # then a real edit
    v1, v2, v3 = (v.id for v in edited.versions())

    history = cli(edited, tmp_path, monkeypatch, "history", "hn-0192")
    assert "设置变更（页面本身未变）: 第" in history, history  # not an edit of the page
    assert history.count("正文修改") == 1  # the real edit only
    assert "设置变更后重新提取" not in history  # the label is said once, not twice
    versions = json.loads(cli(edited, tmp_path, monkeypatch, "history", "hn-0192",
                              "--json"))["versions"]
    # for programs: which versions the page itself made, whatever kind the difference has
    assert [(v["change_label"], v["reread"]) for v in versions] == [
        ("首次收录", None), ("设置变更（页面本身未变）", "settings"), ("正文修改", None)]
    app = create_app(edited.config, edited.store)  # and the web UI's timeline and version
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as web:
        pages = [(await web.get(f"/pages/{edited.page().page_id}")).text,
                 (await web.get(f"/versions/{v2}")).text]
    for page in pages:
        assert '<span class="badge kind">设置变更（页面本身未变）</span> 第' in page
        assert "设置变更后重新提取" not in page

    across = cli(edited, tmp_path, monkeypatch, "diff", str(v1), str(v2), "--no-color")
    assert SETTINGS_NOTE in across and IGNORED in across  # as stored, and said why
    assert SETTINGS_NOTE in cli(edited, tmp_path, monkeypatch, "diff", str(v1), str(v3),
                                "--no-color")
    after = cli(edited, tmp_path, monkeypatch, "diff", str(v2), str(v3), "--no-color")
    assert SETTINGS_NOTE not in after and "引领" in after  # no settings edit in between
    as_json = cli(edited, tmp_path, monkeypatch, "diff", str(v1), str(v2), "--json")
    assert '"settings_changed": true' in as_json


async def test_diff_of_a_change_read_again_notes_the_settings_edit(
        make_env: Callable[..., Env], tmp_path: Path,  # noqa: F811  (the fixture)
        monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env()
    env.serve(html(seed_page(0)))
    await env.check()
    edited = edit(make_env, IGNORE)
    edited.serve(html(seed_page(0, edit=EDIT)))  # the page edited with the settings
    await edited.check()
    assert len(edited.versions()) == 2

    out = cli(edited, tmp_path, monkeypatch, "diff", "hn-0192", "--no-color")
    assert SETTINGS_NOTE in out and "引领" in out and IGNORED in out
    history = cli(edited, tmp_path, monkeypatch, "history", "hn-0192")
    assert "正文修改" in history and "设置变更" not in history  # the page's edit: told


# --- migration 0011 -------------------------------------------------------------------------


async def test_migration_0011_starts_pages_from_their_last_versions_fetch(
        make_env: Callable[..., Env], db_url: str) -> None:  # noqa: F811  (the fixture)
    env = make_env()
    server = Conditional(seed_page(0))
    env.serve(server)
    await env.check()
    env.store.close()
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    engine = sa.create_engine(db.normalize_url(db_url))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
        assert "settings_read_at" not in {c["name"] for c in
                                          sa.inspect(conn).get_columns("pages")}
    engine.dispose()
    store = Store(db_url)  # 0011 again
    try:
        with store.session() as s:
            page = s.exec(select(Page)).one()
            version = s.get(Version, page.last_version_id)
            assert version is not None and page.settings_read_at == version.fetched_at
        env.store = store
        # 0013 came back too: the page counts as read by older rules, so it is read
        # whole once (``rules_read``), then asked with 304s as before
        first = await env.check()
        assert (first.outcome, first.status) == (Outcome.UNCHANGED, 200)
        assert (await env.check()).status == 304
    finally:
        store.close()
