"""normalize_text: what two fetches are compared on.  Pure functions, no network."""

from __future__ import annotations

import pytest

from monitor.canon import canonical_text
from monitor.extract import extract
from monitor.normalize import normalize_text, normalize_with_notes
from tests.pages import seed_page, seed_paragraphs, seed_text


def test_chinese_punctuation_is_content_and_stays_full_width() -> None:
    text = "您提出的《关于设立总理热线电话的提案》收悉。经研究，答复如下：“一”（二）；三！"
    assert normalize_text(text) == text


def test_nfc_but_never_nfkc() -> None:
    # A decomposed é becomes one character; full-width letters and ① are what was written.
    assert normalize_text("Cafe\u0301") == "Café"
    assert normalize_text("ＡＢＣ１２３ ①") == "ＡＢＣ１２３ ①"


@pytest.mark.parametrize("text", [
    "人工 智能发展",  # a single space in running text: a wrap or a join
    "人工\t智能发展",
    "人工\u2002智能发展",
    "人工智能 ，发展",  # next to CJK punctuation
])
def test_a_single_space_between_chinese_characters_disappears(text: str) -> None:
    assert normalize_text(text).replace("，", "") == "人工智能发展"


@pytest.mark.parametrize("text", ["索 引 号：430S00", "索\u00a0引\u00a0号：430S00",
                                  "索\u3000\u3000引\u3000\u3000号：430S00"])
def test_letter_spacing_of_single_characters_disappears(text: str) -> None:
    assert normalize_text(text) == "索引号：430S00"


@pytest.mark.parametrize("space", ["\u3000", "\u00a0", "  ", "\u2002\u2002", "\u00a0\u00a0\u00a0"])
def test_a_real_separator_between_chinese_words_is_kept(space: str) -> None:
    # A full-width space, &nbsp; or several spaces between two words: written as U+3000.
    text = f"主送：各市州人民政府{space}省直各单位"
    assert normalize_text(text) == "主送：各市州人民政府\u3000省直各单位"
    assert normalize_text(normalize_text(text)) == normalize_text(text)


def test_a_single_space_between_fields_of_a_contact_line_is_kept() -> None:
    # Not "张猛三级主任科员": that reads as the name 张猛三.
    line = "联系人姓名、职务:张猛 三级主任科员 联系电话:88955549"
    assert normalize_text(line) == line
    assert normalize_text("联系人：张猛 三级主任科员") == "联系人：张猛 三级主任科员"
    # Inside a label, or in running text, a single space is still a wrap.
    assert normalize_text("联系 电话：88955549") == "联系电话：88955549"
    sentence = "经研究，现答复如下：人工 智能已经成为新一轮科技革命和产业变革的引领性力量。"
    assert normalize_text(sentence) == sentence.replace(" ", "")


@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff", "\u200d", "\u00ad", "\u2060"])
def test_invisible_characters_are_deleted(invisible: str) -> None:
    assert normalize_text(f"{invisible}产业{invisible}发展 policy{invisible}paper") == \
        "产业发展 policypaper"


def test_spaces_next_to_latin_and_digits_are_kept_but_collapsed() -> None:
    assert normalize_text("使用  AI\u3000\u3000技术，2020 年 共 3 项 and  more") == \
        "使用 AI 技术，2020 年共 3 项 and more"


def test_a_reindented_and_rewrapped_source_gives_the_same_text() -> None:
    one = "\u3000\u3000人工智能已经成为新一轮科技革命和产业变革的引领性力量。"
    other = "    人工智能已经成为 新一轮科技革命\t和产业变革的\u2002引领性力量。   "
    assert normalize_text(one) == normalize_text(other) == one.strip("\u3000")
    # A separator the page typed is shown, but the version is the same (monitor.canon).
    spaced = "人工智能已经成为\u00a0\u00a0新一轮科技革命和产业变革的引领性力量。"
    assert normalize_text(spaced) != normalize_text(one)
    assert canonical_text(normalize_text(spaced)) == canonical_text(normalize_text(one))


def test_a_hard_wrapped_source_is_joined_between_chinese_characters() -> None:
    html = ("<p>人工智能已经成为\n        新一轮科技革命和产业变革的\r\n\t引领性力量，"
            "<span>2020</span>\n年 AI\n  technology</p>")
    assert extract(html).text == \
        "人工智能已经成为新一轮科技革命和产业变革的引领性力量，2020 年 AI technology"


