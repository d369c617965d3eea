"""Full-text search over every version's text, title and metadata, for Chinese (no
word spaces), on shared paragraphs.

The query is split on whitespace into terms that must all occur in a version (each in
its text, its title or one of its metadata values; substring semantics, case- and
form-insensitive).  A query without any term, or with a control character in it, is bad
input (``BadInputError``), never a search: an empty query would match everything, and a
NUL breaks both databases (see ``monitor/userinput.py``).  So is a query of brackets and
punctuation only (〔〕, (), 【】): folded, it is separators alone, found in nearly every
text; such a term beside real ones (``财政 （）``) is dropped.

Terms are folded (``storage/fold.py``: brackets to one separator, full-width forms,
separators deleted, every dash and range mark to ``-``), so 湘工信提案函〔2021〕254号 is
found as …[2021]254号, …（2021）254号 or ２５４, but not as 1204号 (the bracket keeps
2021 and 204 apart), and 2018—2035年 as 2018-2035 (migration 0018); the index
holds the folded text of each distinct paragraph of a page once
(``storage/paragraphs.py``).  SQLite: a folded term of three or more characters is a
lookup of its trigrams in the FTS5 table ``paragraphs_fts`` (candidates, whose folded
text is then checked: the index keeps no positions, to stay small); one of two
characters (算力) a lookup of that pair in ``paragraphs_bigrams`` (0010, exact).
PostgreSQL: one GIN index, of ``monitor_bigrams(monitor_fold(text))`` (each paragraph's
distinct pairs of adjacent folded characters, migration 0017), answers every term of
two or more characters: the paragraphs holding all of its pairs, exact for a pair, and
for a longer term candidates checked as on SQLite (a text holding the folded term as
it stands matches; the others come back and are folded in Python).  No folded text is
stored and no trigram index kept: 0017 dropped both (the column and the two GIN
indexes were ~1.4 KB of each changed version, bench/README.md), and the check reads
the text, not ``monitor_fold`` (a PL/pgSQL ``translate()``, ~0.1–0.5 ms a paragraph).
On both, a term that
folds to one character (or none) is matched as typed, case-insensitively (a scan of
distinct paragraphs, not of versions; folding every row would cost more).
A term in very many paragraphs (or a scan's term found early and often) is not looked
up in the whole archive when grouped: the pages are visited newest first until the
ones shown are certain (``storage/search_walk.py``), and the total is then a lower
bound, flagged.
The matching paragraphs name
their pages; the versions of those pages that list a matching paragraph for every term
are the hits, newest first.  Grouped by page (what the CLI and web ask), they are not
read one by one: the runs of version numbers listing each matching paragraph
(``storage/spans.py``) give each page's newest matching version and the exact count of
the others ("also in N earlier versions"), and only the shown versions are read.
Attachment text is searched too (``storage.search_files``):
such a hit names the attachment (``SearchHit.attachment``) and the version listing it.

A version is one hit however many places match: its text (title, metadata) or any of
its attachments; a version matches when one of them holds every term (terms split
between the text and a file do not).  It is shown in its text first, the page's own
words and what its link opens, and the attachments that match too are named after
(``SearchHit.also_in``, "（附件「x.pdf」中也有）"); a version matching in attachments
only is shown in the first of them, the others named.  Grouped, a page is one hit: its
newest version matching in either, and "also in N earlier versions" counts its other
versions matching in either, each once (the union of the text's bit set of version
numbers and the attachment hits' numbers: ``_per_page``).  So the totals are distinct
versions and pages, never a version counted for its text and again for a file.

A hit names where it matched (``SearchHit.field``): ``text``, ``title``, a metadata
label such as 文号, or ``attachment``.  The matched passage is cut and highlighted
here, in Python, as offsets into the real (unfolded) text: escaping is the caller's job
(``Passage.html()`` does it for HTML), so no markup ever comes out of the database.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    column,
    func,
    literal,
    or_,
    select,
    table,
    text,
)

from monitor.errors import BadInputError
from monitor.userinput import check_text
from storage import paragraphs, search_files, search_walk, spans, tables
from storage.archive import source_row, tagged_ids
from storage.fold import MAPPING, SEP, fold, fold_map, trim
from storage.repository import Store

# The tables searched, as Core (``storage.tables``): no ORM is imported by a search.
_S, _P, _V = tables.sources.c, tables.pages.c, tables.versions.c
_PA, _SP = tables.paragraphs.c, tables.paragraph_spans.c

TRIGRAM = 3
BIGRAM = 2
ATTACHMENT = "attachment"
WINDOW = 60  # characters of context on each side of the first match
HEAD_LINES = 4  # lines read for the start of a text matched only in its title/metadata
# characters that only they themselves fold to: a text folds to one containing such a
# character only if it contains it as it stands (an SQL pre-test before folding)
_TARGETS = set(MAPPING.values())


@dataclass(frozen=True)
class Passage:
    """A stretch of text with the matches marked by ``spans`` (offsets into ``text``)."""

    text: str
    spans: tuple[tuple[int, int], ...] = ()
    cut_before: bool = False
    cut_after: bool = False

    def segments(self) -> list[tuple[str, bool]]:
        """``(piece, is_match)`` pairs covering the text in order."""
        out, pos = [], 0
        for start, end in self.spans:
            if start > pos:
                out.append((self.text[pos:start], False))
            out.append((self.text[start:end], True))
            pos = end
        if pos < len(self.text):
            out.append((self.text[pos:], False))
        return out

    def html(self) -> str:
        """Escaped text with each match in ``<mark>``."""
        parts = [f"<mark>{html.escape(t)}</mark>" if hit else html.escape(t)
                 for t, hit in self.segments()]
        return ("…" if self.cut_before else "") + "".join(parts) + (
            "…" if self.cut_after else "")


@dataclass(frozen=True)
class SearchHit:
    version_id: int
    page_id: int
    source: str
    url: str
    fetched_at: datetime
    title: Passage
    passage: Passage
    # a hit in an attachment's text: its entry (name, url, sha256…) on the version
    attachment: dict[str, Any] | None = None
    # where it matched: "text", "title", a metadata label (文号…) or "attachment"
    field: str = "text"
    earlier: int = 0  # grouped by page: the page's other, older matching versions
    # the version's other matching attachments, by name: those of a hit shown in its
    # text, or the others of one shown in an attachment ("（附件「x.pdf」中也有）")
    also_in: tuple[str, ...] = ()
    number: int = 0  # 第N版 of its page: what a person reads (the id stays in URLs, JSON)


@dataclass(frozen=True)
class SearchResults:
    query: str
    terms: list[str]
    # fts5 | like | fts5+like | pg_trgm (PostgreSQL, whatever index: the name is kept for
    # the API; page text is looked up by character pairs since 0017, attachments by pg_trgm)
    method: str
    total: int  # matching versions, or pages when grouped
    hits: list[SearchHit]
    grouped: bool = False
    versions: int = 0  # matching versions (grouped or not)
    # grouped, with a broad term: total and versions count the pages visited only, at
    # least this many match (storage/search_walk.py)
    total_is_lower_bound: bool = False


def terms_of(query: str) -> list[str]:
    """The whitespace-separated terms, each without brackets at its ends (``fold.trim``)."""
    return [trim(t) for t in query.split() if t]


def checked_terms(query: str, source: str | None = None, tag: str | None = None
                  ) -> list[str]:
    """The terms of ``query``; ``BadInputError`` for a query without any (empty or only
    spaces) and for a control character in the query or a filter (``monitor.userinput``):
    no such input reaches the database."""
    check_text(query, "the search query")
    for value, what in ((source, "the source"), (tag, "the tag")):
        if value:
            check_text(value, what)
    terms = terms_of(query)
    if not terms:
        raise BadInputError(f"the search query {query!r} has no words: give at least one",
                            zh="搜索词为空：请输入至少一个字或数字")
    worded = [t for t in terms if fold(t).replace(SEP, "")]
    if not worded:  # 〔〕, (), 【】, ，: folded to separators only, they matched everything
        raise BadInputError(
            f"the search query {query!r} has no words, only brackets or punctuation: give "
            "at least one word", zh=f"搜索词「{query.strip()}」只有括号或标点，没有可搜索的文字"
            "（括号和标点在检索时只作分隔）：请输入至少一个字或数字")
    return worded


class Search:
    def __init__(self, store: Store, *, broad: int | None = None,
                 first_pages: int | None = None) -> None:
        """``broad``: paragraphs listed by the index above which a term is looked up page
        by page, newest first (``storage/search_walk.py``); ``first_pages``: the pages
        visited first (defaults: ``search_walk.BROAD`` and ``FIRST_PAGES``)."""
        self.store = store
        self.broad = search_walk.BROAD if broad is None else broad
        self.first_pages = search_walk.FIRST_PAGES if first_pages is None else first_pages

    def search(self, query: str, *, source: str | None = None, tag: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               limit: int = 50, offset: int = 0, field: str | None = None,
               group: bool = False) -> SearchResults:
        """Hits newest first, ``limit`` from ``offset``.  ``field``: only matches in the
        text ("text"), the title ("title"), a metadata label (文号…) or attachments
        ("attachment").  ``group``: one hit per page, its newest matching version, with
        ``earlier`` counting the page's other matching versions; ``total`` counts pages."""
        terms = checked_terms(query, source, tag)
        if field:
            check_text(field, "the field")
        sqlite = self.store.is_sqlite
        with self.store.reading() as s:
            pages = _page_filters(s, source, tag)
            found: list[tuple[int, int, set[str]]] = []
            matched: list[dict[int, tuple[int, str]]] = []
            # grouped: page → (newest version id matching in its text, bit set of the
            # numbers of its versions that do: storage/spans.py)
            newest: dict[int, tuple[int, int]] = {}
            complete = True
            files = [] if field and field != ATTACHMENT else search_files.hits(
                s, terms, _filters(s, source, tag, since, until), sqlite=sqlite)
            if field != ATTACHMENT and group:
                newest, matched, complete = self._newest(
                    s, terms, pages, field, since, until, files, offset + limit + 1)
            elif field != ATTACHMENT:
                matched = [_paragraphs(s, t, _matching(t, pages, sqlite, field))
                           for t in terms]
                found = _versions(s, matched, since, until)
            items = _per_page(newest, files) if group else _per_version(found, files)
            versions = sum(i.earlier + 1 for i in items)
            order = _newest_first(s, items)
            window = order[offset:offset + limit]
            if newest:  # the fields matched, for the versions shown only
                shown = {i.vid for _, i in window if i.text}
                on = {i.page for _, i in window if i.text}
                found = _versions(s, [{pid: m[pid] for pid in m if m[pid][0] in on}
                                      for m in matched], since, until, only=shown)
            fields = {vid: fs for vid, _, fs in found}
            hit_ids = {pid for m in matched for pid in m}
            hits = _hits(s, window, fields, terms, hit_ids)
        return SearchResults(query, terms, _method(terms, sqlite), len(order), hits,
                             grouped=group, versions=versions,
                             total_is_lower_bound=not complete)

    def _newest(self, s: Any, terms: list[str], pages: list[ColumnElement[Any]],
                field: str | None, since: datetime | None, until: datetime | None,
                files: list[Any], want: int
                ) -> tuple[dict[int, tuple[int, int]], list[dict[int, tuple[int, str]]], bool]:
        """Grouped: ``page → (newest matching version id, count)``, each term's matching
        paragraphs, and whether that is every page (else the pages visited by
        ``search_walk.walk``, the first ``want`` of them exact)."""
        sqlite = self.store.is_sqlite
        runs: list[dict[int, list[spans.Run]]] = [{} for _ in terms]
        looked: list[dict[int, tuple[int, str]] | None] = []
        for t, r in zip(terms, runs, strict=True):
            many = _listed_many(s, t, sqlite, self.broad)  # None: no index, cap the scan
            looked.append(None if many else _paragraphs(
                s, t, _matching(t, pages, sqlite, field), r,
                cap=self.broad if many is None else None))
        broad = [i for i, m in enumerate(looked) if m is None]
        matched = [m or {} for m in looked]
        if not broad:
            return _newest_by_spans(s, runs, since, until), matched, True
        narrow = [r for i, r in enumerate(runs) if i not in broad]
        for i in broad:
            runs[i] = {}
        ids = sorted(set.intersection(*(set(r) for r in narrow))) if narrow else pages
        candidates = search_walk.candidates(s, ids, narrow, since, until)

        def fetch(chunk: list[int]) -> None:
            for i in broad:
                matched[i].update(_paragraphs(
                    s, terms[i], _on_pages(terms[i], chunk, sqlite, field), runs[i]) or {})

        walked = search_walk.walk(s, candidates, [runs[i] for i in broad], fetch,
                                  _file_keys(files, sqlite), want, self.first_pages)
        return walked.newest, matched, walked.complete


