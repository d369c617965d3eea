"""Listing pages: a column (栏目) whose content is a list of links to documents.

Most sources are columns such as 建议提案办理: a list of "对市政协十三届三次会议第20190462号
提案的答复" links, each with its date, between the site's nav, side bar, pagination and
footer.  The article finder of ``monitor.extract`` looks for prose and finds none there
(or a stray teaser), so ``choose`` decides whether the page is a listing instead.

An *item* is an element with a title link (at least ``_MIN_TITLE`` visible characters,
or a short Chinese title such as 新答复 that is the item's whole text but its date and no
generic link word such as 详情 or 更多 (``_short_title``: a two-character category tag
"通知" beside a title in plain text is no title, nor is a "详情" link; a nav link has no
date anyway), at most ``_MAX_LINKS`` links in all, so a box of several items is not one) and a date
outside the title (2020-07-01, 2020年7月1日, 2020/07/01, September 29, 2017; a date at
the very end of the link text counts too).  A *listing* is an element whose children of
one tag are items: at least ``MIN_ITEMS`` of them, and most (``_ITEM_SHARE``) of those
children.  Nav menus, breadcrumbs, pagination and prev/next links have no dates, so
they are never items; a dated list in a side bar, footer or "related" box (by tag or
class/id name) counts half.

On the page of a listing source (``kind = "listing"``: the admin said it is a column)
without a listing outside chrome, ``MIN_ITEMS`` is 1: a column of one or two replies is a
list too (rather than the side bar's five 热点信息), as long as its items are list
elements (``li``, ``tr``, ``dd``, ``dt``: never a wrapper ``div`` around a dated link, nor
the wrappers around that) outside chrome; and there the listing is the content even
beside prose.  Nav menus still have no dates: a page of nav links lists nothing.

The listing replaces the article when the article finder found no article, or when
what it found is not an article but a teaser or a column's one-line intro beside the
list: its prose (text outside links and outside the listing) is under
``_ARTICLE_PROSE`` characters, has fewer than ``_ARTICLE_SENTENCES`` Chinese sentences
(。！？), and the best listing's text outweighs ``_OUTWEIGH`` times it.  A footer picked
for want of anything better has its prose counted half and its sentences not at all.
A list inside the chosen article is already part of it.  Other listings at least
``_JOIN_SHARE`` as strong and not in chrome join it (a home page with two news lists).

Text: one item per line, its title and its date joined by `` | `` (as table cells are).
Only title and date: summaries, view counts and "NEW" icons of an item are left out, so a
listing changes when an item is added, removed, renamed or re-dated.

With a ``links`` selector (the admin named the items) nothing above is guessed: the text
is one line per item its links are in (``discover.selected``), read by ``item_line`` as a
recognised item is (``document_line``, the link's title and the item's date, when it is
not one), whatever their count.  Recognising the list instead made a column's text
depend on how many items it had: two were stored as the whole page (nav, intro, footer,
"…答复2026-12-01" run together), three as item lines, so each count crossing three was a
正文修改 of page chrome.  A page where the selector finds no document keeps the page's
text, which is never stored: the check fails as a listing without document links
(``documents.refuse_empty``, 栏目页没有找到文档链接), a state that says what happened.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from selectolax.lexbor import LexborNode

from monitor import lazyre
from monitor.normalize import normalize_line

_MONTHS = (r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?")
DATE = lazyre.compile(
    r"\d{4}\s*(?:[-/.]\s*\d{1,2}\s*[-/.]\s*\d{1,2}|年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)"
    rf"|\b{_MONTHS}\s+\d{{1,2}},?\s+\d{{4}}|\b\d{{1,2}}\s+{_MONTHS}\s+\d{{4}}")
_CHROME_NAME = lazyre.compile(r"nav|menu|foot|header|side|aside|crumb|bottom|banner|friend|"
                              r"related|recommend|tuijian|xgwz|xglj|yqlj", re.IGNORECASE)
_CHROME_TAGS = frozenset({"nav", "header", "footer", "aside"})
_MIN_TITLE = 4
_MAX_LINKS = 3
MIN_ITEMS = 3
_LIST_ITEMS = frozenset({"li", "tr", "dd", "dt"})  # the only items of a column's short list
LISTING_TEXT_SHARE = 0.8  # of a text's lines items, for it to be a column's text
_ITEM_SHARE = 0.6
_CHROME_FACTOR = 0.5
_OUTWEIGH = 2.0
_ARTICLE_PROSE = 200  # an article with this much prose is never replaced...
_ARTICLE_SENTENCES = 3  # ...nor one with this many sentences
_SENTENCE_END = lazyre.compile("[。！？]")
_JOIN_SHARE = 0.5
SEPARATOR = " | "
_PLAIN_NAME = lazyre.compile(r"[A-Za-z_][\w-]*")


@dataclass(frozen=True)
class Listing:
    container: LexborNode
    lines: tuple[str, ...]  # one per item: "title | date"
    chrome: bool  # in a nav, side bar, footer, "related" box...
    items: tuple[LexborNode, ...] = ()  # the item elements, one per line

    @property
    def score(self) -> float:
        """Characters of the lines, halved in chrome."""
        return sum(map(len, self.lines)) * (_CHROME_FACTOR if self.chrome else 1.0)


def choose(body: LexborNode, article: Sequence[LexborNode],
           column: bool = False) -> list[Listing] | None:
    """The listing(s) that are the content instead of ``article``.

    ``None`` keeps the article: there is no listing, it is inside the article, or the
    article's own prose weighs more (never on a listing source's page: ``column``).
    """
    listings = find_listings(body, column)
    if not listings:
        return None
    best = max(listings, key=lambda li: li.score)
    if not column and [n.mem_id for n in article] != [body.mem_id] \
            and _article_wins(article, best):
        return None
    return [li for li in listings if li is best or
            (not li.chrome and li.score >= _JOIN_SHARE * best.score)]


def selector_of(li: Listing) -> str | None:
    """A CSS selector of the items of ``li`` that finds them on the column's other pages
    (where one or two items are too few to be recognised): ``ul.list > li``.  None when
    the container has no id or class to tell it from other lists."""
    node, item = li.container, li.items[0] if li.items else None
    ident = (node.attributes.get("id") or "").strip()
    classes = (node.attributes.get("class") or "").split()
    if item is None or not (ident or classes) or not _PLAIN_NAME.fullmatch(ident or "x") \
            or not all(_PLAIN_NAME.fullmatch(c) for c in classes):
        return None
    where = f"#{ident}" if ident else "." + ".".join(classes)
    return f"{node.tag}{where} > {item.tag}"


def text_of(listings: Sequence[Listing]) -> str:
    """The text of a column page: its items' ``title | date`` lines."""
    return "\n".join(line for li in listings for line in li.lines)


