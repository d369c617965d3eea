"""A real page is never refused for ever as an unrendered template (issue 11, item 4).

Through ``Checker.check`` against a real HTTP server on 127.0.0.1, on SQLite and
PostgreSQL: a page with a leftover template placeholder but real content is a version;
a page that is mostly placeholders (the Beijing broken renders) is still a failed check;
the ``content`` selector decides where placeholders count; ``accept_challenge_like``
takes a flagged page, but never an answer whose headers say it is a block.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from monitor.types import Outcome
from tests import test_pipeline
from tests.pages import seed, seed_page
from tests.test_pipeline import CORPUS, Env, html

env_maker = test_pipeline.make_env  # the fixture: one source on a local site
LEFTOVER = '$pageHelpBean.getColumnNavPath(" > ",true,"",1)'  # as the broken render has it


def bjjs(day: str, *, breadcrumb: str | None = None) -> bytes:
    """The Beijing statistics page of ``day``; ``breadcrumb`` replaces its rendered
    breadcrumb (首页 > 房屋管理 > …), as the server's template sometimes leaves it."""
    page = (CORPUS / f"cn-gov/bjjs-zjw-beijing__fwjy-stats__{day}.html").read_text("utf-8")
    if breadcrumb is not None:
        page, n = re.subn(r"(当前位置：\s*)<span><span>.*?</span></span>",
                          lambda m: m.group(1) + breadcrumb, page, count=1, flags=re.S)
        assert n == 1
    return page.encode("utf-8")


async def test_the_beijing_page_with_a_leftover_breadcrumb_placeholder_is_tracked(
        env_maker: Callable[..., Env]) -> None:
    env = env_maker()
    env.serve(html(bjjs("20230905", breadcrumb=LEFTOVER)))
    first = await env.check()
    assert first.outcome is Outcome.NEW, first.error
    env.serve(html(bjjs("20230906", breadcrumb=LEFTOVER)))
    second = await env.check()
    assert second.outcome is Outcome.CHANGED, second.error
    old, new = (env.store.version(v.id) for v in env.versions())
    assert "可售房屋套数： | 170474" in old.text and "可售房屋套数： | 171225" in new.text
    assert [c.error_kind for c in env.checks()] == [None, None]


async def test_an_article_with_one_template_variable_in_its_text_is_tracked(
        env_maker: Callable[..., Env]) -> None:
    env = env_maker()
    para = seed(0).paragraphs[3]
    env.serve(html(seed_page(0, edit=(para, para + "详见${x}。"))))
    result = await env.check()
    assert result.outcome is Outcome.NEW, result.error
    assert "详见${x}。" in env.store.version(env.versions()[0].id).text


@pytest.mark.parametrize("day", ["20200326", "20200327"])
async def test_the_beijing_broken_renders_are_still_refused(env_maker: Callable[..., Env],
                                                            day: str) -> None:
    env = env_maker()
    env.serve(html(bjjs(day)))
    result = await env.check()
    assert result.outcome is Outcome.ERROR and result.error_kind == "challenge"
    assert "unrendered template placeholders" in (result.error or "")
    assert env.versions() == []


NOTICE = ("为进一步做好房屋交易信息公开工作，方便市民查询，现将本市商品房网上签约数据的发布方式"
          "调整如下：一、自2023年10月1日起，每日数据于次日上午更新；二、月度数据于次月5日前发布；"
          "三、各区住房城乡建设委员会应同步在本区政府网站公开辖区数据，并做好解读工作。"
          "四、市民对数据有疑问的，可拨打12345市民服务热线咨询。特此通知。")


def notice(nav_links: int, article: str = NOTICE) -> bytes:
    """A short notice in a template whose nav and breadcrumb were left unrendered."""
    nav = "".join(f"<li><a href=\"$pageHelpBean.getPagePath('bjjs_30{i:04d}')\">栏目{i}</a></li>"
                  for i in range(nav_links))
    return (f"<html><head><title>关于调整商品房网上签约数据发布方式的通知</title></head><body>"
            f"<ul class='nav'>{nav}</ul><div class='crumb'>当前位置：{LEFTOVER}</div>"
            f"<div class='article'><h1>关于调整商品房网上签约数据发布方式的通知</h1>"
            f"<p>{article}</p><p>北京市住房和城乡建设委员会　2023年9月28日</p></div>"
            f"<div class='footer'>主办：北京市住房和城乡建设委员会</div></body></html>"
            ).encode()


async def test_placeholders_around_the_content_selector_do_not_count(
        env_maker: Callable[..., Env]) -> None:
    assert 150 < len(NOTICE) < 400  # a short notice: 11 placeholders outweigh it
    plain = env_maker()
    plain.serve(html(notice(10)))
    refused = await plain.check()
    assert refused.outcome is Outcome.ERROR and refused.error_kind == "challenge"

    selected = env_maker(source_lines='content = "div.article"')
    selected.serve(html(notice(10)))
    result = await selected.check()
    assert result.outcome is Outcome.NEW, result.error
    text = selected.store.version(selected.versions()[0].id).text
    assert "特此通知" in text and "$pageHelpBean" not in text


async def test_placeholders_inside_the_content_selector_still_refuse_the_page(
        env_maker: Callable[..., Env]) -> None:
    env = env_maker(source_lines='content = "div.article"')
    env.serve(html(notice(0, article="${article.content}　来源：${article.source}")))
    result = await env.check()
    assert result.outcome is Outcome.ERROR and result.error_kind == "challenge"
    assert "article.content" in (result.error or "")


CLOUDFLARE = ("<html><head><title>Just a moment...</title></head><body>"
              "<p>Checking your browser before accessing the site.</p></body></html>")


async def test_accept_challenge_like_takes_the_flagged_page_but_not_a_block(
        env_maker: Callable[..., Env]) -> None:
    env = env_maker(source_lines="accept_challenge_like = true")
    assert env.source.accept_challenge_like
    env.serve(html(notice(10)))
    result = await env.check()
    assert result.outcome is Outcome.NEW, result.error
    # What the answer's headers say still counts: a Cloudflare challenge is no version.
    env.serve(html(CLOUDFLARE, status=200, **{"cf-mitigated": "challenge"}))
    blocked = await env.check()
    assert blocked.outcome is Outcome.ERROR and blocked.error_kind == "challenge"
    assert len(env.versions()) == 1