def _rows(s: Any, stmt: Any) -> Any:
    """Plain rows: Core, no ORM's per-row work (thousands of rows on a broad query)."""
    return s.execute(stmt)


def _raw(s: Any, stmt: Any) -> list[tuple[Any, ...]]:
    """The driver's own tuples, for columns that need no conversion (ints and text):
    a broad query returns ~100,000 of them, where building rows would cost more than the
    database's work."""
    return _rows(s, stmt).cursor.fetchall()  # type: ignore[no-any-return]


@dataclass
class _Item:
    """A matching version, shown as one hit: its text, title or metadata match
    (``text``), its attachments that match (``files``: ``search_files.hits`` rows), or
    both; grouped, ``earlier`` counts its page's other matching versions."""

    vid: int
    page: int
    text: bool
    files: list[Any] = dc_field(default_factory=list)
    earlier: int = 0


def _per_version(found: list[tuple[int, int, set[str]]], files: list[Any]) -> list[_Item]:
    """One item per matching version, whether its text or attachments (or both) match."""
    out = {vid: _Item(vid, page, True) for vid, page, _ in found}
    for f in files:
        vid, page = f[0][0], f[0][1]
        out.setdefault(vid, _Item(vid, page, False)).files.append(f)
    return list(out.values())


def _per_page(newest: dict[int, tuple[int, int]], files: list[Any]) -> list[_Item]:
    """One item per page: its newest version matching in its text or in an attachment,
    ``earlier`` the number of its other versions matching in either (a version counted
    once: the union of the text's bit set and the attachment hits' version numbers)."""
    by_number: dict[int, dict[int, _Item]] = {}  # page → number → attachment hits
    for f in files:
        vid, page, number = f[0][0], f[0][1], f[0][7]
        by_number.setdefault(page, {}).setdefault(number, _Item(vid, page, False)
                                                  ).files.append(f)
    out = []
    for page in sorted(newest.keys() | by_number.keys()):
        vid, bits = newest.get(page, (0, 0))
        in_text = bits.bit_length() - 1
        attached = by_number.get(page, {})
        for number in attached:
            bits |= 1 << number
        top = bits.bit_length() - 1
        item = (_Item(vid, page, True, attached[top].files if top in attached else [])
                if top == in_text else attached[top])
        item.earlier = bits.bit_count() - 1
        out.append(item)
    return out


