"""Realistic government CMS pages built from the four seed texts in tests/fixtures/seeds.

The seeds are the visible text of four real pages: 000 a Hunan 工信厅 proposal reply,
001 a Wuhan reply, 002 a Dongguan proposal with its replies, 003 the Hubei AI plan
reposted on a university's VSB site.  ``seed_page`` wraps one of them in a typical
template: top bar with today's date, header and nav, breadcrumb (当前位置), side column of
links, a metadata table (000), title, byline with a view counter and the font-size and
print toolbars, the body (in the CMS container each site family uses), share bar, vote
widget (002), prev/next links, footer with a visitor counter, hidden session fields and
scripts.

Every keyword argument except ``edit`` and ``encoding`` changes noise only, so any
two pages built with the same ``n`` and ``edit`` must extract to the same text, title
and metadata::

    from tests.pages import seed_page, seed_paragraphs

    base = seed_page(0)                                        # UTF-8 bytes
    noisy = seed_page(0, counter=4567, today="2027年1月5日", token="9f3e",
                      indent="\\t", fullwidth=True, wrap=17, extra_noise=False)
    edited = seed_page(0, edit=("头雁效应", "引领效应"))       # a real change
    added = seed_page(2, edit=lambda ps: [*ps, "补充答复：……"])  # a new paragraph
    legacy = seed_page(0, encoding="gbk")                      # GBK, <meta charset=gb2312>

``seed_paragraphs(n, edit=None)`` is the body as a list of lines, as the page shows it.
Seed 000 carries one line the real page did not, naming 刘喆 and 黄镕: both characters
are in GBK but not in GB2312, like the names that break pages which declare gb2312.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

SEEDS_DIR = Path(__file__).parent / "fixtures" / "seeds"
SEED_COUNT = 4
GBK_ONLY_LINE = "承办人:刘喆 审核人:黄镕"  # 喆 and 镕 are GBK, not GB2312

Edit = tuple[str, str] | Callable[[list[str]], list[str]] | None

_WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class Seed:
    site: str
    column: str
    title: str
    title_lines: tuple[str, ...]  # the heading as the page breaks it
    container: str  # the CMS container of the body: "v_news_content", "zoom"...
    paragraphs: tuple[str, ...]
    metadata: tuple[tuple[str, str], ...] = ()  # (label, value) rows of the 信息公开 table
    byline: str = ""  # text before the counter, e.g. "发布时间：2021-06-24 09:46"
    footer: tuple[str, ...] = ()


def seed_text(n: int) -> str:
    """The raw text of seed ``n`` (0-3)."""
    return next(SEEDS_DIR.glob(f"{n:03d}_*.txt")).read_text(encoding="utf-8")


def seed(n: int) -> Seed:
    """Seed ``n`` cut into title, metadata, body and footer."""
    return _SEEDS[n]()


def seed_paragraphs(n: int, edit: Edit = None) -> list[str]:
    """The body lines of seed ``n`` after ``edit``, as given to the page."""
    paragraphs = list(seed(n).paragraphs)
    if edit is None:
        return paragraphs
    if callable(edit):
        return list(edit(paragraphs))
    old, new = edit
    for i, p in enumerate(paragraphs):
        if old in p:
            paragraphs[i] = p.replace(old, new, 1)
            return paragraphs
    raise ValueError(f"{old!r} is not in the body of seed {n}")


def seed_page(n: int, *, encoding: str = "utf-8", counter: int | None = 123,
              today: str = "2026年11月22日", token: str = "5f2c9e0a7b41d3e8",
              indent: str = "  ", fullwidth: bool = False, wrap: int | None = None,
              neighbours: tuple[str, str] = ("关于公布2021年度省级工业设计中心名单的通知",
                                             "关于开展2021年中小企业服务月活动的通知"),
              votes: tuple[int, int] = (0, 0), extra_noise: bool = True,
              edit: Edit = None) -> bytes:
    """An HTML page of seed ``n``, as bytes in ``encoding``.

    Noise knobs: ``counter`` (view count; None is an empty, JavaScript-filled counter),
    ``today`` (the top bar's date, e.g. "2026年11月22日"), ``token`` (session id in hidden
    fields, links and a comment), ``indent`` (source indentation), ``fullwidth`` (body
    indented with U+3000, labels spaced with NBSP), ``wrap`` (re-wrap the source of each
    paragraph every ``wrap`` characters, only between two Chinese characters, where a
    browser shows no gap), ``neighbours`` (titles in the prev/next links), ``votes``
    (support/oppose counts), ``extra_noise`` (False drops every widget).
    ``encoding`` "gbk", "gb18030" or "gb2312" (written as GBK) declares gb2312, as such
    sites do.  ``edit`` changes
    the body: ``(old, new)`` replaces the first occurrence, a callable maps the list of
    paragraphs to a new one.
    """
    s = seed(n)
    page = _Page(indent)
    opts = _Opts(counter, today, token, fullwidth, wrap, neighbours, votes, extra_noise)
    charset = "gb2312" if encoding.lower() in ("gbk", "gb18030", "gb2312") else encoding
    _head(page, s, charset, opts)
    page.add(0, "<body>")
    _top(page, s, opts)
    page.add(1, '<div class="container clearfix">')
    _side(page, s)
    page.add(2, '<div class="main-content">')
    if s.metadata:
        _metadata_table(page, s, opts)
    _article(page, s, seed_paragraphs(n, edit), opts)
    page.add(2, "</div>")
    page.add(1, "</div>")
    _footer(page, s, opts)
    page.add(0, "</body>")
    page.add(0, "</html>")
    # A page that says gb2312 is really GBK (or GB18030) on the wire.
    codec = "gbk" if encoding.lower() == "gb2312" else encoding
    return page.text().encode(codec, errors="xmlcharrefreplace")


# --- the seeds -------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [ln for ln in text.split("\n") if ln.strip()]


def _between(lines: list[str], start: str, stop: str | None) -> list[str]:
    i = next(k for k, ln in enumerate(lines) if start in ln)
    j = next((k for k, ln in enumerate(lines) if stop and stop in ln and k > i), len(lines))
    return lines[i:j]


def _seed0() -> Seed:
    lines = _lines(seed_text(0))
    rows = [tuple(x.strip() for x in ln.replace("•", "").split(":", 1))
            for ln in lines if ln.strip().startswith("•")]
    body = _between(lines, "湘工信提案函", "主办单位")
    contact = next(k for k, ln in enumerate(body) if "联系人姓名" in ln)
    body.insert(contact + 1, "    " + GBK_ONLY_LINE)
    rows.insert(4, ("文号", body[0].strip()))
    return Seed(
        site="湖南省工业和信息化厅", column="建议提案办理", title=lines[0].strip(),
        title_lines=(lines[0].strip(),), container="v_news_content",
        paragraphs=tuple(body), metadata=tuple((a, b) for a, b in rows),
        byline="发布时间：2021-06-24 09:46 来源：湖南省工业和信息化厅",
        footer=(*_between(lines, "主办单位", "信访问题服务电话"),
                _between(lines, "信访问题服务电话", None)[0].replace("•", "")),
    )


def _seed1() -> Seed:
    lines = _lines(seed_text(1))
    title = (lines[0] + lines[1]).strip()
    return Seed(site="武汉市人民政府", column="建议提案办理结果", title=title,
                title_lines=(lines[0].strip(), lines[1].strip()), container="zoom",
                paragraphs=tuple(lines[2:]), byline="来源：武汉市经济和信息化局")


def _seed2() -> Seed:
    lines = _lines(seed_text(2))
    body = _between(lines, "案由", "网友评价")
    title = body[0].split(")", 1)[1].strip()
    return Seed(site="东莞市人民政府", column="政协提案", title=title, title_lines=(title,),
                container="TRS_Editor", paragraphs=tuple(body),
                byline="来源：东莞市科学技术局")


def _seed3() -> Seed:
    lines = _lines(seed_text(3))
    title = lines[2].strip()
    body = _between(lines, "各市、州、县人民政府", "Copyright")
    return Seed(site="武汉学院", column="通知公告", title=title, title_lines=(title,),
                container="vsb", paragraphs=tuple(p for p in body if p.strip()),
                byline="作者:    摄影:    责任编辑:科研处来源: 审核:    发表时间:2020-09-24",
                footer=(lines[-1].strip(),))


_SEEDS: dict[int, Callable[[], Seed]] = {0: _seed0, 1: _seed1, 2: _seed2, 3: _seed3}


# --- the template ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Opts:
    counter: int | None
    today: str
    token: str
    fullwidth: bool
    wrap: int | None
    neighbours: tuple[str, str]
    votes: tuple[int, int]
    extra_noise: bool


class _Page:
    def __init__(self, indent: str) -> None:
        self.indent = indent
        self.lines: list[str] = []

    def add(self, depth: int, line: str) -> None:
        self.lines.append(self.indent * depth + line)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _esc(text: str) -> str:
    # Entities keep the page encodable in GBK, which has neither NBSP nor EN SPACE.
    return html.escape(text, quote=False).replace("\xa0", "&nbsp;").replace("\u2002", "&ensp;")


def _head(page: _Page, s: Seed, charset: str, o: _Opts) -> None:
    page.add(0, "<!DOCTYPE html>")
    page.add(0, '<html lang="zh-CN">')
    page.add(0, "<head>")
    page.add(1, f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">')
    page.add(1, f"<title>{_esc(s.title)}_{_esc(s.site)}</title>")
    page.add(1, f'<meta name="SiteName" content="{_esc(s.site)}">')
    page.add(1, f'<link rel="stylesheet" href="/css/style.css?t={o.token}">')
    if o.extra_noise:
        page.add(1, f'<meta name="createDate" content="{o.today} {o.token[:6]}">')
        page.add(1, "<style>.hide{display:none}</style>")
        page.add(1, f'<script>var _hmt = _hmt || []; var sid = "{o.token}";</script>')
    page.add(0, "</head>")


def _top(page: _Page, s: Seed, o: _Opts) -> None:
    page.add(1, '<div class="topbar">')
    if o.extra_noise:
        page.add(2, f"<!-- page built {o.today} session {o.token} -->")
        weather = "长沙 晴 5℃~12℃"
        page.add(2, f'<span class="today">今天是{o.today} {_weekday(o.today)} {weather}</span>')
    page.add(2, '<a href="/wza/">无障碍</a> | <a href="/old/">长者模式</a>')
    if o.extra_noise:
        page.add(2, '<a href="javascript:void(0)" onclick="addFav()">加入收藏</a>')
    page.add(1, "</div>")
    page.add(1, '<div class="header">')
    page.add(2, f'<div class="logo"><a href="/">{_esc(s.site)}</a></div>')
    page.add(2, '<ul class="nav">')
    for item in ("首页", "机构概况", "政务公开", "政务服务", "互动交流", "专题专栏"):
        page.add(3, f'<li><a href="/{item}/">{item}</a></li>')
    page.add(2, "</ul>")
    page.add(1, "</div>")
    page.add(1, '<div class="breadcrumb">当前位置：<a href="/">首页</a> &gt; '
                f'<a href="/list/">{_esc(s.column)}</a> &gt; 正文</div>')


def _side(page: _Page, s: Seed) -> None:
    page.add(2, '<div class="sidebar">')
    page.add(3, f"<h3>{_esc(s.column)}</h3>")
    page.add(3, "<ul>")
    for item in ("通知公告", "政策文件", "政策解读", "建议提案办理", "统计信息", "人事信息"):
        page.add(4, f'<li><a href="/{item}/">{item}</a></li>')
    page.add(3, "</ul>")
    page.add(2, "</div>")


def _metadata_table(page: _Page, s: Seed, o: _Opts) -> None:
    page.add(3, '<table class="xxgk-table">')
    rows = list(s.metadata)
    for i in range(0, len(rows), 2):
        cells = []
        for label, value in rows[i:i + 2]:
            shown = ("&nbsp;" if o.fullwidth else "").join(label)
            cells.append(f"<th>{shown}：</th><td>{_esc(value)}</td>")
        page.add(4, "<tr>" + "".join(cells) + "</tr>")
    page.add(3, "</table>")


def _article(page: _Page, s: Seed, paragraphs: list[str], o: _Opts) -> None:
    page.add(3, '<div class="article">')
    page.add(4, '<h1 class="article-title">' + "<br>".join(_esc(t) for t in s.title_lines)
             + "</h1>")
    _byline(page, s, o)
    opening, closing = _container(s.container)
    page.add(4, opening)
    for p in paragraphs:
        _paragraph(page, p, o)
    page.add(4, closing)
    if o.extra_noise:
        _widgets(page, s, o)
    page.add(3, "</div>")


def _container(kind: str) -> tuple[str, str]:
    if kind == "vsb":
        return ('<form name="_newscontent_fromname"><div id="vsb_content">'
                '<div class="v_news_content">', "</div></div></form>")
    if kind == "zoom":
        return '<div id="zoom">', "</div>"
    return f'<div class="{kind}">', "</div>"


def _byline(page: _Page, s: Seed, o: _Opts) -> None:
    parts = [f"<span>{_esc(s.byline)}</span>"] if s.byline else []
    if o.extra_noise:
        count = "" if o.counter is None else str(o.counter)
        parts.append(f'<span>点击:<span id="hits">{count}</span></span>')
        parts.append('<span class="fontsize">【字体：<a href="#">大</a> <a href="#">中</a> '
                     '<a href="#">小</a>】</span>')
        parts.append(f'<span class="print">【<a href="print.jsp;jsessionid={o.token}">打印</a>】'
                     '【<a href="javascript:window.close()">关闭</a>】</span>')
    if parts:
        page.add(4, '<div class="info">' + " ".join(parts) + "</div>")


def _paragraph(page: _Page, text: str, o: _Opts) -> None:
    text = text.strip()
    if o.fullwidth:
        text = "\u3000\u3000" + text
    chunks = _wrap(_esc(text), o.wrap) if o.wrap else [_esc(text)]
    # Digits in their own spans, as Word-pasted bodies have them: no gap may appear.
    chunks = [re.sub(r"(\d+)", r'<span style="font-family:Times New Roman">\1</span>', c)
              for c in chunks]
    page.add(5, "<p>" + chunks[0] + ("" if len(chunks) > 1 else "</p>"))
    for i, chunk in enumerate(chunks[1:], start=2):
        page.add(6, chunk + ("</p>" if i == len(chunks) else ""))


_CJK = re.compile(r"[\u4e00-\u9fff，。、；：！？“”《》（）]")


def _wrap(text: str, width: int) -> list[str]:
    chunks, start = [], 0
    for i in range(1, len(text)):
        if i - start >= width and _CJK.match(text[i - 1]) and _CJK.match(text[i]):
            chunks.append(text[start:i])
            start = i
    chunks.append(text[start:])
    return chunks


def _widgets(page: _Page, s: Seed, o: _Opts) -> None:
    page.add(4, '<div class="share">分享到：<a href="#">微信</a> <a href="#">微博</a> '
                '<a href="#">QQ空间</a></div>')
    if s.container == "TRS_Editor":
        page.add(4, f'<div class="vote">网友评价<br>支持 {o.votes[0]}&nbsp;&nbsp;&nbsp;反对 '
                    f'{o.votes[1]}</div>')
    prev, nxt = o.neighbours
    page.add(4, '<div class="prev-next">')
    page.add(5, f'<p>上一篇：<a href="/a/{o.token[:4]}.html">{_esc(prev)}</a></p>')
    page.add(5, f'<p>下一篇：<a href="/b/{o.token[:4]}.html">{_esc(nxt)}</a></p>')
    page.add(4, "</div>")


def _footer(page: _Page, s: Seed, o: _Opts) -> None:
    page.add(1, '<div class="footer">')
    for line in s.footer or (f"主办单位：{s.site}",):
        page.add(2, f"<p>{_esc(line.strip())}</p>")
    if o.extra_noise:
        visits = "" if o.counter is None else str(o.counter * 7 + 1000)
        page.add(2, f"<p>您是第{visits}位访问者</p>")
        page.add(2, '<a class="gotop" href="#top">返回顶部</a>')
        page.add(2, f'<input type="hidden" name="__VIEWSTATE" value="{o.token * 3}">')
        page.add(2, f'<input type="hidden" id="portalJsessionId" value="{o.token}">')
        page.add(2, f'<script>document.getElementById("hits").innerHTML = "{o.counter}";</script>')
    page.add(1, "</div>")


def _weekday(today: str) -> str:
    m = re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日", today)
    if not m:
        return ""
    day = date(int(m[1]), int(m[2]), int(m[3]))
    return "星期" + _WEEKDAYS[day.weekday()]

