"""A page retitled in its ``<title>`` while its heading stays (``monitor.extract.title``):
a real edit, told as a title change; a site-name suffix changing is not; an archive
stored before the ``<title>`` was watched alerts nothing when the page is the same.

Checks run against a real HTTP server on 127.0.0.1 (tests/sites.py) into a real store.
"""

from __future__ import annotations

from collections.abc import Callable

from monitor.types import Outcome
from storage.models import Version
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
    assert "同标题" in (env.versions()[-1].change_summary or "")


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


def _as_stored_before_the_upgrade(env: Env) -> None:
    """The latest version without ``网页标题``, as releases before it stored it."""
    latest = env.versions()[-1].id
    with env.store.session() as s:
        version = s.get(Version, latest)
        assert version is not None and "网页标题" in version.meta
        version.meta = {k: v for k, v in version.meta.items() if k != "网页标题"}
        s.add(version)
        s.commit()
