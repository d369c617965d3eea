"""Noise rules never take the page's own data (``monitor.noise``).

A notice's new opening time after 北京时间 is no live clock, and a 政府信息公开工作年度
报告's 访问量 figures (a paragraph of the text, a table row) are no view counters: an edit
of them is a change the watcher is told of.  The widgets the rules were made for (a
byline's counter, a ticking clock) still go.  Real HTTP server on 127.0.0.1 (the
pipeline's), SQLite and PostgreSQL; ``content = "div.article"`` as the tester's sources.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from monitor.extract.html import extract
from monitor.normalize import normalize_text
from monitor.types import Outcome
from tests.test_pipeline import Env, html, make_env  # noqa: F401  (fixture)

CONTENT = 'content = "div.article"'


def postponed(opening: str) -> bytes:
    """A meeting-postponement notice: the new opening time is a line of its own."""
    return ("<html><head><meta charset='utf-8'><title>关于湖北省人工智能发展大会延期举办的通知"
            "</title></head><body><div class='article'>"
            "<h1>关于湖北省人工智能发展大会延期举办的通知</h1><p>发布时间：2026-12-01 10:00</p>"
            f"<p>各有关单位：</p><p>北京时间：{opening}</p>"
            "<p>原定于12月10日举办的大会延期举行，新的开幕时间如上。</p>"
            "<p>特此通知。</p></div></body></html>").encode()


async def test_a_new_opening_time_after_beijing_time_is_a_change(
        make_env: Callable[..., Env]) -> None:  # noqa: F811
    env = make_env(source_lines=CONTENT)
    env.serve(html(postponed("2026-12-20 09:30")))
    assert (await env.check()).outcome is Outcome.NEW
    [v1] = env.versions()
    assert "北京时间：2026-12-20 09:30" in env.store.version(v1.id).text

    env.serve(html(postponed("2027-01-15 14:00")))
    result = await env.check()

    assert result.outcome is Outcome.CHANGED and result.alerts == 1
    [change] = env.changes()
    assert "2027-01-15 14:00" in env.store.version(env.versions()[-1].id).text
    assert change.alert is True


def report(visits: int, views: int) -> bytes:
    """A 政府信息公开工作年度报告: its site's traffic is the report's data."""
    return ("<html><head><meta charset='utf-8'><title>湖南省工业和信息化厅2025年政府信息公开工作"
            "年度报告</title></head><body><div class='article'>"
            "<h1>湖南省工业和信息化厅2025年政府信息公开工作年度报告</h1>"
            "<p>发布时间：2026-01-20</p><p>一、总体情况</p><p>2025年，我厅门户网站运行平稳。</p>"
            "<table><tr><td>指标</td><td>数值</td></tr>"
            f"<tr><td>总访问量</td><td>1234567</td></tr><tr><td>浏览量：</td><td>{views}</td></tr>"
            "</table>"
            f"<p>访问量：{visits}次</p><p>全年网站访问量达1234万次。</p></div></body></html>").encode()


async def test_a_reports_visit_figures_are_text_and_their_edit_a_change(
        make_env: Callable[..., Env]) -> None:  # noqa: F811
    env = make_env(source_lines=CONTENT)
    env.serve(html(report(2345678, 9901234)))
    assert (await env.check()).outcome is Outcome.NEW
    text = env.store.version(env.versions()[0].id).text
    assert "访问量：2345678次" in text.splitlines()  # the paragraph, whole
    assert "浏览量： | 9901234" in text.splitlines()  # the row, its label too

    env.serve(html(report(2345679, 9901234)))
    result = await env.check()

    assert result.outcome is Outcome.CHANGED and result.alerts == 1
    [change] = env.changes()
    assert change.alert is True
    assert "访问量：2345679次" in env.store.version(env.versions()[-1].id).text


def test_a_table_rows_counter_label_stays_with_its_value() -> None:
    got = extract(report(2345678, 9901234).decode(), content=["div.article"])
    assert "浏览量： | 9901234" in got.text.splitlines()
    assert "9901234" not in got.text.splitlines()  # no bare number left of the row


A, B = "正文第一段。", "正文第二段。"


@pytest.mark.parametrize(("text", "kept"), [
    # a byline's counter, alone under the heading or next to the byline
    (f"通知\n浏览次数：4859\n{A}\n{B}", f"通知\n{A}\n{B}"),
    (f"通知\n{A}\n发布时间：2026-12-07\n阅读 45\n{B}", f"通知\n{A}\n发布时间：2026-12-07\n{B}"),
    (f"通知\n{A}\n{B}\n访问量：1632", f"通知\n{A}\n{B}"),
    (f"通知\n{A}\n【打印本页】\n访问量：1632\n{B}", f"通知\n{A}\n{B}"),
    # a figure in the middle of the text, a table row's cells
    (f"通知\n{A}\n访问量：2345678次\n{B}", f"通知\n{A}\n访问量：2345678次\n{B}"),
    (f"通知\n{A}\n浏览量： | 9901234\n{B}", f"通知\n{A}\n浏览量： | 9901234\n{B}"),
    (f"通知\n截至2025年12月31日，{A}\n访问量：2345678次\n{B}",
     f"通知\n截至2025年12月31日，{A}\n访问量：2345678次\n{B}"),  # a dated paragraph is text
    (f"通知\n{A}\n全年网站访问量：2345678次，同比增长12%。\n{B}",
     f"通知\n{A}\n全年网站访问量：2345678次，同比增长12%。\n{B}"),
    # on a byline, a counter goes wherever it is
    (f"通知\n{A}\n2026-12-07 阅读：45\n{B}", f"通知\n{A}\n2026-12-07\n{B}"),
    (f"通知\n{A}\n来源：本厅 | 点击：12\n{B}", f"通知\n{A}\n来源：本厅\n{B}"),
])
def test_a_counter_is_noise_in_a_bylines_place_only(text: str, kept: str) -> None:
    assert normalize_text(text) == kept
    assert normalize_text(kept) == kept


@pytest.mark.parametrize("line", [
    "北京时间：2027-01-15 14:00",  # a notice's time to the minute
    "北京时间 2026年12月20日 09:30",
])
def test_beijing_time_to_the_minute_is_a_notices_time(line: str) -> None:
    text = f"通知\n各有关单位：\n{line}\n新的开幕时间如上。"
    assert normalize_text(text) == text


@pytest.mark.parametrize("line", [
    "北京时间：2026-12-07 02:40:05",  # the seconds tick
    "北京时间：2026-12-07 星期一 02:40",
    "北京时间：2026-12-07 02:40 农历十月廿八",
])
def test_a_beijing_time_clock_still_goes(line: str) -> None:
    text = f"通知\n各有关单位：\n{line}\n新的开幕时间如上。"
    assert normalize_text(text) == "通知\n各有关单位：\n新的开幕时间如上。"


def footer_widgets(views: int, clock: str) -> bytes:
    """The tester's notice: an end-of-article counter in words and a clock without a
    date in the page footer, both new at every fetch (no ``content``: the page's own
    article is found)."""
    return ("<html><head><meta charset='utf-8'><title>关于做好2026年冬季供暖工作的通知</title>"
            "</head><body><div class='article'><h1>关于做好2026年冬季供暖工作的通知</h1>"
            "<div class='info'><span>来源：省住建厅</span> <span>日期：2026-12-01</span></div>"
            "<p>各市（州）住建局：</p><p>供暖期自2026年10月25日起至2027年4月5日止。</p>"
            f"<div class='foot'>本文已被浏览 {views} 次</div></div>"
            f"<div class='footer'>您是第{views}位访客 系统时间：{clock}</div></body></html>"
            ).encode()


async def test_a_counter_in_words_and_a_dateless_clock_change_nothing(
        make_env: Callable[..., Env]) -> None:  # noqa: F811
    env = make_env()
    env.serve(html(footer_widgets(157, "10:16:41")))
    assert (await env.check()).outcome is Outcome.NEW
    text = env.store.version(env.versions()[0].id).text
    assert "供暖期自2026年10月25日起至2027年4月5日止。" in text
    assert "浏览" not in text and "系统时间" not in text

    env.serve(html(footer_widgets(158, "10:17:12")))
    result = await env.check()

    assert result.outcome is Outcome.UNCHANGED and result.alerts == 0
    assert env.changes() == []


@pytest.mark.parametrize("widget", [
    "本文已被浏览 100 次", "本页已被访问123次", "该文已被阅读 45 次", "已有 45 人阅读",
    "【本文已被浏览100次】", "本页访问人数：88",
    "系统时间：10:15:33", "当前时间 10:15:33", "现在时间：10:15", "当前时间：10:15:33 星期一",
    "北京时间：10:15:33", "您是本站第 1234 位访问者",
])
def test_widget_phrasings_at_the_texts_end_go(widget: str) -> None:
    assert normalize_text(f"通知\n{A}\n{B}\n{widget}") == f"通知\n{A}\n{B}"


@pytest.mark.parametrize("line", [
    "截至目前，该平台已被访问123次，同比增长12%。",  # a sentence's figure
    "北京时间10:15:33，神舟飞船发射成功。",  # news, not a widget
    "北京时间 14:00",  # a notice's time without seconds
    "会议时间：北京时间 10:15:33",  # the value of a time field
    "本文已被浏览 100 次",  # a counter line amid the text is the text's
    "每天阅读30次",
])
def test_counters_and_times_in_the_text_stay(line: str) -> None:
    text = f"通知\n{A}\n{line}\n{B}"
    assert normalize_text(text) == text
