"""monitor.render: what a reader sees of a diff, in mail, the web UI and a terminal."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from monitor.diff import diff_texts
from monitor.render import (
    render_html,
    render_side_by_side_html,
    render_terminal,
    render_text,
)

SEEDS = Path(__file__).parent / "fixtures" / "seeds"
HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>']


def seed(prefix: str) -> str:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


def paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


class Tags(HTMLParser):
    """Every tag, attribute and text node of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tags:
    t = Tags()
    t.feed(html)
    return t


def amount_edit() -> tuple[str, str]:
    old = seed("001")
    return old, old.replace("近三年研发投入超过4亿元", "近三年研发投入超过5亿元")


def test_one_char_edit_shows_exactly_that_char() -> None:
    d = diff_texts(*amount_edit())
    html = render_html(d)
    assert re.findall(r"<del[^>]*>(.*?)</del>", html) == ["4"]
    assert re.findall(r"<ins[^>]*>(.*?)</ins>", html) == ["5"]
    text = render_text(d)
    assert text.count("[-") == 1 and "超过[-4-]{+5+}亿元" in text


def test_only_changed_paragraphs_with_context_and_a_summary() -> None:
    old, new = amount_edit()
    ps = paragraphs(old)
    d = diff_texts(old, new)
    text = render_text(d, context=1)
    lines = text.splitlines()
    assert lines[0] == "+1 / −1 字, 1 段落"
    assert "…" in lines
    assert ps[3] in text  # paragraph 4, just before the change
    assert ps[5][:40] in text  # paragraph 6, just after (long: shown in part)
    for far in (ps[0], ps[8], ps[-1]):  # far from the change
        assert far[:30] not in text
    narrow = render_text(d, context=0)
    assert ps[3] not in narrow and "超过[-4-]{+5+}亿元" in narrow
    for render in (render_html, render_side_by_side_html):
        assert "+1 / −1 字, 1 段落" in render(d)
        assert ps[8][:30] not in render(d)


def test_a_long_paragraph_is_shortened_around_the_edit() -> None:
    old = seed("003")
    para = paragraphs(old)[72]  # 452 characters
    i = para.index("税收优惠")
    new = old.replace(para, para[:i] + "财政" + para[i + 2:])
    text = render_text(diff_texts(old, new), context=0)
    line = next(x for x in text.splitlines() if "[-" in x)
    assert "[-税收-]{+财政+}" in line
    assert len(line) < 260 and "…" in line


def test_added_and_removed_paragraphs_are_marked_whole() -> None:
    old = seed("003")
    ps = paragraphs(old)
    new = old.replace(ps[38] + "\n", "")
    new = new.replace("一、总体要求\n", "一、总体要求\n新增的说明段落。\n")
    text = render_text(diff_texts(old, new), context=0)
    assert "+ 第12段 新增: {+新增的说明段落。+}" in text
    assert f"- 第39段 删除: [-{ps[38]}-]" in text


@pytest.mark.parametrize("render", [render_html, render_side_by_side_html])
def test_hostile_page_text_comes_out_escaped(render) -> None:  # type: ignore[no-untyped-def]
    old = seed("002")
    ps = paragraphs(old)
    new = old.replace(ps[4], ps[4] + HOSTILE[0])  # inside a changed paragraph
    new = new.replace(ps[40], HOSTILE[1])  # a whole paragraph replaced
    new += "\n" + HOSTILE[0] + HOSTILE[1]  # an added paragraph
    old = old.replace(ps[20], ps[20] + HOSTILE[1])  # deleted text
    html = render(diff_texts(old, new))
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    tags = parse(html)
    assert tags.tags <= {"div", "p", "span", "del", "ins", "br", "table", "caption", "tr",
                         "th", "td"}
    assert {name for name, _ in tags.attrs} <= {"style", "colspan"}
    assert not any("alert" in (value or "") for _, value in tags.attrs)
    shown = "".join(tags.text)  # what a reader sees: the text itself, unharmed
    assert shown.count(HOSTILE[0]) == 2 and shown.count(HOSTILE[1]) == 3


def test_side_by_side_has_old_left_and_new_right() -> None:
    html = render_side_by_side_html(diff_texts(*amount_edit()), context=0)
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    changed = [r for r in rows if "<del" in r or "<ins" in r]
    assert len(changed) == 1
    left, right = re.findall(r"<td[^>]*>(.*?)</td>", changed[0], re.S)
    assert "<del" in left and "<ins" not in left and ">4</del>" in left
    assert "<ins" in right and "<del" not in right and ">5</ins>" in right
    assert "旧版本" in html and html.index("旧版本") < html.index("新版本")


def test_terminal_colours_deletions_and_insertions() -> None:
    old, new = amount_edit()
    new = new.replace("产业发展情况", "产业发展情况[bold]x[/bold]", 1)
    t = render_terminal(diff_texts(old, new))
    assert t.plain.splitlines()[0] == "+15 / −1 字, 2 段落"
    assert "[bold]x[/bold]" in t.plain  # page text is never rich markup
    styles = {t.plain[s.start:s.end]: str(s.style) for s in t.spans}
    assert "red" in styles["4"] and "strike" in styles["4"]
    assert "green" in styles["5"]


def test_no_change_says_so() -> None:
    text = seed("000")
    d = diff_texts(text, text)
    assert render_text(d).strip() == "正文无变化"
    assert "<del" not in render_html(d) and "正文无变化" in render_html(d)


def test_a_paragraph_level_fallback_is_announced() -> None:
    old, new = seed("003"), seed("001")
    d = diff_texts(old, new, timeout=0.0001)
    assert not d.exact
    assert "按段落" in render_text(d).splitlines()[0]
