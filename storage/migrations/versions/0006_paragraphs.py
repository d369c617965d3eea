"""paragraphs: version text stored as shared paragraphs, searched through a folded index

Every version's text becomes a list of ids of ``paragraphs`` (each distinct line of a
page once; title and metadata values too, with their field), ``versions.text`` goes
(see ``storage/models.py`` and ``storage/paragraphs.py``).  The full-text index moves
from whole versions to distinct paragraphs and covers their *folded* text
(``storage/fold.py``: brackets, widths and separators folded so every form of a 文号
matches):

* SQLite: ``paragraphs_fts``, a contentless FTS5 trigram table over the folded text,
  fed by ``storage.paragraphs.index`` (folding is Python, so no trigger), with
  ``detail=none`` and ``columnsize=0``: it keeps which paragraphs hold each trigram and
  nothing else, a third of a full index; a search ANDs the term's trigrams and checks
  the candidates' text (``storage/search.py``).  ``versions_fts`` and its triggers
  (0002) go.
* PostgreSQL: ``monitor_fold(text)``, an immutable SQL function doing the same folding
  with ``translate()``, and a pg_trgm GIN index on ``monitor_fold(paragraphs.text)``,
  ``fastupdate = off``: a new paragraph goes straight into the posting lists (573 B
  for a 170-character paragraph, against 1.3 KB through the pending list, which vacuum
  does not give back).
  The trigram indexes of 0002 on ``versions.text`` and ``versions.title`` go.

``versions.content_hash`` loses its index (nothing looks a hash up across pages).
Existing versions are converted page by page, oldest first, with the same code the
store writes new versions with.  Downgrade puts the text back into ``versions.text``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import importlib

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from storage import paragraphs
from storage.fold import postgres_function

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 200  # versions read at a time

SQLITE_FTS = ("CREATE VIRTUAL TABLE paragraphs_fts USING fts5("
              "folded, content='', tokenize='trigram', detail=none, columnsize=0)")
POSTGRES_INDEX = ("CREATE INDEX IF NOT EXISTS ix_paragraphs_folded_trgm ON paragraphs "
                  "USING gin (monitor_fold(text) gin_trgm_ops) WITH (fastupdate = off)")

versions = sa.table("versions", sa.column("id", sa.Integer), sa.column("page_id", sa.Integer),
                    sa.column("title", sa.Text), sa.column("text", sa.Text),
                    sa.column("meta", sa.JSON), sa.column("line_ids", sa.LargeBinary),
                    sa.column("field_ids", sa.LargeBinary), sa.column("text_len", sa.Integer))


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "paragraphs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("page_id", sa.Integer(), sa.ForeignKey("pages.id"), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.UniqueConstraint("page_id", "digest", name="uq_paragraphs_page_digest"),
    )
    op.add_column("versions", sa.Column("line_ids", sa.LargeBinary(), nullable=True))
    op.add_column("versions", sa.Column("field_ids", sa.LargeBinary(), nullable=True))
    op.add_column("versions", sa.Column("text_len", sa.Integer(), nullable=False,
                                        server_default="0"))
    if sqlite:
        op.execute(SQLITE_FTS)
    _convert()
    # never looked up by value (the pipeline compares the newest few of one page)
    op.drop_index("ix_versions_content_hash", table_name="versions")
    if sqlite:
        for name in ("TRIGGER IF EXISTS versions_fts_au", "TRIGGER IF EXISTS versions_fts_ad",
                     "TRIGGER IF EXISTS versions_fts_ai", "TABLE IF EXISTS versions_fts"):
            op.execute(f"DROP {name}")
    else:
        op.execute("DROP INDEX IF EXISTS ix_versions_text_trgm")
        op.execute("DROP INDEX IF EXISTS ix_versions_title_trgm")
        op.execute(postgres_function())
        op.execute(POSTGRES_INDEX)
    op.drop_column("versions", "text")  # SQLite ≥ 3.35: ALTER TABLE DROP COLUMN


def _convert() -> None:
    conn = op.get_bind()
    s = Session(bind=conn)
    last = 0
    while True:
        rows = conn.execute(sa.select(versions.c.id, versions.c.page_id, versions.c.title,
                                      versions.c.text, versions.c.meta)
                            .where(versions.c.id > last).order_by(versions.c.id)
                            .limit(BATCH)).all()
        if not rows:
            break
        for vid, page_id, title, text, meta in rows:
            lines = paragraphs.store(s, page_id, paragraphs.lines_of(text or ""))
            fields = paragraphs.store(s, page_id, paragraphs.fields_of(title or "", meta or {}))
            conn.execute(versions.update().where(versions.c.id == vid).values(
                line_ids=paragraphs.encode(lines), field_ids=paragraphs.encode(fields),
                text_len=len(text or "")))
        last = rows[-1][0]


def downgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    op.add_column("versions", sa.Column("text", sa.Text(), nullable=False, server_default=""))
    s = Session(bind=conn)
    for vid, lines in conn.execute(sa.select(versions.c.id, versions.c.line_ids)).all():
        conn.execute(versions.update().where(versions.c.id == vid)
                     .values(text=paragraphs.text_of(s, vid, lines)))
    if sqlite:
        op.execute("DROP TABLE IF EXISTS paragraphs_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_paragraphs_folded_trgm")
        op.execute("DROP FUNCTION IF EXISTS monitor_fold(text)")
    op.create_index("ix_versions_content_hash", "versions", ["content_hash"])
    for column in ("text_len", "field_ids", "line_ids"):
        op.drop_column("versions", column)
    op.drop_table("paragraphs")
    # the whole-version indexes of 0002, rebuilt from the restored text
    importlib.import_module("storage.migrations.versions.0002_search").upgrade()


