"""The shortcuts of a changed check give exactly what the long way gives: the text,
metadata and notes of real pages, the challenge verdicts, the diff's paragraphs and the
numbers an edit is widened to."""

from __future__ import annotations

import codecs
import itertools
import random
from bisect import bisect_left
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from monitor import challenge, noise
from monitor.diff import _NUMBER, _Numbers
from monitor.errors import DecodeError
from monitor.extract import extract
from monitor.extract.metadata import extract_metadata
from monitor.fetch.encoding import decode_declared, decode_html
from monitor.fetch.http import INLINE_DECODE_BYTES, decoded
from monitor.paragraphs import DELETE, EQUAL, INSERT, paragraphs_of
from monitor.types import FetchResult
from tests.pages import seed_page

CORPUS = Path(__file__).parent / "fixtures" / "corpus" / "cn-gov"
PAGES = sorted(CORPUS.glob("*.html"))


def _html(path: Path) -> str:
    return decode_html(path.read_bytes(), None)[0]


def _extracted(html: str, **kw: object) -> object:
    try:
        return extract(html, url="http://www.example.gov.cn/a/b.html", **kw)
    except Exception as exc:  # a page that is refused is refused the same way
        return repr(exc)


def _seed_pages() -> list[str]:
    """Generated pages: CMS chrome with a view counter (filled in or empty), share and
    print bars, the widgets the rules remove."""
    spaced = ("<html><body><div class='byline'><span>来源：本厅</span> "
              "<span>点&nbsp;击：<b>123</b></span> <span>浏\u200b览 ： 45</span></div>"
              "<div class='content'><p>为进一步加强全省工业设计中心建设，现将有关事项通知如下。</p>"
              "<p>一、各地要高度重视，认真组织申报工作，确保按时完成。</p></div></body></html>")
    return [spaced] + [seed_page(n, counter=counter, fullwidth=wide).decode()
                       for n in range(4) for counter in (1234, None) for wide in (False, True)]


def test_widget_holders_skipped_unread_change_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    htmls = [_html(p) for p in PAGES] + _seed_pages()
    fast = [_extracted(h) for h in htmls]
    monkeypatch.setattr(noise, "_widget_words", lambda: lambda plain: True)
    monkeypatch.setattr(noise, "_mark_long", lambda node, long: None)  # every text read
    slow = [_extracted(h) for h in htmls]
    assert fast == slow
    assert any(not isinstance(e, str) and any("view counter" in n for n in e.removed)
               for e in fast)


def test_metadata_of_a_body_is_that_of_its_copy_and_leaves_it_as_it_was() -> None:
    for path in PAGES:
        tree = LexborHTMLParser(_html(path))
        if tree.body is None:
            continue
        for body in (tree.body, _without_scripts(tree)):
            before = body.html
            assert extract_metadata(body) == extract_metadata(body.clone()), path.name
            assert body.html == before, path.name


def _without_scripts(tree: LexborHTMLParser) -> object:
    copy = LexborHTMLParser(tree.html or "")
    noise.drop_non_content(copy.root)
    return copy.body


def test_one_reading_answers_both_challenge_questions() -> None:
    for path in PAGES:
        html = _html(path)
        for content in ((), ("div.content",)):
            challenge._last = None
            alone = challenge.detect_challenge(html, status=200, headers={}, content=content)
            challenge.detect_soft_404(html)  # the pipeline asks this first
            shared = challenge.detect_challenge(html, status=200, headers={},
                                                content=content)
            assert shared == alone, path.name
        challenge._last = None
        assert challenge.detect_soft_404(html) == challenge.detect_soft_404(html + " ")


def _challenge_htmls() -> list[str]:
    """Real and generated pages, and small ones each check may refuse."""
    wrap = "<html><head><title>{}</title></head><body>{}</body></html>".format
    small = [wrap("", ""), wrap("x", " \u3000\n" * 3000 + "短"), wrap("页面不存在", "页面不存在"),
             wrap("安全验证", "请输入验证码" + " " * 2100 + "。"),
             wrap("", "<script>location.href='/a'</script>跳转中"),
             wrap("", "{{a}} {{ b }} {{c.d}}" + "字" * 300), wrap("", "$page.title 正文" * 3),
             wrap("", "<p>&lt;% x %&gt; 正文</p>"),
             wrap("", "<a href='$a.b'>1</a>" * 3 + "字" * 800),
             wrap("", " " * 2047 + "字" * 599), wrap("", "\n" * 2048 + "字" * 600),
             wrap("", ("字 " * 300 + "\u2028") * 4), wrap("404", "您访问的页面不存在" + "字" * 700)]
    return small + [_html(p) for p in PAGES] + _seed_pages()


def test_the_visible_texts_length_counted_from_its_start_is_the_whole_texts() -> None:
    ws = " \t\n\r\x0b\x0c\x1c\x85\xa0\u3000\u2028\u2029\u200a"
    rng = random.Random(12)
    raws = ["", " " * 5000, "字" * 5000] + [
        "".join(rng.choice(ws) if rng.random() < share else "字" for _ in range(size))
        for share in (0.1, 0.5, 0.9, 0.99) for size in (19, 600, 2047, 2049, 4096, 9000)]
    for html in _challenge_htmls():
        body = LexborHTMLParser(html).body
        raws.append(body.text() if body is not None else "")
    for raw in raws:
        whole = "".join(raw.split())
        for n in (0, 1, 20, 200, 600, 2048, 5000):
            assert challenge._Visible(raw).fewer_than(n) == (len(whole) < n), (raw[:40], n)
        seen = challenge._Visible(raw)
        assert seen.text == whole and seen.fewer_than(600) == (len(whole) < 600)
        if challenge._Visible(raw).unmarked:  # no placeholder in the text, for any links
            for links in ("", "$a.b $c.d $e.f"):
                assert challenge._placeholder(whole, links) == challenge._placeholder("", links)


def test_challenge_verdicts_from_the_visible_texts_start_are_the_whole_texts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def verdicts() -> list[tuple[str | None, ...]]:
        out = []
        for html in _challenge_htmls():
            for content in ((), ("div.content",)):
                challenge._last = None
                reading = challenge.read(html)
                out.append((reading.soft_404(),
                            reading.challenge(status=200, headers={}, content=content),
                            reading.challenge(status=503, headers={"Server": "AkamaiGHost"})))
        return out

    fast = verdicts()
    monkeypatch.setattr(challenge._Visible, "fewer_than", lambda self, n: len(self.text) < n)
    monkeypatch.setattr(challenge._Visible, "unmarked", property(lambda self: False))
    slow = verdicts()
    assert fast == slow
    assert sum(any(v) for v in fast) >= 8  # refusals of several kinds among them


def _numbers_around(text: str, p: int) -> tuple[int, int] | None:
    """The reference: every number of the text, then the one at ``p``."""
    spans = [m.span() for m in _NUMBER.finditer(text)]
    i = bisect_left([s for s, _ in spans], p) - 1
    return spans[i] if i >= 0 and spans[i][1] > p else None


def test_numbers_found_where_asked_are_the_numbers_of_the_whole_text() -> None:
    rng = random.Random(12)
    alphabet = "0123456789０９.,．%％ 年月日a第-"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        found = _Numbers(text)
        for p in range(len(text) + 1):
            assert found.around(p) == _numbers_around(text, p), (text, p)


def test_unchanged_lines_make_the_paragraphs_a_character_diff_makes() -> None:
    rng = random.Random(5)
    words = ["一、总体要求", "第2条 2026年", "", "  ", "补充说明：已完成1000项。", "abc"]
    for _ in range(300):
        ops: list[tuple[int, str]] = []
        for _ in range(rng.randrange(1, 8)):
            op = rng.choice((EQUAL, EQUAL, DELETE, INSERT))
            text = "\n".join(rng.choice(words) for _ in range(rng.randrange(1, 4)))
            ops.append((op, text + rng.choice(("\n", "", "\n\n"))))
        ops = [(op, t) for op, t in ops if t]
        old_len = sum(len(t) for op, t in ops if op != INSERT)
        new_len = sum(len(t) for op, t in ops if op != DELETE)
        # one character per op: never a whole unchanged line, always the general path
        chars = [(op, c) for op, t in ops for c in t]
        assert paragraphs_of(ops, old_len, new_len) == \
            paragraphs_of(chars, old_len, new_len), ops



def _walk_node_by_node(root: object) -> list[object]:
    """metadata._walk as it was: every element's children split, one selector query
    per inline element with children."""
    from monitor.extract.metadata import _BLOCK_SELECTOR, _BLOCKS, _line

    def holds_blocks(node: object) -> bool:
        return next(node.iter(), None) is not None \
            and node.css_first(_BLOCK_SELECTOR) is not None

    def split(node: object) -> list[object]:
        parts: list[object] = []
        run: list[str] = []
        for child in node.iter(include_text=True):
            if child.is_comment_node:
                continue
            if child.is_text_node or (child.tag not in _BLOCKS and not holds_blocks(child)):
                run.append(child.text_content if child.is_text_node else child.text())
                continue
            parts.append(_line("".join(run)))
            run = []
            if child.tag != "br":
                parts.append(child)
        parts.append(_line("".join(run)))
        return [p for p in parts if not isinstance(p, str) or p]

    out: list[object] = []
    stack: list[object] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif item.tag == "tr" and item.css_first("table") is None:
            out.append([_line(c.text()) for c in item.iter() if c.tag in ("td", "th")])
        else:
            stack.extend(reversed(split(item)))
    return out


def test_metadata_lines_of_whole_paragraphs_are_those_of_their_children() -> None:
    from monitor.extract.metadata import _walk

    tricky = ("<html><body><p>索引号<!-- x -->：<span>430S00</span><br>发布机构：本厅</p>"
              "<div>文号<span><b>湘工信〔2021〕</b>254号</span><p>成文日期：2021年</p>末</div>"
              "<span>标题：<div>块</div>尾</span><table><tr><td>分类</td><td>通知</td></tr>"
              "</table><pre>a\n b</pre></body></html>")
    htmls = [_html(p) for p in PAGES] + _seed_pages() + [tricky]
    lines = 0
    for html in htmls:
        tree = LexborHTMLParser(html)
        if tree.body is None:
            continue
        noise.drop_non_content(tree.root)
        walked = _walk(tree.body)
        assert walked == _walk_node_by_node(tree.body)
        lines += len(walked)
    assert lines > 1000


