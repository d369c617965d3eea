"""``monitor serve --admin`` over HTTP: off by default, token even on loopback, sessions,
CSRF and Origin checks, and edits that go through the sources editor (comments kept,
broken edits never written).  The same flows in Chromium: test_web_admin_browser.py."""

from __future__ import annotations

import os
import re
import time
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from monitor.config import Config, load_config, parse_config
from monitor.errors import ConfigError
from monitor.web.app import create_app
from storage import Store
from tests.conftest import write_sources
from tests.pages import seed_page, seed_paragraphs
from tests.sites import Site
from tests.test_daemon_run import Daemons, daemons, wait_until  # noqa: F401
from tests.test_web_api import running

TOKEN = "admin-token-0123456789abcdef"
BASE = "http://127.0.0.1"
SOURCES = """\
# Our watch list.  Keep this header.

# Wuhan replies: the first page we watched.
[[sources]]
name = "wh-reply"
url = "{url}"
interval = "6h"   # often enough
"""


def sources_file(tmp_path: Path, site: Site) -> Path:
    url = site.route("/reply.html", seed_page(1))
    return write_sources(tmp_path / "sources.toml", SOURCES.format(url=url))


def admin_app(path: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv("MONITOR_ADMIN_TOKEN", TOKEN)
    return create_app(load_config(path), store, admin=True)


@pytest.fixture
async def admin(tmp_path: Path, site: Site, store: Store,
                monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    app = admin_app(sources_file(tmp_path, site), store, monkeypatch)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=BASE) as client:
        yield client


async def sign_in(client: httpx.AsyncClient) -> str:
    """Sign in; the page's CSRF token."""
    r = await client.post("/admin/login", data={"token": TOKEN}, headers={"Origin": BASE})
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    cookie = r.headers["set-cookie"]
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/admin"):
        assert flag in cookie
    page = await client.get("/admin")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found[1]


def post(client: httpx.AsyncClient, path: str, csrf: str | None,
         origin: str | None = BASE, **fields: str) -> object:
    data = dict(fields, **({"csrf": csrf} if csrf is not None else {}))
    headers = {"Origin": origin} if origin else {}
    return client.post(path, data=data, headers=headers)


async def test_without_admin_no_admin_route_exists(tmp_path: Path, site: Site,
                                                   store: Store) -> None:
    app = create_app(load_config(sources_file(tmp_path, site)), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=BASE) as client:
        for path in ("/admin", "/admin/login", "/admin/add"):
            assert (await client.get(path)).status_code == 404
        r = await client.post("/admin/login", data={"token": TOKEN})
        assert r.status_code == 405  # read-only: no POST anywhere
        r = await client.post("/admin/sources/wh-reply/pause", data={"csrf": "x"})
        assert r.status_code == 405


def test_admin_refuses_to_start_without_a_token(tmp_path: Path, site: Site, store: Store,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = sources_file(tmp_path, site)
    with pytest.raises(ConfigError, match="MONITOR_ADMIN_TOKEN"):
        create_app(load_config(path), store, admin=True)
    monkeypatch.setenv("MONITOR_ADMIN_TOKEN", "short")
    with pytest.raises(ConfigError, match="至少 16 个字符"):
        create_app(load_config(path), store, admin=True)


def test_serve_admin_without_token_says_so_in_chinese(tmp_path: Path, site: Site) -> None:
    from monitor.cli import cli

    path = sources_file(tmp_path, site)
    result = CliRunner().invoke(cli, ["serve", "--admin", "--sources", str(path)])
    assert result.exit_code != 0
    assert "管理模式需要管理令牌" in result.output and "MONITOR_ADMIN_TOKEN" in result.output


async def test_the_token_in_a_file_is_refused(tmp_path: Path) -> None:
    path = write_sources(tmp_path / "s.toml", "", settings=f'admin_token = "{TOKEN}"')
    with pytest.raises(ConfigError, match="MONITOR_ADMIN_TOKEN"):
        load_config(path)


async def test_no_session_redirects_pages_and_refuses_posts(
        admin: httpx.AsyncClient) -> None:
    for path in ("/admin", "/admin/add"):
        r = await admin.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/admin/login"
    r = await post(admin, "/admin/sources/wh-reply/pause", "anything")
    assert r.status_code == 401
    r = await admin.post("/admin/login", data={"token": "wrong-" + TOKEN},
                         headers={"Origin": BASE})
    assert r.status_code == 401 and "管理令牌不正确" in r.text
    assert "set-cookie" not in r.headers


async def test_csrf_missing_or_wrong_and_foreign_origin_are_403(
        admin: httpx.AsyncClient, tmp_path: Path) -> None:
    csrf = await sign_in(admin)
    before = (tmp_path / "sources.toml").read_text(encoding="utf-8")
    for token in (None, "", csrf[:-1] + "x"):
        r = await post(admin, "/admin/sources/wh-reply/pause", token)
        assert r.status_code == 403 and "CSRF" in r.text
    r = await post(admin, "/admin/sources/wh-reply/pause", csrf, origin="http://evil.example")
    assert r.status_code == 403 and "Origin" in r.text
    r = await admin.post("/admin/sources/wh-reply/pause", data={"csrf": csrf},
                         headers={"Origin": BASE, "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    r = await admin.post("/admin/login", data={"token": TOKEN},
                         headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert (tmp_path / "sources.toml").read_text(encoding="utf-8") == before
    r = await post(admin, "/admin/sources/wh-reply/pause", csrf)  # the right one works
    assert r.status_code == 303


async def test_sign_out_ends_the_session(admin: httpx.AsyncClient) -> None:
    csrf = await sign_in(admin)
    assert (await post(admin, "/admin/logout", csrf)).status_code == 303
    assert (await admin.get("/admin")).status_code == 303
    assert (await post(admin, "/admin/sources/wh-reply/pause", csrf)).status_code == 401


async def test_add_tests_first_then_saves_keeping_comments(
        admin: httpx.AsyncClient, site: Site, tmp_path: Path) -> None:
    csrf = await sign_in(admin)
    url = site.route("/plan.html", seed_page(3))
    fields = {"name": "hb-plan", "url": url, "interval": "1d", "tags": "hubei，plan"}
    r = await post(admin, "/admin/add", csrf, action="test", **fields)
    assert r.status_code == 200
    assert seed_paragraphs(3)[2][:20] in r.text  # what it would extract
    path = tmp_path / "sources.toml"
    assert "hb-plan" not in path.read_text(encoding="utf-8")  # a test writes nothing
    r = await post(admin, "/admin/add", csrf, action="save", **fields)
    assert r.status_code == 303
    text = path.read_text(encoding="utf-8")
    for kept in ("# Our watch list.  Keep this header.",
                 "# Wuhan replies: the first page we watched.", '"6h"   # often enough'):
        assert kept in text
    added = tomllib.loads(text)["sources"][-1]
    assert added == {"name": "hb-plan", "url": url, "interval": "1d",
                     "tags": ["hubei", "plan"]}
    assert "已添加 hb-plan" in (await admin.get("/admin")).text


async def test_a_failing_test_is_shown_in_chinese_and_not_saved(
        admin: httpx.AsyncClient, site: Site, tmp_path: Path) -> None:
    csrf = await sign_in(admin)
    path = tmp_path / "sources.toml"
    before = path.read_text(encoding="utf-8")
    url = site.route("/plan.html", seed_page(3))
    r = await post(admin, "/admin/add", csrf, action="save", name="p", url=url,
                   content="div.no-such-body")
    assert r.status_code == 422
    assert "页面上找不到指定的正文区域" in r.text and "未保存" in r.text
    assert 'value="div.no-such-body"' in r.text  # the form keeps what was typed
    gone = site.url("/missing.html")
    r = await post(admin, "/admin/add", csrf, action="test", name="p", url=gone)
    assert "页面已删除或不存在（HTTP 404）" in r.text
    r = await post(admin, "/admin/add", csrf, action="save", name="p", url=url,
                   interval="soon")
    assert r.status_code == 400
    assert re.search(r"来源 p，键 interval 第 \d+ 行：取值无效；写的是：soon；", r.text)
    assert "&#39;soon&#39; is not an interval" in r.text
    r = await post(admin, "/admin/add", csrf, action="save", name="wh-reply", url=url)
    assert r.status_code == 400 and "名称重复" in r.text
    assert path.read_text(encoding="utf-8") == before
    r = await post(admin, "/admin/add", csrf, action="save", name="p", url=gone, force="1")
    assert r.status_code == 303  # "save anyway", like --force
    assert tomllib.loads(path.read_text(encoding="utf-8"))["sources"][-1]["url"] == gone


async def test_pause_resume_and_remove_edit_the_file(
        admin: httpx.AsyncClient, site: Site, tmp_path: Path) -> None:
    csrf = await sign_in(admin)
    path = tmp_path / "sources.toml"
    assert (await post(admin, "/admin/sources/wh-reply/pause", csrf)).status_code == 303
    assert load_config(path).sources[0].enabled is False
    assert '"6h"   # often enough\nenabled = false' in path.read_text(encoding="utf-8")
    page = (await admin.get("/admin")).text
    assert "已暂停 wh-reply" in page and "已暂停" in page and "恢复" in page
    await post(admin, "/admin/sources/wh-reply/resume", csrf)
    assert load_config(path).sources[0].enabled is True
    # the only source: removing it would leave a file the daemon refuses
    await post(admin, "/admin/sources/wh-reply/remove", csrf)
    assert [s.name for s in load_config(path).sources] == ["wh-reply"]
    said = (await admin.get("/admin")).text  # as `monitor sources remove` says it
    assert "未删除：" in said and "这是文件中唯一的来源" in said and "「暂停」" in said
    assert "取值无效" not in said
    await post(admin, "/admin/add", csrf, action="save", name="two",
               url=site.route("/plan.html", seed_page(3)))
    assert (await post(admin, "/admin/sources/wh-reply/remove", csrf)).status_code == 303
    text = path.read_text(encoding="utf-8")
    assert [s.name for s in load_config(path).sources] == ["two"]
    assert "# Our watch list.  Keep this header." in text and "Wuhan" not in text
    assert (await post(admin, "/admin/sources/nope/pause", csrf)).status_code == 404


async def test_check_now_stores_a_version(admin: httpx.AsyncClient, store: Store) -> None:
    csrf = await sign_in(admin)
    r = await post(admin, "/admin/sources/wh-reply/check", csrf)
    assert r.status_code == 303
    assert "已检查 wh-reply：首次收录" in (await admin.get("/admin")).text
    timeline = (await admin.get("/sources/wh-reply")).text
    assert "首次收录" in timeline
    await post(admin, "/admin/sources/wh-reply/check", csrf)
    assert "已检查 wh-reply：无变化" in (await admin.get("/admin")).text


# --- the editor's pause and resume (monitor.sources_edit.set_enabled) -------------------

EDITED = """\
# Header.

[[sources]]
name = "a"
url = "https://a.gov.cn/"
interval = "1d"   # daily
# cron = "0 8 * * *"   (tried)

# B is a listing.
[[sources]]
name = "b"
url = "https://b.gov.cn/list/"
kind = "listing"
enabled = true   # checked since May

[sources.follow]
content = "div.article"

[[watchers]]
email = "x@example.org"
sources = ["*"]
"""


def test_pause_puts_enabled_after_the_last_key_and_keeps_every_comment() -> None:
    from monitor.scheduler import plans
    from monitor.sources_edit import set_enabled

    path = Path("sources.toml")
    out = set_enabled(EDITED, "a", False, path=path)
    assert 'interval = "1d"   # daily\nenabled = false\n# cron = "0 8 * * *"   (tried)' in out
    assert out.replace("enabled = false\n", "", 1) == EDITED
    out = set_enabled(out, "b", False, path=path)
    assert "enabled = false   # checked since May" in out  # its line and comment stay
    assert tomllib.loads(out)["sources"][1]["follow"] == {"content": "div.article"}
    config = load_config_text(out)
    assert [s.enabled for s in config.sources] == [False, False]
    assert plans(config.sources, config.settings) == {}  # the daemon schedules neither
    back = set_enabled(set_enabled(out, "a", True, path=path), "b", True, path=path)
    assert back == EDITED.replace('interval = "1d"   # daily\n',
                                  'interval = "1d"   # daily\nenabled = true\n')
    with pytest.raises(KeyError):
        set_enabled(EDITED, "nope", False, path=path)


def load_config_text(text: str) -> Config:
    return parse_config(text, path="sources.toml")


def test_a_running_daemon_follows_what_the_admin_pages_write(
        tmp_path: Path, site: Site, daemons: Daemons,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The file is the single source of truth: ``monitor run`` picks up an add, a pause
    and a resume made in the browser, within seconds, as it does a hand edit."""
    path = sources_file(tmp_path, site)
    url = site.route("/plan.html", seed_page(3))
    store = Store(os.environ["MONITOR_DATABASE_URL"])
    try:
        d = daemons.start(path)
        d.wait_for("wh-reply", 60)
        with running(admin_app(path, store, monkeypatch)) as base, \
                httpx.Client(base_url=base, headers={"Origin": base}) as client:
            client.post("/admin/login", data={"token": TOKEN})
            csrf = re.findall(r'name="csrf" value="([^"]+)"', client.get("/admin").text)[0]
            r = client.post("/admin/add", data={"csrf": csrf, "action": "save",
                                                "name": "hb-plan", "url": url,
                                                "interval": "1s"})
            assert r.status_code == 303
            d.wait_for("reloaded: added hb-plan", 30)
            tested = site.hits("/plan.html")  # the admin's test fetch was one
            wait_until(lambda: site.hits("/plan.html") >= tested + 2, 30, "hb-plan checked")
            client.post("/admin/sources/hb-plan/pause", data={"csrf": csrf})
            d.wait_for("reloaded: paused hb-plan", 30)  # still in the file: not removed
            assert "removed hb-plan" not in d.text() and "updated hb-plan" not in d.text()
            paused = site.hits("/plan.html")
            time.sleep(3)
            assert site.hits("/plan.html") <= paused + 1  # at most one already in flight
            client.post("/admin/sources/hb-plan/resume", data={"csrf": csrf})
            d.wait_for("reloaded: resumed hb-plan", 30)
            wait_until(lambda: site.hits("/plan.html") > paused + 1, 30, "checked again")
        assert re.search(r"check hb-plan unchanged status=200 in \d", d.text())  # one space
        assert d.stop() == 0
    finally:
        store.close()


async def test_remove_asks_first(admin: httpx.AsyncClient) -> None:
    await sign_in(admin)
    page = await admin.get("/admin/sources/wh-reply/remove")
    assert page.status_code == 200 and "确认删除 wh-reply" in page.text
    assert (await admin.get("/admin/sources/nope/remove")).status_code == 404


async def test_with_a_read_token_admin_pages_need_the_admin_sign_in_not_the_read_token(
        tmp_path: Path, site: Site, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_WEB_TOKEN", "read-token-abcdefghijklmnop")
    app = admin_app(sources_file(tmp_path, site), store, monkeypatch)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=BASE) as client:
        assert (await client.get("/")).status_code == 401
        assert (await client.get("/admin")).status_code == 303  # to the sign-in
        r = await client.post("/admin/login", data={"token": "read-token-abcdefghijklmnop"},
                              headers={"Origin": BASE})
        assert r.status_code == 401  # the read token is not the admin token
        csrf = await sign_in(client)
        assert (await post(client, "/admin/sources/wh-reply/pause", csrf)).status_code == 303
        assert (await client.get("/")).status_code == 401  # the admin cookie reads nothing


async def test_a_column_page_is_recognised_in_the_test(admin: httpx.AsyncClient,
                                                       site: Site) -> None:
    from tests.test_listing_sources import Column, reply_title

    Column(site, 12)
    csrf = await sign_in(admin)
    r = await post(admin, "/admin/add", csrf, action="test", name="col",
                   url=site.url("/col/index.html"))
    assert r.status_code == 200
    assert "这是一个栏目页（10 篇文档）" in r.text and 'kind = "listing"' in r.text
    assert reply_title(111) in r.text


async def test_a_listing_is_added_from_the_form_with_its_kind_and_links(
        admin: httpx.AsyncClient, site: Site, tmp_path: Path) -> None:
    from tests.test_listing_sources import Column, reply_title

    Column(site, 12).serve_replies()
    csrf = await sign_in(admin)
    form = await admin.get("/admin/add")
    assert '<select id="kind" name="kind">' in form.text and "栏目页" in form.text
    fields = {"name": "col", "url": site.url("/col/index.html"), "kind": "listing",
              "links": "ul.list a"}
    r = await post(admin, "/admin/add", csrf, action="test", **fields)
    assert r.status_code == 200 and "栏目页：将跟踪 10 篇文档" in r.text, r.text
    assert reply_title(111) in r.text
    r = await post(admin, "/admin/add", csrf, action="save", **fields)
    assert r.status_code == 303
    added = tomllib.loads((tmp_path / "sources.toml").read_text(encoding="utf-8"))
    assert added["sources"][-1] == {"name": "col", "url": site.url("/col/index.html"),
                                    "kind": "listing", "links": "ul.list a"}
