"""A page retitled in its ``<title>`` while its heading stays (``monitor.extract.title``):
a real edit, told as a title change; a site-name suffix changing is not, nor a column's
name coming and going in the ``<title>`` ("建议提案办理_湖南省工业和信息化厅"); an archive
stored before the ``<title>`` was watched alerts nothing when the page is the same.

Checks run against a real HTTP server on 127.0.0.1 (tests/sites.py) into a real store.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from alerts.compose import Composer
from monitor.cli.diff import show
from monitor.compare import compare
from monitor.extract.title import HEAD_TITLE_NONE
from monitor.settings import Settings
from monitor.types import Outcome
from storage.alerts_repo import AlertsRepo
from storage.models import Page, Version
from tests.pages import seed, seed_page
from tests.test_pipeline import ANALYST, Env, html, make_env  # noqa: F401 (fixture)

TITLE, SITE = seed(0).title, seed(0).site
HEAD = f"<title>{TITLE}_{SITE}</title>".encode()


def retitled(head: str, counter: int = 124) -> bytes:
    """Seed page 0, its heading as it was, its ``<title>`` now ``head``."""
    page = seed_page(0, counter=counter)
    assert HEAD in page
    return page.replace(HEAD, f"<title>{head}</title>".encode())


async def test_a_title_changed_only_in_the_head_is_a_title_change_alerted(
        make_env: Callable[..., Env]) -> None:  # noqa: F811
    env = make_env()
    env.serve(html(seed_page(0)))
    assert (await env.check()).outcome is Outcome.NEW
    env.serve(html(retitled(f"{TITLE}（已撤回）_{SITE}")))

    result = await env.check()

    assert result.outcome is Outcome.CHANGED, result.summary
    assert result.change_kind == "title_changed"
    _, v2 = env.versions()
    assert "网页标题" in (v2.change_summary or "") and "已撤回" in (v2.change_summary or "")
    assert env.store.version(v2.id).title == TITLE  # the heading, as shown before
    assert env.store.version(v2.id).metadata["网页标题"] == f"{TITLE}（已撤回）"
    [alert] = env.alerts()
    assert alert.recipient == ANALYST

    # another document's name in the <title>, the heading still the same: told too
    env.serve(html(retitled(f"对省政协十二届四次会议第0200号提案的答复_{SITE}", 125)))
    again = await env.check()
    assert again.outcome is Outcome.CHANGED and again.change_kind == "title_changed"
    assert "第0200号" in (env.versions()[-1].change_summary or "")
    assert len(env.alerts()) == 2

    # the <title> back to the heading's words: the retitle undone, told as well
    env.serve(html(seed_page(0, counter=126)))
    back = await env.check()
    assert back.outcome is Outcome.CHANGED and back.change_kind == "title_changed"
    assert HEAD_TITLE_NONE in (env.versions()[-1].change_summary or "")


async def test_a_site_name_changing_in_the_title_is_not_a_change(
        make_env: Callable[..., Env]) -> None:  # noqa: F811
    env = make_env()
    env.serve(html(seed_page(0)))
    assert (await env.check()).outcome is Outcome.NEW
    for n, head in enumerate((f"{TITLE}_{SITE}门户网站", f"{TITLE} - 湖南省人民政府",
                              f"{TITLE} {SITE}", f"{TITLE[:20]}..._{SITE}",
                              f"{SITE}门户网站", "详细信息", "政府信息公开目录")):
        env.serve(html(retitled(head, 200 + n)))
        result = await env.check()
        assert result.outcome is Outcome.UNCHANGED, (head, result.summary)
    assert len(env.versions()) == 1 and env.changes() == [] and env.alerts() == []


async def test_a_site_name_first_in_the_title_renamed_is_not_a_change(
        make_env: Callable[..., Env]) -> None:  # noqa: F811
    # "站点名-页面标题", "-" without spaces, and a truncated title before "-栏目"
    env = make_env()
    env.serve(html(retitled(f"{SITE}-{TITLE}")))
    assert (await env.check()).outcome is Outcome.NEW
    [v1] = env.versions()
    assert "网页标题" not in env.store.version(v1.id).metadata
    for n, head in enumerate((f"{SITE}门户网站-{TITLE}", f"{TITLE[:20]}...-提案答复",
                              f"{SITE}-{TITLE}-建议提案办理", f"{SITE}·{TITLE}")):
        env.serve(html(retitled(head, 200 + n)))
        result = await env.check()
        assert result.outcome is Outcome.UNCHANGED, (head, result.summary)
    assert len(env.versions()) == 1 and env.changes() == [] and env.alerts() == []

    # the page's own name retitled behind the site's: told, the site's name not kept
    env.serve(html(retitled(f"{SITE}-{TITLE}（已撤回）", 300)))
    retitle = await env.check()
    assert retitle.outcome is Outcome.CHANGED and retitle.change_kind == "title_changed"
    assert env.store.version(env.versions()[-1].id).metadata["网页标题"] == f"{TITLE}（已撤回）"
    env.serve(html(retitled(f"{SITE}门户网站-{TITLE}（已撤回）", 301)))
    assert (await env.check()).outcome is Outcome.UNCHANGED


async def test_an_archive_stored_before_the_head_title_was_watched_alerts_nothing(
        make_env: Callable[..., Env]) -> None:  # noqa: F811
    env = make_env()
    head = f"{TITLE}（修订稿）_{SITE}"
    env.serve(html(retitled(head, 123)))
    assert (await env.check()).outcome is Outcome.NEW
    _as_stored_before_the_upgrade(env)

    env.serve(html(retitled(head, 124)))  # other bytes, the same page
    recorded = await env.check()
    assert recorded.alerts == 0 and env.alerts() == [], recorded.summary
    assert env.store.version(env.versions()[-1].id).metadata["网页标题"] == f"{TITLE}（修订稿）"
    env.serve(html(retitled(head, 125)))
    assert (await env.check()).outcome is Outcome.UNCHANGED

    # an archive before the upgrade, and the page retitled since: told
    _as_stored_before_the_upgrade(env)
    env.serve(html(retitled(f"{TITLE}（已撤回）_{SITE}", 126)))
    retitle = await env.check()
    assert retitle.outcome is Outcome.CHANGED and retitle.change_kind == "title_changed"
    assert len(env.alerts()) == 1


# --- a column's name in the <title> (the tester's page: <h1>关于L的答复</h1>) ----------

REPLY = "关于L的答复"
OFFICE = "湖南省工业和信息化厅"
SIDE = f"<h3>{seed(0).column}</h3>"


def titled(head: str, heading: str = REPLY, counter: int = 124, side: bool = True) -> bytes:
    """Seed page 0 headed ``heading`` (its h1 and 名称), its ``<title>`` ``head``; without
    the side column's heading "<h3>建议提案办理</h3>" unless ``side``."""
    page = retitled(head, counter).decode("utf-8")
    assert page.count(TITLE) == 2 and page.count(SIDE) == 1
    return page.replace(TITLE, heading).replace(SIDE, "" if not side else SIDE).encode()


