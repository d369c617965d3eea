"""Grouped search with a broad term: only the pages shown are worked out exactly.

A grouped search (one hit per page, what the CLI and web ask) shows 20 pages, newest
matching version first.  Working out every page first costs the database's work per
matching paragraph: on 1,000 pages × 50 versions "人工智能" is in 89,000 of the 96,000
paragraphs, a few hundred ms on either database for 20 hits.  So ``storage/search.py``
first counts, per term, the paragraphs its index lists, up to ``BROAD + 1`` (a term of
one character, which no index answers, is scanned for up to that many): a term with
fewer (*narrow*) is looked up in the whole archive as before; a *broad* one is looked
up only in the pages visited here, chunk by chunk:

* the candidate pages are those where every narrow term matches, with the versions
  where they all do (its bit set, ``storage/spans.py``), clipped to the date filter;
  with no narrow term, every page (source/tag filters applied);
* each candidate's best possible key is its newest candidate version's
  ``(fetched_at, id)`` (a page's numbers, ids and fetch times grow together): pages are
  visited in that order, the broad terms looked up among their paragraphs only (an
  index range on ``page_id`` and a substring test on the folded text), the first
  chunk as many pages as wanted (a broad term is in most of them), each next one twice
  the size of the one before;
* the walk stops when ``offset + limit + 1`` pages are known whose newest matching
  version is newer than any unvisited page could offer: the pages shown, their order
  and their "also in N earlier versions" are then exact, and there is at least one
  more page to page on to.

The total is then what was seen: the pages (and versions) found in the visited pages,
a lower bound, flagged ``SearchResults.total_is_lower_bound`` and shown as "至少 N 个页面"
/ "at least N pages"; counting every page exactly would be the very work this skips.
When the walk visits every candidate (a narrow query, the last pages of results, or a
broad term found in few pages) the total is exact and not flagged.

Attachment hits (``storage.search_files``) are found in full first; the pages they are
on are visited first, so each of their keys and counts is known before it is compared.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    String,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY

from storage import paragraphs, spans, tables

_P, _V = tables.pages.c, tables.versions.c

BROAD = 2000  # paragraphs listed by the index above which a term is walked, not looked up
FIRST_PAGES = 20  # pages in the first chunk (at least those wanted)

# (fetched_at, version id): the order of grouped hits.  The time as the driver returns it
# (``when``): SQLite's fixed-width UTC text sorts as the times do, and parsing a thousand
# of them into datetimes cost more than the queries
Key = tuple[Any, int]
Runs = dict[int, list[spans.Run]]  # page → runs of version numbers listing a match


@dataclass
class Walked:
    # page → (newest matching version id, the bit set of its matching version numbers)
    newest: dict[int, tuple[int, int]]
    complete: bool  # every candidate page visited: the totals are exact


@dataclass(frozen=True)
class Candidate:
    allowed: int  # the versions (bit set) where the narrow terms match, in the dates
    newest: int | None  # the page's newest version number (an open run ends there)
    key: Key  # the best key the page can have


def walk(s: Any, candidates: dict[int, Candidate], broad: list[Runs],
         fetch: Callable[[list[int]], None], files: dict[int, Key], want: int,
         first: int = FIRST_PAGES) -> Walked:
    """Visit ``candidates`` best key first; ``fetch(pages)`` fills the runs of every
    broad term (``broad``) on those pages.  Stops once ``want`` pages are known that no
    unvisited page can beat; ``files``: the keys of pages with attachment hits."""
    queue = sorted(candidates, key=lambda p: candidates[p].key, reverse=True)
    queue.sort(key=lambda p: p not in files)  # stable: attachment pages first
    known = {p: k for p, k in files.items() if p not in candidates}  # final already
    newest: dict[int, tuple[int, int]] = {}
    i, size = 0, max(first, want)
    while i < len(queue):
        chunk = queue[i:i + size]
        i, size = i + size, size * 2
        fetch(chunk)
        unknown = [p for p in chunk if candidates[p].newest is None]
        for page, (_, _, n) in number_bounds(s, unknown, None, None).items():
            candidates[page] = replace(candidates[page], newest=n)
        found = _matching(chunk, candidates, broad)
        at = versions_at(s, {p: b.bit_length() - 1 for p, b in found.items()})
        for page in chunk:
            if page in found and page in at:
                newest[page] = (at[page][1], found[page])
                known[page] = max(at[page], files.get(page, at[page]))
            elif page in files:
                known[page] = files[page]
        rest = [max(candidates[p].key, files.get(p, candidates[p].key)) for p in queue[i:]]
        if rest and sum(k > max(rest) for k in known.values()) >= want:
            return Walked(newest, complete=False)
    return Walked(newest, complete=True)


def _matching(chunk: list[int], candidates: dict[int, Candidate], broad: list[Runs]
              ) -> dict[int, int]:
    """``page → bit set of its matching numbers`` for the chunk's pages matching all."""
    out = {}
    for page in chunk:
        c = candidates[page]
        both = c.allowed
        for runs in broad:
            both &= spans.union_bits(runs.get(page, []), c.newest or 0)
        if both:
            out[page] = both
    return out