def _newest_by_spans(s: Any, runs: list[dict[int, list[spans.Run]]],
                     since: datetime | None, until: datetime | None
                     ) -> dict[int, tuple[int, int]]:
    """``page → (its newest version listing a match for every term, the bit set of the
    numbers of its versions that do)``, from each term's runs of version numbers
    listing its matching paragraphs (``storage/spans.py``), not from the versions."""
    pages = set.intersection(*(set(r) for r in runs))
    if not pages:
        return {}
    bounds = search_walk.number_bounds(s, sorted(pages), since, until)
    wanted: dict[int, int] = {}  # page → the bit set of its matching numbers
    for page, (lo, hi, newest) in bounds.items():
        both = spans.bits(lo, hi)
        for term in runs:
            both &= spans.union_bits(term[page], newest)
        if both:
            wanted[page] = both
    at = search_walk.versions_at(s, {page: b.bit_length() - 1 for page, b in wanted.items()})
    return {page: (at[page][1], b) for page, b in wanted.items() if page in at}


def _newest_first(s: Any, items: list[_Item]) -> list[tuple[datetime, _Item]]:
    """The items with their fetch time, newest first (times read for these only)."""
    wanted = sorted({i.vid for i in items if not i.files})
    at: dict[int, datetime] = {}
    for i in range(0, len(wanted), paragraphs.CHUNK):
        at.update(_rows(s, select(_V.id, _V.fetched_at)
                        .where(_V.id.in_(wanted[i:i + paragraphs.CHUNK]))).all())
    out = [(i.files[0][0][5] if i.files else at[i.vid], i) for i in items]
    out.sort(key=lambda x: (x[0], x[1].vid), reverse=True)
    return out


