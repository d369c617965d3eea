"""Search in attachment text: a hit names the attachment and the version it belongs to.

Files are stored once (``files``) and searched once, in their *folded* form (``folded``:
``storage/fold.py`` on the title and the text, migration 0009), so a 文号 typed in any
bracket, width or punctuation form finds a file printing another, as in page text
(``storage/search.py``).  A term that folds to three or more characters is a lookup of
the folded form: SQLite's ``files_fts`` (contentless FTS5 trigram, a phrase query, fed
by ``storage.files.add``), PostgreSQL's ``files.folded`` (a generated column) through
``LIKE`` on its pg_trgm index.  A shorter term is an ``ILIKE`` on the title and text as
stored (a scan, as for paragraphs).  The versions that list a matching file are then
found by its SHA-256 in their ``attachments`` JSON (a substring of the JSON text: a
SHA-256 is 64 hex characters, it cannot occur by chance), filtered like version hits
(source, tag, dates).  Every version listing the file is a hit, as every version
containing a phrase is one.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    and_,
    cast,
    column,
    literal_column,
    or_,
    select,
    table,
    text,
)

from storage import tables
from storage.fold import fold

_F, _P, _S, _V = tables.files.c, tables.pages.c, tables.sources.c, tables.versions.c

MAX_FILES = 200  # matching files looked up per search
TRIGRAM = 3
FOLDED = literal_column("files.folded")  # PostgreSQL: generated (migration 0009)


def folded(title: str, body: str) -> str:
    """What the index holds of a file: its folded title and text, a newline between
    (a folded term has none, so no match spans the two)."""
    return fold(title) + "\n" + fold(body)


def file_conditions(terms: list[str], sqlite: bool) -> list[ColumnElement[Any]]:
    """Every term in the file's folded title or text (as stored, for short terms)."""
    long = [f for t in terms if len(f := fold(t)) >= TRIGRAM]
    out = [_like(t) for t in terms if len(fold(t)) < TRIGRAM]
    if long and sqlite:
        phrase = " ".join('"' + t.replace('"', '""') + '"' for t in long)
        fts = table("files_fts", column("rowid"))
        out.insert(0, _F.id.in_(select(fts.c.rowid).where(
            text("files_fts MATCH :files_query").bindparams(files_query=phrase))))
    elif long:
        out[:0] = [FOLDED.like(_pattern(t), escape="\\") for t in long]
    return out


def hits(s: Connection, terms: list[str], filters: list[ColumnElement[Any]], *,
         sqlite: bool) -> list[tuple[Any, dict[str, Any], str]]:
    """(version row, the attachment entry, the file's text) for every version that lists
    a file containing every term, newest first."""
    found = s.execute(select(_F.sha256, _F.text)
                      .where(and_(*file_conditions(terms, sqlite))).limit(MAX_FILES)).all()
    texts = {sha: body for sha, body in found}
    if not texts:
        return []
    listed = or_(*(cast(_V.attachments, String).like(f"%{sha}%") for sha in texts))
    rows = s.execute(
        select(_V.id, _V.page_id, _S.name, _V.url, _P.url,
               _V.fetched_at, _V.title, _V.number, _V.attachments)
        .join(tables.pages, _P.id == _V.page_id)
        .join(tables.sources, _S.id == _P.source_id)
        .where(and_(listed, *filters))
        .order_by(_V.fetched_at.desc(), _V.id.desc())).all()
    out = []
    for row in rows:
        for entry in row[-1] or []:
            if entry.get("sha256") in texts:
                out.append((row, entry, texts[entry["sha256"]]))
    return out


def _pattern(term: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", term) + "%"


def _like(term: str) -> ColumnElement[Any]:
    return or_(_F.text.ilike(_pattern(term), escape="\\"),
               _F.title.ilike(_pattern(term), escape="\\"))
