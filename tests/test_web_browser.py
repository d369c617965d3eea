"""The web UI in headless Chromium, as a person uses it: the sources list, a timeline, a
diff, a search; and a hostile stored page whose script must never run.

Screenshots go to /tmp/monitor-web-*.png for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.web.app import create_app
from storage import Store
from tests.conftest import service_missing
from tests.test_archive_data import PLAN_TITLE, Built, build_archive
from tests.test_web_api import make_config, running

CHROMIUM = os.environ.get("MONITOR_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path("/tmp")

pytestmark = pytest.mark.browser


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[str, Built]]:
    """The app over a real socket, serving the shared archive."""
    store = Store(sqlite_url)
    built = build_archive(store)
    try:
        with running(create_app(make_config(), store)) as base:
            yield base, built
    finally:
        store.close()


@pytest.fixture
def page() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        service_missing(f"headless Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        yield tab
        browser.close()


def test_sources_list_then_a_timeline(served: tuple[str, Built], page: Any) -> None:
    base, _ = served
    page.goto(base + "/")
    rows = page.locator("table.sources tbody tr")
    assert rows.count() == 4
    plan = rows.filter(has_text="hb-ai-plan")
    assert PLAN_TITLE in plan.inner_text() and "元数据变更" in plan.inner_text()
    failing = rows.filter(has_text="bj-housing")
    assert failing.locator(".streak").inner_text() == "2"
    assert "失败" in failing.inner_text() and "读取超时" in failing.inner_text()
    page.screenshot(path=str(SHOTS / "monitor-web-sources.png"), full_page=True)
    page.get_by_role("link", name="hunan", exact=True).first.click()
    assert page.locator("table.sources tbody tr").count() == 1
    page.get_by_role("link", name="hn-reply").click()
    page.wait_for_url("**/sources/hn-reply")
    versions = page.locator("table.timeline tbody tr.version")
    assert versions.count() == 2
    assert versions.first.locator("a").first.inner_text() == "第2版"
    assert "新增答复" in versions.first.inner_text()
    assert "首次收录" in versions.last.inner_text()
    page.screenshot(path=str(SHOTS / "monitor-web-timeline.png"), full_page=True)


def test_choosing_two_versions_shows_the_diff_inline_and_side_by_side(
        served: tuple[str, Built], page: Any) -> None:
    base, built = served
    plan = built.versions["hb-ai-plan"]
    page.goto(base + "/sources/hb-ai-plan")
    assert len(plan) == 3  # labelled by their numbers in the page
    page.get_by_label("旧版本 第1版").check()
    page.get_by_label("新版本 第3版").check()
    page.get_by_role("button", name="比较所选两个版本").click()
    page.wait_for_url("**/diff?**")
    diff = page.locator("#diff")
    inserted = " ".join(diff.locator("ins").all_inner_texts())
    deleted = " ".join(diff.locator("del").all_inner_texts())
    assert "2" in inserted and "0" in deleted  # 1000亿元 → 1200亿元: one character
    assert "财政资金" in inserted
    assert page.locator("tr.meta-change").inner_text().split() == [
        "发文日期", "2026-05-01", "2026-05-20"]
    page.screenshot(path=str(SHOTS / "monitor-web-diff.png"), full_page=True)
    page.get_by_role("link", name="并排").click()
    assert page.locator("#diff table").count() >= 1
    assert "财政资金" in " ".join(page.locator("#diff ins").all_inner_texts())
    page.screenshot(path=str(SHOTS / "monitor-web-diff-side.png"), full_page=True)


def test_search_highlights_the_phrase(served: tuple[str, Built], page: Any) -> None:
    base, _ = served
    page.goto(base + "/")
    page.get_by_role("searchbox", name="全文搜索").fill("人工智能产业")
    page.get_by_role("searchbox", name="全文搜索").press("Enter")
    page.wait_for_url("**/search?**")
    hits = page.locator("li.hit")
    assert hits.count() == 1  # one page, its newest version
    assert hits.first.locator(".passage mark").inner_text() == "人工智能产业"
    assert "共 1 个页面（3 个版本）" in page.locator("main").inner_text()
    assert hits.first.locator(".hit-earlier").inner_text() == "另有 2 个较早版本也包含"
    page.screenshot(path=str(SHOTS / "monitor-web-search.png"), full_page=True)
    page.goto(base + "/search?q=" + "算力")  # two characters: the pair index
    assert page.locator("li.hit .passage mark").first.inner_text() == "算力"


def test_a_hostile_page_shows_as_text_and_its_script_never_runs(
        served: tuple[str, Built], page: Any) -> None:
    base, built = served
    evil = built.versions["evil-page"][1]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{base}/versions/{evil}")
    text = page.locator("#text").inner_text()
    assert "<script>window.pwned=1</script>" in text
    assert '"><img src=x onerror="window.pwned=1">' in text
    assert "<script>" in page.locator("h1").inner_text()  # the title, as text
    assert page.locator("table.metadata").inner_text().count("onerror") == 2
    assert page.locator("main img").count() == 0
    assert page.evaluate("typeof window.pwned") == "undefined"
    page.screenshot(path=str(SHOTS / "monitor-web-hostile.png"), full_page=True)
    page.goto(f"{base}/versions/{evil}/source")
    assert "<script>window.pwned=1</script>" in page.locator("#raw").inner_text()
    assert page.evaluate("typeof window.pwned") == "undefined"
    page.goto(f"{base}/versions/{evil}/rendered")
    frame = page.frame_locator("iframe.raw")
    frame.locator("h1").wait_for()
    assert page.locator("iframe.raw").get_attribute("sandbox") == ""
    assert all(f.evaluate("typeof window.pwned") == "undefined" for f in page.frames)
    assert page.evaluate("typeof window.pwned") == "undefined"
    page.screenshot(path=str(SHOTS / "monitor-web-rendered.png"), full_page=True)
    page.goto(f"{base}/versions/{evil}/raw")  # opened directly: still sandboxed
    assert page.evaluate("typeof window.pwned") == "undefined"
    page.goto(f"{base}/diff?a={built.versions['evil-page'][0]}&b={evil}")
    assert "window.pwned=1" in " ".join(page.locator("#diff ins").all_inner_texts())
    assert page.evaluate("typeof window.pwned") == "undefined" and not dialogs