def candidates(s: Any, pages: list[int] | list[ColumnElement[Any]], narrow: list[Runs],
               since: datetime | None, until: datetime | None) -> dict[int, Candidate]:
    """The pages where the narrow terms all match in the date filter, with the versions
    where they do and the best key each could have.  ``pages``: their ids, or (no narrow
    term) the source/tag filters of every page to consider."""
    last: dict[int, Key] = {}  # no narrow term: the newest versions' keys, read with them
    if not narrow:
        bounds = _all_bounds(s, pages, since, until, last)  # type: ignore[arg-type]
    elif since or until:
        bounds = number_bounds(s, pages, since, until)  # type: ignore[arg-type]
    else:  # the newest number matters only to a run still open (read later for the rest)
        bounds = number_bounds(s, sorted({p for runs in narrow for p, rs in runs.items()
                                          if any(last is None for _, last in rs)}), None, None)
    allowed: dict[int, tuple[int, int | None]] = {}  # page → (bit set, newest number)
    for page in (pages if narrow else bounds):
        if page not in bounds and (since or until):
            continue  # no version in the dates
        lo, hi, newest = bounds.get(page, (0, -1, None))  # type: ignore[call-overload]
        both = spans.bits(lo, hi) if newest is not None else -1  # -1: every bit
        for runs in narrow:
            both &= spans.union_bits(runs.get(page, []), newest or 0)
        if both:
            allowed[page] = (both, newest)
    # the best version is mostly the newest (a broad term alone): its key is known
    at = versions_at(s, {p: b.bit_length() - 1 for p, (b, n) in allowed.items()
                         if b.bit_length() - 1 != n or p not in last})
    at.update({p: last[p] for p, (b, n) in allowed.items()
               if b.bit_length() - 1 == n and p in last})
    return {p: Candidate(b, n, at[p]) for p, (b, n) in allowed.items() if p in at}


def number_bounds(s: Any, pages: list[int], since: datetime | None,
                  until: datetime | None, last: dict[int, Key] | None = None
                  ) -> dict[int, tuple[int, int, int]]:
    """``page → (lowest, highest number in the date filter, newest number)``; ``last``:
    filled with each page's newest version's key."""
    out: dict[int, tuple[int, int, int]] = {}
    for i in range(0, len(pages), paragraphs.CHUNK):
        chunk = pages[i:i + paragraphs.CHUNK]
        rows = s.execute(_newest(sqlite_(s), last is not None),
                         {"pages": id_values(chunk, sqlite_(s))}).all()
        newest = {r[0]: r[1] for r in rows}
        if last is not None:
            last.update({p: (at, vid) for p, _, at, vid in rows})
        if since or until:
            stmt = select(_V.page_id, func.min(_V.number),
                          func.max(_V.number)).where(
                ids_in(_V.page_id, "pages", sqlite_(s)))
            if since:
                stmt = stmt.where(_V.fetched_at >= since)
            if until:
                stmt = stmt.where(_V.fetched_at <= until)
            out.update({p: (lo, hi, newest[p]) for p, lo, hi in s.execute(
                stmt.group_by(_V.page_id), {"pages": id_values(chunk, sqlite_(s))})
                if p in newest})
        else:
            out.update({p: (1, n, n) for p, n in newest.items()})
    return out