def _method(terms: list[str], sqlite: bool) -> str:
    if not sqlite:
        return "pg_trgm"
    long = any(len(fold(t)) >= BIGRAM for t in terms)
    short = any(len(fold(t)) < BIGRAM for t in terms)
    return "+".join(m for m, used in (("fts5", long), ("like", short)) if used)


def _page_filters(s: Any, source: str | None, tag: str | None) -> list[ColumnElement[Any]]:
    out: list[ColumnElement[Any]] = []
    if source:
        out.append(_P.source_id == source_row(s, source).id)
    if tag:
        out.append(_P.source_id.in_(tagged_ids(s, tag)))
    return out


def _matching(term: str, pages: list[ColumnElement[Any]], sqlite: bool,
              field: str | None = None) -> Any:
    """The query for ``(id, page id, field, text)`` of the paragraphs that may contain
    ``term``; the text is NULL for those known to (else it is still to be folded and
    checked: SQLite's trigram candidates)."""
    folded = fold(term)
    check = False
    if len(folded) >= BIGRAM:
        # the index lists the paragraphs holding every pair of the term (SQLite: its
        # trigrams); without positions, so those of three or more characters are checked
        # on the folded text here; a pair is in the folded text or not
        cond = (_PA.id.in_(_sqlite_index(folded)) if sqlite
                else _postgres_pairs(folded))
        check = len(folded) >= TRIGRAM
    else:  # a term that folds to one character (a scan, so not folded), or to none
        cond = _as_typed(term, sqlite)
    # a folded term is its own fold, so where it is in the text as it stands it is in
    # the fold too: the text comes back (to be folded and checked) only where it is not
    body = case((_position(_PA.text, folded, sqlite) > 0, literal(None)),
                else_=_PA.text) if check else literal(None)
    stmt = select(_PA.id, _PA.page_id, _PA.field, body).where(cond)
    if field:
        stmt = stmt.where(_PA.field == (paragraphs.BODY if field == "text" else field))
    if pages:
        stmt = stmt.join(tables.pages, _P.id == _PA.page_id).where(and_(*pages))
    return stmt


