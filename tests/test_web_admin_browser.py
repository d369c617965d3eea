"""``monitor serve --admin`` in headless Chromium, as an admin uses it: sign in, add a
source (tested first), pause and resume it, check it now, see the version; and a form on
another site that posts to the admin pages gets nowhere.

Screenshots go to /tmp/monitor-admin-*.png for a person to look at.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.config import load_config
from monitor.web.app import create_app
from storage import Store
from tests.pages import seed_page, seed_paragraphs
from tests.sites import Site
from tests.test_web_admin import TOKEN, sources_file
from tests.test_web_api import running
from tests.test_web_browser import page  # noqa: F401  (the Chromium tab fixture)

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp")


@pytest.fixture
def served(tmp_path: Path, site: Site, sqlite_url: str,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    path = sources_file(tmp_path, site)
    monkeypatch.setenv("MONITOR_ADMIN_TOKEN", TOKEN)
    store = Store(sqlite_url)
    try:
        with running(create_app(load_config(path), store, admin=True)) as base:
            yield base, path
    finally:
        store.close()


def sign_in(tab: Any, base: str) -> None:
    tab.goto(base + "/admin")
    tab.wait_for_url("**/admin/login")
    tab.get_by_label("管理令牌").fill("not-the-token-at-all")
    tab.get_by_role("button", name="登录").click()
    assert "管理令牌不正确" in tab.locator("[role=alert]").inner_text()
    tab.get_by_label("管理令牌").fill(TOKEN)
    tab.get_by_role("button", name="登录").click()
    tab.wait_for_url("**/admin")


def test_add_test_save_pause_resume_and_check_now(served: tuple[str, Path], site: Site,
                                                  page: Any) -> None:  # noqa: F811
    base, path = served
    sign_in(page, base)
    cookie = next(c for c in page.context.cookies() if c["name"] == "monitor_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    url = site.route("/plan.html", seed_page(3))
    page.get_by_role("link", name="添加来源…").click()
    page.get_by_label("名称").fill("hb-plan")
    page.get_by_label("网址").fill(url)
    page.get_by_label("检查间隔").fill("1d")
    page.get_by_label("标签").fill("hubei")
    page.get_by_role("button", name="测试").click()
    result = page.get_by_role("region", name="测试结果")
    assert seed_paragraphs(3)[2][:20] in result.inner_text()
    assert "hb-plan" not in path.read_text(encoding="utf-8")
    page.screenshot(path=str(SHOTS / "monitor-admin-tested.png"), full_page=True)
    page.get_by_role("button", name="保存").click()
    page.wait_for_url("**/admin")
    assert "已添加 hb-plan" in page.get_by_role("status").inner_text()

    text = path.read_text(encoding="utf-8")
    assert "# Wuhan replies: the first page we watched." in text
    assert tomllib.loads(text)["sources"][-1] == {"name": "hb-plan", "url": url,
                                                  "interval": "1d", "tags": ["hubei"]}
    row = page.locator("tr[data-name=hb-plan]")
    assert row.locator(".state").inner_text() == "运行中"

    page.get_by_role("button", name="暂停 hb-plan").click()
    page.wait_for_url("**/admin")
    assert row.locator(".state").inner_text() == "已暂停"
    assert load_config(path).source("hb-plan").enabled is False
    page.get_by_role("button", name="恢复 hb-plan").click()
    page.wait_for_url("**/admin")
    assert row.locator(".state").inner_text() == "运行中"
    assert load_config(path).source("hb-plan").enabled is True

    page.get_by_role("link", name="删除 wh-reply").click()
    page.get_by_role("button", name="确认删除 wh-reply").click()
    page.wait_for_url("**/admin")
    assert "已删除 wh-reply" in page.get_by_role("status").inner_text()
    assert [s.name for s in load_config(path).sources] == ["hb-plan"]
    assert "# Our watch list.  Keep this header." in path.read_text(encoding="utf-8")

    page.get_by_role("button", name="立即检查 hb-plan").click()
    page.wait_for_url("**/admin")
    assert "已检查 hb-plan：首次收录" in page.get_by_role("status").inner_text()
    page.screenshot(path=str(SHOTS / "monitor-admin-checked.png"), full_page=True)
    page.get_by_role("link", name="查看版本").click()
    page.wait_for_url("**/sources/hb-plan")
    versions = page.locator("table.timeline tbody tr")
    assert versions.count() == 1 and "首次收录" in versions.first.inner_text()


def test_a_form_on_another_site_cannot_edit(served: tuple[str, Path], site: Site,
                                            page: Any) -> None:  # noqa: F811
    base, path = served
    sign_in(page, base)
    before = path.read_text(encoding="utf-8")
    evil = Site(host="127.0.0.2")
    try:
        evil.route("/", f"""<!DOCTYPE html><meta charset="utf-8"><form method="post"
            action="{base}/admin/sources/wh-reply/pause"><input name="csrf" value="guess">
            <button>领取奖品</button></form>""")
        page.goto(evil.url("/"))
        with page.expect_navigation():
            page.get_by_role("button", name="领取奖品").click()
        assert "Origin" in page.content() or "CSRF" in page.content()
    finally:
        evil.close()
    assert path.read_text(encoding="utf-8") == before
    page.goto(base + "/admin")  # still signed in: the session was not the problem
    assert page.locator("tr[data-name=wh-reply] .state").inner_text() == "运行中"
