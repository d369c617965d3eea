"""The text of an HTML element, laid out one paragraph per line (not yet normalized).

Block elements, ``br``, list items and headings
end a line; inline elements (span, a, font, strong...) are joined as they are, without
adding or dropping a character.  A line break inside a text (with the spaces around
it, across inline elements) is the source's wrapping: between two CJK characters it
joins them ("人工\n    智能" is "人工智能", as a browser shows it), elsewhere it is one
space.  Other spaces are left to ``monitor.normalize``, which keeps a real separator.

A table row whose cells each hold one line becomes one line with the cells joined by
`` | `` (a tab would be folded into a space by normalization); a row whose cells hold
paragraphs is a layout table, and its cells' lines are kept as lines.

Most lines have no line break at all: a text that ``str.isprintable()`` holds none of
``LINE_BREAKS`` (every one is a control or a line/paragraph separator, which Python
does not count as printable), so ``unwrap`` returns it as it is without scanning it
with the pattern (~0.4 µs a line, ~300 lines a page between layout and metadata).
An element read whole takes the text ``monitor.noise`` read of it when it is still
that (``render``'s ``texts``): most paragraphs of a page are read there first.
"""

from __future__ import annotations

import re
from functools import lru_cache

from selectolax.lexbor import LexborNode

from monitor import lazyre, noise
from monitor.spacing import CJK, normalize_line

BLOCK_TAGS = frozenset(
    "address article aside blockquote body caption center dd details dialog dir div dl dt "
    "fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr html legend li main "
    "menu nav ol p section summary table tbody td tfoot th thead tr ul".split())
_SKIP = frozenset({"img", "head", "title", *noise.ALWAYS_DROP})
LINE_BREAKS = lazyre.compile("[\t\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_SPACE = "[ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]"
_WRAP = lazyre.compile(f"{_SPACE}*\n(?:{_SPACE}|\n)*")
_IS_CJK = lazyre.compile(f"[{CJK}]")


def unwrap(text: str) -> str:
    """``text`` on one line: each line break, with the spaces around it, joins two CJK
    characters and is one space elsewhere."""
    if text.isprintable():  # no line break in it (see the module's doc)
        return text
    return _unwrapped(text)


def _unwrapped(text: str) -> str:
    text = LINE_BREAKS.sub("\n", text)
    return _WRAP.sub(_wrap_gap, text) if "\n" in text else text


def _wrap_gap(m: re.Match[str]) -> str:
    s, i, j = m.string, m.start(), m.end()
    if 0 < i and j < len(s) and _IS_CJK.match(s[i - 1]) and _IS_CJK.match(s[j]):
        return ""
    return " "


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.current: list[str] = []

    def add(self, text: str) -> None:
        self.current.append(text)

    def end(self) -> None:
        if self.current:
            text = "".join(self.current)
            # spaces only (between blocks, most often) make no visible line: unwrap()
            # and normalize_line turn every space into a space or nothing, and strip
            if not text.isspace():
                self.lines.append(unwrap(text))
            self.current = []

    def visible(self) -> list[str]:
        self.end()
        return [line for line in self.lines if normalize_line(line)]


def render(node: LexborNode, texts: dict[int, str] | None = None) -> str:
    """The text of ``node``, one block per line; not yet normalized.  ``texts``: the
    ``text()`` of elements already read, by ``mem_id`` (``noise.remove_dom_noise``
    reads most paragraphs of a page), used instead of reading them again."""
    out = _Lines()
    _render_into(out, node, _holding_special(node), texts or {})
    return "\n".join(out.visible())


# Elements laid out otherwise than by adding their text where it stands.
_SPECIAL_SELECTOR = ", ".join(sorted({*BLOCK_TAGS, "br", "pre", *_SKIP}))


def _holding_special(root: LexborNode) -> set[int]:
    """The elements under ``root`` that hold a block, a ``br``, a ``pre`` or a skipped
    element (``holders``).  One that holds none adds its text nodes' text in order,
    nothing else: ``text()`` in one call (it leaves comments out, as ``_render_into``
    does), not a walk of its nodes."""
    return holders(root, _SPECIAL_SELECTOR)


def holders(root: LexborNode, selector: str) -> set[int]:
    """The ``mem_id``s of the elements under ``root`` (itself included) that hold an
    element matching ``selector``, found from those upwards in one query: the rest hold
    only inline content and can be read whole."""
    tags = _tag_names(selector)
    holding: set[int] = set()
    # a list of tag names is tested on every element by its name: lexbor's query tests
    # each element against each name of the list, and cost three times as much; the
    # elements walked by ``traverse`` (``root`` first, then in document order, as
    # ``css("*")`` lists them; comments too, which no name matches), not queried by "*"
    every = root.css(selector) if tags is None else \
        [n for n in root.traverse() if n.tag in tags]
    for found in every:
        parent = found.parent
        while parent is not None and parent.mem_id not in holding:
            holding.add(parent.mem_id)
            parent = parent.parent
    return holding


@lru_cache(maxsize=16)
def _tag_names(selector: str) -> frozenset[str] | None:
    """The names of a selector that is a list of lower-case tag names, else None."""
    names = [part.strip() for part in selector.split(",")]
    if all(n.isascii() and n.isalnum() and n.islower() for n in names):
        return frozenset(names)
    return None


def _render_into(out: _Lines, root: LexborNode, holding: set[int],
                 texts: dict[int, str]) -> None:
    # An explicit stack: pages exported from Word nest <font> a thousand levels deep.
    stack: list[tuple[LexborNode, bool, bool]] = [(root, False, False)]
    while stack:
        node, closing, pre = stack.pop()
        if closing:
            out.end()
            continue
        tag = node.tag  # read once: "-text" and "-comment" name those node types
        if tag == "-text":
            text = node.text_content or ""
            if pre:
                first, *rest = text.split("\n")
                out.add(first)
                for line in rest:
                    out.end()
                    out.add(line)
            else:
                out.add(text)  # its line breaks joined or spaced by unwrap(), at the end
        elif tag != "-comment" and tag not in _SKIP and node.is_element_node:
            _render_element(out, stack, node, tag, pre, holding, texts)


def _render_element(out: _Lines, stack: list[tuple[LexborNode, bool, bool]],
                    node: LexborNode, tag: str, pre: bool, holding: set[int],
                    texts: dict[int, str]) -> None:
    if tag == "br":
        out.end()
        return
    if tag == "tr":
        _render_row(out, node, holding, texts)
        return
    block = tag in BLOCK_TAGS
    key = node.mem_id
    if not pre and tag != "pre" and key not in holding:
        if block:
            out.end()
        text = texts.get(key)
        if text is None:
            text = node.text()
        if text:
            out.add(text)
        if block:
            out.end()
        return
    if block or tag == "pre":
        out.end()
        stack.append((node, True, pre))
    pre = pre or tag == "pre"
    for child in reversed(list(node.iter(include_text=True))):
        stack.append((child, False, pre))


def _render_row(out: _Lines, row: LexborNode, holding: set[int],
                texts: dict[int, str]) -> None:
    cells = []
    for cell in row.iter():
        if cell.tag in ("td", "th"):
            lines = _Lines()
            _render_into(lines, cell, holding, texts)
            cells.append(lines.visible())
    out.end()
    if all(len(lines) <= 1 for lines in cells):
        out.add(" | ".join(lines[0] for lines in cells if lines))
        out.end()
        return
    for lines in cells:
        for line in lines:
            out.add(line)
            out.end()