def _paragraphs(s: Any, term: str, query: Any, runs: dict[int, list[spans.Run]] | None = None,
                cap: int | None = None) -> dict[int, tuple[int, str]] | None:
    """``paragraph id → (page id, field)`` of every paragraph containing ``term``.
    ``runs``: filled with ``page → runs of version numbers (last None: up to the
    newest)`` listing them (``storage/spans.py``).  ``cap``: None (and nothing filled)
    when more than that many paragraphs may match."""
    folded = fold(term)
    rows = _raw(s, query if cap is None else query.limit(cap + 1))
    if cap is not None and len(rows) > cap:
        return None
    out = {pid: (page_id, field) for pid, page_id, field, body in rows
           if body is None or folded in fold(body)}
    if runs is not None:
        for pid, first, last in _runs(s, sorted(out)):
            runs.setdefault(out[pid][0], []).append((first, last))
    return out


def _runs(s: Any, ids: list[int]) -> list[tuple[int, int, int | None]]:
    """``(paragraph id, first, last)`` of the runs of versions listing these paragraphs,
    by their primary key (a join let PostgreSQL hash the whole span table)."""
    sqlite = search_walk.sqlite_(s)
    return s.execute(_span_runs(sqlite), {  # type: ignore[no-any-return]
        "ids": search_walk.id_values(ids, sqlite)}).cursor.fetchall()


@cache
def _span_runs(sqlite: bool) -> Any:
    return select(_SP.paragraph_id, _SP.first_number,
                  _SP.last_number).where(
        search_walk.ids_in(_SP.paragraph_id, "ids", sqlite))


def _sqlite_index(folded: str) -> Any:
    """SQLite: the ids the index lists for a folded term of two or more characters
    (trigram candidates, or the paragraphs holding the pair)."""
    if len(folded) >= TRIGRAM:
        fts = table("paragraphs_fts", column("rowid"))
        return select(fts.c.rowid).where(
            text("paragraphs_fts MATCH :fts_query").bindparams(fts_query=_trigrams(folded)))
    grams = table("paragraphs_bigrams", column("rowid"))
    return select(grams.c.rowid).where(text("paragraphs_bigrams MATCH :gram").bindparams(
        gram=f'"{paragraphs.bigrams(folded)}"'))


