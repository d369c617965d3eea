"""Markup-only rewrites of an HTML page, and one-character edits of its text.

A rewrite changes how a page is laid out and never a word of it, as a CMS re-template
does: metadata as a list or a table, paragraph indents (``&nbsp;&nbsp;``, ``　　``, CSS
``text-indent``), full- or half-width punctuation, extra wrapper elements, other
attributes and classes, a bigger nav bar and a new footer outside the content.  Used by
tests/test_canonical.py: a rewrite must never be a change, an edit always is.

``reply_page(style)`` is the re-templated reply page of issue 11 in two templates.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.extract.metadata import ALIASES, STOP_LABELS
from tests.pages import seed

Rewrite = Callable[[str], str]

_TEXT = re.compile(r">([^<>]+)<")
_HALF = str.maketrans({"：": ":", "，": ",", "（": "(", "）": ")"})
_FULL = str.maketrans({":": "：", ",": "，", "(": "（", ")": "）"})
_LABELS = {a for names in ALIASES.values() for a in names} | set(STOP_LABELS)
_P_OPEN = re.compile(r"<p(\s[^>]*)?>", re.IGNORECASE)
_P_CLOSE = re.compile(r"</p\s*>", re.IGNORECASE)


def _in_text(html: str, table: dict[int, str]) -> str:
    """Translate the text between tags (not inside scripts and styles)."""
    out, last = [], 0
    for m in re.finditer(r"<(script|style)\b.*?</\1\s*>", html, re.IGNORECASE | re.DOTALL):
        out.append(_TEXT.sub(lambda t: ">" + t.group(1).translate(table) + "<",
                             html[last:m.start()]))
        out.append(m.group())
        last = m.end()
    out.append(_TEXT.sub(lambda t: ">" + t.group(1).translate(table) + "<", html[last:]))
    return "".join(out)


def half_width(html: str) -> str:
    return _in_text(html, _HALF)


def full_width(html: str) -> str:
    return _in_text(html, _FULL)


def _closed_paragraphs(html: str) -> bool:
    return len(_P_OPEN.findall(html)) == len(_P_CLOSE.findall(html)) > 0


def indent_nbsp(html: str) -> str:
    return _P_OPEN.sub(lambda m: m.group() + "&nbsp;&nbsp;&nbsp;&nbsp;", html)


def indent_ideographic(html: str) -> str:
    return _P_OPEN.sub(lambda m: m.group() + "\u3000\u3000", html)


def indent_css(html: str) -> str:
    return _P_OPEN.sub('<p style="text-indent:2em;line-height:2">', html)


def wrappers(html: str) -> str:
    """Each paragraph in a ``div``, its text in a ``span``."""
    if not _closed_paragraphs(html):
        return html
    html = _P_OPEN.sub(lambda m: '<div class="para">' + m.group() + '<span class="t">', html)
    return _P_CLOSE.sub("</span></p></div>", html)


def attributes(html: str) -> str:
    """New classes and attributes on paragraphs, cells and spans."""
    html = _P_OPEN.sub('<p class="MsoNormal" align="justify" data-v="2">', html)
    html = re.sub(r"<td(\s[^>]*)?>", '<td class="cell" valign="middle">', html,
                  flags=re.IGNORECASE)
    return re.sub(r"<span>", '<span lang="EN-US" style="font-size:16px">', html)


_NAV = ('<div class="top-nav"><ul>' + "".join(
    f'<li><a href="/c{i}/">{name}</a></li>' for i, name in enumerate(
        ("首页", "机构概况", "政务公开", "政务服务", "互动交流", "数据开放", "专题专栏",
         "走进湖南", "新闻中心", "政策文件"))) + "</ul></div>")
_FOOTER = ('<div class="footer"><p>主办单位：某某人民政府办公室　承办：某某大数据中心</p>'
           "<p>网站标识码：4300000099　湘ICP备05000000号-1　湘公网安备43010502000000号</p>"
           "</div>")


def nav_and_footer(html: str) -> str:
    """A bigger nav bar before everything, a new footer after everything."""
    if re.search(r"<body[^>]*>", html, re.IGNORECASE):
        html = re.sub(r"(<body[^>]*>)", lambda m: m.group() + _NAV, html, count=1,
                      flags=re.IGNORECASE)
    else:
        html = _NAV + html
    ends = list(re.finditer(r"</body\s*>", html, re.IGNORECASE))
    if ends:  # the last one: a saved page may hold more than one
        return html[:ends[-1].start()] + _FOOTER + html[ends[-1].start():]
    return html + _FOOTER


# --- metadata list <-> table -------------------------------------------------------------


def _clean(text: str) -> str:
    return "".join(text.split())


def _is_label(text: str) -> bool:
    t = _clean(text)
    return t.rstrip(":：") in _LABELS and len(t) > 0


def _pairs_of_table(table: LexborNode) -> list[tuple[str, str]] | None:
    pairs: list[tuple[str, str]] = []
    for row in table.css("tr"):
        cells = [c for c in row.iter() if c.tag in ("td", "th")]
        if row.css_first("table") is not None or len(cells) % 2:
            return None
        for label, value in zip(cells[::2], cells[1::2], strict=True):
            if not _is_label(label.text()):
                return None
            pairs.append((_clean(label.text()).rstrip(":："), value.text().strip()))
    return pairs or None


def _node(html: str, selector: str) -> LexborNode:
    node = LexborHTMLParser(html).css_first(selector)
    assert node is not None
    return node


def tables_to_lists(html: str) -> str:
    """Every metadata table (label, value cells) becomes a list of "label：value"."""
    tree = LexborHTMLParser(html)
    done = False
    for table in tree.css("table"):
        pairs = _pairs_of_table(table)
        if pairs:
            items = "".join(f"<li>{label}：{value}</li>" for label, value in pairs)
            table.replace_with(_node(f'<ul class="meta">{items}</ul>', "ul"))
            done = True
    return tree.html or html if done else html


def lists_to_tables(html: str) -> str:
    """Every list of "label：value" items becomes a table of two pairs a row."""
    tree = LexborHTMLParser(html)
    done = False
    for ul in tree.css("ul"):
        items = [li.text().strip() for li in ul.iter() if li.tag == "li"]
        pairs = [re.split(r"\s*[:：]\s*", item, maxsplit=1) for item in items]
        if not pairs or not all(len(p) == 2 and _is_label(p[0]) for p in pairs):
            continue
        rows = ["<tr>" + "".join(f"<th>{lab}：</th><td>{val}</td>" for lab, val in
                                 pairs[i:i + 2]) + "</tr>" for i in range(0, len(pairs), 2)]
        ul.replace_with(_node(f'<table class="meta">{"".join(rows)}</table>', "table"))
        done = True
    return tree.html or html if done else html


REWRITES: dict[str, Rewrite] = {
    "half-width": half_width, "full-width": full_width, "indent-nbsp": indent_nbsp,
    "indent-ideographic": indent_ideographic, "indent-css": indent_css,
    "wrappers": wrappers, "attributes": attributes, "nav-footer": nav_and_footer,
    "table-to-list": tables_to_lists, "list-to-table": lists_to_tables,
}


# --- one-character edits -------------------------------------------------------------------

_HAN = re.compile(r"[\u4e00-\u9fff]")


def edits(html: str, text: str, n: int = 3) -> list[tuple[str, str]]:
    """Up to ``n`` edits of one character of ``text`` (first, middle and last paragraph
    that has one) as (old, new) strings of ``html`` to replace."""
    lines = [line for line in text.split("\n") if len(_HAN.findall(line)) >= 6]
    picks = [lines[0], lines[len(lines) // 2], lines[-1]] if lines else []
    out: list[tuple[str, str]] = []
    for line in dict.fromkeys(picks):
        found = _edit_in(html, line) or _edit_in(html, line, unique=False)
        if found:
            out.append(found)
    return out[:n]


def _edit_in(html: str, line: str, unique: bool = True) -> tuple[str, str] | None:
    """An edit of a character of ``line`` in ``html``: in a five-character window found
    once in the page, or, failing that, anywhere (a list repeats its titles in
    ``title=``, and every copy is edited)."""
    for m in _HAN.finditer(line, len(line) // 3):
        window = line[max(0, m.start() - 2): m.end() + 2]
        if len(window) == 5 and (html.count(window) == 1 or (not unique and window in html)):
            new_char = "甲" if m.group() != "甲" else "乙"
            return window, window[:2] + new_char + window[3:]
    return None


# --- the re-templated reply page (issue 11) ----------------------------------------------


def reply_page(template: int, edit: tuple[str, str] | None = None) -> str:
    """Seed 000's reply in its old template (1: metadata list, ``:``, ``&nbsp;`` indents,
    a short nav) or its new one (2: metadata table, ``：``, ``　　`` indents, a longer
    nav); ``edit`` replaces a string of the body."""
    s = seed(0)
    body = [p.strip() for p in s.paragraphs]
    if edit:
        body = [p.replace(*edit) for p in body]
    nav_items = ("首页", "机构概况", "政务公开") if template == 1 else (
        "首页", "机构概况", "政务公开", "政务服务", "互动交流", "数据开放", "专题专栏")
    nav = "".join(f'<li><a href="/{i}/">{i}</a></li>' for i in nav_items)
    if template == 1:
        meta = '<ul class="xxgk">' + "".join(
            f"<li>{k}: {v}</li>" for k, v in s.metadata) + "</ul>"
        paras = "".join(f"<p>&nbsp;&nbsp;{p.translate(_HALF)}</p>" for p in body)
    else:
        rows = [list(s.metadata)[i:i + 2] for i in range(0, len(s.metadata), 2)]
        meta = '<table class="xxgk-table">' + "".join(
            "<tr>" + "".join(f"<td class=\"lab\">{k}：</td><td>{v}</td>" for k, v in row)
            + "</tr>" for row in rows) + "</table>"
        paras = "".join(f"<p style=\"text-indent:0\">\u3000\u3000{p.translate(_FULL)}</p>"
                        for p in body)
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{s.title}_{s.site}"
            f"</title></head><body><ul class=\"nav\">{nav}</ul><div class=\"main\">"
            f"<h1>{s.title}</h1><div class=\"v_news_content\">{meta}{paras}</div></div>"
            f"<div class=\"footer\"><p>主办单位：{s.site}</p></div></body></html>")
