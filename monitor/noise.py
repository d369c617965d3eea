"""Built-in noise rules for Chinese government CMS pages.

Noise is what changes on a page without the page changing: view counters, today's date,
session tokens, the titles in the prev/next links, toolbars and share bars.  The rules
are data (selectors, regexes) plus the two small functions that apply them:

* ``drop_non_content`` and ``remove_dom_noise`` drop elements before the text is
  built.  Fuzzy selectors such as ``[class*=share]`` only remove an element whose text
  is short (and, for most rules, says what the widget says), so an article container
  that happens to be called ``share-content`` is never removed.  A small element whose
  whole text is a widget for the text rules ("点击：<span>123</span>") goes too: only
  the tree still knows where a byline field ends.
  The rules' ``[class*=…]``/``[id*=…]`` selectors are not run as queries: the
  elements with a class or an id are read once and tested with the same substring
  tests (``_Named``), which finds the same elements in the same order; and hidden
  elements are looked for among those whose style names "none" or "hidden"
  (``_MAYBE_HIDDEN``), not among every styled one.  The ``text()`` each widget holder
  is read for is kept for the content's layout and the metadata, which read the same
  paragraphs again (``remove_dom_noise``'s ``texts``); an element's is dropped when
  anything inside it is removed (``_forget``).
* ``strip_text_noise`` removes noise from one normalized line (single spaces, no space
  between CJK characters).  A rule needs the widget's exact shape: a counter is a label
  *and* digits or an empty value ("点击：123", "点击：" at the end of a byline), so a
  sentence that merely mentions 阅读 or 访问 stays.  Without a colon a count after a
  verb (阅读, 浏览, 点击, 访问, 查看: "阅读 45") is a counter only on a byline, a line
  with a field such as "发布时间：" or "来源：", or alone on its line ("第三章 阅读 45"
  is a table's, "每天阅读 30 分钟" a sentence's).  A counter told in words is one too:
  "本文已被浏览 100 次", "本页已被访问123次" (被 and the count's 次) and "已有 45 人阅读"
  (已有/共有 and 人 or 次 before the verb), starting at a subject that opens a widget
  (本文, 本页, 该文…) or outside a word, so "该平台已被访问123次" in a sentence is not
  a widget's start; like any counter, it is noise only in a byline's place (below): "本文已
  被浏览 100 次" as the article's last line goes, amid the paragraphs it stays.
  A counter is noise only where a byline is (``strip_lines``, which sees a line's
  neighbours): on a line with a byline field (发布时间：, 来源：, 发布机构：…) or a date,
  or alone on its line (other widgets aside) as the text's first or last line, under
  its heading or next to a byline or a widget line.  Elsewhere it is the page's data:
  a 政府信息公开工作年度报告's "访问量：2345678次" between two paragraphs, a table
  row's "浏览量： | 9901234" (its value in the next cell), a sentence's
  "访问量：1234567次，同比增长12%。" (a line with more than widgets keeps its counters
  as such a row or a sentence; a byline is a line with a field, or a short dated line
  without a sentence's 。).  On the tree, a counter alone in a table cell, or in a
  block (p, div, li…) whose neighbours are no byline, heading or empty element, is
  left to the lines.  A line that is only a date with
  its weekday ("2026年11月22日 星期日") is a clock widget; a 落款 date has no weekday.
  A label of the current time followed by the full date (year, month, day), maybe a
  weekday, a time of day and a lunar date (农历十月廿八), ending the line or before a
  separator or the next byline field, is a live clock: "当前时间：2026年12月7日 02:40:05"
  (现在时间, 系统时间, 当前日期 too); a time without the date is one too
  ("系统时间：10:15:33", "当前时间 10:15": these labels name no document's time).
  It starts where a widget does, after a sentence's punctuation ("您好，欢迎访问！
  当前时间：…") or anywhere on a line that opens with a greeting (您好, 欢迎…:
  "欢迎访问本网站 当前时间：…", whose space normalization takes).
  北京时间 also opens news sentences ("北京时间12月7日10时，…"), so it is a clock only
  with an "hh:mm" time; and as a notice gives an event's time to the minute
  ("北京时间：2027-01-15 14:00", a postponed meeting's new opening), away from a greeting
  it needs what a clock widget shows and a notice does not: the seconds, a weekday or
  the lunar date; without a date, the seconds ("北京时间：10:15:33" goes, "北京时间
  14:00" stays).  (A rule by the fetch time — a clock shows the moment the page was
  served — would need the version's own fetch time in every re-read of a stored body,
  through extract and normalize; the form of the line decides alone.)  A field naming
  the document's own time (发布时间, 成文日期, 更新时间) is real and never a clock, nor
  is a clock the value of a time field
  ("发布时间：北京时间2026-12-07 10:00", "报名截止：北京时间…").  Where a widget was
  cut, the "|" separators it leaves at an edge of the line or doubled ("来源：本厅 |
  浏览次数：12" → "来源：本厅") go too; a version's identity (``monitor.canon``) never
  counted empty cells, so this changes no stored page's identity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache

from selectolax.lexbor import LexborNode

from monitor import lazyre
from monitor.spacing import _INVISIBLE, normalize_line

# --- DOM level -------------------------------------------------------------------------

# Never text a reader sees as content.  ``input`` covers the hidden fields that carry
# per-request tokens (__VIEWSTATE, portalJsessionId...).
ALWAYS_DROP = (
    "script", "style", "noscript", "template", "iframe", "frame", "frameset", "object",
    "embed", "applet", "svg", "canvas", "audio", "video", "map", "select", "button",
    "textarea", "input", "link", "meta", "base",
)

_HIDDEN_STYLE = lazyre.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_WIDGET_HOLDERS = "span, em, font, b, i, strong, label, small, a, li, p, div, dd, dt"
_WIDGET_MAX = 60
_INLINE_TAGS = frozenset({"span", "em", "font", "b", "i", "strong", "label", "small", "a",
                          "div", "p", "ins", "u"})


@dataclass(frozen=True)
class DomRule:
    label: str  # what the note calls it
    selector: str
    max_chars: int  # an element with more text than this is never removed by the rule
    text: re.Pattern[str] | None = None  # the element's text must match (search)
    tags: frozenset[str] | None = None  # only these tags (None: any)


def _attr_contains(*words: str) -> str:
    return ", ".join(f'[{a}*="{w}"]' for w in words for a in ("class", "id"))


DOM_RULES: tuple[DomRule, ...] = (
    DomRule("share bar", _attr_contains("share", "fenxiang") + ", .jiathis_style", 60),
    DomRule("toolbar", _attr_contains("print", "fontsize", "font-size", "zihao"), 60,
            lazyre.compile(r"打印|关闭|字体|字号|[大中小]")),
    DomRule("breadcrumb",
            _attr_contains("crumb", "position", "location", "weizhi", "dqwz", "curpos",
                           "current", "path"), 200,
            lazyre.compile(r"当前位置|您的位置|现在的位置|所在位置|首页|>|»|＞|›")),
    DomRule("prev/next links",
            _attr_contains("prev", "next", "sxp", "sxt", "fanye", "pre_next", "page-turn"),
            300, lazyre.compile(r"上一篇|下一篇|上一条|下一条")),
    DomRule("view counter",
            _attr_contains("hits", "click", "count", "visit", "views", "read", "llcs",
                           "djl", "fwl", "liulan"), 20,
            lazyre.compile(r"^\s*\d[\d,，]*\s*$"), _INLINE_TAGS),
    DomRule("date widget", _attr_contains("today", "riqi", "weather", "tianqi"), 80),
    DomRule("vote widget", _attr_contains("vote", "digg", "pingjia", "dianzan"), 60,
            lazyre.compile(r"支持|反对|[顶踩赞]")),
)


def drop_non_content(root: LexborNode) -> list[str]:
    """Drop ``ALWAYS_DROP`` elements under ``root``; note the hidden fields among them."""
    names = [name for n in root.css('input[type="hidden" i]')
             if (name := n.attributes.get("name") or n.attributes.get("id"))]
    # the elements named, told by tag name in one walk (``traverse``): lexbor's query of
    # the list tests each element against each of its 22 names
    drop = _always_drop()
    for node in outermost([n for n in root.traverse() if n.tag in drop]):
        node.decompose()
    return [f"hidden fields: {_sample(names)}"] if names else []


@lru_cache(maxsize=1)
def _always_drop() -> frozenset[str]:
    return frozenset(ALWAYS_DROP)


def _sample(items: list[str], limit: int = 5) -> str:
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def remove_dom_noise(root: LexborNode, protected: Collection[int] = (),
                     chosen: Collection[int] = (),
                     texts: dict[int, str] | None = None) -> list[str]:
    """Drop hidden elements and widgets under ``root``; return notes of what went.

    ``protected`` holds ``mem_id``s (the user's content matches and their ancestors)
    that must survive whatever a fuzzy rule thinks of them; hidden elements inside the
    ``chosen`` ones (the matches) stay too: the user picked that box as it is, closed
    tabs and all.  ``texts``, when given, is filled with the ``text()`` of the elements
    read on the way (by ``mem_id``) that are still as they were read when this returns:
    an element whose descendant was removed is left out (``_forget``).  Layout and
    metadata read the same paragraphs again (``monitor.extract.html``).
    """
    if texts is None:
        texts = {}
    notes = _remove_hidden(root, protected, chosen) + \
        _remove_text_widgets(root, protected, texts)
    named = _Named(root, texts)
    for rule in DOM_RULES:
        for node in outermost(named.matches(rule.selector)):
            text = _short_text(node)
            if node.mem_id in protected or not _rule_accepts(rule, node, text):
                continue
            notes.append(f"{rule.label}: {text[:40]}" if text else rule.label)
            named.drop(node)
    return notes


class _Named:
    """The elements with a class or an id, read once, standing in for one selector query
    per ``DOM_RULES`` rule: a query of ``[class*=…]`` selectors tests every element of
    the page against each, and costs far more than reading the few attributes once.

    ``matches`` gives what ``root.css(selector)`` gives, in its order, with its
    duplicates (lexbor lists an element once for each part of the selector it matches:
    after the first is removed, the others are read empty, and note the bare rule), minus
    the elements removed since (``drop``).  ``[class*="w"]`` and ``[id*="w"]`` are
    case-sensitive substring tests; another part (``.jiathis_style``, case-insensitive
    in a quirks-mode page) is left to lexbor whenever an element may match it.
    """

    def __init__(self, root: LexborNode, texts: dict[int, str]) -> None:
        self.root = root
        self.texts = texts
        self.gone: set[int] = set()
        self.named: list[tuple[LexborNode, str, str]] = []
        seen: set[int] = set()
        for node in root.css("[class], [id]"):  # one with both is listed twice
            if node.mem_id not in seen:
                seen.add(node.mem_id)
                attrs = node.attributes
                self.named.append((node, attrs.get("class") or "", attrs.get("id") or ""))
        # the elements a word of any rule is in: the only ones a rule may match
        hit = _any_rule_word().search
        self.hits = [(n, c, i) for n, c, i in self.named if hit(c) or hit(i)]

    def matches(self, selector: str) -> list[LexborNode]:
        words, other = _selector_parts(selector)
        if other and any(self._may_match(part) for part in other):
            return self.root.css(selector)
        out = []
        for node, cls, ident in self.hits:
            if node.mem_id in self.gone:
                continue
            found = sum(w in (cls if attr == "class" else ident) for attr, w in words)
            out += [node] * found
        return out

    def _may_match(self, part: str) -> bool:
        if not part.startswith(".") or not part[1:].replace("_", "").replace("-", "").isalnum():
            return True
        name = part[1:].lower()
        return any(name in cls.lower() for _, cls, _ in self.named)

    def drop(self, node: LexborNode) -> None:
        """Decompose ``node``: it and the named elements inside it match nothing now."""
        self.gone.add(node.mem_id)
        self.gone.update(n.mem_id for n in node.css("[class], [id]"))
        _forget(self.texts, node)
        node.decompose()


@lru_cache(maxsize=1)
def _any_rule_word() -> re.Pattern[str]:
    return re.compile("|".join(re.escape(w) for rule in DOM_RULES
                               for _, w in _selector_parts(rule.selector)[0]))


@lru_cache(maxsize=64)
def _selector_parts(selector: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """The ``[class*="w"]``/``[id*="w"]`` parts of a selector list as (attribute, word),
    and its other parts."""
    words, other = [], []
    for part in selector.split(", "):
        for attr in ("class", "id"):
            head = f'[{attr}*="'
            if part.startswith(head) and part.endswith('"]') and '"' not in part[len(head):-2]:
                words.append((attr, part[len(head):-2]))
                break
        else:
            other.append(part)
    return tuple(words), tuple(other)


def _remove_text_widgets(root: LexborNode, protected: Collection[int],
                         texts: dict[int, str]) -> list[str]:
    """Drop small elements whose whole text is a widget ("点击：<span>123</span>").

    Done on the tree because the text rules cannot see element boundaries: once
    "来源：本厅</span> <span>点击：" is a line, the gap between 厅 and 点击 is closed.
    """
    found: dict[int, list[str]] = {}
    nodes = []
    long: set[int] = set()  # holders around one with too many characters to be a widget
    may_be_widget = _widget_words()
    for node in reversed(_widget_holders(root)):  # innermost first, see _mark_long
        key = node.mem_id
        if key in protected or key in long:
            continue
        plain = texts[key] = node.text()
        # more visible characters than a widget has (counted in a prefix: a sure "yes"),
        # and its _short_text keeps them all: too long, and so are its holders
        if len(plain) > _WIDGET_MAX and \
                len("".join(plain[:4 * _WIDGET_MAX].split())) > _WIDGET_MAX:
            parent = node.parent  # marked already by a sibling: most paragraphs
            if parent is not None and parent.mem_id not in long:
                _mark_long(node, long)
            continue
        if not may_be_widget(plain):
            continue
        text = _short_text(node)
        if not text or len(text) > _WIDGET_MAX:
            continue
        rest, hits = _apply_text_rules(normalize_line(text))
        if hits and not rest.strip():
            found[node.mem_id] = hits
            nodes.append(node)
    nodes.reverse()  # document order, as the notes are told
    # counters alone in a block or in a table cell: the text's lines tell whether they
    # are a byline's (strip_lines), and nothing inside them goes either
    kept = {n.mem_id for n in nodes if _counters_left_to_lines(n, found[n.mem_id])}
    notes = []
    for node in outermost(nodes):
        if node.mem_id in kept or (kept and _inside(node, kept)):
            continue
        notes += found[node.mem_id]
        _forget(texts, node)
        node.decompose()
    return notes


def _forget(texts: dict[int, str], node: LexborNode) -> None:
    """Drop from ``texts`` what no longer is the text of its element once ``node`` goes:
    its own and its ancestors'.  (The ``mem_id``s of the elements inside it stay, never
    asked again: no element is made in this tree after noise removal, so none gets
    the address of a removed one.)"""
    if texts:
        texts.pop(node.mem_id, None)
        for a in ancestors(node):
            texts.pop(a.mem_id, None)


_LINE_HOLDERS = frozenset({"p", "div", "li", "dd", "dt"})  # a holder that is its own line
_CELLS = frozenset({"td", "th"})


def _counters_left_to_lines(node: LexborNode, notes: list[str]) -> bool:
    """Whether a widget found on the tree is only view counters in a table cell, or in a
    block of its own amid the text (not in a byline's place, ``_byline_place``): whether
    they are noise depends on the lines around them, which ``strip_lines`` sees."""
    if not all(n.startswith(_COUNTER_NOTE) for n in notes):
        return False
    if any(a.tag in _CELLS for a in ancestors(node)):
        return True
    return node.tag in _LINE_HOLDERS and not _byline_place(node)


_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def _byline_place(node: LexborNode) -> bool:
    """Whether a block is where a byline is: first or last in its parent, or next to a
    heading, a byline (a field or a date) or an element without text (icons)."""
    for sibling in (_element_sibling(node, "prev"), _element_sibling(node, "next")):
        if sibling is None or sibling.tag in _HEADINGS:
            return True
        text = sibling.text()[:300]
        if not text.strip() or _is_byline(text.strip()):
            return True
    return False


def _element_sibling(node: LexborNode, side: str) -> LexborNode | None:
    """The element before (``side`` "prev") or after ``node``, skipping blank text and
    comments; None at the edge of its parent or past a text of its own."""
    sibling = getattr(node, side)
    while sibling is not None:
        if sibling.tag == "-comment" or (sibling.tag == "-text" and not sibling.text().strip()):
            sibling = getattr(sibling, side)
            continue
        return sibling
    return None


def _widget_holders(root: LexborNode) -> list[LexborNode]:
    """``root.css(_WIDGET_HOLDERS)``, told by tag name: one walk of every node (lexbor's
    ``traverse``, the elements in document order with ``root`` first, as ``css("*")``
    lists them, and the comments, which no name matches) costs less than lexbor testing
    each element against each name of the list, or against ``*``."""
    tags = _holder_tags()
    return [n for n in root.traverse() if n.tag in tags]


@lru_cache(maxsize=1)
def _holder_tags() -> frozenset[str]:
    return frozenset(_WIDGET_HOLDERS.split(", "))


def outermost(nodes: list[LexborNode]) -> list[LexborNode]:
    """``nodes`` without those inside another one: decomposing both would free twice."""
    ids = {n.mem_id for n in nodes}
    return [n for n in nodes if not _inside(n, ids)]


def _inside(node: LexborNode, ids: set[int]) -> bool:
    """Whether an ancestor of ``node`` is one of ``ids`` (up to the document node)."""
    parent = node.parent
    while parent is not None:
        if parent.mem_id in ids:
            return True
        parent = parent.parent
    return False


def ancestors(node: LexborNode) -> list[LexborNode]:
    """Parent, grandparent... up to and including the document node."""
    out = []
    parent = node.parent
    while parent is not None:
        out.append(parent)
        parent = parent.parent
    return out


def _rule_accepts(rule: DomRule, node: LexborNode, text: str) -> bool:
    if rule.tags is not None and node.tag not in rule.tags:
        return False
    if len(text) > rule.max_chars:
        return False
    return rule.text is None or bool(rule.text.search(text))


def _remove_hidden(root: LexborNode, protected: Collection[int],
                   chosen: Collection[int]) -> list[str]:
    # Readers never see these, and they are where counters, tokens and duplicate titles
    # hide (a hidden "0" comment count, a hidden copy of the title for sharing).
    texts = []
    hidden = [n for n in _unique(root.css(_MAYBE_HIDDEN))
              if "hidden" in n.attributes
              or _HIDDEN_STYLE.search(n.attributes.get("style") or "")]
    for node in outermost(hidden):
        if node.mem_id in protected or any(a.mem_id in chosen for a in ancestors(node)):
            continue
        if text := _short_text(node):
            texts.append(text[:20])
        node.decompose()
    return [f"hidden elements: {_sample(texts, 3)}"] if texts else []


# What _HIDDEN_STYLE may match, told by lexbor: a style with "none" or "hidden" in any
# case; a page styles most of its elements, and few are hidden.  The only other letters
# re.IGNORECASE takes for those of "none" and "hidden" are the dotted and the dotless i
# (İ, ı) for "hidden"'s i, so a match holds "none" or "dden" in ASCII's cases: one part
# each (every part of a selector list is a test of every element).
_MAYBE_HIDDEN = '[hidden], [style*="none" i], [style*="dden" i]'


def _unique(nodes: list[LexborNode]) -> list[LexborNode]:
    """``nodes`` without the repeats lexbor lists for an element matching two parts of a
    selector list."""
    seen: set[int] = set()
    return [n for n in nodes if n.mem_id not in seen and not seen.add(n.mem_id)]


def _mark_long(node: LexborNode, long: set[int]) -> None:
    """Adds the ancestors of a holder too long to be a widget to ``long``: their text
    holds its characters, so they are too long as well, and their text (for the boxes
    around the article, all of it) is never read.  Holders are visited innermost first, so a
    walk stops at an ancestor that an earlier one marked."""
    parent = node.parent
    while parent is not None and parent.mem_id not in long:
        long.add(parent.mem_id)
        parent = parent.parent


def _short_text(node: LexborNode) -> str:
    return " ".join(node.text(separator=" ").split())


def _widget_words() -> Callable[[str], object]:
    """The test a holder whose plain text (``node.text()``) is ``plain`` must pass to be
    a widget, told cheaply (most holders are paragraphs and the boxes around the
    article, or nav links without a rule's word): a search, called in the loop without
    a function of its own around it, as a page has hundreds of holders.
    ``_short_text`` only adds spaces between text nodes and turns runs of them into one;
    ``normalize_line`` then deletes invisible characters and spaces.  So a rule's word in
    the normalized line is in ``plain`` with at most spaces and invisible characters
    between its letters; without one no rule matches (every rule has its words)."""
    if not _EVERY_RULE_HAS_NEEDLES:
        return lambda plain: True
    return _ANY_SPACED_NEEDLE.search


# --- text level ------------------------------------------------------------------------

_COUNT = r"\d[\d,，]*(?:\s*(?:次|人次))?"
# Words that follow a widget in a byline; a widget ends before one of them.
_FOLLOW = (r"字体|字号|发布|来源|作者|编辑|责任编辑|审核|日期|时间|打印|关闭|分享|收藏|"
           r"返回|扫一扫|上一篇|下一篇|点击|浏览|阅读|访问|【")
# A widget starts at the line start or after a separator, never inside a sentence.
_START = r"(?<![^\s|｜/【】\[\]()（）:：])"
# "请点击：" is an instruction, "2020-09-24点击：" a counter.
_NOT_IN_WORD = r"(?<![\u4e00-\u9fff])"
_END = rf"(?=$|[\s|｜/【】\[\]()（）,，;；、·]|{_FOLLOW})"
_PREFIX = r"(?:总|今日|本日|昨日|累计|本文|本页|文章|页面)?"
_NOUNS = (r"点击次数|点击数|点击量|点击率|浏览次数|浏览人次|浏览人数|浏览量|浏览数|阅读次数|阅读数|"
          r"阅读量|访问次数|访问人次|访问人数|访问量|访问数|查看次数|人气")
_VERBS = r"点击|浏览|阅读|访问|查看"
# A counter told as a sentence of its own: "本文已被浏览 100 次", "本页已被访问123次",
# "已有 45 人阅读".  Its subject (本文, 本页…) opens a widget, else it starts outside a
# word; 被 or 已有/共有 and the count's 次/人 are what no byline field has.
_SUBJECT = r"(?:本文|本页|本篇|本条|本信息|该文|此文|此页|文章|页面|信息)"
_PASSIVE = (rf"(?:{_SUBJECT}|{_NOT_IN_WORD})[【\[(（]?(?:{_SUBJECT})?"
            rf"(?:(?:已经?|共)?被(?:{_VERBS})过?\s*\d[\d,，]*\s*(?:次|人次)"
            rf"|(?:已有|共有|共)\s*\d[\d,，]*\s*(?:人次|人|次)(?:{_VERBS})过?)[】\])）]?")
_WEATHER = (r"(?:\s*[\u4e00-\u9fff]{0,8}\s*(?:晴|多云|阴|阵雨|雷阵雨|小雨|中雨|大雨|暴雨|雨夹雪|"
            r"小雪|中雪|大雪|雾|霾|沙尘)\S*?\s*-?\d{1,2}\s*(?:℃|°C|度)"
            r"(?:\s*[~～/至-]\s*-?\d{1,2}\s*(?:℃|°C|度))?)?")
_WEEKDAY = r"(?:星期|礼拜|周)[一二三四五六日天]"
_DATE = r"\d{4}\s*[年/.-]\s*\d{1,2}\s*[月/.-]\s*\d{1,2}\s*日?"
_CLOCK = r"(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?"
_TIME = r"\s*\d{1,2}[:：]\d{2}(?:[:：]\d{2})?"
# Where a clock widget ends: the line's end, a separator or the next byline field.
_CLOCK_END = rf"(?=\s*(?:$|[|｜/【\[(（]|{_FOLLOW}))"
# Where a clock starts: as a widget does, or after a sentence's punctuation ("您好，欢迎
# 访问！当前时间：…"); never as the value of a time field ("发布时间：北京时间…",
# "报名截止：北京时间…").
_CLOCK_START = (r"(?<![^\s|｜/【】\[\]()（）:：！。，；!;,])"
                + "".join(f"(?<!{w}[:：])(?<!{w}[:：]\\s)" for w in
                          ("时间", "日期", "时限", "时刻", "时段", "截止", "截至", "期限", "开始",
                           "结束", "起止")))
# A line that opens with a greeting: a clock may follow anything on it ("欢迎访问本网站
# 当前时间：…", the space gone: monitor.spacing).
_GREETING_LINE = r"^\s*(?:您好|你好|欢迎|尊敬的)"
# 农历十月廿八, 农历丙午年十月廿八, 农历闰四月初一.
_LUNAR = (r"(?:\s*农历\s*(?:[甲乙丙丁戊己庚辛壬癸][子丑寅卯辰巳午未申酉戌亥]"
          r"[鼠牛虎兔龙蛇马羊猴鸡狗猪]?年)?"
          r"闰?(?:正|十[一二]|[一二三四五六七八九十]|冬|腊)月"
          r"(?:初[一二三四五六七八九十]|十[一二三四五六七八九]|二十|廿[一二三四五六七八九]|三十))?")
# A byline line, where a count after 阅读/浏览… without a colon is a counter: a field of
# it ("发布时间：", "来源：") or the counter alone ("阅读 45").
_BYLINE_FIELDS = r"发布|来源|作者|编辑|审核|日期|时间|发表|更新|撰稿|供稿|摄影|字号|字体"
_BYLINE_LINE = (rf"(?:{_BYLINE_FIELDS})\s*[:：]"
                rf"|^\s*[【\[(（]?{_PREFIX}(?:{_NOUNS}|{_VERBS})\s*[:：]?\s*{_COUNT}[】\])）]?\s*$")
_SIZES = r"(?:特大|超大|放大|缩小|正常|默认|标准|大|中|小|[Aa][+-]?)"
_PLATFORMS = r"微信朋友圈|朋友圈|微信|新浪微博|腾讯微博|微博|QQ空间|QQ好友|QQ|人人网|豆瓣|百度|更多"


@dataclass(frozen=True)
class TextRule:
    label: str
    pattern: re.Pattern[str]
    # A widget is replaced by a space (normalization closes the gap between CJK
    # characters); a token inside a URL by nothing.
    replacement: str = " "
    # Words one of which every match contains: a line without any is not tried (most
    # lines of a page hold none, and a substring test is far cheaper than the pattern).
    # Tested with ``in``, one word after the other: a line that gets here holds a word
    # of some rule (``_ANY_NEEDLE``), and the ~20 rules' tests are then ~20 scans of it;
    # a substring scan costs a fraction of a pattern's search (a test of each character
    # against the set of the pattern's first characters).
    needles: tuple[str, ...] = ()
    # What the line must hold for the rule to apply (a byline's field, a greeting).
    line: re.Pattern[str] | None = None

    def may_match(self, line: str) -> bool:
        if self.needles:
            for needle in self.needles:
                if needle in line:
                    break
            else:
                return False
        return self.line is None or self.line.search(line) is not None


def _rule(label: str, pattern: str, flags: int = 0, replacement: str = " ",
          needles: tuple[str, ...] = (), line: str | None = None) -> TextRule:
    return TextRule(label, lazyre.compile(pattern, flags), replacement, needles,
                    lazyre.compile(line) if line else None)


_NOW_LABELS = ("当前时间", "现在时间", "系统时间", "当前日期")


def _clocks(start: str, line: str | None = None) -> tuple[TextRule, ...]:
    """The live clocks starting at ``start``, on lines that hold ``line``: a label of the
    current time and the full date, maybe a time, weekday and lunar date; 北京时间 only
    with an hh:mm time (news sentences open with it)."""
    tail = rf"(?:\s*{_WEEKDAY})?{_LUNAR}(?:\s*{_WEEKDAY})?{_CLOCK_END}"
    beijing = _BEIJING_ANY if line else _BEIJING_TICKING
    return (
        _rule("clock", rf"{start}(?:{'|'.join(_NOW_LABELS)})\s*[:：]?\s*(?:{_DATE}"
                       rf"(?:\s*{_WEEKDAY})?(?:{_TIME})?|{_TIME}){tail}",
              needles=_NOW_LABELS, line=line),
        _rule("clock", rf"{start}北京时间\s*[:：]?\s*(?:{_DATE}{beijing}"
                       rf"|{_TIME if line else _SECONDS}){tail}",
              needles=("北京时间",), line=line),
    )


# 北京时间 and a time to the minute is also what a notice gives as an event's time (会议
# 开幕时间："北京时间：2027-01-15 14:00"): away from a greeting, a clock shows what ticks —
# the seconds — or what a clock widget adds to the date: a weekday or the lunar date.
_BEIJING_ANY = rf"(?:\s*{_WEEKDAY})?{_TIME}"
_SECONDS = r"\s*\d{1,2}[:：]\d{2}[:：]\d{2}"
_BEIJING_TICKING = (rf"(?:\s*{_WEEKDAY}{_TIME}|\s*\d{{1,2}}[:：]\d{{2}}[:：]\d{{2}}"
                    rf"|{_TIME}(?=\s*(?:{_WEEKDAY}|农历)))")


_COUNTER_WORDS = ("点击", "浏览", "阅读", "访问", "查看", "人气")  # how _NOUNS/_VERBS begin


TEXT_RULES: tuple[TextRule, ...] = (
    _rule("view counter", rf"[【\[(（]?{_PREFIX}(?:{_NOUNS}|{_VERBS})\s*[:：]\s*{_COUNT}"
                          rf"[】\])）]?{_END}", needles=_COUNTER_WORDS),
    _rule("view counter", rf"{_START}[【\[(（]?{_PREFIX}(?:{_NOUNS})\s*{_COUNT}[】\])）]?{_END}",
          needles=_COUNTER_WORDS),
    # A counter filled in by JavaScript is an empty value in the served page.
    _rule("view counter", rf"{_NOT_IN_WORD}[【\[(（]?{_PREFIX}(?:{_NOUNS}|点击)\s*[:：]\s*"
                          rf"[】\])）]?(?=\s*(?:$|[|｜/【\[(（]|{_FOLLOW}))",
          needles=_COUNTER_WORDS),
    # Without a colon a verb's count is a counter only on a byline ("发布时间：… 阅读 45")
    # or alone ("阅读 45"): "第三章 阅读 45" is a table's, "每天阅读 30 分钟" a sentence.
    _rule("view counter", rf"{_START}[【\[(（]?{_PREFIX}(?:{_VERBS})\s*{_COUNT}[】\])）]?{_END}",
          needles=_COUNTER_WORDS, line=_BYLINE_LINE),
    _rule("view counter", rf"{_PASSIVE}{_END}", needles=_COUNTER_WORDS),
    _rule("visitor counter", rf"您是(?:本站|本网站|本网|本页)?的?第\s*(?:{_COUNT})?\s*"
                             r"位(?:访问者|访客|浏览者|来访者)?", needles=("位",)),
    _rule("today's date", rf"今天是\s*[:：]?\s*{_DATE}(?:\s*{_WEEKDAY})?{_CLOCK}"
                          rf"(?:\s*农历\S+)?{_WEATHER}", needles=("今天是",)),
    _rule("today's date", rf"^{_DATE}\s*{_WEEKDAY}{_CLOCK}$", needles=("星期", "礼拜", "周")),
    *_clocks(_CLOCK_START),
    *_clocks("", line=_GREETING_LINE),
    _rule("font-size toolbar", rf"{_START}[【\[(（]?\s*(?:字体大小|文字大小|字体显示|字体|字号)"
                               rf"\s*[:：]?\s*[【\[(（]?\s*(?:{_SIZES}\s*[|｜/]?\s*){{2,}}"
                               rf"[】\])）]?\s*[】\])）]?{_END}",
          needles=("字体", "字号", "文字大小")),
    _rule("toolbar", r"[【\[]\s*(?:打印(?:本页|此页|文章|正文|本文|页面)?|关闭(?:窗口|本页|页面)?|"
                     r"(?:加入)?收藏(?:本页)?|返回顶部|返回|顶部|(?:我要)?纠错|保存|下载本页|"
                     r"分享)\s*[】\]]", needles=("【", "[")),
    _rule("toolbar", rf"{_START}(?:打印本页|打印此页|打印文章|打印正文|关闭窗口|关闭本页|加入收藏|"
                     r"收藏本页|返回顶部|设为首页|我要纠错|"
                     rf"扫一扫在手机上?(?:打开|查看|阅读)(?:当前页面?|本页|此页)?){_END}",
          needles=("打印", "关闭", "收藏", "返回顶部", "设为首页", "我要纠错", "扫一扫")),
    _rule("share bar", rf"{_START}分享(?:到|至)?\s*[:：]?(?<=[到至:：])"
                       rf"(?:\s*(?:{_PLATFORMS}|[|｜、,，]))*{_END}", needles=("分享",)),
    _rule("vote count", rf"{_START}(?:支持|赞成|赞|顶)\s*[:：]?\s*[(（\[]?\d+[)）\]]?\s*"
                        rf"(?:反对|踩)\s*[:：]?\s*[(（\[]?\d+[)）\]]?{_END}",
          needles=("反对", "踩")),
    _rule("prev/next link", rf"{_START}(?:上一篇|下一篇|上一条|下一条|上篇|下篇)\s*[:：].*$",
          needles=("上一", "下一", "上篇", "下篇")),
    _rule("breadcrumb", r"^(?:当前位置|您的位置|您现在的位置|您当前的位置|您当前位置|当前所在位置|"
                        r"您所在的位置|所在位置)\s*[:：].*$", needles=("位置",)),
    _rule("session token", r";jsessionid=[\w.!\-]+", re.IGNORECASE, "", needles=(";",)),
)

_NOT_COUNTERS = tuple(r for r in TEXT_RULES if r.label != "view counter")

# A line that is nothing but one of these is a widget (bare link texts of toolbars).
WIDGET_LINES = frozenset({
    "打印", "关闭", "打印本页", "关闭窗口", "加入收藏", "收藏", "返回顶部", "设为首页", "分享",
    "分享到", "纠错", "我要纠错", "上一篇", "下一篇", "返回", "顶部", "TOP", "Top", "top",
})
_BRACKETS = lazyre.compile(r"[【】\[\]]")
_EMPTY_PAIRS = lazyre.compile(r"【\s*】|\[\s*\]|（\s*）|\(\s*\)")
_ONLY_SEPARATORS = lazyre.compile(r"[\s|｜/\\·•\-—_,，.。;；:：、()（）\[\]【】<>《》«»›＞]*")
# A byline's "|" left at an edge of the line, or doubled, where a widget was cut.
_EDGE_BARS = lazyre.compile(r"^[\s|｜]*[|｜]\s*|\s*[|｜][\s|｜]*$")
_DOUBLED_BARS = lazyre.compile(r"([|｜])(?:\s+[|｜])+")


def strip_text_noise(line: str) -> tuple[str, list[str]]:
    """Remove built-in noise from one normalized line; return the rest and notes."""
    kept, notes = _strip_line(line)
    return kept, list(notes)


def strip_lines(lines: Iterable[str]) -> list[tuple[str, tuple[str, ...]]]:
    """``strip_text_noise`` of each line (its notes a tuple): one call for a text.  A
    view counter is cut only in a byline's place (``_counter_is_data``)."""
    lines = list(lines)
    out = [_strip_line(line) for line in lines]
    for i, (line, (_, notes)) in enumerate(zip(lines, out, strict=True)):
        if notes and any(n.startswith(_COUNTER_NOTE) for n in notes) \
                and _counter_is_data(i, lines, out):
            out[i] = _strip_line(line, counters=False)
    return out


_COUNTER_NOTE = "view counter:"
# A byline: a line with a byline's field ("发布时间：", "来源：", "发布机构："), or a short
# dated line that is no sentence ("2026-12-07 阅读 45"; "截至2025年12月31日，…。" is text).
_BYLINE_LABEL = lazyre.compile(rf"(?:{_BYLINE_FIELDS}|机构|机关|索引号|文号)\s*[:：]")
_DATED = lazyre.compile(_DATE)
_SENTENCE = lazyre.compile(r"[。！？；]")
_BYLINE_MAX = 60  # characters of a dated line that may be a byline


def _is_byline(line: str) -> bool:
    return _BYLINE_LABEL.search(line) is not None or (
        len(line) <= _BYLINE_MAX and _DATED.search(line) is not None
        and _SENTENCE.search(line) is None)


def _counter_is_data(i: int, lines: list[str], out: list[tuple[str, tuple[str, ...]]]) -> bool:
    """Whether the view counters of line ``i`` are the page's data, kept: a counter is
    noise on a byline (``_is_byline``: a byline's field, or a short dated line), or
    alone on its line (with other widgets maybe) where a byline is — the first or last
    line of the text, the line under its heading, next to a byline or a line of
    widgets.  Elsewhere it is a figure of the text: a report's "访问量：2345678次"
    between two paragraphs, a table row's "浏览量： | 9901234" (its value in the next
    cell), a sentence's "网站访问量：1234567次，同比增长12%。" (a line with more than
    widgets keeps its counters as a table row, cells joined by " | ", or a sentence)."""
    line = lines[i]
    if _BYLINE_LABEL.search(line):
        return False
    if out[i][0].strip():  # more than widgets on the line
        return " | " in line or _SENTENCE.search(line) is not None
    if i <= 1 or i == len(lines) - 1:
        return False
    return not any(_is_byline(lines[j]) or out[j][1] for j in (i - 1, i + 1))


@lru_cache(maxsize=8192)
def _strip_line(line: str, counters: bool = True) -> tuple[str, tuple[str, ...]]:
    """``strip_text_noise``, remembered: ``monitor.normalize`` strips every line again
    in each round until nothing changes (two rounds or more when anything is removed),
    and a page's unchanged lines come back at every check.  ``counters``: False keeps
    the view counters (``_counter_is_data``)."""
    if _BRACKETS.sub("", line).strip() in WIDGET_LINES:
        return "", (f"widget: {line}",)
    line, notes = _apply_text_rules(line, TEXT_RULES if counters else _NOT_COUNTERS)
    if notes:
        # What a removed widget leaves behind ("【】", a lone "|") is not content.
        line = _EMPTY_PAIRS.sub("", line)
        if _ONLY_SEPARATORS.fullmatch(line):
            line = ""
        elif "|" in line or "｜" in line:
            line = _DOUBLED_BARS.sub(r"\1", _EDGE_BARS.sub("", line))
    return line, tuple(notes)


# One search for all the rules' words: most lines hold none and are done at once.
_ANY_NEEDLE = lazyre.compile("|".join(re.escape(n) for rule in TEXT_RULES for n in rule.needles))
_EVERY_RULE_HAS_NEEDLES = all(rule.needles for rule in TEXT_RULES)
# The same words with any spaces or invisible characters between their letters.
_GAP = f"(?:\\s|{_INVISIBLE.pattern})*"
_ANY_SPACED_NEEDLE = lazyre.compile("|".join(
    _GAP.join(map(re.escape, n)) for rule in TEXT_RULES for n in rule.needles))


def _apply_text_rules(line: str, rules: tuple[TextRule, ...] = ()) -> tuple[str, list[str]]:
    notes: list[str] = []
    if _EVERY_RULE_HAS_NEEDLES and not _ANY_NEEDLE.search(line):
        return line, notes
    for rule in rules or TEXT_RULES:
        if not rule.may_match(line):
            continue
        line = rule.pattern.sub(lambda m, r=rule: _note(notes, r, m.group()), line)
    return line, notes


def _note(notes: list[str], rule: TextRule, matched: str) -> str:
    if matched.strip():
        notes.append(f"{rule.label}: {matched.strip()}")
    return rule.replacement
