"""One line of text: the characters a reader sees and the gaps between them.

``normalize_line`` is what every producer of text (page layout, metadata, titles,
documents) and ``monitor.normalize`` apply to a line.  Kept apart from
``monitor.normalize`` so that ``monitor.noise`` can use it too: dependencies point one
way (spacing ← noise ← normalize).

* Invisible characters (zero-width spaces, BOM, soft hyphen, bidi marks, control codes)
  are deleted; the many kinds of space (U+3000, NBSP, U+2000-U+200A...) count as spaces.
* Inside a line, a run of spaces becomes one space.  A space between CJK and
  Latin/digits ("2020 年") is kept: it cannot be told apart from a typed one.
* Between two CJK characters a gap is either a wrap or a separator:

  - A line break in the source is a wrap: ``monitor.extract.layout`` joins "人工\n    智能"
    into "人工智能" before this stage (a browser shows no gap there either), so a CMS
    that hard-wraps or re-wraps its source gives the same text.
  - A separator is kept: a full-width space (U+3000), an ``&nbsp;`` or two or more
    spaces between two Chinese *words* ("各市州人民政府　省直各单位"), and, in a
    *field line*, a single space too ("职务:张猛 三级主任科员 联系电话:…" must not read
    as the name 张猛三), after the first colon.  A field line is one of a metadata or
    contact block: two or more "label：" fields, or a short line (≤ 40 characters) that
    starts with one.  A kept separator is written as one U+3000 (a single space in a
    field line stays a space), so normalizing again keeps it.
  - Everything else is dropped as before: a single space in running text (what a
    producer that joins pieces with " " leaves: headings cut by ``<br>``, widgets
    removed from a byline), any gap next to CJK punctuation ("，", "：", "“"), and
    letter-spacing, a gap with a single character on both sides ("索 引 号",
    "姓　　名").

  Which gaps are kept is layout, not content: ``monitor.canon`` (what a version is
  identified by) ignores every gap next to a CJK character, so a page whose separators
  are now kept is not a change of the versions stored before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from monitor import lazyre

# Deleted outright: a reader sees nothing there.
_INVISIBLE = lazyre.compile(
    "[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\u00ad\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\ufeff]"
)
# Every kind of horizontal space a page uses for indentation or alignment.
_SPACES = lazyre.compile("[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")

# Han, kana, bopomofo, CJK symbols and punctuation, full-width forms, and the general
# punctuation Chinese text uses (“”‘’…—·), so that "的\n“人工智能”" joins up too.
CJK = (
    "\u00b7\u2014\u2015\u2018-\u201f\u2026\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff"
    "\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f"
    "\uff00-\uffef\U00020000-\U0003134f"
)
# Characters of Chinese words (not punctuation): a gap between two of them may separate.
_WORD = ("\u3040-\u30ff\u3100-\u312f\u31a0-\u31bf\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
         "\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\U00020000-\U0003134f")
_IS_CJK = lazyre.compile(f"[{CJK}]")
_IS_WORD = lazyre.compile(f"[{_WORD}]")
_ANY_CJK_GAP = lazyre.compile(f"(?<=[{CJK}])[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+"
                              f"(?=[{CJK}])")
_FIELD = lazyre.compile("[\u4e00-\u9fff][:：]")
_FIELD_START = lazyre.compile("[\u4e00-\u9fff]{2,8}[:：]")
FIELD_LINE_MAX = 40
SEPARATOR = "\u3000"  # how a kept gap between two Chinese words is written


@lru_cache(maxsize=8192)
def normalize_line(line: str) -> str:
    """One line: invisible characters gone, spaces collapsed, wraps closed and separators
    kept between CJK characters (module docstring), stripped.

    Cached: a page's template lines and, in the daemon, its unchanged paragraphs come
    back at every check.  A line without a space needs no gap rule, and whether it is a
    field line is asked only of a gap that depends on it.  A line whose stripped middle
    ``str.isprintable()`` and holds no ASCII space is that middle: every invisible
    character (``_INVISIBLE``) and every space but the ASCII one (``_SPACES``, and all
    that ``strip`` strips) is a control, format or separator character, which
    ``isprintable`` refuses; so the spaces are all at the ends, whatever the gap rules
    make of them is stripped, and no gap is judged (the source's indentation around a
    paragraph of prose, most lines of a page).  One scan instead of two patterns'."""
    middle = line.strip()
    if " " not in middle and middle.isprintable():
        return middle
    return _normalized(line)


def _normalized(line: str) -> str:
    """``normalize_line`` the long way (any line)."""
    line = _INVISIBLE.sub("", line)
    if not _SPACES.search(line):
        return line.strip()
    field: list[bool] = []

    def is_field() -> bool:
        if not field:
            field.append(is_field_line(line))
        return field[0]

    return _SPACES.sub(lambda m: _gap(m, is_field), line).strip()


def is_field_line(line: str) -> bool:
    """A line of a metadata or contact block: two "label：" fields, or a short line that
    starts with one.  Judged on the line with every CJK gap closed, so that keeping or
    dropping a gap never changes the verdict (normalizing twice is a no-op)."""
    closed = _ANY_CJK_GAP.sub("", _INVISIBLE.sub("", line)).strip()
    if len(_FIELD.findall(closed)) >= 2:
        return True
    return len(closed) <= FIELD_LINE_MAX and _FIELD_START.match(closed) is not None


def _gap(m: re.Match[str], field: Callable[[], bool]) -> str:
    """What a run of spaces becomes: see the module docstring."""
    s, i, j = m.string, m.start(), m.end()
    if i == 0 or j == len(s) or not (_IS_CJK.match(s[i - 1]) and _IS_CJK.match(s[j])):
        return " "
    if not (_IS_WORD.match(s[i - 1]) and _IS_WORD.match(s[j])):
        return ""  # next to CJK punctuation
    letter_spacing = (i < 2 or not _IS_WORD.match(s[i - 2])) and \
        (j + 1 >= len(s) or not _IS_WORD.match(s[j + 1]))
    if letter_spacing:
        return ""
    run = m.group()
    if len(run) >= 2 or "\u3000" in run or "\u00a0" in run:
        return SEPARATOR
    in_value = ":" in s[:i] or "：" in s[:i]  # after a field's label, not inside one
    return " " if in_value and field() else ""
