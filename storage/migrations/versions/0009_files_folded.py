"""files folded: attachment text searched in its folded form, as page text is

``storage/fold.py`` makes every form of a 文号 the same (brackets, widths, punctuation)
in the index and the query; page paragraphs were indexed that way (0006, 0008) but
attachment files were not, so 湘工信提案函(2021)254号 did not find a PDF printing
湘工信提案函〔2021〕２５４号.  The folded form indexed is ``storage.search_files.folded``:
the folded title, a newline (never in a folded term, so no match spans the two) and
the folded text.

* SQLite: ``files_fts`` becomes a contentless FTS5 trigram table over that folded form,
  fed by ``storage.files.add`` (folding is Python, so no trigger; files are never
  deleted).  Its phrase queries need no recheck: detail is kept.
* PostgreSQL: ``files.folded``, a stored generated column
  ``monitor_fold(title) || E'\\n' || monitor_fold(text)`` with a pg_trgm GIN index; the
  index on ``files.text`` as stored goes (a term too short for trigrams scans anyway).

Existing files are folded here.  Downgrade puts back the external-content FTS5 table
with its triggers (rebuilt from ``files``) and the index on ``files.text``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from storage.search_files import folded

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SQLITE_FTS = ("CREATE VIRTUAL TABLE files_fts USING fts5("
              "folded, content='', tokenize='trigram', columnsize=0)")
SQLITE_OLD = [
    "CREATE VIRTUAL TABLE files_fts USING fts5("
    "title, text, content='files', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER files_fts_ai AFTER INSERT ON files BEGIN "
    "INSERT INTO files_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER files_fts_ad AFTER DELETE ON files BEGIN "
    "INSERT INTO files_fts(files_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); END",
    "INSERT INTO files_fts(files_fts) VALUES ('rebuild')",
]
POSTGRES_UP = [
    "ALTER TABLE files ADD COLUMN folded text GENERATED ALWAYS AS "
    "(monitor_fold(title) || E'\\n' || monitor_fold(text)) STORED",
    "CREATE INDEX ix_files_folded_trgm ON files USING gin (folded gin_trgm_ops)",
    "DROP INDEX IF EXISTS ix_files_text_trgm",
]
POSTGRES_DOWN = [
    "CREATE INDEX IF NOT EXISTS ix_files_text_trgm ON files USING gin (text gin_trgm_ops)",
    "DROP INDEX IF EXISTS ix_files_folded_trgm",
    "ALTER TABLE files DROP COLUMN folded",
]
BATCH = 100

files = sa.table("files", sa.column("id", sa.Integer), sa.column("title", sa.Text),
                 sa.column("text", sa.Text))


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for sql in POSTGRES_UP:
            op.execute(sql)
        return
    for name in ("TRIGGER IF EXISTS files_fts_ad", "TRIGGER IF EXISTS files_fts_ai",
                 "TABLE IF EXISTS files_fts"):
        op.execute(f"DROP {name}")
    op.execute(SQLITE_FTS)
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(sa.select(files.c.id, files.c.title, files.c.text)
                            .where(files.c.id > last).order_by(files.c.id)
                            .limit(BATCH)).all()
        if not rows:
            break
        conn.execute(sa.text("INSERT INTO files_fts(rowid, folded) VALUES (:id, :folded)"),
                     [{"id": i, "folded": folded(title, body)} for i, title, body in rows])
        last = rows[-1][0]


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for sql in POSTGRES_DOWN:
            op.execute(sql)
        return
    op.execute("DROP TABLE IF EXISTS files_fts")
    for sql in SQLITE_OLD:
        op.execute(sql)