def count_items(text: str) -> int:
    """How many lines of a stored text are listing items (``title | date``)."""
    if SEPARATOR not in text:  # an article's text, most often: no line is an item
        return 0
    return sum(1 for line in text.splitlines() if SEPARATOR in line and item_title(line) != line)


def listed_items(text: str) -> int:
    """The items of a column page's text; 0 for any other text (an article with a dated
    table is not a column: most of its lines are not items)."""
    items = count_items(text)
    if not items:
        return 0
    lines = [line for line in text.splitlines() if line.strip()]
    return items if lines and items >= LISTING_TEXT_SHARE * len(lines) else 0


def column_items(text: str) -> dict[str, str] | None:
    """{title: date} of a column page's text, in order, its undated items' date ""; None
    for any other text.  A column whose items are mostly dated may list an undated one
    (``document_line``: its title alone): one such line must not turn the column into
    an article (its changes then read 第2-3段新增 instead of 新增「…」).  So the text is a
    column's when ``listed_items`` says so, or when at least half its lines are dated
    items and every other line is ``_undated_title``-like: one short title, no sentence."""
    dated = count_items(text)
    if not dated:  # an article's text, most often: its lines are not cut
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    rest = [line for line in lines if item_title(line) == line]
    if dated < LISTING_TEXT_SHARE * len(lines) and (
            2 * dated < len(lines) or not all(map(_undated_title, rest))):
        return None
    out: dict[str, str] = {}
    for line in lines:
        title = item_title(line)
        out.setdefault(title, line[len(title) + len(SEPARATOR):].strip() if title != line
                       else "")
    return out


_UNDATED_TITLE_MAX = 80  # characters of an undated item's title (a reply's is ~30)
_SENTENCE_MARKS = lazyre.compile("[。！？；;]")


def _undated_title(line: str) -> bool:
    """An undated document line (a link's title), not prose nor a heading run together."""
    return (_MIN_TITLE <= len(line) <= _UNDATED_TITLE_MAX
            and not _SENTENCE_MARKS.search(line))


def _article_wins(article: Sequence[LexborNode], best: Listing) -> bool:
    if any(_contains(a, best.container) for a in article):
        return True
    chars, sentences = 0.0, 0
    for block in article:
        text = prose(block, skip={best.container.mem_id})
        chrome = _in_chrome(block)
        chars += len(text) * (_CHROME_FACTOR if chrome else 1.0)
        sentences += 0 if chrome else len(_SENTENCE_END.findall(text))
    return (chars >= _ARTICLE_PROSE or sentences >= _ARTICLE_SENTENCES
            or _OUTWEIGH * chars >= best.score)


