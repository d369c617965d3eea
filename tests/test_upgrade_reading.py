"""An upgrade is never a change of the page (``monitor.types.READING_RULES``).

A release that reads pages otherwise (a live clock removed as noise, a colonless view
counter cut from a metadata value, a listing with ``links`` stored as "title | date"
lines) must not report, on the first check after the upgrade, a difference the page
never made: the last version's raw body is read again with the current rules
(``monitor.pipeline.Checker._settings_apart``).  The older release is simulated: its
check stores what it read (the current reading turned back into the old one) and records
an older rules revision; the body stored is the page's real bytes.  Real HTTP server on
127.0.0.1, SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from loguru import logger

import monitor.pipeline
from alerts.compose import Composer
from monitor.types import Extracted, Outcome
from monitor.web.app import create_app
from storage.alerts_repo import AlertsRepo
from tests.test_pipeline import ANALYST, PATH, Env, html, make_env  # noqa: F401  (fixture)
from tests.test_settings_edits import cli

CLOCK = "当前时间：2026年12月7日 02:40:05"
AGENCY = "湖南省工业和信息化厅"


def article(clock: str = CLOCK, counter: int = 57, para: str = "第二段：原文。") -> bytes:
    return ("<html><head><meta charset='utf-8'><title>关于开展专项行动的通知</title></head>"
            "<body><div class='article'><h1>关于开展专项行动的通知</h1>"
            f"<div class='info'>发布机构：{AGENCY} 阅读量 {counter}</div>"
            "<p>第一段：为贯彻落实有关部署，现就开展专项行动有关事项通知如下。</p>"
            f"<p>{para}</p><p>{clock}</p>"
            "<p>第四段：各单位要高度重视，确保各项工作落到实处。</p>"
            "</div></body></html>").encode()


async def as_old_release(env: Env, monkeypatch: pytest.MonkeyPatch,
                         old: Callable[[Extracted], Extracted]) -> None:
    """One check made by an older release: its reading (``old`` of the current one) is
    stored, with the raw body, and its rules revision is older than this release's."""
    real = monitor.pipeline._read

    async def reading(source: object, result: object, *_: object) -> tuple[Extracted, None]:
        extracted, _diff = await real(source, result)  # type: ignore[arg-type]
        return old(extracted), None

    with monkeypatch.context() as m:
        m.setattr(monitor.pipeline, "_read", reading)
        m.setattr(monitor.pipeline, "READING_RULES", monitor.pipeline.READING_RULES - 1)
        assert (await env.check()).outcome is Outcome.NEW


def with_clock(e: Extracted) -> Extracted:
    """8d6f5bb kept the clock line (monitor/noise.py now removes it)."""
    lines = e.text.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("第四段"))
    return replace(e, text="\n".join([*lines[:at], CLOCK, *lines[at:]]))


def with_counter(e: Extracted) -> Extracted:
    """8d6f5bb kept a colonless counter in the value (``settled`` now cuts it)."""
    return replace(e, metadata={**e.metadata, "发布机构": f"{AGENCY} 阅读量 57"})


