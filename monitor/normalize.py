"""Text normalization: the text two fetches are compared on.

``normalize_text`` is a pure function.  Its job is to make every difference that a
reader cannot see disappear, and to keep every difference a reader can see:

* NFC, never NFKC: full-width punctuation (，。：“”) is content in Chinese text and stays.
* Invisible characters (zero-width spaces, BOM, soft hyphen, bidi marks, control codes)
  are deleted; the many kinds of space (U+3000, NBSP, U+2000-U+200A...) count as spaces.
* Inside a line, a run of spaces becomes one space, and a space between two CJK
  characters is dropped: browsers show "人工\n智能" from a re-wrapped source without a
  gap, so a re-indented or re-wrapped page gives the same text.  A space between CJK
  and Latin/digits ("2020 年") is kept: it cannot be told apart from a typed one.
* Lines are stripped and empty lines dropped.
* The built-in noise rules of ``monitor.noise`` and the source's ``ignore_text`` regexes
  are applied, then the clean-up runs again, until nothing changes (so normalizing
  normalized text is a no-op, whatever order the pipeline calls it in).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence

from monitor import noise

# Deleted outright: a reader sees nothing there.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\u00ad\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\ufeff]"
)
# Every kind of horizontal space a page uses for indentation or alignment.
_SPACES = re.compile("[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")

# Han, kana, bopomofo, CJK symbols and punctuation, full-width forms, and the general
# punctuation Chinese text uses (“”‘’…—·), so that "的\n“人工智能”" joins up too.
CJK = (
    "\u00b7\u2014\u2015\u2018-\u201f\u2026\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff"
    "\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f"
    "\uff00-\uffef\U00020000-\U0003134f"
)
_CJK_GAP = re.compile(f"(?<=[{CJK}]) (?=[{CJK}])")

_MAX_ROUNDS = 4


def normalize_text(text: str, ignore_text: Sequence[str] = ()) -> str:
    """The comparable form of ``text``: see the module docstring for the rules."""
    return normalize_with_notes(text, ignore_text)[0]


def normalize_with_notes(text: str, ignore_text: Sequence[str] = ()) -> tuple[str, list[str]]:
    """``normalize_text`` plus short notes of the built-in noise it removed."""
    patterns = _compile(tuple(ignore_text))
    notes: list[str] = []
    current = _clean_lines(text)
    for _ in range(_MAX_ROUNDS):
        stripped, found = _strip_noise(current)
        notes += found
        for pattern in patterns:
            stripped, n = pattern.subn("", stripped)
            if n:
                notes.append(f"ignore_text {pattern.pattern}")
        stripped = _clean_lines(stripped)
        if stripped == current:
            break
        current = stripped
    return current, notes


def strip_ignored(value: str, ignore_text: Sequence[str]) -> str:
    """A metadata value with the ``ignore_text`` patterns removed, as from the text."""
    for pattern in _compile(tuple(ignore_text)):
        value = pattern.sub("", value)
    return normalize_line(value)


def normalize_line(line: str) -> str:
    """One line: invisible characters gone, spaces collapsed, CJK gaps closed, stripped."""
    line = _INVISIBLE.sub("", line)
    line = _SPACES.sub(" ", line)
    return _CJK_GAP.sub("", line).strip()


def _clean_lines(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    lines = (normalize_line(line) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _strip_noise(text: str) -> tuple[str, list[str]]:
    out: list[str] = []
    notes: list[str] = []
    for line in text.split("\n"):
        kept, found = noise.strip_text_noise(line)
        notes += found
        # Removing a widget can leave a gap between two CJK characters.
        kept = normalize_line(kept)
        if kept:
            out.append(kept)
    return "\n".join(out), notes


@functools.lru_cache(maxsize=256)
def _compile(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    # MULTILINE: ^ and $ anchor at every line, and a pattern with \n may span lines.
    return tuple(re.compile(p, re.MULTILINE) for p in patterns)
