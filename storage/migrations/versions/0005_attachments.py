"""attachments: files stored once by content, and each version's list of them

``files`` holds each distinct file a tracked page links to, once per SHA-256 whatever
pages and versions link it: the original bytes (zstd), the extracted text (searched like
version text: an FTS5 trigram table on SQLite, a pg_trgm index on PostgreSQL), title,
format, extraction status and reason, page count.  ``versions.attachments`` is the
version's list (JSON, page order): URL, link text, SHA-256 (or none when it could not be
fetched), status, reason and the validators the file was served with.  Existing versions
get NULL: whether they had attachments is unknown (the pipeline records a page's
attachments at its next check without telling anyone, ``monitor.pipeline``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE files_fts USING fts5("
    "title, text, content='files', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER files_fts_ai AFTER INSERT ON files BEGIN "
    "INSERT INTO files_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER files_fts_ad AFTER DELETE ON files BEGIN "
    "INSERT INTO files_fts(files_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); END",
]
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_files_text_trgm ON files USING gin (text gin_trgm_ops)",
]


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("format", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("first_seen", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_files_sha256", "files", ["sha256"], unique=True)
    op.add_column("versions", sa.Column("attachments", sa.JSON(), nullable=True))
    for sql in SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP:
        op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("TRIGGER IF EXISTS files_fts_ad", "TRIGGER IF EXISTS files_fts_ai",
                     "TABLE IF EXISTS files_fts"):
            op.execute(f"DROP {name}")
    else:
        op.execute("DROP INDEX IF EXISTS ix_files_text_trgm")
    op.drop_column("versions", "attachments")  # SQLite ≥ 3.35: no table rebuild
    op.drop_index("ix_files_sha256", table_name="files")
    op.drop_table("files")