def _listed_many(s: Any, term: str, sqlite: bool, cap: int) -> bool | None:
    """Whether the index lists more than ``cap`` paragraphs for ``term`` (counted up to
    ``cap + 1``: a broad term costs no more than a narrow one to tell); None for a term
    no index answers (a scan: the lookup itself is then capped)."""
    folded = fold(term)
    if len(folded) < BIGRAM:
        return None
    ids = (_sqlite_index(folded) if sqlite
           else select(_PA.id).where(_postgres_pairs(folded)))
    count = select(func.count()).select_from(ids.limit(cap + 1).subquery())
    return bool(_rows(s, count).scalar_one() > cap)


def _postgres_pairs(folded: str) -> ColumnElement[Any]:
    """PostgreSQL: the paragraphs whose folded text holds every pair of adjacent
    characters of ``folded`` (two or more characters), from the GIN index of
    ``monitor_bigrams(monitor_fold(text))`` (migration 0017; exact: array containment
    needs no recheck, so neither function runs at search time).  The expression is the
    index's, word for word, or the planner does not use it."""
    return text("monitor_bigrams(monitor_fold(paragraphs.text)) @> CAST(:pairs AS text[])"
                ).bindparams(pairs=pairs(folded))


def pairs(folded: str) -> list[str]:
    """The distinct pairs of adjacent characters of a folded text (``monitor_bigrams``)."""
    return list(dict.fromkeys(folded[i:i + BIGRAM] for i in range(len(folded) - 1)))


def _position(value: Any, term: str, sqlite: bool) -> ColumnElement[Any]:
    """Where ``term`` is in ``value`` (0: not in it): ``instr`` or ``strpos``."""
    return (func.instr if sqlite else func.strpos)(value, term)


def _as_typed(term: str, sqlite: bool) -> ColumnElement[Any]:
    """The paragraphs holding ``term`` as typed, case-insensitively: a plain substring
    test when it has no cased letter (Chinese), several times cheaper than ``ILIKE``,
    which lower-cases every text it scans."""
    if term.lower() == term.upper():
        return _position(_PA.text, term, sqlite) > 0
    return _PA.text.ilike(_pattern(term), escape="\\")


def _on_pages(term: str, pages: list[int], sqlite: bool, field: str | None) -> Any:
    """``_matching`` among the paragraphs of ``pages`` only (a broad term, visited page
    by page: ``storage/search_walk.py``): their index range, each tested as it is read.
    A text holding the folded term as it stands matches; one holding its characters
    that only fold from themselves comes back to be folded and checked (the same on
    both databases: PostgreSQL stores no folded text, 0017)."""
    folded = fold(term)
    body: Any = literal(None)
    if len(folded) < BIGRAM:
        cond = _as_typed(term, sqlite)
    else:
        exact = _position(_PA.text, folded, sqlite) > 0
        fixed = [c for c in dict.fromkeys(folded) if c not in MAPPING and c not in _TARGETS]
        cond = or_(exact, and_(*(_position(_PA.text, c, sqlite) > 0
                                 for c in fixed[:8]))) if fixed else literal(True)
        body = case((exact, literal(None)), else_=_PA.text)
    stmt = select(_PA.id, _PA.page_id, _PA.field, body).where(
        search_walk.ids_in(_PA.page_id, "pages", sqlite), cond).params(
        pages=search_walk.id_values(pages, sqlite))
    if field:
        stmt = stmt.where(_PA.field == (paragraphs.BODY if field == "text" else field))
    return stmt


def _file_keys(files: list[Any], sqlite: bool) -> dict[int, search_walk.Key]:
    """``page → (fetched_at, version id)`` of its newest attachment hit."""
    out: dict[int, search_walk.Key] = {}
    for row, _, _ in files:
        key = search_walk.key_of(row[5], row[0], sqlite)
        out[row[1]] = max(key, out.get(row[1], key))
    return out


