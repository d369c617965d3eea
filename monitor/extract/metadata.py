"""The 信息公开 metadata of a page: 索引号, 发布机构, 发文日期, 文号...

Government CMS pages show these fields in a table (``th``/``td`` or ``td``/``td`` pairs,
two pairs to a row on gov.cn), in a list (``<li>索引号：…</li>``) or in a byline
("发表时间:2020-09-24").  Labels vary by site; each maps to one canonical key:

* 索引号
* 发布机构 — also 发文机关, 发文单位, 发布单位, 发布部门, 责任部门.  Not 来源: on news pages
  that is the outlet a story was copied from (新华社), not the body that issued it.
* 发文日期 — the date the document was issued or written: also 成文日期, 印发日期.
* 发布日期 — the date it was put online: also 发布时间, 发表时间, 公开日期, 生成日期.
  Kept apart from 发文日期 because gov.cn tables carry both and they differ (the 4626号
  reply: 成文 2006年10月18日, 发布 2018年12月24日).
* 文号 — also 发文字号, 文件编号; or, when no field says it, a line that is nothing but a
  document number, as at the top of a reply: 湘工信提案函〔2021〕254号.
* 主题分类 (also 分类), 有效性 (also 时效性), 标题 (also 名称, 文件名称).

The first non-empty value of a key wins (pages often repeat the table for print).
Values are whitespace-normalized and otherwise kept as written (dates too), but a value
ends where the next thing in its line starts (``settled``):

* at the next label with its colon: a field (``ALIASES``), a label that is not kept
  (``STOP_LABELS``: 来源, 责任编辑, 字体…) or a view counter or share widget
  (``COUNTER_LABELS``: 阅读次数, 浏览量…), so "发布时间：2021-06-24 阅读次数：98765次" is
  2021-06-24 and a counter that moves on every visit never reaches the metadata;
* at a view counter written without a colon when its count closes the value, in any
  field: "发布机构：某某厅 阅读量 57" is 某某厅, "省发展改革委 浏览次数 123次" 省发展改革委.
  Only with its count and only at the end: a title that ends in "…阅读量" keeps it;
* before an opening bracket it leaves at its end ("2021-06-24 【字体：大 中 小】");
* a date field's value is the date (and time) itself when it starts with one:
  "2021年06月24日 星期四", "2021-06-24 09:46 打印本页" are 2021年06月24日, 2021-06-24 09:46.

``monitor.canon`` compares values through ``settled`` too, so a value an earlier
release stored with a counter or a widget is the same value, not a change to tell.

The page is read element by element (``_walk``); an element read whole takes the text
``monitor.noise`` read of it when that is still its text (``extract_metadata``'s
``texts``), and a line is asked whether it is a bare label by set look-ups
(``_is_cell_label``), not by the ``_CELL_LABEL`` pattern it stands for.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor import lazyre
from monitor.extract.layout import holders, unwrap
from monitor.noise import outermost
from monitor.normalize import normalize_line

ALIASES: dict[str, tuple[str, ...]] = {
    "索引号": ("索引号", "信息索引号", "索取号"),
    "发布机构": ("发布机构", "发文机关", "发文单位", "发布单位", "发布部门", "发文部门",
                 "责任部门"),
    "发文日期": ("发文日期", "成文日期", "印发日期"),
    "发布日期": ("发布日期", "发布时间", "发表时间", "公开日期", "公开时间", "生成日期"),
    "文号": ("文号", "发文字号", "发文文号", "文件编号", "文件字号"),
    "主题分类": ("主题分类", "分类", "信息分类", "主题类别"),
    "有效性": ("有效性", "时效性", "效力状态"),
    "标题": ("标题", "名称", "文件名称", "信息名称"),
}
# Labels that are not kept but end the value before them ("责任编辑:科研处来源:").
STOP_LABELS = (
    "作者", "摄影", "责任编辑", "编辑", "来源", "信息来源", "审核", "点击", "点击数", "浏览次数",
    "访问量", "阅读", "字体", "字号", "主题词", "关键词", "体裁分类", "题裁分类", "公开方式",
    "公开范围", "组配分类", "服务对象", "实施日期", "废止日期", "有效期",
)
# View counters and share widgets: like STOP_LABELS, but not part of monitor.canon's labels
# (its canonical text of stored versions stays as it was).  The counter nouns are
# monitor.noise's (its _NOUNS; tests/test_extract.py keeps the two lists together).
COUNTER_LABELS = (
    "点击次数", "点击量", "点击率", "浏览人次", "浏览人数", "浏览量", "浏览数", "阅读次数",
    "阅读数", "阅读量", "访问次数", "访问人次", "访问人数", "访问数", "查看次数", "人气",
    "分享到",
)
_CANONICAL = {alias: key for key, aliases in ALIASES.items() for alias in aliases}
# A counter's label and its count closing a value, with no colon ("省发展改革委 浏览次数
# 123", "某某厅阅读量 57次"): the counters above and those among STOP_LABELS.
_COUNTER_NOUNS = sorted({*COUNTER_LABELS, "点击", "点击数", "浏览次数", "访问量", "阅读"}
                        - {"分享到"}, key=len, reverse=True)
_COUNT_AT_END = lazyre.compile(
    "(?:" + "|".join(_COUNTER_NOUNS) + r")\s*[:：]?\s*\d[\d,]*\s*(?:人次|次|人)?\s*$")
_COUNT_LEADS = frozenset(noun[0] for noun in _COUNTER_NOUNS)
# What a search may be limited to besides the metadata fields (storage.search).
SEARCH_FIELDS = ("text", "title", "attachment")


def search_field(name: str | None) -> str | None:
    """The field a search is limited to, by its canonical name (发文字号 → 文号); a name
    that is no field is bad input, never a search that silently finds nothing."""
    if not name or not name.strip():
        return None
    name = name.strip()
    if name in SEARCH_FIELDS:
        return name
    if name.replace(" ", "") in _CANONICAL:
        return _CANONICAL[name.replace(" ", "")]
    from monitor.errors import BadInputError

    known = "、".join([*SEARCH_FIELDS, *ALIASES])
    raise BadInputError(f"没有这个检索字段：{name!r}；可用的字段：{known}"
                        f"（unknown search field {name!r}）")
_LABELS = sorted({*_CANONICAL, *STOP_LABELS, *COUNTER_LABELS}, key=len, reverse=True)
_LABEL_ENDS = tuple(_LABELS)
# In running text a label needs a colon, and a short one must not sit inside a word
# ("组配分类：" is not "分类：").
FIELD = lazyre.compile(
    "(?:" + "|".join(label for label in _LABELS if len(label) >= 4)
    + "|(?<![\u4e00-\u9fff])(?:" + "|".join(label for label in _LABELS if len(label) < 4)
    + "))\\s*[:：]"
)
# A table cell may hold a bare label; a short one needs its colon there too, or the
# 名称/分类 column headings of a data table would read as fields.
_CELL_LABEL = lazyre.compile(
    "(?:(?:" + "|".join(label for label in _LABELS if len(label) >= 3) + ")\\s*[:：]?"
    + "|(?:" + "|".join(label for label in _LABELS if len(label) < 3) + ")\\s*[:：])"
)
_LONG_LABELS = frozenset(label for label in _LABELS if len(label) >= 3)
_ALL_LABELS = frozenset(_LABELS)


def _is_cell_label(line: str) -> bool:
    """``_CELL_LABEL.fullmatch(line)``, told by set look-ups: a whole line that is a label,
    maybe spaces (``\\s``: what ``str.rstrip`` strips) and a colon, which a short one
    needs.  Asked of every line of a page; the pattern tried its ~60 labels there."""
    if line.endswith((":", "：")):
        return line[:-1].rstrip() in _ALL_LABELS
    return line.rstrip() in _LONG_LABELS


# Any of the brackets search folds (〔〕 ［］ [] （） () 【】) and digits ASCII or full-width
# (武经信提案函［２０２１］１７号): \d is any decimal digit.
_DOC_NUMBER = lazyre.compile(
    r"[\u4e00-\u9fff]{2,14}\s*[〔\[［(（【]\s*(?:[1１][9９]|[2２][0０])\d{2}\s*[〕\]］)）】]"
    r"\s*\d{1,5}\s*号"
)
# A date field's value: the date, and the time when one follows.
_DATE_FIELDS = ("发文日期", "发布日期")
_DATE_VALUE = lazyre.compile(
    r"\d{4}\s*[年/.\-]\s*\d{1,2}\s*[月/.\-]\s*\d{1,2}(?:\s*日)?"
    r"(?:\s*\d{1,2}\s*[:：时]\s*\d{2}(?:\s*[:：分]\s*\d{2})?(?:\s*[分秒])?)?"
)
_OPENERS = "【[［(（〔「《"
# A short label standing bare in its cell is believed when its value has the field's own
# shape: 文号 | 湘工信提案函〔2021〕254号 is a document number, 文号 | 说明 a column heading.
_BARE_SHORT = {"文号": _DOC_NUMBER}
_MAX_VALUE = 200
_BLOCKS = frozenset({"p", "li", "dd", "dt", "div", "h1", "h2", "h3", "h4", "h5", "h6", "section",
                     "article", "center", "blockquote", "address", "table", "tbody", "thead",
                     "tfoot", "tr", "ul", "ol", "dl", "br", "header", "footer", "nav", "aside",
                     "main", "form", "pre", "hr"})
_BLOCK_SELECTOR = ", ".join(sorted(_BLOCKS))
_NOT_TEXT = ("script", "style", "noscript", "template", "textarea", "select")
_NOT_TEXT_SELECTOR = ", ".join(_NOT_TEXT)


def extract_metadata(source: LexborHTMLParser | LexborNode | str,
                     texts: dict[int, str] | None = None, *,
                     dropped: bool = False) -> dict[str, str]:
    """Canonical metadata fields found in a parsed page, an HTML string or plain text.
    ``texts``: the ``text()`` of elements of ``source`` already read, by ``mem_id``
    (``noise.remove_dom_noise`` reads most paragraphs), used instead of reading them
    again; not on a copy (other elements).  ``dropped``: ``noise.drop_non_content`` ran
    on ``source`` (``noise.ALWAYS_DROP`` names every element of ``_NOT_TEXT``), so it
    holds none to drop and is not searched for them."""
    found: dict[str, str] = {}
    texts = texts or {}
    if isinstance(source, str) and not _looks_like_html(source):
        lines = [ln for ln in (normalize_line(x) for x in source.splitlines()) if ln]
        for line in lines:
            _add_line(found, line)
        return _finish(found, lines)
    tree = LexborHTMLParser(source) if isinstance(source, str) else source
    root = tree.body if isinstance(tree, LexborHTMLParser) else tree
    if root is None:
        return {}
    # The caller's tree is never changed: a copy when there is something to drop (the
    # pipeline's body has lost these already, and copying it cost a sixth of this).
    if isinstance(source, str) or \
            (not dropped and root.css_first(_NOT_TEXT_SELECTOR) is not None):
        if not isinstance(source, str):
            tree, texts = source.clone(), {}
            root = tree.body if isinstance(tree, LexborHTMLParser) else tree
            if root is None:
                return {}
        for junk in outermost(root.css(_NOT_TEXT_SELECTOR)):
            junk.decompose()
    lines: list[str] = []
    label = None  # a line that is only a label: its value is the next line (dd > label, div)
    for item in _walk(root, texts):
        if isinstance(item, list):
            _add_row(found, item)
            label = None
            continue
        if label and not FIELD.match(item):
            _put(found, label, item)
        else:
            _add_line(found, item)
        label = item.rstrip(":：") if _is_cell_label(item) else None
        lines.append(item)
    return _finish(found, lines)


def _looks_like_html(text: str) -> bool:
    return re.search(r"<(?:html|body|table|div|p|li|td|span|br)\b", text, re.IGNORECASE) is not None


def _finish(found: dict[str, str], lines: list[str]) -> dict[str, str]:
    if "文号" not in found:
        number = next((ln for ln in lines if _DOC_NUMBER.fullmatch(ln)), None)
        if number:
            found["文号"] = number
    return {key: found[key] for key in ALIASES if key in found}


def _walk(root: LexborNode, texts: dict[int, str] | None = None) -> list[list[str] | str]:
    """Table rows (cell texts) and lines of text, in document order (``texts``: see
    ``extract_metadata``)."""
    texts = texts or {}
    out: list[list[str] | str] = []
    holding = _holding_blocks(root)
    stack: list[LexborNode | str] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif item.tag == "tr" and item.css_first("table") is None:  # not a layout row
            out.append([_line(c.text()) for c in item.iter() if c.tag in ("td", "th")])
        elif (key := item.mem_id) not in holding:  # a paragraph: all its text is one line
            text = texts.get(key)
            if line := _line(item.text() if text is None else text):
                out.append(line)
        else:
            stack.extend(reversed(_split(item, holding, texts)))
    return out


def _split(node: LexborNode, holding: set[int],
           texts: dict[int, str]) -> list[LexborNode | str]:
    """The children of ``node``: block ones as nodes, runs of inline ones as lines."""
    parts: list[LexborNode | str] = []
    run: list[str] = []
    for child in node.iter(include_text=True):
        tag = child.tag  # one property read: "-text" and "-comment" name the node types
        if tag == "-text":
            run.append(child.text_content)
            continue
        if tag == "-comment":
            continue
        key = child.mem_id
        if tag not in _BLOCKS and key not in holding:
            text = texts.get(key)
            run.append(child.text() if text is None else text)
            continue
        _end_run(parts, run)
        run = []
        if tag == "br":
            continue
        if tag != "tr" and key not in holding:
            text = texts.get(key)  # a paragraph: what _walk makes of it
            parts.append(_line(child.text() if text is None else text))
        else:
            parts.append(child)
    _end_run(parts, run)
    return [p for p in parts if not isinstance(p, str) or p]


def _end_run(parts: list[LexborNode | str], run: list[str]) -> None:
    """The line of a run of inline children; one of spaces only is none (``_line``
    turns every space into a space or nothing, and strips them)."""
    text = "".join(run)
    if text and not text.isspace():
        parts.append(_line(text))


def _holding_blocks(root: LexborNode) -> set[int]:
    """The elements that hold a block one (``br`` too: ``layout.holders``).  An element
    that holds none is read whole: its children are all inline, so ``_split`` would make
    one line of the text of them all (``text()`` leaves comments out as ``_split`` does),
    and most elements of a page are such paragraphs and the spans and links in them."""
    return holders(root, _BLOCK_SELECTOR)


def _line(text: str) -> str:
    """Text of an element as one line: the source's line breaks are only spaces."""
    return normalize_line(unwrap(text))


