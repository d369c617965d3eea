"""paragraph spans: which versions of a page list each paragraph, as runs of numbers

``paragraph_spans`` (``storage/spans.py``): a row per run of consecutive versions of a
page (``versions.number``) listing a paragraph, ``last_number`` NULL while the newest
version still lists it.  Grouped search reads these runs instead of every version of
every matching page: a phrase on all 1,000 pages × 50 versions went from ~50,000
version rows decoded per query to a few thousand runs.

Existing versions are converted page by page, in number order, by the same rule the
store applies to each new version (``spans.runs_of``).

PostgreSQL: ``paragraphs.folded``, a stored generated column ``monitor_fold(text)``,
and the pg_trgm GIN index moves from the expression onto it.  The index only gives
candidates; each is rechecked against the folded text, which with the expression index
meant calling ``monitor_fold`` (PL/pgSQL ``translate()``, ~0.5 ms) on every candidate:
a phrase in 75 paragraphs took 39 ms, so a phrase in every page of a large archive took
seconds.  Read from the column, the recheck is a plain ``LIKE``.  SQLite keeps its
FTS5 table of folded text (0006); the candidates' text is folded in Python there.

Downgrade drops the table and puts the expression index back.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from storage import spans

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FOLDED_INDEX = ("CREATE INDEX ix_paragraphs_folded_col_trgm ON paragraphs "
                "USING gin (folded gin_trgm_ops) WITH (fastupdate = off)")
EXPRESSION_INDEX = ("CREATE INDEX IF NOT EXISTS ix_paragraphs_folded_trgm ON paragraphs "
                    "USING gin (monitor_fold(text) gin_trgm_ops) WITH (fastupdate = off)")

versions = sa.table("versions", sa.column("page_id", sa.Integer),
                    sa.column("number", sa.Integer), sa.column("line_ids", sa.LargeBinary),
                    sa.column("field_ids", sa.LargeBinary))


def upgrade() -> None:
    table = op.create_table(
        "paragraph_spans",
        sa.Column("paragraph_id", sa.Integer(), sa.ForeignKey("paragraphs.id"),
                  primary_key=True),
        sa.Column("first_number", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("page_id", sa.Integer(), sa.ForeignKey("pages.id"), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=True),
    )
    conn = op.get_bind()
    pages = [p for (p,) in conn.execute(sa.select(versions.c.page_id).distinct()
                                        .order_by(versions.c.page_id))]
    for page_id in pages:
        rows = conn.execute(sa.select(versions.c.number, versions.c.line_ids,
                                      versions.c.field_ids)
                            .where(versions.c.page_id == page_id)
                            .order_by(versions.c.number))
        runs = spans.runs_of((n, spans.ids_of(lines, fields)) for n, lines, fields in rows)
        if runs:
            conn.execute(sa.insert(table), [{**r, "page_id": page_id} for r in runs])


    if conn.dialect.name == "postgresql":
        op.execute("ALTER TABLE paragraphs ADD COLUMN folded text "
                   "GENERATED ALWAYS AS (monitor_fold(text)) STORED")
        op.execute(FOLDED_INDEX)
        op.execute("DROP INDEX IF EXISTS ix_paragraphs_folded_trgm")


def downgrade() -> None:
    op.drop_table("paragraph_spans")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(EXPRESSION_INDEX)
        op.execute("DROP INDEX IF EXISTS ix_paragraphs_folded_col_trgm")
        op.execute("ALTER TABLE paragraphs DROP COLUMN folded")
