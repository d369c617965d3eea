"""The canonical form of a version: what decides whether two fetches are the same page.

A version is stored and shown with the page's own characters (``monitor.normalize``);
it is *identified* by this form, so a re-templated page is not a change:

* NFKC: full- and half-width punctuation and digits are one (``：`` and ``:``, ``，``
  and ``,``, ``（）`` and ``()``, ``１`` and ``1``).
* One kind of whitespace, and only where it separates two Latin words or numbers
  ("and more", "3 5"): next to a Chinese character or a punctuation mark any space
  (ASCII, NBSP, U+3000, a kept separator) is layout and goes.
* One separator for a key–value pair.  Table cells (`` | ``) become lines; a line that
  is only a label ("索引号：", a ``th``/``dt``) is joined with the value on the next
  line; a known label (``monitor.extract.metadata.ALIASES``, ``STOP_LABELS``) at the start of a
  line is followed by exactly one ``:`` ("索引号430S00" from
  ``<span>索引号</span>430S00`` reads as "索引号:430S00").  So a metadata list, a table of
  one or two pairs a row, a ``dl`` and spans all give "索引号:430S00" on its own line.

Each line is tried as a label only when it could be one: the label patterns run on a
line ending with a colon or equal to a known label (a line that is only a label), and
on a line starting with a known label's first character (a label at its start); most
lines of prose are neither, and the two patterns' long alternations cost more than
these tests.

NFKC is applied to the lines of a text not seen lately all at once, and cheaply
(``nfkc``; the cells of a line seen are remembered, ``_CELLS``): CPython's NFKC of a
line with any full-width character (a Chinese line's ，：（）) rebuilds the line character
by character, ~11 µs for 130 characters, more than all the rest of this form.  A
character's compatibility decomposition (NFKD) put in its place first changes no
NFKC result (NFKC is the composition of the NFKD of the text, and decomposing is
idempotent); the full-width forms, U+3000 and NBSP are so replaced by ``str.replace``,
once per distinct one, and a text then left with none to change passes CPython's quick
check and is returned as it is.  A text with another such character (①, ㎡, a
combining accent) still gets NFKC's own slow pass, with the same result.  NFKC never
joins or splits lines (no decomposition holds a line feed, and a line feed, a starter,
blocks composition and reordering across it), so the text's NFKC cut at line feeds is
the NFKC of each line.

``canonical_parts`` is what ``monitor.detect.snapshot`` hashes.  Two texts with the same
canonical form differ only in how the page was laid out; a changed character of a word
or number always changes it.  Paragraph breaks stay: splitting a paragraph is a change.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache

from monitor import lazyre
from monitor.extract.metadata import ALIASES, STOP_LABELS, settled

# Characters that never need a space around them to be read: CJK and punctuation.
_CJK = "\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf" \
       "\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f"
_IS_CJK = lazyre.compile(f"[{_CJK}]")
_SPACE_RUN = lazyre.compile(r"\s+")
_CELL = lazyre.compile(r"\s*\|\s*")
_LABELS = sorted({*(a for names in ALIASES.values() for a in names), *STOP_LABELS},
                 key=len, reverse=True)
# A known label at the start of a line, with its colon or directly followed by a value.
_KNOWN = lazyre.compile("^(" + "|".join(_LABELS) + ")(?::|(?=[^:]))")
# A line that is only a label: a known one, or a short Chinese label with its colon.
_LABEL_ONLY = lazyre.compile("^(?:(?:" + "|".join(_LABELS) + f"):?|[{_CJK}]{{1,10}}:)$")
_LABEL_SET = frozenset(_LABELS)  # a line equal to one may be only a label...
_LEADS = frozenset(label[0] for label in _LABELS)  # ...and one starting so, a pair
# A line that starts with a label: a field of its own, never the value of the one above.
_FIELD = lazyre.compile("^(?:(?:" + "|".join(_LABELS) + f")|[{_CJK}]{{1,10}}:)")


def canonical_parts(title: str, text: str, metadata: Mapping[str, str]) -> dict[str, object]:
    """What a version is identified by: the canonical title, text and metadata."""
    return {"title": canonical_line(title), "text": canonical_text(text),
            "metadata": {key: canonical_line(settled(key, value))
                         for key, value in metadata.items()}}


def canonical_line(value: str) -> str:
    """A title or a metadata value: NFKC and spaces only (it holds no key–value pairs)."""
    lines = zip(value.split("\n"), nfkc(value).split("\n"), strict=True)
    return " ".join(_squeeze(line) for raw, line in lines if raw.strip())


@lru_cache(maxsize=8)
def canonical_text(text: str) -> str:
    """``text`` (one paragraph per line) in canonical form: see the module docstring.

    Cached, and so is each line's cells (``_CELLS``): a check hashes the new text and
    the last version's, which share most of their lines, and a site's template lines
    come back on every page.  The lines not known yet are put in NFKC together, as one
    text (NFKC never joins or splits lines)."""
    lines = text_lines(text) if "\n" in text else (text,)  # a paragraph: not kept
    known = _CELLS  # shared by threads: read once per line, never after a clear
    found = [known.get(line) for line in lines]
    missing = [line for line, cells in zip(lines, found, strict=True) if cells is None]
    if missing:
        made = dict(zip(missing, map(_cells, nfkc("\n".join(missing)).split("\n")),
                        strict=True))
        if len(known) + len(made) > _CELLS_MAX:
            known.clear()
        known.update(made)
        found = [made[line] if cells is None else cells
                 for line, cells in zip(lines, found, strict=True)]
    flat = [cell for cells in found for cell in cells]  # type: ignore[union-attr]
    return "\n".join(_pairs(flat))


@lru_cache(maxsize=8)
def text_lines(text: str) -> tuple[str, ...]:
    """``text.split("\n")``, the same line objects for each caller: a str keeps its hash
    once made, and a changed check looks its texts' lines up in several dicts and sets
    (``_CELLS`` here, ``detect.reply_added``'s), each line hashed again when each split
    made it anew.  A check's two texts are the ones asked for."""
    return tuple(text.split("\n"))


_CELLS: dict[str, tuple[str, ...]] = {}  # a line of a text: its cells (``_cells``)
_CELLS_MAX = 8192  # lines kept; all are forgotten when it would hold more


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, the common full-width characters
    decomposed first by ``str.replace`` (see the module docstring)."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    compat, decomposed = _compat()
    at = 0
    while found := compat.search(text, at):  # none is left before ``at``: each replaced
        ch, at = found.group(), found.start()  # with its NFKD, which holds none
        text = text.replace(ch, decomposed[ch])
    return unicodedata.normalize("NFKC", text)


@lru_cache(maxsize=1)
def _compat() -> tuple[re.Pattern[str], dict[str, str]]:
    """The characters ``nfkc`` decomposes itself, as a pattern, and their NFKD."""
    chars = [ch for ch in ("\u00a0", "\u3000", *map(chr, range(0xFF01, 0xFFEF)))
             if unicodedata.normalize("NFKD", ch) != ch]
    return (re.compile("[" + "".join(map(re.escape, chars)) + "]"),
            {ch: unicodedata.normalize("NFKD", ch) for ch in chars})


def _cells(line: str) -> tuple[str, ...]:
    """The non-empty cells of one line (in NFKC already), squeezed.  A line without a
    ``|`` and without any space (it ``isprintable()`` and holds no ASCII space: every
    other character ``\\s`` matches is a control or separator) is its only cell, as it
    is: most lines of prose."""
    if "|" not in line and " " not in line and line.isprintable():
        return (line,) if line else ()
    return _split_cells(line)


def _split_cells(line: str) -> tuple[str, ...]:
    """``_cells`` the long way (any line)."""
    cells = (_squeeze(cell) for cell in _CELL.split(line))
    return tuple(cell for cell in cells if cell)


def _squeeze(line: str) -> str:
    return _SPACE_RUN.sub(_space, line).strip()


def _space(m: re.Match[str]) -> str:
    s, i, j = m.string, m.start(), m.end()
    if 0 < i and j < len(s) and _wordlike(s[i - 1]) and _wordlike(s[j]):
        return " "
    return ""


def _wordlike(ch: str) -> bool:
    return ch.isalnum() and not _IS_CJK.match(ch)


def _pairs(lines: list[str]) -> list[str]:
    """Key–value pairs on one line each, written "label:value"."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        # a label cell: its value is the next cell, if any
        if (line[-1:] == ":" or line in _LABEL_SET) and _LABEL_ONLY.match(line):
            line = line.rstrip(":") + ":"
            if i + 1 < len(lines) and not _FIELD.match(lines[i + 1]):
                line += lines[i + 1]
                i += 1
        known = _KNOWN.match(line) if line[:1] in _LEADS else None
        out.append(known.group(1) + ":" + line[known.end():] if known else line)
        i += 1
    return out