async def test_a_clock_the_new_release_removes_is_no_change_after_the_upgrade(
        make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        tmp_path: Path) -> None:
    env = make_env()
    env.serve(html(article()))
    await as_old_release(env, monkeypatch, with_clock)
    assert CLOCK in env.store.version(env.versions()[0].id).text  # stored as 8d6f5bb read it

    env.serve(html(article(clock="当前时间：2026年12月7日 02:41:10")))  # only the clock moved
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="INFO")
    try:
        result = await env.check()
    finally:
        logger.remove(sink)

    assert result.alerts == 0 and env.alerts() == []  # no mail
    [change] = env.changes()
    assert change.alert is False
    assert change.summary.startswith("升级后重新提取（页面本身未变）"), change.summary
    _, v2 = env.versions()
    assert "当前时间" not in env.store.version(v2.id).text  # the archive follows the rules
    # read once by this release's rules: the next check is plain unchanged
    assert (await env.check()).outcome is Outcome.UNCHANGED
    assert len(env.changes()) == 1
    history = cli(env, tmp_path, monkeypatch, "history", env.source.name)
    assert "升级后重新提取（页面本身未变）: 第" in history, history  # not an edit
    assert "正文修改" not in history and "设置变更" not in history
    # the log says what the check did: a silent re-read, not "changed"
    [said] = [line for line in lines if line.startswith("check ")]
    assert "re-read" in said and "monitor upgraded" in said and "no alert" in said, said
    assert " changed " not in said, said
    # and the feeds, the news a watcher is told, leave it out
    app = create_app(env.config, env.store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as web:
        feed = (await web.get("/feeds/changes.atom")).text
    assert "<feed" in feed and "<entry" not in feed and "升级后重新提取" not in feed, feed


async def test_a_real_edit_after_the_upgrade_alerts_only_the_edit(
        make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        tmp_path: Path) -> None:
    env = make_env()
    env.serve(html(article()))
    await as_old_release(env, monkeypatch, lambda e: with_counter(with_clock(e)))

    # a real edit, the counter and the clock moved
    env.serve(html(article(clock="当前时间：2026年12月7日 02:41:10", counter=58,
                           para="第二段：修改后的原文。")))
    result = await env.check()

    assert result.outcome is Outcome.CHANGED and result.alerts == 1
    [change] = env.changes()
    assert change.alert is True and "升级" not in change.summary
    assert "发布机构" not in change.summary and "阅读量" not in change.summary, change.summary
    repo = AlertsRepo(env.store)
    msg = Composer(env.config.settings, repo).change(repo.change_view(change.id or 0), ANALYST)
    assert "修改后" in msg.text
    assert "当前时间" not in msg.text and "阅读量" not in msg.text, msg.text
    # the mail says why the old side was read again: the upgrade, no settings edit
    for part in (msg.text, msg.html, repr(msg.facts)):
        assert "monitor 升级，读取页面的规则已改变" in part, part
        assert "旧版已按新规则重新提取" in part and "设置" not in part, part
    # monitor diff of the two versions names the upgrade, not a settings edit
    v1, v2 = env.versions()
    out = cli(env, tmp_path, monkeypatch, "diff", str(v1.id), str(v2.id))
    assert "读取页面的规则已改变" in out and "来源的设置" not in out, out
    as_json = cli(env, tmp_path, monkeypatch, "diff", str(v1.id), str(v2.id), "--json")
    assert '"rules_changed": true' in as_json and '"settings_changed": false' in as_json


def listing(items: list[str]) -> bytes:
    lis = "".join(f"<li><a href='t{i}.html'>{t}</a><span>2026-12-0{i + 1}</span></li>"
                  for i, t in enumerate(items))
    return ("<html><head><meta charset='utf-8'><title>通知公告</title></head><body>"
            "<div class='nav'><a href='/'>首页</a></div><h2>通知公告</h2>"
            f"<ul class='list'>{lis}</ul><div class='footer'>主办：{AGENCY}</div>"
            "</body></html>").encode()


ITEMS = ["关于开展专项行动的通知", "关于公布评审结果的公告"]


async def test_a_listing_stored_as_its_whole_text_is_no_change_after_the_upgrade(
        make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    env = make_env(source_lines='kind = "listing"\nlinks = "ul.list li a"')
    env.serve(html(listing(ITEMS)))
    whole = "首页\n通知公告\n" + "\n".join(f"{t}2026-12-0{i + 1}" for i, t in enumerate(ITEMS))
    await as_old_release(env, monkeypatch, lambda e: replace(e, text=whole))

    result = await env.check()  # the page is the same

    assert result.alerts == 0 and env.alerts() == []
    [change] = env.changes()  # recorded as the upgrade's, not as 第1段删除
    assert change.alert is False
    assert change.summary.startswith("升级后重新提取（页面本身未变）"), change.summary
    v2 = env.store.version(env.versions()[-1].id)
    assert v2.text != whole and ITEMS[0] in v2.text  # the items, as this release reads them
    assert (await env.check()).outcome is Outcome.UNCHANGED


def column_page(items: list[tuple[int, str]], more: str = "") -> bytes:
    lis = "".join(f"<li><a href='t{i}.html'>{t}</a><span>2026-11-{i:02d}</span></li>"
                  for i, t in items)
    nxt = f"<div class='page'><a class='next' href='{more}'>下一页</a></div>" if more else ""
    return ("<html><head><meta charset='utf-8'><title>通知公告</title></head><body>"
            "<div class='nav'><a href='/'>首页</a></div><h2>通知公告</h2>"
            f"<ul class='list'>{lis}</ul>{nxt}<div class='footer'>主办：{AGENCY}</div>"
            "</body></html>").encode()


FIRST = [(29 - i, f"关于第{29 - i}项工作的通知") for i in range(3)]
SECOND = [(20 - i, f"关于第{20 - i}项工作的公告") for i in range(3)]


def as_whole_text(e: Extracted) -> Extracted:
    """8d6f5bb stored a listing page with ``links`` as its whole text when it had few
    items (page 1 here; the later pages' items are lines in either release)."""
    return replace(e, text="首页\n通知公告\n" + "\n".join(
        f"{d.title}{d.date}" for d in e.documents))


@pytest.mark.parametrize("edited", [False, True])
async def test_a_listing_of_several_pages_is_no_change_after_the_upgrade(
        make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        edited: bool) -> None:
    env = make_env(source_lines='kind = "listing"\nlinks = "ul.list li a"\n'
                                'next_page = "a.next"\nmax_pages = 2')
    env.serve(html(column_page(FIRST, more="p2.html")))
    env.serve(html(column_page(SECOND)), path=PATH.rsplit("/", 1)[0] + "/p2.html")
    await as_old_release(env, monkeypatch, as_whole_text)
    old = env.store.version(env.versions()[0].id).text
    assert old.startswith("首页\n通知公告") and SECOND[0][1] in old  # both pages, page 1 whole
    if edited:  # an item published on page 1 too: the column changed
        env.serve(html(column_page([(30, "关于第30项工作的通知"), *FIRST], more="p2.html")))

    result = await env.check()

    assert result.alerts == 0 and env.alerts() == []
    [change] = env.changes()
    assert change.alert is False
    if edited:  # told as the column's change, by item, not as the rules' lines
        assert change.summary == "新增「关于第30项工作的通知」", change.summary
    else:
        assert change.summary.startswith("升级后重新提取（页面本身未变）"), change.summary
    assert (await env.check()).outcome is Outcome.UNCHANGED
