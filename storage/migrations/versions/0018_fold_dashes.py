"""fold dashes: the search indexes refolded, every dash and range mark now ``-``

``storage/fold.py`` kept each dash as it was, so a plan printed 2018—2035年 (em dash)
was not found by 2018-2035 (the hyphen a keyboard gives), nor 2021–2025, 2021－2025 or
2021～2025 by each other.  Every dash, minus and range tilde (‐ ‑ ‒ – — ― ⁃ − ⸺ ⸻ ﹘ ﹣
－ ~ ～ 〜) now folds to ``-`` and a run of them (——) to one (``fold.DASHES``, revision
``fold.FOLD_REVISION`` = 3).  The indexes hold folded text, so what is stored is
folded again, as 0016 did:

* SQLite: the contentless FTS5 tables ``paragraphs_fts``, ``paragraphs_bigrams`` and
  ``files_fts`` are dropped, created again and filled from ``paragraphs`` and
  ``files`` (a contentless table cannot be updated in place).
* PostgreSQL: ``monitor_fold`` is replaced; the expression index
  ``ix_paragraphs_fold_bigrams`` (0017) is rebuilt (``REINDEX``), and the stored
  generated column ``files.folded`` (0009, 0016) is dropped with its pg_trgm index
  and added again, so each row is folded by the new function (replacing an IMMUTABLE
  function does not recompute what was built with it).  ``paragraphs`` itself is not
  rewritten.

Time proportional to the archive: 10,000 versions (28,500 paragraphs) took 5.7 s on
SQLite and 29 s on PostgreSQL, nearly all of it the ``REINDEX`` (bench/README.md).
An archive older than 0016 is refolded twice (0016 folds as revision 2 did).

Downgrade does the same with revision 2's folding (dashes as they are).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from alembic import op

from storage.fold import folding, postgres_function
from storage.refold import refold_sqlite

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None
# said on stderr when and after it runs (storage.db.migrate): a big archive takes a while
rewrites = "重建搜索索引（横线、连接号统一）"

POSTGRES = [
    "REINDEX INDEX ix_paragraphs_fold_bigrams",
    "ALTER TABLE files DROP COLUMN IF EXISTS folded CASCADE",
    "ALTER TABLE files ADD COLUMN folded text GENERATED ALWAYS AS "
    "(monitor_fold(title) || E'\\n' || monitor_fold(text)) STORED",
    "CREATE INDEX ix_files_folded_trgm ON files USING gin (folded gin_trgm_ops)",
]


def upgrade() -> None:
    _refold(3)


def downgrade() -> None:
    _refold(2)


def _refold(revision: int) -> None:
    if op.get_bind().dialect.name != "sqlite":
        for sql in [postgres_function(revision), *POSTGRES]:
            op.execute(sql)
        return
    refold_sqlite(folding(revision))
