"""Folding for search: the forms of one identifier made the same, in the index and in
the query, never in the stored text.

People type a 文号 as 湘工信提案函〔2021〕254号, …[2021]254号, …（2021）254号,
…(2021)254号, ［2021］, 【2021】 or with full-width digits ２５４.  ``fold`` maps
full-width ASCII to ASCII, upper case to lower case (ASCII only), every kind of bracket
(opening or closing: ()[]{}<>（）［］〔〕【】《》「」… ) to the one separator ``SEP``
(``(``), and deletes whitespace and the separators ，。、；：！？ and quotes, so all of
those become 湘工信提案函(2021(254号.  Decimal points, %, - and / are kept (71.5 is
not 715).

Brackets become a separator, not nothing: deleted, 湘工信提案函〔2021〕204号 folded to
…2021204号, so a search for 第1204号 (or 2021204) found it.  With the separator kept
the year and the number stay apart: 1204 does not match 2021(204, while 〔2021〕204 and
[2021]204 still match each other.  The price: a 文号 typed without its brackets
(湘工信提案函2021204号) no longer finds one printed with them.  A query term's brackets
at its ends are dropped before folding (``trim``): 《安全生产法》 or 〔财政〕 still find
the text without them.

Every character folds to at most one character (``TABLE`` is a ``str.translate``
table), so ``fold_map`` can point each folded character back at its place in the real
text: highlights are computed on folded text and shown on the real one.  The same
mapping is a PostgreSQL ``translate()`` (``postgres_function``), so the expression
index there and the Python side agree exactly (PostgreSQL's index lists a paragraph by
``monitor_fold``'s pairs, and its candidates are checked with ``fold``: the two must be
the same mapping).  The indexes hold folded text: a change here needs a migration that
refolds what is stored (``FOLD_REVISION``; 0016 did it for the separator): on SQLite
its FTS5 tables filled again, on PostgreSQL ``monitor_fold`` replaced and the indexes
built with it rebuilt (``REINDEX INDEX ix_paragraphs_fold_bigrams``, 0017, and
``files.folded``'s column and index, 0009): replacing an IMMUTABLE function does not
recompute what was built with it.
"""

from __future__ import annotations

import re

_WIDE = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
_UPPER = {chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)}
# The revision of this folding (1: brackets deleted; 2: brackets to SEP, migration 0016).
# The stored indexes hold folded text: a changed mapping needs a new revision and a
# migration that refolds them (tests/test_search_fold.py fails until both are there).
FOLD_REVISION = 2
SEP = "("
BRACKETS = "()[]{}<>（）［］｛｝〔〕【】〖〗〈〉《》「」『』〘〙〚〛⦅⦆"
DELETED = (" \t\r\n\u3000\u00a0\u2002\u2003\u2009\u200b"
           ",，、;；:：!！?？。\"“”'‘’`·・")


def _table() -> dict[str, str]:
    out: dict[str, str] = {}
    for src, dst in _WIDE.items():
        out[src] = _UPPER.get(dst, dst)
    out.update(_UPPER)
    for ch in DELETED:
        out[ch] = ""
    for ch in BRACKETS:
        out[ch] = SEP
    for src, dst in list(out.items()):  # a wide bracket folds to "[", then to SEP
        if dst and dst in BRACKETS:
            out[src] = SEP
        elif dst in DELETED:
            out[src] = ""
    del out[SEP]  # SEP folds to itself: a folded text is its own fold
    return out


MAPPING = _table()
TABLE = str.maketrans(MAPPING)
# The same as text.translate(TABLE), faster on Chinese text: deletions by one regex, the
# mapped characters one by one where they occur (str.translate with a dict goes
# through every character as Python objects).
_DELETE = re.compile("[" + "".join(re.escape(c) for c, d in MAPPING.items() if not d) + "]")
_MAPPED = re.compile("[" + "".join(re.escape(c) for c, d in MAPPING.items() if d) + "]")


def fold(text: str) -> str:
    return _MAPPED.sub(_mapped, _DELETE.sub("", text))


def _mapped(m: re.Match[str]) -> str:
    return MAPPING[m.group()]


def trim(term: str) -> str:
    """A query term without the brackets (and deleted characters) at its ends, so
    〔财政〕 is looked up as 财政: a bracket folds to ``SEP``, which the text without
    brackets lacks.  A term that is nothing else is kept as typed."""
    start, end = 0, len(term)
    while start < end and MAPPING.get(term[start], term[start]) in ("", SEP):
        start += 1
    while end > start and MAPPING.get(term[end - 1], term[end - 1]) in ("", SEP):
        end -= 1
    return term[start:end] or term


def fold_map(text: str) -> tuple[str, list[int]]:
    """The folded text and, for each of its characters, its offset in ``text``."""
    chars, where = [], []
    for i, ch in enumerate(text):
        out = MAPPING.get(ch, ch)
        if out:
            chars.append(out)
            where.append(i)
    return "".join(chars), where


def postgres_function(mapping: dict[str, str] | None = None) -> str:
    """``CREATE FUNCTION monitor_fold(text)``: ``fold`` (or another ``mapping``, as a
    migration's downgrade folds) as one ``translate()``."""
    mapping = MAPPING if mapping is None else mapping
    mapped = [(s, d) for s, d in mapping.items() if d]
    deleted = [s for s, d in mapping.items() if not d]
    src = "".join(s for s, _ in mapped) + "".join(deleted)
    dst = "".join(d for _, d in mapped)

    def lit(s: str) -> str:
        return "'" + s.replace("'", "''") + "'"
    # PL/pgSQL, not SQL: an SQL function is inlined into a bare translate() that the
    # planner thinks costs nothing, so it scanned every row instead of using the index
    # (translate() over this table is ~0.1 ms a paragraph).  COST says what it costs.
    return ("CREATE OR REPLACE FUNCTION monitor_fold(t text) RETURNS text "
            "LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS "
            f"$fold$ BEGIN RETURN translate(t, {lit(src)}, {lit(dst)}); END $fold$")