def find_listings(body: LexborNode, column: bool = False) -> list[Listing]:
    """Every listing under ``body``, in document order (``column``: on a listing
    source's page, where one list element is enough)."""
    found = []
    for node in body.traverse():
        if node.is_element_node and (listing := _listing(node)) is not None:
            found.append(listing)
    if column and all(li.chrome for li in found):  # a side bar's list is not the column's
        few = [li for node in body.traverse() if node.is_element_node
               and (li := _listing(node, 1)) is not None and not li.chrome]
        found = few or found
    return found


def _listing(node: LexborNode, least: int = MIN_ITEMS) -> Listing | None:
    groups: dict[str, list[LexborNode]] = {}
    for child in node.iter():
        groups.setdefault(child.tag or "", []).append(child)
    best: list[tuple[LexborNode, str]] = []
    for tag, children in groups.items():
        if len(children) < least or (least < MIN_ITEMS and tag not in _LIST_ITEMS):
            continue
        items = [(c, line) for c in children if (line := item_line(c))]
        if len(items) >= max(least, _ITEM_SHARE * len(children)) and len(items) > len(best):
            best = items
    if not best:
        return None
    return Listing(node, tuple(line for _, line in best), _in_chrome(node),
                   tuple(c for c, _ in best))


def item_line(node: LexborNode) -> str | None:
    """"title | date" of a list item, or None if ``node`` is not one."""
    links = node.css("a")
    if not links or len(links) > _MAX_LINKS:
        return None
    title = max((flat_text(a) for a in links), key=len)
    rest = flat_text(node).replace(title, " ", 1)
    if len(title) < _MIN_TITLE and not _short_title(title, rest):
        return None
    dates = DATE.findall(rest)
    if dates:
        return f"{title}{SEPARATOR}{normalize_line(dates[-1])}"
    tail = _date_at_end(title)
    if tail is not None and len(tail[0]) >= _MIN_TITLE:
        return f"{tail[0]}{SEPARATOR}{tail[1]}"
    return None


def _short_title(title: str, rest: str) -> bool:
    """Whether a link of fewer than ``_MIN_TITLE`` characters is an item's title: two or
    three Chinese characters (新答复, 第1期 is not), no generic link word (详情, 更多…),
    and the item's text besides it and its dates shorter than it, so the link is the
    item's words and not a category tag or a "详情" beside a title in plain text."""
    if len(title) < _SHORT_TITLE or not _ALL_CJK.fullmatch(title) or title in _LINK_WORDS:
        return False
    return len("".join(DATE.sub("", rest).split())) < len(title)


_SHORT_TITLE = 2
_ALL_CJK = lazyre.compile(r"[\u4e00-\u9fff]+")
# Link texts that are never a document's title: they stand beside one.
_LINK_WORDS = frozenset({
    "详情", "详细", "更多", "查看", "全文", "原文", "下载", "附件", "阅读", "进入", "点击",
    "打开", "链接", "浏览", "预览", "详细信息", "查看详情", "阅读全文", "点击查看", "点击下载",
})


def _date_at_end(title: str) -> tuple[str, str] | None:
    matches = list(DATE.finditer(title))
    if not matches or matches[-1].end() != len(title):
        return None
    last = matches[-1]
    return normalize_line(title[:last.start()]), normalize_line(last.group())


def flat_text(node: LexborNode) -> str:
    """The visible text of ``node`` on one line, inline pieces joined as they are."""
    return normalize_line(" ".join((node.text(separator="") or "").split()))


def _in_chrome(node: LexborNode) -> bool:
    current: LexborNode | None = node
    while current is not None and current.tag not in ("body", "html", "-document"):
        name = f"{current.attributes.get('class') or ''} {current.attributes.get('id') or ''}"
        if current.tag in _CHROME_TAGS or _CHROME_NAME.search(name):
            return True
        current = current.parent
    return False


def _contains(outer: LexborNode, inner: LexborNode) -> bool:
    current: LexborNode | None = inner
    while current is not None:
        if current.mem_id == outer.mem_id:
            return True
        current = current.parent
    return False


def prose(block: LexborNode, skip: set[int]) -> str:
    """Visible text of ``block`` outside links and the ``skip`` subtrees, without spaces."""
    out: list[str] = []
    stack: list[tuple[LexborNode, bool]] = [(block, False)]
    while stack:
        node, in_link = stack.pop()
        if node.is_text_node:
            out.append("" if in_link else "".join((node.text_content or "").split()))
        elif node.mem_id not in skip:
            inside = in_link or node.tag == "a"
            children = list(node.iter(include_text=True))
            stack.extend((child, inside) for child in reversed(children))
    return "".join(out)


def item_title(line: str) -> str:
    """The title of a ``title | date`` item line; any other line as it is."""
    title, sep, date = line.rpartition(SEPARATOR)
    return title if sep and title and DATE.fullmatch(date.strip()) else line