def _all_bounds(s: Any, filters: list[ColumnElement[Any]], since: datetime | None,
                until: datetime | None, last: dict[int, Key]
                ) -> dict[int, tuple[int, int, int]]:
    """``number_bounds`` of every page within the filters, in one query (no id lists)."""
    rows = s.execute(
        select(_P.id, _V.number, when(sqlite_(s)), _V.id)
        .join(tables.versions, _V.id == _P.last_version_id).where(*filters)).all()
    last.update({p: (at, vid) for p, _, at, vid in rows})
    newest = {p: n for p, n, _, _ in rows}
    if not (since or until):
        return {p: (1, n, n) for p, n in newest.items()}
    stmt = select(_V.page_id, func.min(_V.number), func.max(_V.number)).join(
        tables.pages, _P.id == _V.page_id).where(*filters)
    if since:
        stmt = stmt.where(_V.fetched_at >= since)
    if until:
        stmt = stmt.where(_V.fetched_at <= until)
    return {p: (lo, hi, newest[p]) for p, lo, hi in
            s.execute(stmt.group_by(_V.page_id)) if p in newest}


def versions_at(s: Any, numbers: dict[int, int]) -> dict[int, Key]:
    """``page → (fetched_at, id)`` of version ``numbers[page]`` of each page."""
    out: dict[int, Key] = {}
    pages = sorted(numbers)
    wanted = sorted(set(numbers.values()))  # few: mostly each page's newest number
    for i in range(0, len(pages), paragraphs.CHUNK):
        sqlite = sqlite_(s)
        rows = s.execute(_at(sqlite), {
            "pages": id_values(pages[i:i + paragraphs.CHUNK], sqlite),
            "numbers": id_values(wanted, sqlite)})
        out.update({p: (at, vid) for p, n, at, vid in rows if numbers[p] == n})
    return out


def sqlite_(s: Any) -> bool:
    return bool(s.dialect.name == "sqlite")


def ids_in(column: Any, name: str, sqlite: bool) -> ColumnElement[Any]:
    """``column IN`` the integers bound as one parameter ``name`` (``id_values``): an
    IN list of 500 literals costs more to build and bind than the query takes.  SQLite:
    a JSON array read by ``json_each``; PostgreSQL: an array parameter."""
    if sqlite:
        return column.in_(select(literal_column("value")).select_from(
            text(f"json_each(:{name})")))  # type: ignore[no-any-return]
    return column == any_(bindparam(name, type_=ARRAY(Integer)))  # type: ignore[no-any-return]


def when(sqlite: bool) -> Any:
    """``versions.fetched_at`` as the driver returns it (see ``Key``)."""
    return type_coerce(_V.fetched_at, String if sqlite else DateTime(timezone=True))


def key_of(at: datetime, version_id: int, sqlite: bool) -> Key:
    """The ``Key`` of a version whose time was read as a datetime (UTC)."""
    return (at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else at, version_id)


def id_values(ids: list[int], sqlite: bool) -> Any:
    return json.dumps(ids) if sqlite else list(ids)


@cache
def _newest(sqlite: bool, keys: bool) -> Any:
    """Built once per database kind: each page's newest version number (and key)."""
    columns = (_V.page_id, _V.number) + ((when(sqlite), _V.id)
                                                    if keys else ())
    return select(*columns).join(tables.pages, _P.last_version_id == _V.id).where(
        ids_in(_P.id, "pages", sqlite))


@cache
def _at(sqlite: bool) -> Any:
    return select(_V.page_id, _V.number, when(sqlite), _V.id).where(
        ids_in(_V.page_id, "pages", sqlite),
        ids_in(_V.number, "numbers", sqlite))  # ix_versions_page_number
