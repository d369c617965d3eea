"""The title of a page.

``<title>`` cut at the first ``_``, ``|``, ``｜`` or " - ", where government
sites append column and site names ("标题_湖南省工业和信息化厅" → "标题"; "——" is not a
separator, titles use it).  A heading of the page (h1, ``.title``...) that agrees with
it wins, being untruncated, unless on a document's page it or the ``<title>`` is only
site and column names (below) while the article's h1 names a document: the column's
heading beside the article agrees with such a ``<title>``, and is no title; with no
agreeing heading the article's ``<h1>`` (or the first one that is not a logo link)
wins; then the cut ``<title>``; then 标题 metadata.

The cut ``<title>`` is watched too where it says more than the title (``head_title_note``,
kept as the metadata field ``网页标题``): a CMS that retitles a reply in its ``<title>``
and leaves the heading ("关于A的答复" → "关于A的答复（已撤回）") made a real edit, and
``monitor.detect`` tells it as ``title_changed``.  What only names the site or the column
is noise and is not kept:

* the title itself or a part of it (a truncated ``<title>``);
* names only, each a site's (an office's) or a column's, in any order, after the title
  or alone, with any separator (``_ - — ｜ | ·``) or none (a space between Chinese
  characters is gone: ``monitor.normalize``): "标题 湖南省人民政府",
  "某某市人民政府门户网站", "湖南省工业和信息化厅-建议提案办理", "提案答复"
  (``_names_only``); a site's or a column's name joined to the page's name by a hyphen
  or a dot at either end, without spaces too, is cut off before the rest is judged
  (``_names_cut``: "湖南省工业和信息化厅-对…第0192号提案的答复", "对…第0192号...-提案
  答复"), and a kept ``网页标题`` is the rest, so the site renaming itself there is
  no change while the page's own name changing still is;
* a name that neither overlaps the title nor has a document's kind word (通知, 答复,
  办法…) or number: a page type's, "详细信息", "政府信息公开目录".

A site's name ends in what offices and sites are called (人民政府, 厅, 局, 委, 办,
门户网站…).  A column's name is a short compound of the words columns are named with
and nothing else (建议, 提案, 办理, 答复, 通知, 公告, 政策, 文件, 信息, 公开, 人大,
政协…): "建议提案办理", "政协提案答复", "通知公告", "政策文件" are the very columns
watched here, and their pages all say them.  A document's name says what it is about,
so it is never taken for one: it has 关于, a year or a number (第…号, 〔2026〕), or a
subject before its kind word ("湖北省人工智能发展规划": 湖北省人工智能发展 is no
column word).  Written together with a site's name (no separator), a column's name
must be two words or more ("…办公厅通知" stays a document's).  So a site renaming
itself, or its columns, in every ``<title>`` is no change; another document's name
there is ("关于B的答复", "湖北省人工智能发展规划").
A version without ``网页标题`` is shown as ``HEAD_TITLE_NONE`` (``shown``), the same in
the alert's summary, its body and ``monitor diff``.
A version stored before the field existed gets it silently, as every reading-rules
upgrade does (``monitor.types.READING_RULES``).
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor import noise
from monitor.extract.layout import render, unwrap
from monitor.normalize import normalize_line

_TITLE_CUT = re.compile(r"\s*(?:_+|\||｜|\s-\s|\s–\s|::)\s*")
_TITLE_TAGS = "h1, h2, h3, [class*=title], [id*=title], ucaptitle"


def title_from_head(tree: LexborHTMLParser) -> str:
    """``<title>`` without the site name after it."""
    node = tree.css_first("title")
    if node is None:
        return ""
    title = normalize_line(unwrap(node.text()))
    parts = [p for p in _TITLE_CUT.split(title) if p]
    return parts[0] if parts else ""


def page_title(body: LexborNode, blocks: list[LexborNode], head_title: str,
               column: bool = False) -> str:
    """The title: an agreeing heading, else the article's h1, else ``head_title``; on a
    document's page (not a ``column``'s) with an h1 that names a document, never a
    heading of site and column names only (module doc)."""
    headings = [(text, node) for node in body.css(_TITLE_TAGS)
                if 4 <= len(text := _one_line(node)) <= 200 and not _in_link(node)]
    agreeing = [h for h in headings if head_title and _agrees(h[0], head_title)]
    blocks_ids = {b.mem_id for b in blocks}

    def inside(node: LexborNode) -> bool:
        """In one of the blocks (told for the few headings, not by listing the blocks'
        whole subtrees)."""
        return any(n.mem_id in blocks_ids for n in (node, *noise.ancestors(node)))

    h1s = sorted((h for h in headings if h[1].tag == "h1"),
                 key=lambda h: not inside(h[1]))
    if agreeing and not column and h1s and not _names_only(_squeezed(h1s[0][0])):
        # the column's heading beside the article ("<h3>建议提案办理</h3>") agreeing
        # with a <title> of names only is not the title: the article's h1 is
        agreeing = [] if _names_only(_squeezed(head_title)) else \
            [h for h in agreeing if not _names_only(_squeezed(h[0]))]
    if agreeing:
        return max(agreeing, key=lambda h: (h[0] == head_title, inside(h[1]),
                                            len(h[0])))[0]
    return h1s[0][0] if h1s else head_title


def _squeezed(text: str) -> str:
    return text.replace(" ", "")


def _in_link(node: LexborNode) -> bool:
    """A logo: the heading is (inside) a link to the home page."""
    if any(a.tag == "a" for a in noise.ancestors(node)):
        return True
    link = node.css_first("a")
    return link is not None and _one_line(link) == _one_line(node)


def _one_line(node: LexborNode) -> str:
    return normalize_line(" ".join(render(node).split("\n")))


def _agrees(heading: str, page_title: str) -> bool:
    a, b = heading.replace(" ", ""), page_title.replace(" ", "")
    return a == b or (min(len(a), len(b)) >= 6 and (a in b or b in a))


# --- the page's <title>, when it says more than the title ----------------------------

HEAD_TITLE_KEY = "网页标题"
_ELLIPSIS = re.compile(r"(?:\.{2,}|…+)$")
# A site's or an office's name: what a <title> says after the document's name, or
# alone on every page of a site ("湖南省人民政府门户网站", "省发展改革委", "中国政府网").
_SITE_NAME = re.compile(r"^\S*(?:人民政府|政府|门户网站|网站|网|办公厅|厅|局|委员会|委|办公室|办"
                        r"|中心|政协|人大常委会|人大|部|院|署)(?:门户网站|网站|网)?$")
_SITE_MAX = 20  # a site's name is no longer ("关于成立…领导小组办公室" is a document's)
# What makes a name a document's, never a site's or a column's: its kind or its number.
_DOC_WORDS = re.compile(r"关于|通知|答复|提案|建议|议案|意见|办法|规定|决定|公告|批复|函|"
                        r"方案|规划|报告|条例|细则|公报|通报|公示|决议|纪要|"
                        r"\d{4}\s*年|第.{1,12}号|[〔\[［(（]\d{4}[〕\]］)）]")


# A column's name: these words only, at most _COLUMN_MAX characters ("建议提案办理",
# "政协提案答复", "通知公告", "政策文件", "政府信息公开", "规范性文件").
_COLUMN_WORDS = ("人大", "政协", "代表", "委员", "建议", "提案", "议案", "答复", "回复",
                 "办理", "结果", "情况", "通知", "公告", "公示", "通报", "政策", "文件",
                 "规范性", "法规", "规章", "解读", "信息", "公开", "政府", "政务", "目录",
                 "指南", "年报", "新闻", "动态", "要闻", "工作", "专栏", "专题", "互动",
                 "交流", "回应", "关切", "留言", "意见", "征集", "规划", "计划", "总结",
                 "报告", "数据", "统计", "发布", "详细", "详情", "正文", "内容", "列表",
                 "首页", "栏目", "其他", "重点", "领域")
_COLUMN_NAME = re.compile("(?:" + "|".join(_COLUMN_WORDS) + ")+")
_COLUMN_MAX = 12
_COLUMN_JOINED_MIN = 4  # two words at least, written together with a site's name
# What only a document's name has: what it is about, its year, its number.
_DOC_MARKS = re.compile(r"关于|\d{4}\s*年|第.{1,12}号|[〔\[［(（]\d{4}[〕\]］)）]")
_NAME_SEPARATOR = re.compile(r"[-－—–·•・_|｜/／]+")
HEAD_TITLE_NONE = "（与标题相同或仅为网站、栏目名）"


def head_title_note(head_title: str, title: str) -> str:
    """What the page's ``<title>`` (its site suffix cut: ``title_from_head``) says that the
    chosen title does not, or "" (see the module doc for what says nothing more);
    otherwise it is kept whole (a retitled reply: "关于A的答复" → "关于A的答复（已撤回）",
    or another document's name)."""
    head_title = _names_cut(head_title)
    head, main = head_title.replace(" ", ""), title.replace(" ", "")
    if not head or head == main:
        return ""
    if _ELLIPSIS.sub("", head) in main:
        return ""  # the title's words, or a part of them (a truncated <title>)
    if _names_only(head[len(main):] if main and head.startswith(main) else head):
        return ""  # site and column names, maybe after the title
    if not _agrees(head_title, title) and not _DOC_WORDS.search(head):
        return ""  # a page type's name ("详细信息", "政府信息公开目录")
    return head_title


# Where a <title> joins the page's name to the site's or the column's without spaces
# ("湖南省工业和信息化厅-对…的答复", "对…第0192号...-提案答复"): "——" is no such joint,
# titles use it.
_NAME_JOINT = re.compile(r"(\s*(?<![-－–])[-－–·•・](?![-－–])\s*)")


def _names_cut(head_title: str) -> str:
    """``head_title`` without the site's and the columns' names at its ends, joined to the
    rest by a hyphen or a dot ("湖南省工业和信息化厅-对…的答复" → "对…的答复"): the page's
    own name is what is left, what a site renaming itself leaves the same."""
    parts = _NAME_JOINT.split(head_title)  # names and joints, alternately
    while len(parts) > 2 and _names_only(parts[0].replace(" ", "")):
        parts = parts[2:]
    while len(parts) > 2 and _names_only(parts[-1].replace(" ", "")):
        parts = parts[:-2]
    return "".join(parts)


def shown(key: str, value: str | None) -> str:
    """A metadata value as a change tells it: a field the version lacks is "（无）", or
    for ``网页标题`` ``HEAD_TITLE_NONE`` (its ``<title>`` said nothing more)."""
    if value is not None:
        return value
    return HEAD_TITLE_NONE if key == HEAD_TITLE_KEY else "（无）"


def _names_only(text: str) -> bool:
    """``text`` is only site and column names, separated or not (module doc)."""
    if _DOC_MARKS.search(text):
        return False
    parts = [p for p in _NAME_SEPARATOR.split(text) if p]
    return bool(parts) and all(_site_name(p) or _column_name(p) or _two_names(p)
                               for p in parts)


def _two_names(text: str) -> bool:
    """A site's name and a column's of two words or more, either first, no separator."""
    return len(text) <= _SITE_MAX + _COLUMN_MAX and any(
        (_site_name(text[:i]) and _column_name(text[i:], _COLUMN_JOINED_MIN))
        or (_column_name(text[:i], _COLUMN_JOINED_MIN) and _site_name(text[i:]))
        for i in range(2, len(text) - 1))


def _column_name(text: str, shortest: int = 2) -> bool:
    """A column's name: column words only ("建议提案办理", "通知公告")."""
    return shortest <= len(text) <= _COLUMN_MAX and _COLUMN_NAME.fullmatch(text) is not None


def _site_name(text: str) -> bool:
    """A site's or an office's name alone ("湖南省人民政府门户网站"), not a document's."""
    return len(text) <= _SITE_MAX and not _DOC_WORDS.search(text) \
        and _SITE_NAME.match(text) is not None