def _add_row(found: dict[str, str], cells: list[str]) -> None:
    i = 0
    while i < len(cells):
        label = cells[i]
        if i + 1 < len(cells) and (_is_cell_label(label)
                                   or _bare_short(label, cells[i + 1])):
            value = cells[i + 1]
            if not _is_cell_label(value):
                _put(found, label.rstrip(":："), value)
                i += 2
                continue
        _add_line(found, label)
        i += 1


def _bare_short(label: str, value: str) -> bool:
    shape = _BARE_SHORT.get(label.strip())
    return shape is not None and shape.fullmatch(value.strip()) is not None


def _add_line(found: dict[str, str], line: str) -> None:
    if ":" not in line and "：" not in line:  # every field has its colon (FIELD)
        return
    if not _label_before_colon(line):  # prose has colons, few after a label
        return
    matches = list(FIELD.finditer(line))
    ends = [m.start() for m in matches[1:]] + [len(line)] if matches else []
    for m, end in zip(matches, ends, strict=True):
        _put(found, m.group().rstrip(":：").strip(), line[m.end():end])


def _label_before_colon(line: str) -> bool:
    """Whether a label ends before a colon of ``line``, but for spaces: what every match
    of ``FIELD`` has, found without searching the line for each label at each place."""
    for colon in ":：":
        at = line.find(colon)
        while at != -1:
            if line[:at].rstrip().endswith(_LABEL_ENDS):  # rstrip: what \s matches
                return True
            at = line.find(colon, at + 1)
    return False