COLUMN_TITLES = (
    f"建议提案办理_{OFFICE}", OFFICE, f"{OFFICE}-建议提案办理", f"{OFFICE} 建议提案办理",
    f"提案答复_{OFFICE}", f"人大建议办理_{OFFICE}", f"政协提案答复_{OFFICE}",
    f"通知公告_{OFFICE}", f"{OFFICE}——建议提案办理", f"{OFFICE}·提案答复",
    f"{OFFICE}｜政协提案答复", f"建议提案办理 {OFFICE}", f"{OFFICE}-人大建议办理",
    # silent before too
    f"{OFFICE}门户网站", f"政府信息公开_{OFFICE}", "详细信息", f"{OFFICE}-政策文件",
    f"政策文件_{OFFICE}", f"{REPLY}-建议提案办理", f"{REPLY}_建议提案办理_{OFFICE}",
)


@pytest.mark.parametrize("side", [False, True], ids=["h1 only", "column heading too"])
async def test_a_column_name_in_the_title_is_no_change(
        make_env: Callable[..., Env], side: bool) -> None:  # noqa: F811
    # with the column's heading beside the article, a <title> naming the column made
    # that heading the page's title; without it, the column was told as its 网页标题
    env = make_env()
    env.serve(html(titled(OFFICE, counter=300, side=side)))
    assert (await env.check()).outcome is Outcome.NEW
    assert env.store.version(env.versions()[0].id).title == REPLY
    for n, head in enumerate(COLUMN_TITLES):  # back and forth: no flapping either
        env.serve(html(titled(head, counter=301 + n, side=side)))
        result = await env.check()
        assert result.outcome is Outcome.UNCHANGED, (head, result.summary)
        env.serve(html(titled(OFFICE, counter=401 + n, side=side)))
        assert (await env.check()).outcome is Outcome.UNCHANGED, head
    assert len(env.versions()) == 1 and env.changes() == [] and env.alerts() == []


