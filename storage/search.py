"""Full-text search over every version's title and text, for Chinese (no word spaces).

The query is split on whitespace into terms that must all occur (substring semantics,
case-insensitive).  A query without any term, or with a control character in it, is bad
input (``BadInputError``), never a search: an empty query would match everything, and a
NUL breaks both databases (see ``monitor/userinput.py``).  SQLite: terms of three or
more characters go to the FTS5 trigram index (migration 0002); shorter terms are
``LIKE`` conditions on the candidate rows (a full scan when no term is long enough).
PostgreSQL: every term is an ``ILIKE`` condition, answered by the pg_trgm GIN indexes.
Hits are newest first.  Attachment text is searched too (``storage.search_files``): such
a hit names the attachment (``SearchHit.attachment``) and the version listing it.

The matched passage is cut and highlighted here, in Python, as offsets: escaping is the
caller's job (``Passage.html()`` does it for HTML), so no markup ever comes out of the
database.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, column, func, or_, table, text
from sqlmodel import col, select

from monitor.errors import BadInputError
from monitor.userinput import check_text
from storage import search_files
from storage.archive import source_row, tagged_ids
from storage.models import Page, SourceRow, Version
from storage.repository import Store

TRIGRAM = 3
WINDOW = 60  # characters of context on each side of the first match


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


@dataclass(frozen=True)
class SearchResults:
    query: str
    terms: list[str]
    method: str  # fts5 | like | fts5+like | pg_trgm
    total: int
    hits: list[SearchHit]


def terms_of(query: str) -> list[str]:
    return [t for t in query.split() if t]


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
        raise BadInputError(f"the search query {query!r} has no words: give at least one")
    return terms


class Search:
    def __init__(self, store: Store) -> None:
        self.store = store

    def search(self, query: str, *, source: str | None = None, tag: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               limit: int = 50, offset: int = 0) -> SearchResults:
        terms = checked_terms(query, source, tag)
        with self.store.session() as s:
            conditions, method = self._match(terms)
            conditions += _filters(s, source, tag, since, until)
            base = (select(Version.id).join(Page, col(Page.id) == Version.page_id)
                    .where(and_(*conditions)))
            total = int(s.exec(select(func.count()).select_from(base.subquery())).one())
            rows = s.exec(
                select(Version.id, Version.page_id, SourceRow.name, Version.url, Page.url,
                       Version.fetched_at, Version.title, Version.text)
                .join(Page, col(Page.id) == Version.page_id)
                .join(SourceRow, col(SourceRow.id) == Page.source_id)
                .where(and_(*conditions))
                .order_by(col(Version.fetched_at).desc(), col(Version.id).desc())
                .limit(limit + offset)).all()
            found = search_files.hits(s, terms, _filters(s, source, tag, since, until),
                                      sqlite=self.store.is_sqlite)
        hits = [_hit(r, terms) for r in rows] + [_file_hit(*f, terms) for f in found]
        hits.sort(key=lambda h: (h.fetched_at, h.version_id), reverse=True)
        return SearchResults(query, terms, method, total + len(found),
                             hits[offset:offset + limit])

    def _match(self, terms: list[str]) -> tuple[list[ColumnElement[Any]], str]:
        if not self.store.is_sqlite:
            return [_like(t) for t in terms], "pg_trgm"
        long = [t for t in terms if len(t) >= TRIGRAM]
        short = [t for t in terms if len(t) < TRIGRAM]
        conditions = [_like(t) for t in short]
        if long:
            conditions.insert(0, _fts(long))
        method = "+".join(m for m, used in (("fts5", long), ("like", short)) if used)
        return conditions, method


def _fts(terms: list[str]) -> ColumnElement[Any]:
    # Each term a quoted FTS5 phrase (quotes doubled): no query syntax reaches FTS5 from
    # the user, and with the trigram tokenizer a phrase is a substring match.
    phrase = " ".join('"' + t.replace('"', '""') + '"' for t in terms)
    fts = table("versions_fts", column("rowid"))
    ids = select(fts.c.rowid).where(text("versions_fts MATCH :fts_query")
                                    .bindparams(fts_query=phrase))
    return col(Version.id).in_(ids)


def _like(term: str) -> ColumnElement[Any]:
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", term) + "%"
    return or_(col(Version.text).ilike(pattern, escape="\\"),
               col(Version.title).ilike(pattern, escape="\\"))


def _filters(s: Any, source: str | None, tag: str | None, since: datetime | None,
             until: datetime | None) -> list[ColumnElement[Any]]:
    out: list[ColumnElement[Any]] = []
    if source:
        out.append(col(Page.source_id) == source_row(s, source).id)
    if tag:
        out.append(col(Page.source_id).in_(tagged_ids(s, tag)))
    if since:
        out.append(col(Version.fetched_at) >= since)
    if until:
        out.append(col(Version.fetched_at) <= until)
    return out


def _hit(row: Any, terms: list[str]) -> SearchHit:
    vid, page_id, source, url, page_url, fetched_at, title, body = row
    return SearchHit(version_id=vid, page_id=page_id, source=source, url=url or page_url,
                     fetched_at=fetched_at, title=Passage(title, _spans(title, terms)),
                     passage=passage(body, terms))


def _file_hit(row: Any, entry: dict[str, Any], body: str, terms: list[str]) -> SearchHit:
    vid, page_id, source, url, page_url, fetched_at, title, _ = row
    return SearchHit(version_id=vid, page_id=page_id, source=source, url=url or page_url,
                     fetched_at=fetched_at, title=Passage(title, _spans(title, terms)),
                     passage=passage(body, terms), attachment=dict(entry))


def _spans(text_: str, terms: list[str]) -> tuple[tuple[int, int], ...]:
    """Non-overlapping match offsets of any term, in order (longest term wins a tie)."""
    pattern = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return tuple(m.span() for m in re.finditer(pattern, text_, re.IGNORECASE))


def passage(body: str, terms: list[str], window: int = WINDOW) -> Passage:
    """The paragraph around the first match, at most ``window`` characters each side."""
    spans = _spans(body, terms)
    if not spans:  # the match was in the title only
        head = body[: 2 * window]
        return Passage(head, (), False, len(body) > len(head))
    first_start, first_end = spans[0]
    start = max(body.rfind("\n", 0, first_start) + 1, first_start - window)
    line_end = body.find("\n", first_end)
    end = min(len(body) if line_end < 0 else line_end, first_end + window)
    inside = tuple((a - start, b - start) for a, b in spans if a >= start and b <= end)
    return Passage(body[start:end], inside, start > 0, end < len(body))