def _trigrams(folded: str) -> str:
    """An FTS5 query ANDing trigrams that cover ``folded`` (each quoted: no syntax)."""
    starts = sorted({*range(0, len(folded) - TRIGRAM + 1, TRIGRAM), len(folded) - TRIGRAM})
    grams = dict.fromkeys(folded[i:i + TRIGRAM] for i in starts)
    return " AND ".join('"' + g.replace('"', '""') + '"' for g in grams)


def _pattern(term: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", term) + "%"


def _versions(s: Any, matched: list[dict[int, tuple[int, str]]], since: datetime | None,
              until: datetime | None, only: set[int] | None = None
              ) -> list[tuple[int, int, set[str]]]:
    """(id, page id, fields matched) of the versions listing a matching paragraph for
    every term (among the versions ``only``, when given)."""
    pages = set.intersection(*({p for p, _ in m.values()} for m in matched))
    if not pages or (only is not None and not only):
        return []
    stmt = select(_V.id, _V.page_id, _V.line_ids, _V.field_ids).where(
        _V.id.in_(sorted(only)) if only is not None
        else _V.page_id.in_(sorted(pages)))
    if since:
        stmt = stmt.where(_V.fetched_at >= since)
    if until:
        stmt = stmt.where(_V.fetched_at <= until)
    # per page, each term's matching paragraph ids sorted: a version's runs of ids are
    # tested against them by bisection, without expanding its list
    wanted = [_by_page(m) for m in matched]
    out = []
    for vid, page, lines, field_ids in _rows(s, stmt):
        spans = paragraphs.runs(lines) + paragraphs.runs(field_ids)
        fields: set[str] = set()
        for m, ids in zip(matched, wanted, strict=True):
            hit = [m[i][1] for i in _within(ids[page], spans)]
            if not hit:
                break
            fields.update(hit)
        else:
            out.append((vid or 0, page, fields))
    return out


def _by_page(matched: dict[int, tuple[int, str]]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for pid, (page, _) in matched.items():
        out.setdefault(page, []).append(pid)
    for ids in out.values():
        ids.sort()
    return out


def _within(ids: list[int], spans: list[tuple[int, int]]) -> list[int]:
    """The ``ids`` (sorted) that fall in any of the ``(first, last)`` runs."""
    out = []
    for first, last in spans:
        i = bisect_left(ids, first)
        while i < len(ids) and ids[i] <= last:
            out.append(ids[i])
            i += 1
    return out


def _filters(s: Any, source: str | None, tag: str | None, since: datetime | None,
             until: datetime | None) -> list[ColumnElement[Any]]:
    out = _page_filters(s, source, tag)
    if since:
        out.append(_V.fetched_at >= since)
    if until:
        out.append(_V.fetched_at <= until)
    return out


def _hits(s: Any, window: list[tuple[datetime, _Item]], fields: dict[int, set[str]],
          terms: list[str], hit_ids: set[int]) -> list[SearchHit]:
    ids = [i.vid for _, i in window if i.text]
    rows = {r[0]: r for r in s.execute(
        select(_V.id, _V.page_id, _S.name, _V.url, _P.url,
               _V.fetched_at, _V.title, _V.line_ids, _V.meta,
               _V.number)
        .join(tables.pages, _P.id == _V.page_id)
        .join(tables.sources, _S.id == _P.source_id)
        .where(_V.id.in_(ids)))} if ids else {}
    shown = _shown(s, {vid: r[7] for vid, r in rows.items()}, hit_ids, terms)
    out = []
    for _, item in window:
        if item.text:  # the text first; its matching attachments named after it
            hit = _hit(rows[item.vid], shown[item.vid], fields.get(item.vid, set()), terms)
        else:
            hit = _file_hit(*item.files[0], terms)
        names = dict.fromkeys(f[1].get("name") or f[1].get("url", "") for f in item.files)
        names.pop((hit.attachment or {}).get("name") or (hit.attachment or {}).get("url"), None)
        out.append(replace(hit, earlier=item.earlier, also_in=tuple(names)))
    return out


def _shown(s: Any, lines: dict[int, bytes], hit_ids: set[int], terms: list[str]
           ) -> dict[int, Passage]:
    """Each version's passage, reading only the paragraph it is in: its first line that
    matched (or its first lines, for a match in the title or metadata only)."""
    picks: dict[int, tuple[list[int], bool, bool]] = {}
    for vid, blob in lines.items():
        ids = paragraphs.decode(blob)
        k = next((k for k, pid in enumerate(ids) if pid in hit_ids), None)
        if k is None:
            picks[vid] = (ids[:HEAD_LINES], False, len(ids) > HEAD_LINES)
        else:
            picks[vid] = ([ids[k]], k > 0, k < len(ids) - 1)
    found = paragraphs.texts(s, (i for ids, _, _ in picks.values() for i in ids))
    out = {}
    for vid, (ids, before, after) in picks.items():
        p = passage(paragraphs.join(ids, found, vid), terms)
        out[vid] = replace(p, cut_before=p.cut_before or before,
                           cut_after=p.cut_after or after)
    return out


def _hit(row: Any, body: Passage, fields: set[str], terms: list[str]) -> SearchHit:
    vid, page_id, source, url, page_url, fetched_at, title, _, meta, number = row
    field, shown = _where(fields, body, dict(meta or {}), terms)
    return SearchHit(version_id=vid, page_id=page_id, source=source, url=url or page_url,
                     fetched_at=fetched_at, title=Passage(title, _spans(title, terms)),
                     passage=shown, field=field, number=number)


def _where(fields: set[str], body: Passage, meta: dict[str, str], terms: list[str]
           ) -> tuple[str, Passage]:
    """The field a hit is shown in (the text first, then a metadata value, then the
    title) and the passage of it to show."""
    if paragraphs.BODY in fields or not fields:
        return "text", body
    for label, value in meta.items():
        if label in fields and _spans(str(value), terms):
            line = f"{label}：{value}"
            return label, Passage(line, _spans(line, terms))
    return "title", body


def _file_hit(row: Any, entry: dict[str, Any], body: str, terms: list[str]) -> SearchHit:
    vid, page_id, source, url, page_url, fetched_at, title, number, _ = row
    return SearchHit(version_id=vid, page_id=page_id, source=source, url=url or page_url,
                     fetched_at=fetched_at, title=Passage(title, _spans(title, terms)),
                     passage=passage(body, terms), attachment=dict(entry), field=ATTACHMENT,
                     number=number)


def _spans(text_: str, terms: list[str]) -> tuple[tuple[int, int], ...]:
    """Non-overlapping match offsets of any term in the real text, in order (longest
    term wins a tie), matched on folded text line by line as the index matches."""
    folded_terms = sorted({f for t in terms if (f := fold(t))}, key=len, reverse=True)
    raw = [t for t in terms if not fold(t)]
    out: list[tuple[int, int]] = []
    if folded_terms:
        pattern = re.compile("|".join(re.escape(t) for t in folded_terms))
        offset = 0
        for line in text_.split("\n"):
            if pattern.search(fold(line)):  # offsets only for the lines that match
                folded, where = fold_map(line)
                out += [(offset + where[m.start()], offset + where[m.end() - 1] + 1)
                        for m in pattern.finditer(folded)]
            offset += len(line) + 1
    if raw:
        pattern = re.compile("|".join(re.escape(t) for t in raw), re.IGNORECASE)
        out += [m.span() for m in pattern.finditer(text_)]
    out.sort()
    kept: list[tuple[int, int]] = []
    for span in out:
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return tuple(kept)


def passage(body: str, terms: list[str], window: int = WINDOW) -> Passage:
    """The paragraph around the first match, at most ``window`` characters each side
    (only the lines up to the first matching one are folded and searched)."""
    offset = 0
    for line in body.split("\n"):
        spans = _spans(line, terms)
        if spans:
            return _cut(body, line, offset, spans, window)
        offset += len(line) + 1
    head = body[: 2 * window]  # the match was in the title or metadata only
    return Passage(head, (), False, len(body) > len(head))


def _cut(body: str, line: str, offset: int, spans: tuple[tuple[int, int], ...],
         window: int) -> Passage:
    first_start, first_end = spans[0]
    start = max(0, first_start - window)
    end = min(len(line), first_end + window)
    inside = tuple((a - start, b - start) for a, b in spans if a >= start and b <= end)
    return Passage(line[start:end], inside, offset + start > 0,
                   offset + end < len(body))
