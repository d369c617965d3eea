"""bigrams: an index of each paragraph's two-character pieces

A search term that folds to two characters (算力, 财政) is not in the trigram index
``paragraphs_fts`` (0006), so it was a scan of every paragraph's text: ~150 ms of CPU on
96,000 paragraphs, however few contain it.  ``paragraphs_bigrams`` is a contentless
FTS5 table (no positions, no sizes) holding, per paragraph, each distinct pair of
adjacent characters of its folded text as an ASCII word (``paragraphs.bigrams``): such
a term is then one word looked up, and exact (the pair is in the folded text or not).
Existing paragraphs are folded and added here; the store adds new ones
(``paragraphs.index``).

PostgreSQL: pg_trgm cannot answer a pattern of two characters either (it scans its
whole index, or the planner every row: ~250 ms on 96,000 paragraphs).
``monitor_bigrams(text)`` returns the distinct pairs of adjacent characters of a text
as an array, and a GIN index over ``monitor_bigrams(folded)`` answers
``monitor_bigrams(folded) @> ARRAY['算力']`` exactly (array containment needs no
recheck).

Downgrade drops the table, or the index and the function.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from storage.fold import fold
from storage.paragraphs import bigrams

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BATCH = 2000  # paragraphs read at a time
SQLITE_BIGRAMS = ("CREATE VIRTUAL TABLE paragraphs_bigrams USING fts5("
                  "grams, content='', tokenize='ascii', detail=none, columnsize=0)")

POSTGRES_FUNCTION = (
    "CREATE OR REPLACE FUNCTION monitor_bigrams(t text) RETURNS text[] "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS "
    "$$ SELECT coalesce(array_agg(DISTINCT substr(t, i, 2)), '{}') "
    "FROM generate_series(1, length(t) - 1) AS i $$")
POSTGRES_INDEX = ("CREATE INDEX ix_paragraphs_bigrams ON paragraphs "
                  "USING gin (monitor_bigrams(folded)) WITH (fastupdate = off)")

paragraphs = sa.table("paragraphs", sa.column("id", sa.Integer), sa.column("text", sa.Text))


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_INDEX)
        return
    op.execute(SQLITE_BIGRAMS)
    last = 0
    while True:
        rows = conn.execute(sa.select(paragraphs.c.id, paragraphs.c.text)
                            .where(paragraphs.c.id > last).order_by(paragraphs.c.id)
                            .limit(BATCH)).all()
        if not rows:
            break
        conn.execute(sa.text("INSERT INTO paragraphs_bigrams(rowid, grams) "
                             "VALUES (:id, :grams)"),
                     [{"id": pid, "grams": bigrams(fold(text))} for pid, text in rows])
        last = rows[-1][0]


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS paragraphs_bigrams")
    else:
        op.execute("DROP INDEX IF EXISTS ix_paragraphs_bigrams")
        op.execute("DROP FUNCTION IF EXISTS monitor_bigrams(text)")
