"""A short page near the article threshold is read as its last version was.

A notice of a heading and two sentences is read whole (nav and footer lines too); one
sentence more and it scores as an article.  The flip must not tell 首页 / 来源 / 主办单位
as removed paragraphs: the change is the sentence (``monitor.extract.html``'s docstring,
"Near the threshold").  Real HTTP on loopback, real SQLite/PostgreSQL, the real pipeline.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from monitor.config import load_config
from monitor.extract import extract
from monitor.fetch import Fetcher
from monitor.pipeline import Checker
from monitor.types import CheckResult, Outcome
from storage import Store
from storage.models import Change
from tests.conftest import write_sources
from tests.sites import Response, Site

PATH = "/tzgg/w2.html"
SENTENCE = "本说明自印发之日起施行。"
# the tester's page (/tmp/qa2w/w2/notice.html), its counter a number
NOTICE = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>关于十四五规划的说明_中国政府网'
    '</title></head><body>\n<div class="top">今天是2026年12月7日 <a href="/">首页</a></div>\n'
    '<div class="byline">来源：国务院办公厅　浏览次数：123</div>\n'
    '<div class="article"><h1>关于十四五规划的说明</h1>\n'
    "<p>本规划期为2021－2025年（全角连字符），远景展望到2035年。</p><p>另见2021至2025年。{}</p>\n"
    '</div><div class="footer">主办单位：国务院办公厅</div></body></html>')
SHORT, LONGER = NOTICE.format(""), NOTICE.format(SENTENCE)
CHROME = ("首页", "来源：国务院办公厅", "主办单位：国务院办公厅")


def _long_article() -> str:
    """The same site re-laid out with a real article: many sentences of prose."""
    line = "各地区、各部门要认真贯彻落实本规划，结合实际抓好组织实施。"
    paragraphs = "".join(f"<p>第{i}条，{line}</p>" for i in range(1, 9))
    return NOTICE.replace('<p>本规划期', paragraphs + '<p>本规划期').format(SENTENCE)


async def _checks(tmp_path: Path, store: Store, site: Site, pages: list[str]
                  ) -> list[CheckResult]:
    path = write_sources(tmp_path / "sources.toml", "\n".join([
        "[[sources]]", 'name = "notice"', f'url = "{site.url(PATH)}"', "",
        "[[watchers]]", 'email = "w@example.org"', 'sources = ["*"]', ""]))
    config = load_config(path, env={})
    store.sync_sources(config.sources)  # as ``monitor check`` does
    results = []
    async with Fetcher(config.settings) as fetcher:
        for page in pages:
            site.route(PATH, Response(page, headers={"Content-Type": "text/html; charset=utf-8"}))
            results.append(await Checker(config, store, fetcher).check(config.source("notice")))
    return results


def _change(store: Store) -> Change:
    with store.session() as s:
        [change] = list(s.exec(select(Change)))
        return change


def _only_the_sentence(store: Store, result: CheckResult, added: bool) -> None:
    assert result.outcome is Outcome.CHANGED, result.summary
    change = _change(store)
    summary = change.summary or ""
    assert "删除" not in summary and "新增" not in summary, summary
    assert "段修改" in summary, summary
    stats = change.stats
    assert (stats["added"], stats["removed"]) == ((len(SENTENCE), 0) if added
                                                   else (0, len(SENTENCE))), (summary, stats)
    assert SENTENCE in change.patch
    assert not any(line in change.patch for line in CHROME), change.patch


async def test_a_sentence_added_to_a_short_notice_is_only_that_sentence(
        tmp_path: Path, store: Store, site: Site) -> None:
    first, second = await _checks(tmp_path, store, site, [SHORT, LONGER])
    assert first.outcome is Outcome.NEW
    _only_the_sentence(store, second, added=True)
    [_, v2] = store.history("notice")
    text = store.version(v2.id).text
    assert SENTENCE in text and all(line in text for line in CHROME)  # read as last time


async def test_a_sentence_removed_below_the_threshold_is_only_that_sentence(
        tmp_path: Path, store: Store, site: Site) -> None:
    first, second = await _checks(tmp_path, store, site, [LONGER, SHORT])
    assert first.outcome is Outcome.NEW
    _only_the_sentence(store, second, added=False)
    [_, v2] = store.history("notice")
    assert not any(line in store.version(v2.id).text for line in CHROME)


async def test_a_page_that_becomes_a_real_article_is_read_as_its_article(
        tmp_path: Path, store: Store, site: Site) -> None:
    first, second = await _checks(tmp_path, store, site, [SHORT, _long_article()])
    assert first.outcome is Outcome.NEW and second.outcome is Outcome.CHANGED
    v1, v2 = store.history("notice")
    assert all(line in store.version(v1.id).text for line in CHROME)
    text = store.version(v2.id).text
    assert "第8条" in text and not any(line in text for line in CHROME)


def test_extract_reads_as_the_previous_text_did_only_near_the_threshold() -> None:
    whole, article = extract(SHORT).text, extract(LONGER).text
    assert all(line in whole for line in CHROME)  # the threshold alone: two readings
    assert not any(line in article for line in CHROME)
    assert extract(LONGER, previous=whole).text == whole.replace(
        "另见2021至2025年。", "另见2021至2025年。" + SENTENCE)
    assert extract(SHORT, previous=article).text == article.replace(SENTENCE, "")
    assert extract(_long_article(), previous=whole).text == extract(_long_article()).text


async def test_a_settings_change_after_the_flip_reads_the_last_page_as_last_time(
        tmp_path: Path, store: Store, site: Site) -> None:
    """The last version read again with new settings (``Checker._last_read_again``) is
    read the way it was stored, whole: the new setting is no change of the page."""
    await _checks(tmp_path, store, site, [SHORT, LONGER])
    path = write_sources(tmp_path / "sources.toml", "\n".join([
        "[[sources]]", 'name = "notice"', f'url = "{site.url(PATH)}"',
        'ignore_text = ["另见"]', "",
        "[[watchers]]", 'email = "w@example.org"', 'sources = ["*"]', ""]))
    config = load_config(path, env={})
    store.sync_sources(config.sources)  # the admin's edit, as ``monitor check`` syncs it
    async with Fetcher(config.settings) as fetcher:
        third = await Checker(config, store, fetcher).check(config.source("notice"))
    assert third.outcome is Outcome.CHANGED and third.alerts == 0, third.summary
    text = store.version(store.history("notice")[-1].id).text
    assert "另见" not in text and all(line in text for line in CHROME)


def test_a_column_page_near_the_threshold_is_still_read_as_its_list() -> None:
    """A list of dated links scores near the threshold too: its text is its items
    (``title | date``), never one of the page's readings chosen against them."""
    corpus = Path(__file__).parent / "fixtures" / "corpus" / "cn-gov"
    page = (corpus / "jsliteral__wsjkw-sh-gov-cn__yqtb-list-page.html").read_text("utf-8")
    first = extract(page)
    assert first.listing and " | 2022-04-27" in first.text
    again = extract(page, previous=first.text)
    assert again.listing and again.text == first.text