def test_elements_read_whole_lay_out_as_their_nodes_one_by_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.extract import layout

    tricky = ("<html><body><div><p>人工\n  智能<!-- x --><span>a<b>b</b></span></p>"
              "<p><span>一<br>二</span><img alt='x'>三</p><pre>a\n b<span>c\nd</span></pre>"
              "<table><tr><td><span>名称</span></td><td>值<p>段</p></td></tr>"
              "<tr><td>甲</td><td><i>乙</i></td></tr></table><font><font>深</font></font>"
              "<p></p><span></span>尾</div></body></html>")
    htmls = [_html(p) for p in PAGES] + _seed_pages() + [tricky]

    def rendered() -> list[object]:
        out: list[object] = [_extracted(h) for h in htmls]
        for html in htmls:
            body = LexborHTMLParser(html).body
            out.append(layout.render(body) if body is not None else None)
        return out

    fast = rendered()
    monkeypatch.setattr(layout, "_holding_special",
                        lambda root: {n.mem_id for n in root.traverse()})  # none read whole
    assert fast == rendered()
    assert "人工智能ab" in fast[-1] and "一\n二三\na\n b" in fast[-1]


def test_blank_bodies_and_placeholders_are_told_as_the_patterns_tell_them() -> None:
    bodies = ["", " \n\t\u3000\x1c\x85\u2028", "  İ  ", "\u00a0" * 10 + "x", " " * 200_001 + "x",
              "${page.title}", "$!{a.b(1)}", "<%= title %>", "<% x %>", "costs $5 and <b>",
              "{{a}} {{ b }} {{c.d}}", "< % not one", "$ {a.b}"]
    made = len(bodies)
    bodies += [_html(p) for p in PAGES] + _seed_pages()
    told = 0
    for i, body in enumerate(bodies):
        page = challenge._Page(title="", visible=challenge._Visible(body), links="", status=200,
                               headers={}, html=body)
        blank = not body[:challenge._SCAN].lower().strip()
        assert (challenge._empty(page) == "empty body") == blank
        found = challenge._PLACEHOLDER.search(body)
        assert (challenge._placeholder(body, "") is None) == (
            found is None and len(challenge._MUSTACHE.findall(body)) < 3)
        told += (blank + (found is not None)) * (i < made)
    assert told == 7  # 3 blank, 4 placeholders among the made-up bodies


def test_extract_of_the_tree_the_challenge_checks_parsed_is_that_of_its_own_parse() -> None:
    tricky = ("<html><head><base href='/docs/'><title>标题_某市人民政府</title></head><body>"
              "<input type='hidden' name='token' value='1'><svg><title>图</title></svg>"
              "<div class='content'><p>为进一步加强全省工业设计中心建设，现将有关事项通知如下。</p>"
              "<a href='a.pdf'>附件一</a><script>var x = 1;</script></div></body></html>")
    mojibake = "<html><body><p>EspaÃ±ol â€œroamingâ€\x9d prose of a page, long enough.</p>" \
               "</body></html>"
    htmls = [_html(p) for p in PAGES] + _seed_pages() + [tricky, mojibake]
    shared = 0
    for html in htmls:
        for kw in ({}, {"content": ("div.content",), "ignore_text": ("点击[:：]\\s*\\d*",)},
                   {"links": "a"}):
            challenge._last = None
            challenge.detect_soft_404(html)  # the fetcher's question, then the pipeline's
            reading = challenge.read(html)
            reading.challenge(status=200, headers={}, content=kw.get("content", ()))
            parsed = reading.take_tree()
            assert reading.take_tree() is None  # handed over once
            assert challenge.read(html).take_tree() is None  # the same reading: once
            shared += parsed is not None
            assert _extracted(html, parsed=parsed, **kw) == _extracted(html, **kw)
    assert shared >= 3 * len(htmls) - 3  # every page has a root: not one parsed twice
    assert challenge.read(tricky + " ").take_tree() is not None  # another body: its own


_NAMED = ("<html><body><div class='main'><p>正文内容很长很长的一段话，说明了很多事情。</p>"
          "<div class='share fenxiang' id='share'>微信 微博</div><div class='SHARE'>x</div>"
          "<div class='JiaThis_Style'>q</div><div class='a jiathis_style'>微信</div>"
          "<div class='position'>首页 &gt; <span class='current'>通知</span></div>"
          "<span id='hits' class='count'>12</span><div class='prev-next'>上一篇：某某</div>"
          "<div class='today'>2026年1月1日</div><div class='share'><span class='share'>分</span>"
          "</div><p class>空</p><p id=''>空</p></div></body></html>")


def test_rules_read_from_the_named_elements_remove_what_their_queries_remove(
        monkeypatch: pytest.MonkeyPatch) -> None:
    htmls = [_html(p) for p in PAGES] + _seed_pages() + ["<!DOCTYPE html>" + _NAMED, _NAMED]

    def removed() -> list[object]:
        out: list[object] = []
        for html in htmls:
            tree = LexborHTMLParser(html)
            if tree.body is None:
                continue
            noise.drop_non_content(tree.root)
            out += [noise.remove_dom_noise(tree.body), tree.body.html]
        return out + [_extracted(h, content=c) for h in htmls for c in ((), ("div.main",))]

    for html in htmls:  # the same elements, in the same order, duplicates and all
        body = LexborHTMLParser(html).body
        if body is not None:
            named = noise._Named(body, {})
            for rule in noise.DOM_RULES:
                assert [n.mem_id for n in named.matches(rule.selector)] == \
                    [n.mem_id for n in body.css(rule.selector)], rule.label
    fast = removed()
    notes, body = fast[-2 * len(htmls) - 2:-2 * len(htmls)]  # those of _NAMED (quirks mode)
    monkeypatch.setattr(noise._Named, "matches", lambda self, selector: self.root.css(selector))
    assert fast == removed()
    # the bare "share bar": the element matched by three parts of the rule, read again
    assert "share bar" in notes and "share bar: q" in notes  # JiaThis_Style, quirks mode
    assert any(n.startswith("breadcrumb") for n in notes)
    assert "微信" not in body and "空" in body and ">x<" in body


def test_hidden_elements_found_among_the_styles_naming_them_are_all_of_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    styles = ("display:none", "DISPLAY : None", "visibility:\\thidden", "Visibility:HIDDEN",
              "visibility: h\u0130dden", "visibility: h\u0131dden", "display: block",
              "color: red", "display:nonex", "visibility :hidden;display:none",
              "di\u017fplay:none", "vi\u017fibility:Hidden", "visibility:hiDDen",
              "visibility:hid den")
    tricky = "<html><body><div class='main'>" + "".join(
        f"<p style='{s}'>段落{i}，正文很长的一段。</p><span hidden style='{s}'>{i}</span>"
        for i, s in enumerate(styles)) + "<p hidden>藏</p></div></body></html>"
    htmls = [_html(p) for p in PAGES] + _seed_pages() + [tricky]

    def removed() -> list[object]:
        out: list[object] = []
        for html in htmls:
            tree = LexborHTMLParser(html)
            if tree.body is not None:
                out += [noise.remove_dom_noise(tree.body), tree.body.html]
        return out + [_extracted(h, content=c) for h in htmls for c in ((), ("div.main",))]

    fast = removed()
    monkeypatch.setattr(noise, "_MAYBE_HIDDEN", "[hidden], [style]")  # every styled one
    assert fast == removed()
    body = fast[-2 * len(htmls) - 1]  # the tricky page's, after removal
    assert "段落4" not in body and "段落5" not in body and "段落6" in body and "藏" not in body


def test_headings_in_the_content_are_those_in_its_subtrees() -> None:
    from monitor.extract import title
    from monitor.extract.html import main_blocks

    def by_subtrees(body: object, blocks: list[object], head_title: str) -> str:
        """page_title as it was: every node of the blocks listed first."""
        inside = {n.mem_id for b in blocks for n in b.traverse()}
        headings = [(text, node) for node in body.css(title._TITLE_TAGS)
                    if 4 <= len(text := title._one_line(node)) <= 200
                    and not title._in_link(node)]
        agreeing = [h for h in headings if head_title and title._agrees(h[0], head_title)]
        if agreeing:
            return max(agreeing, key=lambda h: (h[0] == head_title, h[1].mem_id in inside,
                                                len(h[0])))[0]
        h1s = sorted((h for h in headings if h[1].tag == "h1"),
                     key=lambda h: h[1].mem_id not in inside)
        return h1s[0][0] if h1s else head_title

    two = ("<html><head><title>某市关于开展某事工作的通知</title></head><body>"
           "<div class='top'><h1>网站标题横幅文字</h1><h2>关于开展某事工作的通知</h2></div>"
           "<div class='content'><h1>开展某事工作的通知</h1><p>正文。</p></div></body></html>")
    told = set()
    for html in [_html(p) for p in PAGES] + _seed_pages() + [two]:
        tree = LexborHTMLParser(html)
        if tree.body is None:
            continue
        noise.drop_non_content(tree.root)
        article = main_blocks(tree.body)
        content, heading = tree.body.css(".content"), tree.body.css(".content h1")
        for blocks in (article, [tree.body], content, heading,
                       [h.parent for h in tree.body.css("h1, h2")]):
            for head in ("", title.title_from_head(tree), "某某"):
                got = title.page_title(tree.body, blocks, head)
                assert got == by_subtrees(tree.body, blocks, head)
                told.add(got)
    assert len(told) > 10
    assert {"开展某事工作的通知", "关于开展某事工作的通知", "网站标题横幅文字"} <= told