_PAIRS = {"）": "（", ")": "(", "】": "【", "]": "[", "〕": "〔", "」": "「", "》": "《"}


def unwrapped(value: str) -> str:
    """``鄂政办〔2026〕3号）`` → ``鄂政办〔2026〕3号``: a field written inside brackets in
    the text (``（文件编号：鄂政办〔2026〕3号）``) ends at its label's closing bracket, which
    is not part of the value; a closing bracket the value opens (〔2026〕) stays.
    ``monitor.canon`` compares metadata through it too, so a value an earlier release
    stored with the bracket is the same value, not a change to tell the watchers."""
    while value and (opener := _PAIRS.get(value[-1])) is not None \
            and value.count(opener) < value.count(value[-1]):
        value = value[:-1].rstrip()
    return value


def settled(key: str | None, value: str) -> str:
    """``value`` of field ``key`` as kept: up to the next label, without an opening
    bracket left at its end, a date field's only its date and time (module docstring).
    Settling a settled value changes nothing."""
    if (":" in value or "：" in value) and (m := FIELD.search(value)):
        value = value[:m.start()]
    if value[-1:].isdigit() or value.endswith(("次", "人")):
        value = _without_count(value)
    value = unwrapped(value.rstrip(_OPENERS + " \u3000|｜"))
    if key in _DATE_FIELDS and (m := _DATE_VALUE.match(value)):
        value = m.group().rstrip()
    return value


def _without_count(value: str) -> str:
    """``value`` without a view counter closing it, written without a colon."""
    if not _COUNT_LEADS.intersection(value):
        return value
    m = _COUNT_AT_END.search(value)
    return value[:m.start()].rstrip() if m else value


def _put(found: dict[str, str], label: str, value: str) -> None:
    key = _CANONICAL.get(label)
    value = settled(key, normalize_line(value).strip("|｜ "))
    if key and value and len(value) <= _MAX_VALUE and key not in found:
        found[key] = value
