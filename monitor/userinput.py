"""Checks of what a visitor or an archivist types (search queries, names in URLs).

A control character can never be part of a stored page's text (normalization removes
them) or of a source name, so input containing one cannot mean anything; worse, it breaks
the databases in different ways: a NUL ends the SQLite FTS5 query string ("unterminated
string"), matches *every* row in a SQLite ``LIKE`` (the pattern is cut at the NUL), and
is refused by PostgreSQL for any text parameter.  So it is refused up front, as bad input
(HTTP 400, exit 2), naming the character.  Tab, newline and carriage return are allowed:
they are whitespace, a pasted query may have them, and search splits terms on them.  A
lone surrogate (what Python makes of bytes that are not UTF-8 on a command line) is
refused the same way.
"""

from __future__ import annotations

import unicodedata

from monitor.errors import BadInputError

WHITESPACE = frozenset("\t\n\r")


def bad_character(text: str) -> str | None:
    """The first control character (or lone surrogate) in ``text``, else None."""
    for ch in text:
        if ch not in WHITESPACE and unicodedata.category(ch) in ("Cc", "Cs"):
            return ch
    return None


def check_text(text: str, what: str) -> str:
    """``text`` unchanged, or ``BadInputError`` naming ``what`` and the character."""
    ch = bad_character(text)
    if ch is not None:
        raise BadInputError(f"{what} contains the control character U+{ord(ch):04X}: "
                            "remove it", zh=f"含有不可见的控制字符 U+{ord(ch):04X}：请删除后重试")
    return text
