"""full-text search over versions

SQLite: an FTS5 table with the trigram tokenizer, external content (``versions``), kept
in sync by triggers and rebuilt from the existing rows.  Chinese has no word spaces, so
trigrams are the unit: any phrase of three or more characters is an index lookup;
shorter queries fall back to ``LIKE`` (see ``storage/archive.py``).

PostgreSQL: pg_trgm GIN indexes on ``versions.text`` and ``versions.title``, used by
``ILIKE '%…%'``.  In a UTF-8 database with a C.UTF-8 or language locale, CJK characters
count as word characters for pg_trgm, so Chinese phrases get trigrams too.

Note for later migrations: on SQLite, ``batch_alter_table("versions")`` recreates the
table and drops these triggers; such a migration must re-run this revision's
``_sqlite_up`` afterwards.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE versions_fts USING fts5("
    "title, text, content='versions', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER versions_fts_ai AFTER INSERT ON versions BEGIN "
    "INSERT INTO versions_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER versions_fts_ad AFTER DELETE ON versions BEGIN "
    "INSERT INTO versions_fts(versions_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); END",
    "CREATE TRIGGER versions_fts_au AFTER UPDATE OF title, text ON versions BEGIN "
    "INSERT INTO versions_fts(versions_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    "INSERT INTO versions_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    # Backfill: index every version stored before this revision.
    "INSERT INTO versions_fts(versions_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS versions_fts_au",
    "DROP TRIGGER IF EXISTS versions_fts_ad",
    "DROP TRIGGER IF EXISTS versions_fts_ai",
    "DROP TABLE IF EXISTS versions_fts",
]
# CREATE INDEX indexes the existing rows: the backfill is implicit.
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_versions_text_trgm ON versions "
    "USING gin (text gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_versions_title_trgm ON versions "
    "USING gin (title gin_trgm_ops)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_versions_title_trgm",
    "DROP INDEX IF EXISTS ix_versions_text_trgm",
]


def _run(statements: list[str]) -> None:
    for sql in statements:
        op.execute(sql)


def _sqlite_up() -> None:
    _run(SQLITE_UP)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_up()
    else:
        _run(POSTGRES_UP)


def downgrade() -> None:
    # pg_trgm stays installed: other objects may use it.
    _run(SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN)
