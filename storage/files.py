"""Attachment files, stored once by SHA-256 (``files``; see ``storage.models``).

Only ``Store`` calls this module, inside its sessions or connections (Core statements:
``monitor show`` reads a version's files without the ORM).  Two checks storing the same
new file at once (two pages linking one PDF, on two replicas) both insert it: the
second insert does nothing (``ON CONFLICT DO NOTHING`` on both databases), so a file is
one row whoever wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, select
from sqlalchemy import text as sql

from monitor.types import AttachmentFile
from storage import rawcodec
from storage.records import StoredFile
from storage.search_files import folded
from storage.tables import files as _files
from storage.tables import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def add(s: Session | Connection, files: Iterable[AttachmentFile]) -> None:
    """Insert the files fetched with their bytes that are not stored yet."""
    files = [f for f in files if f.body and f.sha256]
    if not files:  # a 304 or a failed fetch: stored already, or not at all
        return
    s = s if isinstance(s, Connection) else s.connection()
    # here: the PostgreSQL dialect's modules cost 50 ms to import on a SQLite database
    from sqlalchemy.dialects import postgresql, sqlite

    sqlite_db = s.dialect.name == "sqlite"
    insert = sqlite.insert if sqlite_db else postgresql.insert
    for f in files:
        values = {"sha256": f.sha256, "size": f.size, "format": f.fmt,
                  "body": rawcodec.compress(f.body), "text": f.text, "title": f.title,
                  "status": f.status, "reason": f.reason, "pages": f.pages,
                  "first_seen": utcnow()}
        stmt = insert(_files).values(**values).on_conflict_do_nothing(
            index_elements=["sha256"])
        if not sqlite_db:
            s.execute(stmt)  # PostgreSQL folds into files.folded by itself
            continue
        new = s.execute(stmt.returning(_files.c.id)).first()
        if new is not None:  # SQLite: the folded form into files_fts (search_files.py)
            s.execute(sql("INSERT INTO files_fts(rowid, folded) VALUES (:id, :folded)"),
                      {"id": new[0], "folded": folded(f.title, f.text)})


def infos(s: Session | Connection, shas: Iterable[str], *, body: bool = False
          ) -> dict[str, StoredFile]:
    """The stored files of these hashes (their bytes too with ``body``), by hash."""
    wanted = sorted({sha for sha in shas if sha})
    if not wanted:
        return {}
    rows = s.execute(select(_files).where(_files.c.sha256.in_(wanted))).all()
    return {r.sha256: _stored(r, body) for r in rows}


def listed(entries: Sequence[Mapping[str, Any]],
           stored: Mapping[str, StoredFile]) -> list[dict[str, Any]]:
    """A version's attachment entries with what is stored of each file."""
    out = []
    for e in entries:
        f = stored.get(str(e.get("sha256") or ""))
        out.append({**e, "format": f.format if f else e.get("format", ""),
                    "size": f.size if f else e.get("size", 0),
                    "pages": f.pages if f else None, "title": f.title if f else ""})
    return out


def _stored(r: Row[Any], body: bool) -> StoredFile:
    return StoredFile(sha256=r.sha256, size=r.size, format=r.format, text=r.text,
                      title=r.title, status=r.status, reason=r.reason, pages=r.pages,
                      first_seen=r.first_seen,
                      body=rawcodec.decompress(r.body) if body else b"")
