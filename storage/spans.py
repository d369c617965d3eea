"""Which versions of a page list a paragraph: runs of version numbers, so a search hit
on a shared paragraph does not visit every version that repeats it.

``paragraph_spans`` has a row per run: paragraph ``paragraph_id`` (a line, the title or
a metadata value, ``storage/paragraphs.py``) is listed by versions ``first_number``
through ``last_number`` of its page (``versions.number``, 1, 2, 3… per page), NULL while the
page's newest version still lists it.  Writing a version touches only what changed
against the page's previous version: a paragraph that appears opens a run (an insert),
one that disappears closes its open run (an update); the paragraphs both list cost
nothing, so an edit of one line costs two rows, not one per line.

Grouped search (``storage/search.py``) reads the runs of the matching paragraphs: per
page and term their union, intersected over the terms and clipped to the versions in
the date filter, gives the page's newest matching version (the highest number) and the
exact count of its matching versions, from a few rows per page however many versions
it has.  The sets are Python integers used as bit sets (bit n: version n): union and
intersection are ``|`` and ``&``, the count ``bit_count()``, the newest
``bit_length() - 1``, whatever the runs' overlaps.  Version numbers follow fetch
order (``Store.commit_check`` only ever appends the newest version), so a number range
is a time range.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, and_, bindparam, update
from sqlalchemy import text as sql

from storage import compiled, paragraphs
from storage.tables import paragraph_spans as _table

Run = tuple[int, int | None]  # (first, last) version numbers, inclusive; None: newest


def ids_of(line_ids: bytes | None, field_ids: bytes | None) -> set[int]:
    return set(paragraphs.decode(line_ids)) | set(paragraphs.decode(field_ids))


# Built once: building a statement costs more than running it (a changed version
# closes a run or two).
_PG_OPEN = sql(
    "INSERT INTO paragraph_spans (paragraph_id, page_id, first_number, last_number)"
    " SELECT id, :page_id, :number, NULL FROM unnest(CAST(:ids AS INTEGER[])) AS u(id)")
# PostgreSQL, a changed version's few runs closed and opened in one statement (one round
# trip, not two): the rows it closes and those it opens are different paragraphs.
_PG_CLOSE_AND_OPEN = sql(
    "WITH closed AS (UPDATE paragraph_spans SET last_number = :last"
    " WHERE paragraph_id = ANY(CAST(:closed AS INTEGER[])) AND last_number IS NULL)"
    " INSERT INTO paragraph_spans (paragraph_id, page_id, first_number, last_number)"
    " SELECT id, :page_id, :number, NULL FROM unnest(CAST(:ids AS INTEGER[])) AS u(id)")
_CLOSE = update(_table).where(and_(
    _table.c.paragraph_id.in_(bindparam("ids", expanding=True)),
    _table.c.last_number.is_(None))).values(
    last_number=bindparam("last"))


def track(c: Connection, page_id: int, number: int, before: set[int], now: set[int]
          ) -> None:
    """Version ``number`` of the page lists ``now``; the one before it listed ``before``."""
    opened = sorted(now - before)
    closed = sorted(before - now)
    if opened and closed and c.dialect.name != "sqlite":
        c.execute(_PG_CLOSE_AND_OPEN, {"ids": opened, "page_id": page_id, "number": number,
                                       "closed": closed, "last": number - 1})
        return
    if opened and c.dialect.name == "sqlite":  # a first version opens ~150
        compiled.run_many(  # through the driver: no parameter dict per row
            c, "INSERT INTO paragraph_spans (paragraph_id, page_id, first_number,"
            " last_number) VALUES (?, ?, ?, NULL)", [(pid, page_id, number) for pid in opened])
    elif opened:  # PostgreSQL: one statement of an array, not a row a statement
        c.execute(_PG_OPEN, {"ids": opened, "page_id": page_id, "number": number})
    for i in range(0, len(closed), paragraphs.CHUNK):
        c.execute(_CLOSE, {"ids": closed[i:i + paragraphs.CHUNK], "last": number - 1})


def runs_of(history: Iterable[tuple[int, set[int]]]) -> list[dict[str, int | None]]:
    """The span rows of one page's versions ``(number, paragraph ids)``, oldest first
    (what ``track`` writes version by version; migration 0008 converts with it)."""
    open_: dict[int, int] = {}
    out: list[dict[str, int | None]] = []
    previous = 0
    for number, ids in history:
        for pid in sorted(set(open_) - ids):
            out.append({"paragraph_id": pid, "first_number": open_.pop(pid),
                        "last_number": previous})
        for pid in sorted(ids - set(open_)):
            open_[pid] = number
        previous = number
    out += [{"paragraph_id": pid, "first_number": first, "last_number": None}
            for pid, first in open_.items()]
    return out


def bits(first: int, last: int) -> int:
    """Versions ``first``…``last`` as a bit set (bit n: version n)."""
    return ((1 << (last - first + 1)) - 1) << first if last >= first else 0


def union_bits(runs: Iterable[tuple[int, int | None]], newest: int) -> int:
    """The versions in any of the runs (``last`` None: up to ``newest``) as a bit set:
    union, intersection, count (``bit_count``) and highest (``bit_length``) are then
    single integer operations, however the runs overlap."""
    out = 0
    for first, last in runs:
        out |= bits(first, newest if last is None else last)
    return out
