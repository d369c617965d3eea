"""SQLite's search tables rebuilt with a given folding (``storage.fold.folding(rev)``):
the three FTS5 tables dropped, made again and filled from every paragraph and file,
``BATCH`` rows at a time.  Shared by the migrations that change the folding (0016:
brackets, 0018: dashes); each passes the folding of its own revision, so an old
migration keeps folding as it did (PostgreSQL refolds through ``monitor_fold``, in SQL,
in each migration)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import sqlalchemy as sa
from alembic import op

from storage.paragraphs import bigrams

BATCH = 2000  # rows read at a time

SQLITE_TABLES = {
    "paragraphs_fts": "folded, content='', tokenize='trigram', detail=none, columnsize=0",
    "paragraphs_bigrams": "grams, content='', tokenize='ascii', detail=none, columnsize=0",
    "files_fts": "folded, content='', tokenize='trigram', columnsize=0",
}

_paragraphs = sa.table("paragraphs", sa.column("id", sa.Integer), sa.column("text", sa.Text))
_files = sa.table("files", sa.column("id", sa.Integer), sa.column("title", sa.Text),
                  sa.column("text", sa.Text))


def refold_sqlite(fold_: Callable[[str], str]) -> None:
    """Every SQLite search table made again with ``fold_`` (in the migration's
    transaction)."""
    for name, columns in SQLITE_TABLES.items():
        op.execute(f"DROP TABLE IF EXISTS {name}")
        op.execute(f"CREATE VIRTUAL TABLE {name} USING fts5({columns})")
    for rows in _batches(_paragraphs, _paragraphs.c.text):
        folded = [(pid, fold_(body)) for pid, body in rows]
        _insert("INSERT INTO paragraphs_fts(rowid, folded) VALUES (:id, :v)", folded)
        _insert("INSERT INTO paragraphs_bigrams(rowid, grams) VALUES (:id, :v)",
                [(pid, bigrams(f)) for pid, f in folded])
    for rows in _batches(_files, _files.c.title, _files.c.text):
        _insert("INSERT INTO files_fts(rowid, folded) VALUES (:id, :v)",
                [(fid, fold_(title) + "\n" + fold_(body)) for fid, title, body in rows])


def _batches(table: sa.TableClause, *columns: sa.ColumnElement[str]
             ) -> Iterator[list[sa.Row[tuple[int, ...]]]]:
    conn, last = op.get_bind(), 0
    while True:
        rows = list(conn.execute(sa.select(table.c.id, *columns).where(table.c.id > last)
                                 .order_by(table.c.id).limit(BATCH)).all())
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _insert(sql: str, rows: list[tuple[int, str]]) -> None:
    if rows:
        op.get_bind().execute(sa.text(sql), [{"id": i, "v": v} for i, v in rows])
