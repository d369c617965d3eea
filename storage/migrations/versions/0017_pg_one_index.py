"""PostgreSQL: one search index of folded character pairs, no stored folded text

A changed version cost 8.4% of its raw page on PostgreSQL (3,408–3,441 B,
``bench.bench_storage --seed 3 --postgres``) against 3.9% on SQLite: of a new
paragraph, PostgreSQL kept the text, the stored generated column ``folded`` (its
``monitor_fold``, as long again: 0008, refolded by 0016), a pg_trgm GIN index on it and
a GIN index of ``monitor_bigrams(folded)`` (0010, for two-character terms).

Now there is one GIN index, of ``monitor_bigrams(monitor_fold(text))``: the distinct
pairs of adjacent folded characters of each paragraph.  A term of two or more
characters is a lookup of all of its pairs (``storage/search.py``): exact for a pair,
candidates for a longer term, checked as on SQLite (a text holding the folded term as
it stands matches; the others are folded in Python).  So the column, the trigram
index and the old pair index go.  The index is an expression index: ``monitor_fold``
runs when a paragraph is stored (as it did for the column), never when searching
(array containment needs no recheck).

A dropped column keeps its bytes in every existing row until the row is written
again, so the table is rewritten once (``CLUSTER`` on its primary key: the rows are in
id order already) before the new index is built on it; time and disk proportional to
the archive, under an exclusive lock (stop the daemon first, as for every migration).

The unique index on ``(page_id, digest)`` gets ``fillfactor`` 70 (was the default 90).
A page's paragraphs are one key range of it; a page's first version adds its ~70 at the
right end, where B-tree leaves are split to be left 90% full, and each later version's
new paragraph lands inside an earlier page's range: in a packed leaf, a split, a new
8 KB page for one 36-byte entry (475 B a changed version in ``bench_storage``, ~1 new
paragraph a version).  Leaves left 70% full take the following versions' paragraphs
without splitting.  In the long run a leaf splits when it is full either way (~50 B an
entry); a first version's paragraphs cost ~11 B more each.

``storage/fold.py``: a change of the folding (``FOLD_REVISION``) replaces
``monitor_fold`` and must then rebuild this index (``REINDEX INDEX
ix_paragraphs_fold_bigrams``): replacing an IMMUTABLE function does not recompute an
index built with it.

SQLite: nothing changes (its FTS5 tables hold folded text, no copy of it in
``paragraphs``).  Downgrade puts back the column and its two indexes.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None
# said on stderr when and after it runs (storage.db.migrate): CLUSTER takes a while
rewrites = "重写段落表、重建搜索索引"
rewrites_on = "postgresql"  # SQLite: nothing to do, nothing said

INDEX = ("CREATE INDEX ix_paragraphs_fold_bigrams ON paragraphs "
         "USING gin (monitor_bigrams(monitor_fold(text))) WITH (fastupdate = off)")
UPGRADE = [
    "DROP INDEX IF EXISTS ix_paragraphs_bigrams",
    "DROP INDEX IF EXISTS ix_paragraphs_folded_col_trgm",
    "ALTER TABLE paragraphs DROP COLUMN IF EXISTS folded",
    "ALTER INDEX uq_paragraphs_page_digest SET (fillfactor = 70)",
    "CLUSTER paragraphs USING paragraphs_pkey",
    INDEX,
]
DOWNGRADE = [
    "ALTER INDEX uq_paragraphs_page_digest RESET (fillfactor)",
    "DROP INDEX IF EXISTS ix_paragraphs_fold_bigrams",
    "ALTER TABLE paragraphs ADD COLUMN folded text "
    "GENERATED ALWAYS AS (monitor_fold(text)) STORED",
    "CREATE INDEX ix_paragraphs_folded_col_trgm ON paragraphs "
    "USING gin (folded gin_trgm_ops) WITH (fastupdate = off)",
    "CREATE INDEX ix_paragraphs_bigrams ON paragraphs "
    "USING gin (monitor_bigrams(folded)) WITH (fastupdate = off)",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for sql in UPGRADE:
            op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for sql in DOWNGRADE:
            op.execute(sql)
