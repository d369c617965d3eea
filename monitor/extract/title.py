"""The title of a page.

``<title>`` cut at the first ``_``, ``|``, ``｜`` or " - ", where government
sites append column and site names ("标题_湖南省工业和信息化厅" → "标题"; "——" is not a
separator, titles use it).  A heading of the page (h1, ``.title``...) that agrees with
it wins, being untruncated; with no agreeing heading the article's ``<h1>`` (or the
first one that is not a logo link) wins; then the cut ``<title>``; then 标题 metadata.

The cut ``<title>`` is watched too where it says more than the title (``head_title_note``,
kept as the metadata field ``网页标题``): a CMS that retitles a reply in its ``<title>``
and leaves the heading ("关于A的答复" → "关于A的答复（已撤回）") made a real edit, and
``monitor.detect`` tells it as ``title_changed``.  What only names the site is noise and
is not kept: the title itself or a part of it (a truncated ``<title>``), the title then a
site name ("标题 湖南省人民政府"), a site or office name alone
("某某市人民政府门户网站"), a name that neither overlaps the title nor reads as a
document's (no 关于/通知/答复/办法…, no year or 第…号: a column's or a page type's,
"详细信息", "政府信息公开目录").  So a site renaming itself, or its columns, in every
``<title>`` is no change; another document's name there is.
``monitor.pipeline`` records the field silently on a version stored before it existed.
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


def page_title(body: LexborNode, blocks: list[LexborNode], head_title: str) -> str:
    """The title: an agreeing heading, else the article's h1, else ``head_title``."""
    headings = [(text, node) for node in body.css(_TITLE_TAGS)
                if 4 <= len(text := _one_line(node)) <= 200 and not _in_link(node)]
    agreeing = [h for h in headings if head_title and _agrees(h[0], head_title)]
    blocks_ids = {b.mem_id for b in blocks}

    def inside(node: LexborNode) -> bool:
        """In one of the blocks (told for the few headings, not by listing the blocks'
        whole subtrees)."""
        return any(n.mem_id in blocks_ids for n in (node, *noise.ancestors(node)))

    if agreeing:
        return max(agreeing, key=lambda h: (h[0] == head_title, inside(h[1]),
                                            len(h[0])))[0]
    h1s = sorted((h for h in headings if h[1].tag == "h1"),
                 key=lambda h: not inside(h[1]))
    return h1s[0][0] if h1s else head_title


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


def head_title_note(head_title: str, title: str) -> str:
    """What the page's ``<title>`` (its site suffix cut: ``title_from_head``) says that the
    chosen title does not, or "" (see the module doc for what says nothing more);
    otherwise it is kept whole (a retitled reply: "关于A的答复" → "关于A的答复（已撤回）",
    or another document's name)."""
    head, main = head_title.replace(" ", ""), title.replace(" ", "")
    if not head or head == main or _site_name(head):
        return ""
    if _ELLIPSIS.sub("", head) in main:
        return ""  # the title's words, or a part of them (a truncated <title>)
    if main and head.startswith(main) and _site_name(head[len(main):].lstrip("-－—–·")):
        return ""  # the title, then the site's name (its space gone: monitor.normalize)
    if not _agrees(head_title, title) and not _DOC_WORDS.search(head):
        return ""  # a column's or a page type's name ("详细信息", "政府信息公开目录")
    return head_title


def _site_name(text: str) -> bool:
    """A site's or an office's name alone ("湖南省人民政府门户网站"), not a document's."""
    return len(text) <= _SITE_MAX and not _DOC_WORDS.search(text) \
        and _SITE_NAME.match(text) is not None