@pytest.mark.parametrize("head", [
    f"{REPLY}（已撤回）_{OFFICE}", f"关于B的答复_{OFFICE}", "湖北省人工智能发展规划",
    f"2026年工作要点_{OFFICE}", f"{OFFICE}-对省政协十二届四次会议第0200号提案的答复",
    f"{OFFICE}-关于B的答复",
])
async def test_a_document_named_in_the_title_is_still_told(
        make_env: Callable[..., Env], head: str) -> None:  # noqa: F811
    env = make_env()
    env.serve(html(titled(f"建议提案办理_{OFFICE}", counter=500)))
    assert (await env.check()).outcome is Outcome.NEW
    env.serve(html(titled(head, counter=501)))
    result = await env.check()
    assert result.outcome is Outcome.CHANGED and result.change_kind == "title_changed", \
        (head, result.summary)
    assert len(env.alerts()) == 1


async def test_a_title_without_more_than_the_heading_is_said_alike_everywhere(
        make_env: Callable[..., Env], capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    env = make_env()
    env.serve(html(titled(OFFICE, counter=600)))  # the site's name only
    assert (await env.check()).outcome is Outcome.NEW
    env.serve(html(titled(f"{REPLY}（已撤回）_{OFFICE}", counter=601)))
    assert (await env.check()).change_kind == "title_changed"
    summary = env.versions()[-1].change_summary or ""
    told = f"网页标题：{HEAD_TITLE_NONE} → {REPLY}（已撤回）"
    assert summary == told, summary
    [change] = env.changes()
    body = Composer(Settings()).change(AlertsRepo(env.store).change_view(change.id or 0),
                                       ANALYST).text
    assert told in body, body
    old, new = (v.id for v in env.versions())
    show(compare(env.store, old, new, timeout=5), "Asia/Shanghai", color=False)
    assert f"网页标题: {HEAD_TITLE_NONE} → {REPLY}（已撤回）" in capsys.readouterr().out
    assert "同标题" not in summary + body and "（无）" not in body


def _as_stored_before_the_upgrade(env: Env) -> None:
    """The latest version without ``网页标题``, as releases before it stored it, and its
    page last read by their rules (``pages.read_rules`` unset)."""
    latest = env.versions()[-1].id
    with env.store.session() as s:
        version = s.get(Version, latest)
        assert version is not None and "网页标题" in version.meta
        version.meta = {k: v for k, v in version.meta.items() if k != "网页标题"}
        s.add(version)
        page = s.get(Page, version.page_id)
        assert page is not None
        page.read_rules = None
        s.add(page)
        s.commit()