def test_holders_told_by_tag_name_are_those_the_selector_query_finds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.extract import layout
    from monitor.extract.metadata import _BLOCK_SELECTOR

    tricky = ("<html><body><!--c--><DIV><o:p>x<!--c--><P>y</P></o:p><svg><title>t</title><a>l</a>"
              "<foreignObject><div>d</div></foreignObject></svg><math><mi>x</mi><mtext>"
              "<p>m</p></mtext></math><ucapcontent><span><BR></span></ucapcontent>"
              "<custom-el><h3>h</h3></custom-el><template><p>t</p></template></DIV>"
              "</body></html>")
    htmls = [_html(p) for p in PAGES] + _seed_pages() + [tricky]
    roots: list[object] = []
    for html in htmls:
        for dropped in (False, True):
            tree = LexborHTMLParser(html)
            if tree.body is not None:
                if dropped:
                    noise.drop_non_content(tree.root)
                roots += [tree.body, *tree.body.css("div, td, ucapcontent")[:20]]
    selectors = (layout._SPECIAL_SELECTOR, _BLOCK_SELECTOR)
    for root in roots:  # noise's widget holders, told by name the same way
        assert [n.mem_id for n in noise._widget_holders(root)] == \
            [n.mem_id for n in root.css(noise._WIDGET_HOLDERS)]
    fast = [layout.holders(r, s) for r in roots for s in selectors]
    monkeypatch.setattr(layout, "_tag_names", lambda selector: None)  # lexbor's query
    assert fast == [layout.holders(r, s) for r in roots for s in selectors]
    assert sum(map(len, fast)) > 1000


def test_a_run_of_spaces_only_is_no_metadata_line() -> None:
    from monitor.extract.metadata import _line

    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    assert len(spaces) > 20
    for c in spaces:
        assert _line(c) == _line(c * 3) == _line(f"{c}\n{c}\u3000 ") == ""
    assert _line(" ".join(spaces)) == ""


def test_lines_without_a_label_before_a_colon_hold_no_field(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.extract import metadata

    rng = random.Random(7)
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    pieces = [*metadata._LABELS[:12], "组配分类", "本厅", "说明", "x", "：", ":", "\u4e00",
              *spaces]
    lines = ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 6)))
             for _ in range(3000)]
    for line in lines:
        if metadata.FIELD.search(line):
            assert metadata._label_before_colon(line), line
    htmls = [_html(p) for p in PAGES] + _seed_pages()
    fast = [extract_metadata(h) for h in htmls] + [extract_metadata("\n".join(lines))]
    monkeypatch.setattr(metadata, "_label_before_colon", lambda line: True)
    assert fast == [extract_metadata(h) for h in htmls] + [extract_metadata("\n".join(lines))]
    assert sum(map(len, fast)) > 40


def test_pages_without_a_lead_character_are_those_the_mojibake_search_passes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from monitor import mojibake

    first = re.compile("[\u00c2-\u00f4]")
    for c in map(chr, range(0x110000)):
        if not 0xD800 <= ord(c) <= 0xDFFF:
            assert mojibake._has_lead(f"中{c}文") == bool(first.search(c)), hex(ord(c))
    bodies = [_html(p) for p in PAGES] + _seed_pages() + [
        "<p>EspaÃ±ol â€œroamingâ€\x9d, long enough to be prose.</p>", "naïve café ×"]
    fast = [mojibake.repair(b) for b in bodies]
    monkeypatch.setattr(mojibake, "_has_lead", lambda html: True)
    assert fast == [mojibake.repair(b) for b in bodies]
    assert fast[-2][1] and not fast[-1][1]