def test_lines_are_stripped_and_empty_lines_dropped() -> None:
    assert normalize_text("\n\n  第一段  \r\n\u3000\n\n\t第二段\n \u00a0 \n") == "第一段\n第二段"


def test_ignore_text_applies_per_line_and_across_lines() -> None:
    text = "发布时间：2021-06-24\n信息编号：A1234\n正文第一段\n附件：\n1.申报表.doc\n正文第二段"
    assert normalize_text(text, [r"信息编号：\w+"]) == \
        "发布时间：2021-06-24\n正文第一段\n附件：\n1.申报表.doc\n正文第二段"
    assert normalize_text(text, [r"^附件：\n.*$"]) == \
        "发布时间：2021-06-24\n信息编号：A1234\n正文第一段\n正文第二段"


def test_ignore_text_applies_to_the_normalized_text() -> None:
    # The pattern is written against what the user sees: no gap between 统计 and 人次
    # where the gap was a wrap, the page's separator where it had one.
    assert normalize_text("统计 人次：42\n正文", [r"统计人次：\d+"]) == "正文"
    assert normalize_text("统计\u3000人次：42\n正文", [r"统计人次：\d+"]) == \
        "统计\u3000人次：42\n正文"
    assert normalize_text("统计\u3000人次：42\n正文", [r"统计\s*人次：\d+"]) == "正文"


@pytest.mark.parametrize("n", range(4))
def test_normalizing_twice_changes_nothing(n: int) -> None:
    once = normalize_text(seed_text(n), [r"\d{11}"])
    assert once
    assert normalize_text(once, [r"\d{11}"]) == once
    assert normalize_text(normalize_text(seed_text(n)), [r"\d{11}"]) == once


def test_same_input_same_output_whatever_was_normalized_before() -> None:
    text = seed_text(0)
    first = normalize_text(text)
    normalize_text(text, [r"湖南省"])
    normalize_text("完全不同的文字")
    assert normalize_text(text) == first


# --- built-in noise --------------------------------------------------------------------


@pytest.mark.parametrize(("line", "kept"), [
    ("作者:    摄影:    责任编辑:科研处来源: 审核:    发表时间:2020-09-24点击:",
     "作者: 摄影: 责任编辑:科研处来源: 审核: 发表时间:2020-09-24"),
    ("发布时间：2021-06-24  点击：123  【字体：大 中 小】 【打印】【关闭】",
     "发布时间：2021-06-24"),
    ("浏览次数：4859", ""),
    ("访问量： 1632", ""),
    ("阅读数 2345", ""),
    ("点击数：1,024次", ""),
    ("本文阅读：88 次", ""),
    ("您是第12345位访问者", ""),
    ("您是本站第 98 位访客", ""),
    ("今天是2026年11月22日 星期日", ""),
    ("今天是2026年11月22日 星期日 长沙 晴 5℃~12℃", ""),
    ("2026年11月22日 星期日", ""),
    ("浏览次数：1240 次 | 当前时间：2026年12月7日 02:40:05", ""),
    ("当前日期：2026-12-07 星期一", ""),
    ("系统时间：2026/12/07 02:40 【打印本页】", ""),
    ("北京时间 2026年12月7日 02:40:05 星期一", ""),
    # a clock after a greeting on the same line, with a lunar date or weekday after it
    ("您好，欢迎访问！当前时间：2026年12月7日 02:40:05", "您好，欢迎访问！"),
    ("您好，欢迎访问！现在时间：2026-12-07 02:40:05", "您好，欢迎访问！"),
    ("北京时间：2026-12-07 02:40 农历十月廿八", ""),
    ("欢迎访问 | 当前时间：2026年12月7日 02:40:05", "欢迎访问"),
    ("欢迎访问本网站 当前时间：2026年12月7日 星期一 02:40", "欢迎访问本网站"),
    ("当前日期：2026年12月7日 星期一 农历丙午年十月廿八", ""),
    ("欢迎您；系统时间：2026/12/07 02:40:05 农历闰四月初一 星期一 | 登录", "欢迎您； | 登录"),
    # a count without a colon, alone or on a byline
    ("阅读 45", ""),
    ("阅读：45", ""),
    ("发布时间：2026-12-07 阅读 45", "发布时间：2026-12-07"),
    ("来源：本厅 | 浏览 12 次", "来源：本厅"),
    ("来源：本厅 | 浏览次数：12", "来源：本厅"),
    ("来源：本厅 | 点击：12 | 作者：张三", "来源：本厅 | 作者：张三"),
    ("｜ 阅读次数：7 ｜ 发布时间：2026年12月7日 02:40:05", "发布时间：2026年12月7日 02:40:05"),
    ("【字体：放大 正常 缩小】", ""),
    ("字号：大 中 小 打印本页 关闭窗口", ""),
    ("【打印本页】【关闭窗口】【返回顶部】", ""),
    ("加入收藏 | 设为首页", ""),
    ("分享到： 微信 微博 QQ空间", ""),
    ("扫一扫在手机打开当前页", ""),
    ("支持 0   反对 0", ""),
    ("顶 3 踩 1", ""),
    ("上一篇：关于做好2021年工作的通知", ""),
    ("下一篇：无", ""),
    ("当前位置: 首页 > 通知公告", ""),
    ("返回顶部", ""),
    ("详见 http://x.gov.cn/a.jsp;jsessionid=ABCDEF0123.node1?id=7", "详见 http://x.gov.cn/a.jsp?id=7"),
])
def test_builtin_noise_is_removed(line: str, kept: str) -> None:
    text, notes = normalize_with_notes(line)
    assert text == kept
    assert notes  # the user can see what was taken out


