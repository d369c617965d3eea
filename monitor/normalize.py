"""Text normalization: the text a version stores and a reader is shown.

``normalize_text`` is a pure function.  Its job is to make every difference that a
reader cannot see disappear, and to keep what a reader sees, in the page's own
characters.  Whether two texts are the same version is decided on their canonical form
(``monitor.canon``: NFKC, no layout), not here.

* NFC, never NFKC: full-width punctuation (，。：“”) is content in Chinese text and stays.
* One line's characters (``monitor.spacing``): invisible characters deleted, spaces
  collapsed, a wrap between two CJK characters closed and a real separator between two
  Chinese words kept (see there).
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
from monitor.spacing import CJK, normalize_line

__all__ = ["CJK", "normalize_line", "normalize_text", "normalize_with_notes", "strip_ignored"]

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
        stripped, found, same = _strip_noise(current)
        notes += found
        for pattern in patterns:
            stripped, n = pattern.subn("", stripped)
            if n:
                notes.append(f"ignore_text {pattern.pattern}")
                same = False
        if same and unicodedata.is_normalized("NFC", current):
            break  # _clean_lines would give ``current`` again: see _strip_noise
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


def _clean_lines(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    lines = (normalize_line(line) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _strip_noise(text: str) -> tuple[str, list[str], bool]:
    """``text`` without noise, the notes, and whether each line of it was kept as it
    is and is its own ``normalize_line`` (a normalized text's lines have no other line
    break, so its ``_clean_lines`` is itself if it is NFC: the round need not run it)."""
    out: list[str] = []
    notes: list[str] = []
    same = True
    lines = text.split("\n")
    for line, (kept, found) in zip(lines, noise.strip_lines(lines), strict=True):
        if found:
            notes += found
        # Removing a widget can leave a gap between two CJK characters.
        cleaned = normalize_line(kept)
        if cleaned:
            out.append(cleaned)
        if same and (kept != line or cleaned != line):
            same = False
    return "\n".join(out), notes, same


@functools.lru_cache(maxsize=256)
def _compile(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    # MULTILINE: ^ and $ anchor at every line, and a pattern with \n may span lines.
    return tuple(re.compile(p, re.MULTILINE) for p in patterns)