def test_a_round_that_changed_no_line_ends_normalization_as_the_clean_up_would(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor import normalize
    from monitor.extract.layout import render

    rng = random.Random(3)
    alphabet = ["人工", "智能", " ", "\u3000", "\u00a0", "\u200b", "e", "\u0301", "\n", "：",
                "点击：12", "【打印】", "分享到：微信", "a", "1", "\t", "\u2028", "索引号", "|"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
             for _ in range(2000)] + ["e\u200b\u0301", "", "\n\n"]
    for html in [_html(p) for p in PAGES] + _seed_pages():
        body = LexborHTMLParser(html).body
        if body is not None:
            texts.append(render(body))
    ignores = ((), ("点击[:：]\\s*\\d*",), ("^a$",))
    fast = [normalize.normalize_with_notes(t, i) for t in texts for i in ignores]
    strip = normalize._strip_noise
    monkeypatch.setattr(normalize, "_strip_noise", lambda text: (*strip(text)[:2], False))
    assert fast == [normalize.normalize_with_notes(t, i) for t in texts for i in ignores]


def test_lines_of_spaces_skipped_at_their_end_change_no_layout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.extract import layout

    spaces = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
    tricky = (f"<html><body><div><p>一</p>{spaces}<p>二</p><span>{spaces}</span><br>"
              f"<pre>a\n{spaces}\n b</pre><table><tr><td>{spaces}</td><td>值</td></tr></table>"
              "</div></body></html>")
    htmls = [_html(p) for p in PAGES] + _seed_pages() + [tricky]

    def rendered() -> list[object]:
        out: list[object] = []
        for html in htmls:
            body = LexborHTMLParser(html).body
            out.append(layout.render(body) if body is not None else None)
        return out + [_extracted(h) for h in htmls]

    fast = rendered()

    def end(self: object) -> None:  # every line kept until visible() drops it
        if self.current:
            self.lines.append(layout.unwrap("".join(self.current)))
            self.current = []

    monkeypatch.setattr(layout._Lines, "end", end)
    assert fast == rendered()
    assert "一\n二\na\n b\n值" in fast[len(htmls) - 1]


def _store_history(url: str, texts: list[str], *, read_first: bool,
                   fields: list[tuple[str, dict[str, str]]] | None = None) -> dict[str, list]:
    """The rows of a page whose versions are ``texts``, stored as a check stores them:
    the old text read first (the diff's read, which ``Store`` remembers) or not;
    ``fields``: each version's title and metadata (else the same for all)."""
    import hashlib
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from monitor.config import SourceConfig
    from storage import Store
    from storage.records import CheckRecord, NewVersion

    store = Store(url)
    src = SourceConfig(name="page", url="http://www.example.gov.cn/a.html")
    at = datetime(2026, 12, 1, tzinfo=UTC)
    try:
        for n, text in enumerate(texts):
            state = store.page_state(src)
            if read_first and state.last is not None:
                assert state.last.text == texts[n - 1]
            raw = f"<html><body>{text}</body></html>".encode()
            when = at + timedelta(hours=n)
            title, meta = fields[n] if fields else ("通知", {"发布机构": "本厅"})
            version = NewVersion(
                content_hash=hashlib.sha256(text.encode()).hexdigest(), title=title,
                text=text, metadata=meta, raw=raw,
                raw_sha256=hashlib.sha256(raw).hexdigest(), http_status=200, headers={},
                url=src.url, charset="utf-8", fetched_at=when)
            store.commit_check(CheckRecord(
                page_id=state.page_id,
                expected_last_version_id=state.last.id if state.last else None,
                expected_revision=state.revision, started_at=when, duration=0.1,
                outcome="changed" if state.last else "new", version=version))
        tables = [("paragraphs", "id, page_id, digest, field, text"),
                  ("paragraph_spans", "paragraph_id, first_number, page_id, last_number"),
                  ("versions", "id, number, line_ids, field_ids, text_sha256, record_hash, "
                               "raw_body, raw_codec, raw_base_id, raw_chain, raw_sha256")]
        if store.is_sqlite:  # the search indexes' own bytes (FTS5 segments)
            tables += [(f"{t}_{part}", "*") for t in ("paragraphs_fts", "paragraphs_bigrams")
                       for part in ("data", "idx")]
        with store.engine.connect() as c:
            return {table: [tuple(r) for r in c.execute(sa.text(
                f"SELECT {cols} FROM {table} ORDER BY 1, 2"))] for table, cols in tables}
    finally:
        store.close()


def test_lines_known_from_the_diffs_read_store_the_rows_the_lookup_stores(
        db_url: str, tmp_path: Path) -> None:
    """A changed version's lines found among those of the old text the diff read
    (``paragraphs.LinesRead``) get the ids, spans and seals that digests and a lookup
    give: lines kept, moved, repeated, removed, new, blank, and a line that comes back
    from an older version (known to the page, not to the last version)."""
    rng = random.Random(7)
    base = [f"第{i}条　各市州人民政府要落实第{i % 5}项措施。" for i in range(40)]
    texts = ["\n".join(base)]
    for n in range(8):
        lines = texts[-1].split("\n")
        lines.insert(rng.randrange(len(lines)), f"新增第{n}段：补充说明。")
        lines.pop(rng.randrange(len(lines)))
        lines.insert(rng.randrange(len(lines)), "")
        lines.append(lines[rng.randrange(len(lines))])  # a repeat
        if n == 5:
            lines.insert(3, base[0])  # back from the first version
        texts.append("\n".join(lines))
    if db_url.startswith("sqlite"):
        other = f"sqlite:///{tmp_path / 'other.db'}"
    else:  # a second database on the same server
        other = db_url  # read_first=False below runs after a fresh schema
    fast = _store_history(db_url, texts, read_first=True)
    if other == db_url:
        import sqlalchemy as sa

        from storage import Store

        s = Store(db_url, migrate=False)
        with s.engine.begin() as c:
            c.execute(sa.text("DROP SCHEMA public CASCADE"))
            c.execute(sa.text("CREATE SCHEMA public"))
        s.close()
    slow = _store_history(other, texts, read_first=False)
    assert fast == slow
    assert len(fast["versions"]) == len(texts)


def test_links_passed_over_unresolved_are_no_attachments(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.extract import files

    hrefs = ("a.pdf", "/x/%2Epdf", "b.p%64f", "c.p\ndf", "d.do\tc", "?file=e.PDF",
             "download.jsp?f=报告.Docx&x=1", "HTTP://H.GOV.CN/Y.XLSX", "../f.zip#top",
             "g.zip/", "?x=1", ";p", "h.html?next=i.pdf", "j.html", "k/", "#l.pdf",
             "javascript:m.pdf", "n.html?u=%252Epdf", "o.wps?utm_source=p.ofd", "q.ofd ")
    made = "".join(f'<p><a href="{h}">链接{i}</a></p>' for i, h in enumerate(hrefs))
    tricky = f"<html><body><div class='content'>{made}</div></body></html>"
    htmls = [_html(p) for p in PAGES] + _seed_pages() + [tricky]
    bases = ("http://www.example.gov.cn/a/b.html", "http://www.example.gov.cn/a/file.pdf",
             "http://www.example.gov.cn/dl.jsp?name=x.PDF", "http://h/%2Epdf/c.htm")
    cases = [(h, b) for h in htmls for b in bases]

    def found() -> list[object]:
        out = []
        for html, base in cases:
            body = LexborHTMLParser(html).body
            if body is not None:
                out.append(files.find(body.css("div.content, #zoom"), body, base))
        return out

    fast = found()
    monkeypatch.setattr(files, "_may_name_file", lambda url: True)  # every link
    assert fast == found()
    assert sum(map(len, fast)) > 50


class _Everything:
    def __contains__(self, item: object) -> bool:
        return True


def test_lines_tried_as_labels_only_when_they_may_be_give_the_canonical_form(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor import canon

    rng = random.Random(11)
    pieces = [*canon._LABELS[:20], "信息", "关于", "：", ":", " ", "|", "文号", "x", "值", "\u4e00",
              "发布", "（", "）", "2021", "\u3000"]
    made = ["\n".join("".join(rng.choice(pieces) for _ in range(rng.randrange(0, 5)))
                      for _ in range(rng.randrange(1, 12))) for _ in range(1500)]
    texts = [_extracted(h) for h in [_html(p) for p in PAGES] + _seed_pages()]
    texts = [e.text for e in texts if not isinstance(e, str)] + made

    def canonical() -> list[str]:
        canon.canonical_text.cache_clear()
        return [canon.canonical_text(t) for t in texts]

    fast = canonical()
    monkeypatch.setattr(canon, "_LABEL_SET", _Everything())  # every line tried
    monkeypatch.setattr(canon, "_LEADS", _Everything())
    assert fast == canonical()
    assert sum(f.count(":") for f in fast) > 1000


def test_printable_texts_are_unwrapped_as_the_patterns_unwrap_them() -> None:
    from monitor.extract import layout

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    told = 0
    for c in chars:
        for text in (f"人工{c}智能", f"a {c} b", c, f"{c}\u3000{c}"):
            fast = layout.unwrap(text)
            assert fast == layout._unwrapped(text), hex(ord(c))
            told += fast != text
    assert told > 20  # the line breaks were joined or spaced, through the patterns


def _second_database(db_url: str, tmp_path: Path) -> str:
    """Another empty database like ``db_url``: a second SQLite file, or PostgreSQL's
    test database emptied (call it after the first one's rows were read)."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'other.db'}"
    import sqlalchemy as sa

    from storage import Store

    s = Store(db_url, migrate=False)
    with s.engine.begin() as c:
        c.execute(sa.text("DROP SCHEMA public CASCADE"))
        c.execute(sa.text("CREATE SCHEMA public"))
    s.close()
    return db_url


def test_title_and_metadata_kept_from_the_last_version_store_the_rows_the_lookup_stores(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A version whose title and metadata are its last version's takes that version's
    field ids (``Store._fields``): the same paragraph ids, spans and seals as digests and
    a look-up give, whether the fields stay, change, gain a label, swap their order or
    come back from an older version."""
    from storage import Store

    same = ("关于做好2026年度项目申报工作的通知", {"发布机构": "本厅", "文号": "湘工信〔2026〕1号"})
    fields = [same, same, ("关于做好2026年度项目申报工作的补充通知", same[1]), same,
              (same[0], {**same[1], "成文日期": "2026-12-01"}),
              (same[0], {"文号": "湘工信〔2026〕1号", "发布机构": "本厅"}), same, same,
              ("", {}), ("", {}), same]
    texts = [f"第{n}版正文。\n各地要落实措施。" for n in range(len(fields))]
    fast = _store_history(db_url, texts, read_first=True, fields=fields)
    other = _second_database(db_url, tmp_path)
    monkeypatch.setattr(Store, "_same_fields", lambda self, last, items: None)
    slow = _store_history(other, texts, read_first=True, fields=fields)
    assert fast == slow
    assert len(fast["versions"]) == len(texts)


@pytest.mark.parametrize("made", ["never", "for another state", "at another revision"])
def test_versions_prepared_before_the_lock_store_the_rows_made_under_it(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made: str) -> None:
    """A version's delta, digests, record hash, paragraph plan (the new lines' digests,
    look-up, folded text and bigram words) and spans computed before the writers' turn
    (``Store._prepare``) store the bytes computed under the lock: the raw bodies
    (deltas, and the full copy that ends a delta chain), the seals and the chain, the
    paragraphs and their spans (and SQLite's search index segments), as when nothing was
    prepared; and work prepared for another state of the page (its versions moved
    meanwhile, or read at another revision) is not taken: the rows are those made under
    the lock."""
    from dataclasses import replace

    from storage import Store, rawcodec

    texts = [f"第{n}版正文。\n各地要落实第{n % 3}项措施。\n" + "附：说明。" * n
             for n in range(rawcodec.DELTA_CHAIN_MAX + 4)]
    fast = _store_history(db_url, texts, read_first=True)
    other = _second_database(db_url, tmp_path)
    prepare = Store._prepare
    if made == "never":
        monkeypatch.setattr(Store, "_prepare", lambda self, page_id, new: None)
    elif made == "for another state":  # as if the page had no version yet: another
        # delta base, another link, every line new
        monkeypatch.setattr(Store, "_prepare", lambda self, page_id, new:
                            prepare(self, -1, new))
    else:  # labelled with a revision the page is not at: nothing read is taken
        monkeypatch.setattr(Store, "_prepare", lambda self, page_id, new: replace(
            prepare(self, page_id, new), revision=-1))
    slow = _store_history(other, texts, read_first=True)
    assert fast == slow
    codecs = [row[7] for row in fast["versions"]]
    assert codecs.count("zstd") == 2 and codecs.count("zstd-delta") == len(texts) - 2


@pytest.mark.parametrize("prepared", [True, False])
def test_a_body_is_sealed_with_the_fetchs_hash_only_when_it_was_taken_of_those_bytes(
        store: object, monkeypatch: pytest.MonkeyPatch, prepared: bool) -> None:
    """The fetch hashed the body already (``FetchResult.sha256``): a version made of that
    very bytes object (``NewVersion.raw_hashed``) is sealed with that hash, not hashed
    again; a hash taken of other bytes (another object, even of equal bytes; or a wrong
    one) is never the seal: the store hashes the body it stores.  Before the writers'
    turn (``Store._prepare``) and under it alike."""
    import hashlib

    import sqlalchemy as sa

    from monitor.config import SourceConfig
    from storage import Store
    from storage.instant import utcnow
    from storage.records import CheckRecord, NewVersion

    if not prepared:
        monkeypatch.setattr(Store, "_prepare", lambda self, page_id, new: None)
    src = SourceConfig(name="page", url="http://www.example.gov.cn/a.html")
    raw = "<html><body>第1版正文。</body></html>".encode()
    true = hashlib.sha256(raw).hexdigest()
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    cases = [(raw, true, raw),  # the fetch's hash of this object: taken
             (bytes(bytearray(raw)), wrong, raw),  # another object: hashed
             (raw + b" ", wrong, None),  # no object named: hashed
             (raw + b"  ", hashlib.sha256(b"x").hexdigest(), b"x")]  # other bytes: hashed
    hashed: list[int] = []
    real = hashlib.sha256
    monkeypatch.setattr(hashlib, "sha256", lambda data=b"", **kw: (
        hashed.append(len(data)), real(data, **kw))[1])
    for n, (body, sha, of) in enumerate(cases):
        state = store.page_state(src)  # type: ignore[attr-defined]
        hashed.clear()
        store.commit_check(CheckRecord(  # type: ignore[attr-defined]
            page_id=state.page_id,
            expected_last_version_id=state.last.id if state.last else None,
            expected_revision=state.revision, started_at=utcnow(), duration=0.1,
            outcome="changed" if state.last else "new", version=NewVersion(
                content_hash=f"c{n}", title="通知", text=f"第{n}版正文。",
                metadata={}, raw=body, raw_sha256=sha, raw_hashed=of, http_status=200,
                headers={}, url=src.url, charset="utf-8", fetched_at=utcnow())))
        assert (len(body) in hashed) == (n > 0)
    with store.engine.connect() as c:  # type: ignore[attr-defined]
        rows = c.execute(sa.text("SELECT id, raw_sha256 FROM versions ORDER BY id")).all()
    assert [sha for _, sha in rows] == [real(b).hexdigest() for b, _, _ in cases]
    assert [store.raw_body(vid) for vid, _ in rows] == [b for b, _, _ in cases]  # type: ignore[attr-defined]


def _reply_added_reading_every_marker(old: object, new: object) -> object:
    """``detect.reply_added`` as it was: every paragraph of both texts tested."""
    from monitor import detect

    old_paras, new_paras = detect._paragraphs(old.text), detect._paragraphs(new.text)  # type: ignore[attr-defined]
    marker = {p: detect.is_reply_marker(p) for p in {*old_paras, *new_paras}}
    old_blocks = detect._blocks([i for i, p in enumerate(old_paras) if marker[p]])
    new_markers = [i for i, p in enumerate(new_paras) if marker[p]]
    seen = set(old_paras)
    if len(detect._blocks(new_markers)) > len(old_blocks):
        fresh = [i for i in new_markers if new_paras[i] not in seen]
        if fresh:
            return fresh[0] + 1, new_paras[fresh[0]]
    return detect._listed_reply(old_paras, new_paras) or _status_done_reading_both(old, new)


def _status_done_reading_both(old: object, new: object) -> object:
    from monitor import detect

    old_status = detect._statuses(old)  # type: ignore[arg-type]
    for where, value in detect._statuses(new):  # type: ignore[arg-type]
        if value.startswith(detect._DONE) and any(
                v.startswith(detect._PENDING) for _, v in old_status):
            return where
    return None


def test_replies_found_testing_only_new_paragraphs_are_those_found_testing_all() -> None:
    """``reply_added`` tests the old text's paragraphs for reply markers only when a
    paragraph the old text lacks is one, and reads the old statuses only when the new
    text says done: the same answers as testing every paragraph, over shuffled, cut and
    grown texts of reply markers, statuses and plain paragraphs."""
    from monitor import detect

    rng = random.Random(12)
    pool = ["部门答复", "委员：", "您提出的建议收悉，现答复如下：", "另，现将补充情况答复如下：",
            "关于第0192号提案的答复", "办理状态：办理中", "办理状态：已办结", "答复情况：已答复",
            "各地要落实措施。", "一、总体要求", "联系人：张三", "（此件公开发布）",
            "第20200255号代表建议答复的函", "此外，相关工作正在推进。"]
    cases = 0
    for _ in range(3000):
        old = [rng.choice(pool) for _ in range(rng.randrange(12))]
        new = list(old)
        for _ in range(rng.randrange(4)):
            if new and rng.random() < 0.4:
                new.pop(rng.randrange(len(new)))
            else:
                new.insert(rng.randrange(len(new) + 1), rng.choice(pool))
        a = detect.snapshot("t", "\n".join(old), {})
        b = detect.snapshot("t", "\n".join(new), {})
        want = _reply_added_reading_every_marker(a, b)
        got = detect.reply_added(a, b)
        cases += got is not None
        assert got == want, (old, new)
    assert cases > 300  # replies were found, not only their absence


def test_a_writer_gives_its_turn_back_with_the_database_write_lock_free(
        tmp_path: Path) -> None:
    """The session of a commit is made before the writers' turn and closed after it
    (``Store.write_session``): still, whoever takes the turn next finds SQLite's write
    lock free (it would sleep in SQLite's busy handler, or wait 30 s), after a stored
    version, a conflict (nothing committed) and a commit that fails."""
    import hashlib
    import sqlite3
    from datetime import UTC, datetime

    from monitor.config import SourceConfig
    from monitor.errors import StorageError
    from storage import Store
    from storage.records import CheckRecord, NewVersion

    path = tmp_path / "monitor.db"
    store = Store(f"sqlite:///{path}")
    free: list[bool] = []

    class Probe:
        """The turn, testing at each give-back whether another writer could begin."""

        def __init__(self, turn: object) -> None:
            self.turn, self.depth = turn, 0

        def __enter__(self) -> object:
            self.depth += 1
            return self.turn.__enter__()  # type: ignore[attr-defined]

        def __exit__(self, *exc: object) -> object:
            self.depth -= 1
            if self.depth == 0:
                other = sqlite3.connect(path, timeout=0, isolation_level=None)
                try:
                    other.execute("BEGIN IMMEDIATE")
                    other.execute("ROLLBACK")
                    free.append(True)
                except sqlite3.OperationalError:
                    free.append(False)
                finally:
                    other.close()
            return self.turn.__exit__(*exc)  # type: ignore[attr-defined]

    store._writer = Probe(store._writer)  # type: ignore[assignment]
    src = SourceConfig(name="page", url="http://www.example.gov.cn/a.html")
    at = datetime(2026, 12, 1, tzinfo=UTC)

    def record(text: str, *, revision: int | None = None, page: int | None = None
               ) -> CheckRecord:
        state = store.page_state(src)
        raw = text.encode()
        version = NewVersion(
            content_hash=hashlib.sha256(raw).hexdigest(), title="通知", text=text,
            metadata={}, raw=raw, raw_sha256=hashlib.sha256(raw).hexdigest(),
            http_status=200, headers={}, url=src.url, charset="utf-8", fetched_at=at)
        return CheckRecord(
            page_id=state.page_id if page is None else page,
            expected_last_version_id=state.last.id if state.last else None,
            expected_revision=state.revision if revision is None else revision,
            started_at=at, duration=0.1, outcome="changed" if state.last else "new",
            version=version)

    try:
        assert store.commit_check(record("第一版。")).version_id
        assert store.commit_check(record("第二版。")).version_id
        stale = record("第三版。", revision=0)
        assert store.commit_check(stale).conflict
        with pytest.raises(StorageError):
            store.commit_check(record("第四版。", page=10**6))  # no such page
        assert len(free) == 4 and all(free), free
        assert len(store.history("page")) == 2
    finally:
        store.close()


def _checks_stored(url: str) -> dict[str, list]:
    """Every row of every table a page's checks write (SQLite: with its search index
    segments): a first version, changed versions with their change rows (JSON stats and
    details, Chinese, an empty patch), unchanged checks with an ETag and a page status,
    an error, and a conflict; the clock of ``Store`` fixed."""
    import hashlib
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from monitor.config import SourceConfig
    from monitor.types import ChangeDecision, ChangeKind
    from storage import Store
    from storage.records import CheckRecord, NewVersion

    store = Store(url)
    src = SourceConfig(name="page", url="http://www.example.gov.cn/a.html")
    at = datetime(2026, 12, 1, tzinfo=UTC)
    try:
        for n in range(6):
            state = store.page_state(src)
            when = at + timedelta(hours=n)
            base = dict(page_id=state.page_id, expected_revision=state.revision,
                        expected_last_version_id=state.last.id if state.last else None,
                        started_at=when, duration=0.25, observed_at=when, worker="h:1")
            if n in (2, 4):  # unchanged: a check row and the page's columns only
                store.commit_check(CheckRecord(**base, outcome="unchanged", http_status=200,
                                               etag=f'"e{n}"', last_modified="Tue",
                                               page_status="ok"))
                continue
            text = f"第{n}版正文。\n各地要落实措施。\n附件：{'说明' * n}"
            raw = f"<html><body>{text}</body></html>".encode()
            version = NewVersion(
                content_hash=hashlib.sha256(text.encode()).hexdigest(), title="通知",
                text=text, metadata={"发布机构": "本厅", "文号": f"〔2026〕{n}号"}, raw=raw,
                raw_sha256=hashlib.sha256(raw).hexdigest(), http_status=200,
                headers={"content-type": "text/html; charset=utf-8"}, url=src.url,
                charset=None if n == 3 else "utf-8", fetched_at=when)
            changes = () if state.last is None else (ChangeDecision(
                kind=ChangeKind.CHANGED, summary=f"第{n}段修改", stats={"added": n},
                details={"文号": [f"〔2026〕{n - 1}号", f"〔2026〕{n}号"]},
                patch="" if n == 5 else f"@@ +1 @@\n+第{n}版", alert=n != 3),)
            store.commit_check(CheckRecord(
                **base, outcome="changed" if state.last else "new", http_status=200,
                bytes=len(raw), raw_sha256=version.raw_sha256, version=version,
                changes=changes, page_status="ok", etag=None))
        state = store.page_state(src)
        when = at + timedelta(hours=7)
        store.commit_check(CheckRecord(
            page_id=state.page_id, expected_last_version_id=state.last.id if state.last
            else None, expected_revision=state.revision, started_at=when, duration=3.5,
            outcome="error", error_kind="timeout", error="读取超时", failure_streak=1,
            observed_at=when))
        assert store.commit_check(CheckRecord(
            page_id=state.page_id, expected_last_version_id=None, expected_revision=0,
            started_at=when, duration=1.0, outcome="unchanged")).conflict
        tables = ["pages", "checks", "changes", "versions", "paragraphs", "paragraph_spans"]
        if store.is_sqlite:
            tables += [f"{t}_{part}" for t in ("paragraphs_fts", "paragraphs_bigrams")
                       for part in ("data", "idx")]
        with store.engine.connect() as c:  # (the page's creation time: page_state's)
            return {t: [{k: v for k, v in r._mapping.items()
                         if (t, k) != ("pages", "created_at")}
                        for r in c.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1"))]
                    for t in tables}
    finally:
        store.close()


def test_rows_written_through_the_driver_are_those_core_writes(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A check's version, change, check and page rows written through the driver's cursor
    inside the writers' turn (``storage.compiled``, SQLite) are byte for byte those
    SQLAlchemy's ``Connection.execute`` writes: every column of every row (JSON, times,
    booleans, NULLs), after first, changed, unchanged, failed and conflicting checks."""
    from datetime import UTC, datetime

    from storage import compiled, repository, rows

    for module in (repository, rows):
        monkeypatch.setattr(module, "utcnow", lambda: datetime(2026, 12, 2, 8, tzinfo=UTC))
    fast = _checks_stored(db_url)
    other = _second_database(db_url, tmp_path)
    monkeypatch.setattr(compiled, "_form", lambda c, stmt, params: None)
    slow = _checks_stored(other)
    assert fast == slow
    assert len(fast["checks"]) == 7 and len(fast["versions"]) == 4  # the conflict: none
    assert len(fast["changes"]) == 3


def test_nfkc_of_a_text_is_unicodedata_nfkc_line_by_line() -> None:
    """``canon.nfkc`` decomposes the full-width characters itself, and is applied to a
    whole text: every result is NFKC's own, line for line (a version's hash is made of
    it: one changed character would make every stored page look changed)."""
    import unicodedata

    from monitor.canon import nfkc

    def slow(text: str) -> str:
        return "\n".join(unicodedata.normalize("NFKC", line) for line in text.split("\n"))

    marks = [chr(c) for c in range(0x300, 0x370)] + ["\u3099", "\u1161", "\u11a8"]
    for cp in range(0x10000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        for text in (ch, f"a{ch}\n{ch}b", f"{ch}{marks[cp % len(marks)]}\n\u0301{ch}"):
            assert nfkc(text) == slow(text), (hex(cp), text)
    rng = random.Random(7)
    pool = list("ab 1２：:，,|｜\n\t\u3000\u00a0中文（）()①㎡ﬁ가\u1100\r\x85") + marks
    for _ in range(3000):
        text = "".join(rng.choice(pool) for _ in range(rng.randrange(0, 30)))
        assert nfkc(text) == slow(text), text
    for path in PAGES:
        text = _html(path)
        assert nfkc(text) == slow(text), path.name


def test_lines_numbered_by_split_are_those_diff_match_patch_numbers() -> None:
    from diff_match_patch import diff_match_patch

    from monitor.diff import _lines_to_chars

    dmp = diff_match_patch()
    rng = random.Random(11)
    pool = ["一、总体要求", "", " ", "\n", "\n\n", "\r", "abc", "第2条"]
    texts = [_html(p) for p in PAGES[:4]]
    pairs = list(itertools.pairwise(texts))
    for _ in range(2000):
        old = "".join(rng.choice(pool) for _ in range(rng.randrange(0, 8)))
        new = "".join(rng.choice(pool) for _ in range(rng.randrange(0, 8)))
        pairs.append((old, new))
    for old, new in pairs:
        assert _lines_to_chars(dmp, old, new) == dmp.diff_linesToChars(old, new), (old, new)


EXECUTION_EVENTS = ("before_execute", "after_execute", "before_cursor_execute",
                    "after_cursor_execute")


def test_nothing_listens_to_the_statements_the_driver_path_runs(db_url: str) -> None:
    """The driver path (``storage.compiled``) bypasses SQLAlchemy's execution events and
    statement logging, by decision, because nothing in the project listens to them: a
    listener added later (query counts, tracing) must be made consistent with it."""
    import importlib

    from storage import Store

    for module in ("monitor.daemon", "monitor.metrics", "monitor.logging", "monitor.web.app",
                   "monitor.cli", "storage.turns"):
        importlib.import_module(module)  # whatever they register on import
    store = Store(db_url)
    try:
        assert not store.engine.echo
        listening = {name: list(getattr(store.engine.dispatch, name))
                     for name in EXECUTION_EVENTS}
        assert listening == {name: [] for name in EXECUTION_EVENTS}
        from sqlalchemy import event

        def spy(*args: object) -> None:
            pass

        event.listen(store.engine, "before_cursor_execute", spy)  # the test sees one
        try:
            assert len(list(store.engine.dispatch.before_cursor_execute)) == 1
        finally:
            event.remove(store.engine, "before_cursor_execute", spy)
    finally:
        store.close()


def test_printable_lines_without_a_space_are_normalized_and_cut_as_the_patterns_do() -> None:
    """A line that ``isprintable()`` and holds no ASCII space is its own only cell
    (``canon._cells``), and one whose stripped middle is such its normalized line
    (``spacing.normalize_line``): every character the long ways delete, collapse, strip
    or cut at, in every context, at the ends of a line and inside it."""
    from monitor import canon, spacing

    told = 0
    rng = random.Random(5)
    pool = list("人工智能ab1：:| \t\n\u3000\u00a0\u200b\u2028\x1f\x1c\x85")
    texts = ["".join(rng.choice(pool) for _ in range(rng.randrange(0, 12))) for _ in range(20000)]
    # every character of the BMP (all the classes the patterns name but the CJK
    # extensions, sampled above it), in each context
    for cp in itertools.chain(range(0x10000), range(0x10000, 0x110000, 61)):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        texts += (f"人工{c}智能", f"a{c}b", c, f"{c}\u3000{c}", f"{c}：{c}|{c}",
                  f"\n {c}人\u3000", f"{c} \x1f字{c}")
    for text in texts:
        line = spacing.normalize_line.__wrapped__(text)  # type: ignore[attr-defined]
        assert line == spacing._normalized(text), repr(text)
        told += line != text
        assert canon._cells(text) == canon._split_cells(text), repr(text)
    assert told > 1000  # the invisible characters and spaces went, through the patterns
    for path in PAGES:
        for text in _html(path).splitlines():
            assert spacing.normalize_line.__wrapped__(text) == spacing._normalized(text)  # type: ignore[attr-defined]
            assert canon._cells(text) == canon._split_cells(text)


def test_rules_tried_by_their_words_in_the_line_strip_what_their_patterns_strip(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``TextRule.may_match`` looks for its words with ``in``: the same lines are
    stripped the same way as when each rule's words are one pattern searched."""
    import re

    def searched(rule: noise.TextRule, line: str) -> bool:
        needle = re.compile("|".join(map(re.escape, rule.needles))) if rule.needles else None
        return (needle is None or needle.search(line) is not None) \
            and (rule.line is None or rule.line.search(line) is not None)

    rng = random.Random(12)
    words = [n for rule in noise.TEXT_RULES for n in rule.needles]
    pool = list("0123 ：:|【】[]（）位第次") + words
    pool += ["发布时间：", "您好", "2026年12月7日", "星期日"]
    lines = [line for path in PAGES for line in _html(path).splitlines()]
    lines += ["".join(rng.choice(pool) for _ in range(rng.randrange(1, 12))) for _ in range(4000)]
    fast = [noise._strip_line.__wrapped__(line) for line in lines]
    monkeypatch.setattr(noise.TextRule, "may_match", searched)
    assert fast == [noise._strip_line.__wrapped__(line) for line in lines]
    assert sum(bool(notes) for _, notes in fast) > 100  # the rules did strip


def _bodies_and_headers() -> list[tuple[bytes, str | None, str | None]]:
    """Pages as servers send them, each with the headers and forced charsets that
    decide their decoding differently: declared and clean, declared and lying, several
    declarations, none, a BOM, a label in a comment, garbage."""
    text = "关于进一步加强政务公开工作的通知，国务院总理朱镕基、副部长张喆出席会议。" * 30

    def page(charset: str, meta: str = "", bom: bytes = b"") -> bytes:
        return bom + (f"<html><head>{meta}<title>通知</title></head>"
                      f"<body><p>{text}</p></body></html>").encode(charset, "xmlcharrefreplace")

    bodies = [path.read_bytes() for path in PAGES] + [
        page("gb18030", '<meta charset="gb2312">'), page("gb18030"), page("utf-8"),
        page("utf-8", '<meta charset="gbk">'), page("gb18030", '<meta charset="utf-8">'),
        page("gb18030", '<!-- <meta charset="utf-8"> --><meta charset="gbk">'),
        page("utf-8", '<meta charset="utf-16">'), page("utf-8", bom=codecs.BOM_UTF8),
        page("utf-16-le", bom=codecs.BOM_UTF16_LE), page("big5", '<meta charset="big5">'),
        page("utf-8", '<meta charset="gb2312">')[:-7] + b"\xe6\x94",  # cut in a character
        bytes(range(256)) * 8, b"",
    ]
    headers = [None, "text/html", "text/html; charset=utf-8", "text/html; charset=GBK",
               "text/html; charset=ISO-8859-1", 'text/html; charset="base64"']
    cases = [(body, header, None) for body in bodies for header in headers]
    return cases + [(body, "text/html; charset=utf-8", forced) for body in bodies[-13:]
                    for forced in ("gbk", "utf-8", "big5")]


def test_a_charset_found_before_detection_decodes_as_decode_html_decodes() -> None:
    """``decode_declared`` (the fetcher's decoding without a thread) answers with
    ``decode_html``'s text and charset, or leaves the page to it."""
    answered = 0
    for body, header, forced in _bodies_and_headers():
        quick = decode_declared(body, header, forced)
        if quick is not None:
            answered += 1
            assert quick == decode_html(body, header, forced), (body[:60], header, forced)
    # the declared-and-clean pages (most of them) are answered without detection
    assert answered >= len(_bodies_and_headers()) * 2 // 3
    with pytest.raises(DecodeError):
        decode_declared(b"<p>x</p>", None, "no-such-charset")


@pytest.mark.parametrize("size", [1, INLINE_DECODE_BYTES // 4096 + 1])
async def test_the_fetchers_decoding_is_decode_html_whatever_the_size(size: int) -> None:
    """``decoded`` gives the text and charset ``decode_html`` gives, for pages decoded
    on the event loop and (larger than ``INLINE_DECODE_BYTES``, or needing detection)
    in a thread."""
    for body, header, forced in _bodies_and_headers()[::3]:
        body = body * size
        raw = FetchResult(url="http://a.gov.cn/", final_url="http://a.gov.cn/", status=200,
                          headers={"content-type": header} if header else {}, body=body,
                          decoded=False)
        try:
            want = decode_html(body, header, forced)
        except DecodeError:
            with pytest.raises(DecodeError):
                await decoded(raw, forced)
            continue
        got = await decoded(raw, forced)
        assert (got.text, got.charset, got.decoded) == (*want, True)


def _edits(paras: list[str]) -> list[list[str]]:
    """Edits of a real page: a sentence added, a number changed, a paragraph removed,
    one added, two paragraphs swapped, the whole body replaced by its first paragraph."""
    longest = max(range(len(paras)), key=lambda i: len(paras[i]))
    numbered = next((i for i, p in enumerate(paras) if any(c.isdigit() for c in p)), 0)
    return [
        [*paras[:longest], paras[longest] + "另外，请于月底前报送有关材料。", *paras[longest + 1:]],
        [*paras[:numbered], "".join("7" if c.isdigit() else c for c in paras[numbered]),
         *paras[numbered + 1:]],
        paras[:1] + paras[2:],
        [*paras, "附件：2021年度工作计划表"],
        [paras[1], paras[0], *paras[2:]],
        paras[:1],
    ]


async def test_a_quick_diff_made_with_the_read_decides_as_the_checks_own() -> None:
    """The quick diff made in the read's thread hop (``pipeline._page_read`` →
    ``Inspection.quick``) gives the decision (kind, summary, stats, patch, details) the
    check's own quick pass gives; one made of other texts is not used."""
    from monitor.detect import detect_change_async, snapshot
    from monitor.diff import quick_diff

    tried = 0
    for n in range(4):
        got = extract(seed_page(n).decode(), url="http://www.example.gov.cn/a/b.html")
        old = snapshot(got.title, got.text, got.metadata)
        for paras in _edits(got.text.split("\n")):
            new = snapshot(got.title, "\n".join(paras), got.metadata)
            quick = quick_diff(old.text, new.text, timeout=5.0)
            if quick is None or not quick.exact:  # a loaded machine: the workers' case
                continue
            own = await detect_change_async(old, new, diff_timeout=5.0)
            assert await detect_change_async(old, new, diff_timeout=5.0, quick=quick) == own
            other = quick_diff(old.text, new.text + "\n另一段。", timeout=5.0)
            assert await detect_change_async(old, new, diff_timeout=5.0, quick=other) == own
            tried += 1
    assert tried >= 20


def _versions() -> list[tuple[str, str, dict[str, str], list[dict[str, object]]]]:
    """Versions as a check compares them: real pages' readings, and each retitled,
    re-laid out (full-width, spaces: the same canonical form), with a field changed or
    added, and with attachments (none, one, one not downloaded, two either way round)."""
    a = {"url": "http://a.gov.cn/1.pdf", "sha256": "1" * 64, "name": "答复.pdf"}
    b = {"url": "http://a.gov.cn/2.xls", "sha256": None, "name": "表2"}
    out = []
    for html in [_html(p) for p in PAGES[:6]] + _seed_pages()[:3]:
        e = _extracted(html)
        if isinstance(e, str):
            continue
        title, text, meta = e.title, e.text, dict(e.metadata)
        out += [(title, text, meta, []), (title + "（修订）", text, meta, []),
                (title.replace(":", "：") + "\u3000", text.replace("，", ","), meta, []),
                (title, text, {**meta, "发文日期": "2024-01-02"}, []),
                (title, text, {**meta, "索引号": "430S00"}, []),
                (title, text, meta, [a]), (title, text, meta, [dict(b, sha256="")]),
                (title, text, meta, [b]), (title, text, meta, [a, b]),
                (title, text, meta, [b, a])]
    return out


def test_the_last_versions_snapshot_compares_as_its_hash_would() -> None:
    """``stored_snapshot`` (the last version's, its hash made only when read) and
    ``same_hash`` (canonical parts compared instead of hashes) tell every pair of
    versions the same or not as their hashes do; the hash, read, is ``snapshot``'s; and
    the decisions against it are those against ``snapshot``'s."""
    from dataclasses import replace

    from monitor.detect import detect_change, same_hash, snapshot, stored_snapshot

    versions = _versions()
    made = [snapshot(*v) for v in versions]
    stored = [stored_snapshot(*v) for v in versions]
    equal = 0
    for i, j in itertools.product(range(len(versions)), repeat=2):
        want = made[i].content_hash == made[j].content_hash
        equal += want and i != j
        assert same_hash(stored[i], made[j]) is want, (i, j)
        assert same_hash(made[j], stored[i]) is want, (i, j)
        assert same_hash(stored[i], stored[j]) is want, (i, j)
    assert equal >= 8  # re-laid out versions and attachments without a file are the same
    for i, j in itertools.product(range(len(versions)), repeat=2):
        if i // 10 == j // 10 or (i % 10 == 0 and j == i + 10):  # a page's own edits
            # an unbounded diff (a minute): under load a 0.5 s one falls back on one side
            assert (detect_change(stored[i], made[j], diff_timeout=60)
                    == detect_change(made[i], made[j], diff_timeout=60))
    assert [s.content_hash for s in stored] == [s.content_hash for s in made]
    assert stored[0] == made[0] and made[0] == stored[0]
    # a snapshot given another hash (replace) is compared by that hash, as any is
    other = replace(made[0], content_hash="f" * 64)
    assert not same_hash(other, made[0]) and not same_hash(stored[0], other)
    assert same_hash(other, replace(made[1], content_hash="f" * 64))


def test_lines_split_once_for_every_reader_are_each_texts_own() -> None:
    """``canon.text_lines`` (one split of a text shared by ``canonical_text`` and
    ``detect``'s paragraphs) gives each text its own lines, whatever was read before:
    texts read in turn, again, and paragraph by paragraph, as a check reads them."""
    from monitor import canon, detect

    texts = [v[1] for v in _versions()[::5]]
    texts += [t + "\n补充一段。" for t in texts[:4]] + ["", "\n", "一行", "甲\n\n乙\n"]
    rng = random.Random(12)
    order = texts * 3 + [p for t in texts[:3] for p in t.split("\n")[:20]]
    rng.shuffle(order)
    fresh = {}
    for t in texts:
        canon._CELLS.clear()
        canon.text_lines.cache_clear()
        canon.canonical_text.cache_clear()
        fresh[t] = canon.canonical_text(t)
    for t in order:
        assert canon.text_lines(t) == tuple(t.split("\n"))
        assert detect._paragraphs(t) == [p for line in t.split("\n") if (p := line.strip())]
        assert canon.canonical_text(t) == fresh.get(t, canon.canonical_text(t))


def _chain_of(bodies: list[bytes]) -> list[bytes]:
    """The blobs ``Store`` stores for these bodies of a page: the first whole, each
    next one a delta against the body before it."""
    from storage import rawcodec

    return [rawcodec.compress(bodies[0])] + [
        rawcodec.compress(b, a) for a, b in itertools.pairwise(bodies)]


def _link_by_link(blobs: list[bytes]) -> bytes:
    from storage import rawcodec

    raw = rawcodec.decompress(blobs[0])
    for blob in blobs[1:]:
        raw = rawcodec.decompress(blob, raw)
    return raw


def test_a_delta_chain_read_in_one_call_is_the_body_read_a_link_at_a_time() -> None:
    """``rawcodec.decompress_chain`` (zstd's content dictionary chain, one call) gives
    every body of a chain as decompressing it a link at a time does: real pages edited
    (a sentence added, a counter moved, a block removed, a body emptied and refilled,
    a page grown past the first body's size); and a damaged link, or a blob that is
    not bytes, is said as a link at a time says it (and the thread's reader reads the
    next chain right)."""
    from monitor.errors import StorageError
    from storage import rawcodec

    rng = random.Random(5)
    bodies = [seed_page(0)]
    for n in range(rawcodec.DELTA_CHAIN_MAX + 2):
        b = bytearray(bodies[-1])
        at = rng.randrange(len(b) + 1)
        if n == 4:
            b = bytearray()  # emptied
        elif n == 7:
            b = bytearray(seed_page(1) * 3)  # refilled, larger than any before
        elif n % 3 == 0:
            del b[at:at + 500]
        else:
            b[at:at] = f"第{n}段：新增内容。浏览次数：{n * 7}".encode()
        bodies.append(bytes(b))
    blobs = _chain_of(bodies)
    for end in range(1, len(blobs) + 1):
        assert rawcodec.decompress_chain(blobs[:end]) == _link_by_link(blobs[:end]) \
            == bodies[end - 1]
    damaged = [*blobs[:3], blobs[3][:-4] + b"\x00\x00\x00\x00", *blobs[4:6]]
    with pytest.raises(StorageError, match="cannot be decompressed") as fast:
        rawcodec.decompress_chain(damaged)
    with pytest.raises(StorageError) as slow:
        _link_by_link(damaged)
    assert (str(fast.value), fast.value.detail) == (str(slow.value), slow.value.detail)
    assert rawcodec.decompress_chain(blobs) == bodies[-1]  # the reader, after an error
    with pytest.raises(StorageError, match="not bytes"):
        rawcodec.decompress_chain([blobs[0], "text"])  # type: ignore[list-item]


def test_a_page_and_its_newest_version_read_together_are_the_rows_read_apart(
        store: object) -> None:
    """``Store._prepare``'s first read (``_page_and_newest``: one statement, on SQLite
    through the driver) gives the page's revision and last version id and its newest
    version's row, value for value and type for type, as ``_PAGE_AT`` and ``_NEWEST``
    read apart do: a page without versions, with one, with several (metadata of
    Chinese labels, an empty title), and no such page."""
    import hashlib

    from monitor.config import SourceConfig
    from storage import repository
    from storage.instant import utcnow
    from storage.records import CheckRecord, NewVersion

    srcs = [SourceConfig(name=f"p{i}", url=f"http://www.example.gov.cn/{i}.html")
            for i in range(3)]
    store.sync_sources(srcs)  # type: ignore[attr-defined]
    for i, src in enumerate(srcs):
        for n in range(i):
            state = store.page_state(src)  # type: ignore[attr-defined]
            raw = f"<p>第{n}版</p>".encode()
            store.commit_check(CheckRecord(  # type: ignore[attr-defined]
                page_id=state.page_id,
                expected_last_version_id=state.last.id if state.last else None,
                expected_revision=state.revision, started_at=utcnow(), duration=0.1,
                outcome="changed" if state.last else "new", version=NewVersion(
                    content_hash=f"c{n}", title="" if n else "通知", text=f"第{n}版",
                    metadata={"文号": f"湘〔2026〕{n}号"} if n else {}, raw=raw,
                    raw_sha256=hashlib.sha256(raw).hexdigest(), http_status=200,
                    headers={}, url=src.url, charset="utf-8", fetched_at=utcnow())))
    ids = [store.page_state(s).page_id for s in srcs]  # type: ignore[attr-defined]
    with store.engine.connect() as c:  # type: ignore[attr-defined]
        for page_id in [*ids, max(ids) + 100]:
            at = c.execute(repository._PAGE_AT, {"id": page_id}).first()
            newest = c.execute(repository._NEWEST, {"page_id": page_id}).first()
            revision, last_id, row = repository._page_and_newest(c, page_id)
            assert (revision, last_id) == ((None, None) if at is None else tuple(at))
            if newest is None:
                assert row is None
                continue
            assert row._fields == tuple(newest._fields)
            assert list(row) == list(newest)
            assert [type(v) for v in row] == [type(v) for v in newest]
        assert sum(repository._page_and_newest(c, i)[2] is not None for i in ids) == 2


def test_a_text_read_by_id_ranges_is_the_text_read_by_ids(
        store: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """A version's text read by its runs of ids (``BETWEEN``, the rows joined and its
    body lines remembered from them) is the text, and the lines remembered are the
    ones, read by its list of ids (``IN``, more than ``RUNS`` runs): lines moved,
    repeated, blank, and a title paragraph that is also a body line's text."""
    from monitor.config import SourceConfig
    from storage import paragraphs

    src = SourceConfig(name="page", url="http://www.example.gov.cn/a.html")
    store.sync_sources([src])  # type: ignore[attr-defined]
    page_id = store.page_state(src).page_id  # type: ignore[attr-defined]
    rng = random.Random(3)
    lines = [f"第{i}条　措施{i % 7}。" for i in range(60)] + ["", "通知"]
    picked = [rng.choice(lines) for _ in range(150)]
    with store.engine.begin() as c:  # type: ignore[attr-defined]
        paragraphs.store(c, page_id, [(paragraphs.TITLE, "通知")])
        ids = paragraphs.store(c, page_id, paragraphs.lines_of("\n".join(lines)))
        ids = paragraphs.store(c, page_id, paragraphs.lines_of("\n".join(picked)))
    blob = paragraphs.encode(ids)
    assert len(paragraphs.runs(blob)) > 2
    got = {}
    for runs in (paragraphs.RUNS, 0):
        monkeypatch.setattr(paragraphs, "RUNS", runs)
        kept = paragraphs.LinesRead()
        with store.engine.connect() as c:  # type: ignore[attr-defined]
            text = paragraphs.text_of(c, 7, blob, remember=kept)
        got[runs] = (text, kept.take(7))
    assert got[paragraphs.RUNS] == got[0]
    assert got[0][0] == "\n".join(picked)
    assert got[0][1] == {t: i for t, i in zip(picked, ids, strict=True)}


def test_id_lists_decoded_again_are_decoded_as_the_first_time() -> None:
    """An id list decoded again (``paragraphs.runs``: the last few kept) gives the runs
    and ids of its first decoding, whatever was done to the lists handed out before;
    bytes of other types and damaged lists are decoded, or refused, as before."""
    from monitor.errors import StorageError
    from storage import paragraphs

    rng = random.Random(11)
    lists = [[rng.randrange(1, 400) for _ in range(rng.randrange(0, 60))] for _ in range(200)]
    blobs = [paragraphs.encode(ids) for ids in lists]
    first = [paragraphs.runs(b) for b in blobs]
    for ids, blob, got in zip(lists, blobs, first, strict=True):
        assert paragraphs.decode(blob) == ids
        got.append((0, 0))  # a caller's change to its list
        got.clear()
    for _ in range(2):
        for ids, blob in zip(lists, blobs, strict=True):
            assert paragraphs.decode(blob) == ids
            assert paragraphs.decode(bytearray(blob)) == ids
            assert paragraphs.decode(memoryview(blob)) == ids
    with pytest.raises(StorageError, match="damaged"):
        paragraphs.runs(b"\x02")
    with pytest.raises(StorageError, match="not bytes"):
        paragraphs.runs("\x02\x00")  # type: ignore[arg-type]
    assert paragraphs.runs(None) == []


def _widgets_in_paragraphs() -> list[str]:
    """Pages whose widgets and DOM-rule matches sit inside paragraphs, cells and list
    items that noise removal reads before removing them: their text changes after."""
    body = ("<div class='byline'><p>来源：本厅 <span>点击：123</span></p>"
            "<p>发布机构：省工信厅<span class='share'>分享到：微信</span></p></div>"
            "<div class='content'><p>为进一步加强全省工业设计中心建设<span>阅读：45</span>，"
            "现将有关事项通知如下。</p><ul><li>一、各地要高度重视<span class='print'>打印</span>"
            "</li><li>二、认真组织申报<b>浏览次数：9</b></li></ul><table><tr><td>索引号：</td>"
            "<td>430S00<span>点击：5</span></td></tr><tr><td>文号<span class='vote'>"
            "支持</span></td><td>湘工信〔2021〕254号</td></tr></table>"
            "<div><span>成文日期：2021年06月24日</span><span class='hits'>77</span>"
            "<p>正文<span class='fenxiang'>分享</span>结束。</p></div></div>")
    return [f"<html><body>{body}</body></html>",
            f"<html><body><div class='main'>{body}</div><p>页脚</p></body></html>"]


def test_texts_read_by_noise_removal_lay_out_and_read_as_texts_read_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    htmls = [_html(p) for p in PAGES] + _seed_pages() + _widgets_in_paragraphs()
    contents = ((), ("div.content",), ("div.main",), ("p",))

    def extracted() -> list[object]:
        return [_extracted(h, content=c, ignore_text=["点击[:：]\\s*\\d*"])
                for h in htmls for c in contents]

    fast = extracted()
    remove = noise.remove_dom_noise
    monkeypatch.setattr(noise, "remove_dom_noise",  # nothing kept: every text read again
                        lambda root, protected=(), chosen=(), texts=None:
                        remove(root, protected, chosen))
    slow = extracted()
    assert fast == slow
    assert sum("点击" in repr(e) for e in fast) > 10  # widgets removed from what was read


def test_tag_names_tell_text_and_comment_nodes_as_their_types() -> None:
    nodes = 0
    for html in [_html(p) for p in PAGES] + _seed_pages():
        tree = LexborHTMLParser(html)
        for node in tree.root.traverse(include_text=True):
            assert (node.tag == "-text") == node.is_text_node
            assert (node.tag == "-comment") == node.is_comment_node
            nodes += 1
    assert nodes > 10000


def test_elements_never_content_told_by_name_are_those_the_query_finds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tricky = ("<html><head><script>1</script><STYLE>s</STYLE></head><body><math><iframe>x"
              "</iframe><input><mi><input type=hidden name=t></mi><annotation-xml "
              "encoding='text/html'><textarea>x</textarea></annotation-xml></math><svg>"
              "<iframe></iframe><style>a</style></svg><o:p><object></object></o:p><!--c-->"
              "<template><script>t</script></template><p>正文<noscript>n</noscript></p>"
              "</body></html>")
    htmls = [_html(p) for p in PAGES] + _seed_pages() + [tricky]

    def dropped() -> list[object]:
        out: list[object] = []
        for html in htmls:
            tree = LexborHTMLParser(html)
            out += [noise.drop_non_content(tree.root), tree.html]
        return out

    fast = dropped()
    monkeypatch.setattr(noise, "_always_drop", lambda: frozenset())  # nothing by name
    slow: list[object] = []
    for html in htmls:  # lexbor's query of the names, as before
        tree = LexborHTMLParser(html)
        names = noise.drop_non_content(tree.root)
        for node in noise.outermost(tree.root.css(", ".join(noise.ALWAYS_DROP))):
            node.decompose()
        slow += [names, tree.html]
    assert fast == slow
    assert "<iframe" not in fast[-1] and "<style" not in fast[-1] and "正文" in fast[-1]


def test_cell_labels_told_by_set_look_ups_are_those_the_pattern_matches() -> None:
    from monitor.extract import metadata

    lines = {line for p in PAGES for line in _html(p).split("<")}
    rng = random.Random(7)
    parts = [*metadata._LABELS, " ", "\u3000", "\n", ":", "：", "x", "号", "::"]
    lines |= {"".join(rng.choice(parts) for _ in range(rng.randint(1, 4)))
              for _ in range(30000)}
    for label in metadata._LABELS:
        for tail in ("", ":", "：", " ：", "\u3000:", " ", "：:", ": ", "::"):
            lines |= {label + tail, " " + label + tail}
    told = [metadata._is_cell_label(line) for line in lines]
    assert told == [metadata._CELL_LABEL.fullmatch(line) is not None for line in lines]
    assert sum(told) > 500


def test_metadata_of_a_body_without_what_is_never_text_need_not_look_for_it() -> None:
    from monitor.extract import metadata

    assert set(metadata._NOT_TEXT) <= set(noise.ALWAYS_DROP)
    for html in [_html(p) for p in PAGES] + _seed_pages():
        tree = LexborHTMLParser(html)
        if tree.body is not None:
            noise.drop_non_content(tree.root)
            assert extract_metadata(tree.body, dropped=True) == extract_metadata(tree.body)


def _collect_by_chains(body: object) -> tuple[dict[int, object], dict[int, object]]:
    """html._collect as it was: every text node's characters added to every ancestor."""
    from monitor.extract.html import _PUNCT, BLOCK_TAGS, _Stats

    nodes: dict[int, object] = {}
    stats: dict[int, _Stats] = {}
    for text_node in body.traverse(include_text=True):
        text = (text_node.text_content or "") if text_node.is_text_node else ""
        n = len("".join(text.split()))
        if not n:
            continue
        chain = [a for a in noise.ancestors(text_node) if a.tag != "-document"]
        linked = n if any(a.tag == "a" for a in chain) else 0
        for a in chain:
            nodes[a.mem_id] = a
            st = stats.setdefault(a.mem_id, _Stats())
            st.chars += n
            st.links += linked
        owner = next((a for a in chain if a.tag in BLOCK_TAGS), None)
        if owner is not None:
            own = stats[owner.mem_id].own
            own[0], own[1] = own[0] + n, own[1] + linked
            own[2] += len(_PUNCT.findall(text))
    return nodes, stats


def _hand_up_by_parents(nodes: dict[int, object], stats: dict[int, object]) -> None:
    """html._hand_up as it was: up lexbor's parents while they are in ``stats``."""
    from monitor.extract.html import _HAND_UP, _TABLE_PARTS, _points

    for key, st in list(stats.items()):
        chars, links, punct = st.own
        prose = chars - links
        if prose <= 0:
            continue
        points = _points(nodes[key], prose, punct)
        if not points:
            continue
        node = nodes[key]
        level = 0
        while node is not None and node.mem_id in stats:
            st_up = stats[node.mem_id]
            st_up.total += points
            if level < len(_HAND_UP):
                st_up.score += points * _HAND_UP[level]
            node = node.parent
            if node is not None and node.tag not in _TABLE_PARTS:
                level += 1


def test_text_counted_once_per_element_is_what_every_ancestor_counted() -> None:
    from bench.site import render
    from monitor.extract.html import _collect, _hand_up

    tricky = ("<html><body>头<!--c--><a href='#'><div>链接里的块，很长的一段。<p>段<b>粗</b>"
              "</p></div></a><div><span><a>甲</a>乙</span><p>丙，丁。<a><i>戊</i></a></p>"
              "<table><tr><td>格<a>子</a></td></tr></table></div>   <p> </p>尾</body></html>")
    htmls = [_html(p) for p in PAGES] + _seed_pages() + [tricky] + \
        [decode_html(render(i, 2), None)[0] for i in range(8)]
    entered = 0
    for html in htmls:
        tree = LexborHTMLParser(html)
        if tree.body is None:
            continue
        noise.drop_non_content(tree.root)
        nodes, stats, tree_of = _collect(tree.body)
        slow_nodes, slow_stats = _collect_by_chains(tree.body)
        assert list(stats) == list(slow_stats)  # the same order: max() takes the first
        assert stats == slow_stats
        assert [n.mem_id for n in nodes.values()] == [n.mem_id for n in slow_nodes.values()]
        _hand_up(nodes, stats, tree_of)
        _hand_up_by_parents(slow_nodes, slow_stats)
        assert stats == slow_stats
        entered += len(stats)
    assert entered > 3000
    assert sum(st.score > 0 for st in stats.values()) > 5  # the last page's scored