@pytest.mark.parametrize("sentence", [
    "请认真阅读并遵守以下规定。",
    "详情请访问：www.hunan.gov.cn",
    "网站日均访问量100万次，同比增长15%。",
    "请点击：【下载附件】",
    "欢迎分享到朋友圈的文章。",
    "字体：中小企业扶持资金",
    "推荐阅读：1.关于印发的通知",
    "赞成3票，反对0票，弃权1票。",
    "请下载并打印本页申请表。",
    "据统计，全年阅读推广活动参与人次超过10万。",
    "位置：长沙市天心区新韶东路467号",
    "代表团先后访问：巴西、乌拉圭、阿根廷。",
    "北京时间2026年12月7日，神舟二十三号载人飞船发射成功。",
    "北京时间12月7日10时30分，比赛正式开始。",
    "截至当前时间2026年12月7日，共受理申请356件。",
    "发布时间：2026年12月7日 02:40:05",
    "更新时间：2026-12-07 02:40",
    "成文日期：2026年12月7日",
    "发布时间：北京时间2026-12-07 10:00",
    "报名截止：北京时间2026年12月31日17:00",
    "截止时间：北京时间2026年12月31日 17:00",
    "会议于北京时间2026年12月7日 10:00 开幕",
    "比赛于当地时间晚上开始，北京时间2026年12月7日凌晨转播。",
    "每天阅读 30 分钟",
    "阅读 45 分钟后回答问题。",
    "第三章阅读 45",
    "课外阅读 12 本，写作 3 篇。",
    "共点击 1200 次",
])
def test_sentences_that_mention_a_widget_word_stay(sentence: str) -> None:
    text, notes = normalize_with_notes(sentence)
    assert text == sentence
    assert notes == []


def test_seed_003_loses_its_empty_counter_but_keeps_its_date() -> None:
    text = normalize_text(seed_text(3))
    assert "发表时间:2020-09-24" in text
    assert "点击" not in text


@pytest.mark.parametrize("clock", [
    "您好，欢迎访问！当前时间：{}",
    "北京时间：{} 农历十月廿八",
    "欢迎访问本网站 现在时间：{}",
])
def test_a_ticking_clock_and_a_bare_counter_leave_a_page_as_it_was(clock: str) -> None:
    def page(now: str, count: int) -> str:
        """Seed page 0, its body opening with a clock and a byline."""
        return seed_page(0, edit=lambda ps: [clock.format(now), f"来源：本厅 阅读 {count}",
                                             *ps]).decode("utf-8")

    first = extract(page("2026-12-07 02:40:05", 45)).text
    later = extract(page("2026-12-07 02:41:17", 46)).text
    assert first == later, (first[:200], later[:200])
    assert "2026-12-07" not in first and "阅读" not in first and "来源：本厅" in first
    assert seed_paragraphs(0)[-1].strip() in first  # the body is all there
