"""Folding for search: the forms of one identifier made the same, in the index and in
the query, never in the stored text.

People type a 文号 as 湘工信提案函〔2021〕254号, …[2021]254号, …（2021）254号,
…(2021)254号, ［2021］, 【2021】 or with full-width digits ２５４.  ``fold`` maps
full-width ASCII to ASCII, upper case to lower case (ASCII only), every kind of bracket
(opening or closing: ()[]{}<>（）［］〔〕【】《》「」… ) to the one separator ``SEP``
(``(``), and deletes whitespace and the separators ，。、；：！？ and quotes, so all of
those become 湘工信提案函(2021(254号.  Decimal points, % and / are kept (71.5 is
not 715), and every dash is ``-`` (below).

Brackets become a separator, not nothing: deleted, 湘工信提案函〔2021〕204号 folded to
…2021204号, so a search for 第1204号 (or 2021204) found it.  With the separator kept
the year and the number stay apart: 1204 does not match 2021(204, while 〔2021〕204 and
[2021]204 still match each other.  The price: a 文号 typed without its brackets
(湘工信提案函2021204号) no longer finds one printed with them.  A query term's brackets
at its ends are dropped before folding (``trim``): 《安全生产法》 or 〔财政〕 still find
the text without them.

Every character folds to at most one character (``TABLE`` is a ``str.translate`` table;
a run of dashes then made one, below), so ``fold_map`` can point each folded character
back at its place in the real text: highlights are computed on folded text and shown on
the real one. The same mapping is a PostgreSQL ``translate()`` (``postgres_function``),
so the expression index there and the Python side agree exactly (PostgreSQL's index
lists a paragraph by ``monitor_fold``'s pairs, and its candidates are checked with
``fold``: the two must be the same mapping). The indexes hold folded text: a change here
needs a migration that refolds what is stored (``FOLD_REVISION``; 0016 did it for the
separator): on SQLite its FTS5 tables filled again, on PostgreSQL ``monitor_fold``
replaced and the indexes built with it rebuilt (``REINDEX INDEX
ix_paragraphs_fold_bigrams``, 0017, and ``files.folded``'s column and index, 0009):
replacing an IMMUTABLE function does not recompute what was built with it.

Dashes (revision 3, migration 0018): a plan is printed 2018—2035年, 2018–2035年,
2018－2035年 or 2018-2035年, and whoever searches types the hyphen their keyboard
gives.  Every dash and range mark is one character, ``DASH`` (``-``): the hyphen and
minus forms - ‐ ‑ ‒ − ﹣ －, the dashes – — ― ⁃ ⸺ ⸻ ﹘, and the tildes ~ ～ 〜 (2021～2025年,
2021〜2025: in Chinese text a tilde is a range mark, as the dash is; the price, a URL's
``~user`` is found as ``-user``).  A run of them is one (``——``, the Chinese
破折号, is two em dashes, and 2018——2035 is printed too): 2018-2035 finds 2018——2035,
and 2018- — -2035 (spaces are deleted) as well.  Not folded: 至 and 到 (2021年至2025年),
which are words, not marks: 2021至2025 is found only as typed, and 至 is in every
other sentence (至今, 直至).  A run folds to its first dash: each character still folds
to at most one, the others of the run to nothing, so ``fold_map`` still points each
folded character at the real text (a highlight covers the whole run when the term
goes on after it); on PostgreSQL ``monitor_fold`` collapses runs after its
``translate()`` (``regexp_replace``, only when the text holds two in a row).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_WIDE = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
_UPPER = {chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)}
# The revision of this folding (1: brackets deleted; 2: brackets to SEP, migration 0016;
# 3: every dash and range mark to DASH, a run of them to one, migration 0018).
# The stored indexes hold folded text: a changed mapping needs a new revision and a
# migration that refolds them (tests/test_search_fold.py fails until both are there).
FOLD_REVISION = 3
SEP = "("
BRACKETS = "()[]{}<>（）［］｛｝〔〕【】〖〗〈〉《》「」『』〘〙〚〛⦅⦆"
DELETED = (" \t\r\n\u3000\u00a0\u2002\u2003\u2009\u200b"
           ",，、;；:：!！?？。\"“”'‘’`·・")
DASH = "-"
# - ‐ ‑ ‒ – — ― ⁃ − ⸺ ⸻ ﹘ ﹣ － and the range tildes ~ ～ 〜 (not 至: a word)
DASHES = ("\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d"
          "~\uff5e\u301c")
RUNS_FROM = 3  # the first revision whose runs of DASH are one


def _table() -> dict[str, str]:
    out: dict[str, str] = {}
    for src, dst in _WIDE.items():
        out[src] = _UPPER.get(dst, dst)
    out.update(_UPPER)
    for ch in DELETED:
        out[ch] = ""
    for ch in BRACKETS:
        out[ch] = SEP
    for ch in DASHES:
        out[ch] = DASH
    for src, dst in list(out.items()):  # a wide bracket folds to "[", then to SEP
        if dst and dst in BRACKETS:
            out[src] = SEP
        elif dst in DELETED:
            out[src] = ""
    del out[SEP]  # SEP folds to itself: a folded text is its own fold
    return out


MAPPING = _table()
TABLE = str.maketrans(MAPPING)  # without the runs of DASH made one


def _any_of(chars: list[str]) -> re.Pattern[str]:
    return re.compile("[" + "".join(re.escape(c) for c in chars) + "]")


# The same as text.translate(TABLE), faster on Chinese text: deletions by one regex, the
# mapped characters one by one where they occur (str.translate with a dict goes
# through every character as Python objects).
_DELETE = _any_of([c for c, d in MAPPING.items() if not d])
_MAPPED = _any_of([c for c, d in MAPPING.items() if d])
_RUN = DASH * 2
_RUNS = re.compile(re.escape(DASH) + "{2,}")


def fold(text: str) -> str:
    out = _MAPPED.sub(_mapped, _DELETE.sub("", text))
    return _RUNS.sub(DASH, out) if _RUN in out else out


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
    """The folded text and, for each of its characters, its offset in ``text`` (a run
    of dashes: its first)."""
    chars: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        out = MAPPING.get(ch, ch)
        if out and not (out == DASH and chars and chars[-1] == DASH):
            chars.append(out)
            where.append(i)
    return "".join(chars), where


def mapping_of(revision: int) -> dict[str, str]:
    """The mapping of a revision of this folding (an older one: what a migration's
    downgrade folds with).  2 is 3 without the dashes (－ and ～ fold to - and ~, as
    every full-width form to its ASCII one), 1 is 2 with the brackets deleted."""
    if revision >= FOLD_REVISION:
        return dict(MAPPING)
    out = {c: d for c, d in MAPPING.items() if c not in DASHES}
    out.update({c: _WIDE[c] for c in DASHES if c in _WIDE})
    if revision <= 1:
        out = {**{c: ("" if d == SEP else d) for c, d in out.items()}, SEP: ""}
    return out


def folding(revision: int = FOLD_REVISION) -> Callable[[str], str]:
    """``fold`` as it was at ``revision`` (a migration refolds with it)."""
    if revision >= FOLD_REVISION:
        return fold
    mapping = mapping_of(revision)
    delete = _any_of([c for c, d in mapping.items() if not d])
    mapped = _any_of([c for c, d in mapping.items() if d])

    def fold_(text: str) -> str:  # revisions before RUNS_FROM: no runs made one
        return mapped.sub(lambda m: mapping[m.group()], delete.sub("", text))
    return fold_


def postgres_function(revision: int = FOLD_REVISION) -> str:
    """``CREATE FUNCTION monitor_fold(text)``: ``fold`` (or, for a migration's
    downgrade, the folding of an older ``revision``) as one ``translate()``, then, from
    ``RUNS_FROM``, each run of ``DASH`` made one."""
    mapping = mapping_of(revision)
    mapped = [(s, d) for s, d in mapping.items() if d]
    deleted = [s for s, d in mapping.items() if not d]
    src = "".join(s for s, _ in mapped) + "".join(deleted)
    dst = "".join(d for _, d in mapped)

    def lit(s: str) -> str:
        return "'" + s.replace("'", "''") + "'"
    body = f"RETURN translate(t, {lit(src)}, {lit(dst)});"
    if revision >= RUNS_FROM:  # regexp_replace only where two are in a row: most texts
        body = (f"f := translate(t, {lit(src)}, {lit(dst)}); "  # have none
                f"IF strpos(f, {lit(_RUN)}) > 0 THEN "
                f"f := regexp_replace(f, {lit(DASH + '{2,}')}, {lit(DASH)}, 'g'); "
                "END IF; RETURN f;")
    # PL/pgSQL, not SQL: an SQL function is inlined into a bare translate() that the
    # planner thinks costs nothing, so it scanned every row instead of using the index
    # (translate() over this table is ~0.1 ms a paragraph).  COST says what it costs.
    return ("CREATE OR REPLACE FUNCTION monitor_fold(t text) RETURNS text "
            "LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS "
            f"$fold$ DECLARE f text; BEGIN {body} END $fold$")
