"""fold brackets: the search indexes refolded, brackets now a separator

``storage/fold.py`` deleted every bracket, so 湘工信提案函〔2021〕204号 was indexed as
…2021204号 and a search for 第1204号 (or 2021204) found it.  Brackets now fold to one
separator (``fold.SEP``, revision ``fold.FOLD_REVISION`` = 2), so the year and the
number stay apart.  The indexes hold folded text, so what is stored is folded again:

* SQLite: the contentless FTS5 tables ``paragraphs_fts`` (0006), ``paragraphs_bigrams``
  (0010) and ``files_fts`` (0009) are dropped, created again and filled from
  ``paragraphs`` and ``files`` (a contentless table cannot be updated in place).
* PostgreSQL: ``monitor_fold`` is replaced, and the stored generated columns
  ``paragraphs.folded`` and ``files.folded`` (0008, 0009) are dropped with their
  indexes and added again, so each row is folded by the new function (replacing an
  IMMUTABLE function does not recompute what was stored with it).

Downgrade does the same with the old folding (brackets deleted: revision 2 with
``SEP`` then deleted, which is exactly the old one).  Both fold as their revision did
(``fold.folding``): a later revision's own migration (0018, dashes) refolds after
this one.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Callable

from alembic import op

from storage.fold import folding, postgres_function
from storage.refold import refold_sqlite

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None
# said on stderr when and after it runs (storage.db.migrate): a big archive takes a while
rewrites = "重建搜索索引（括号改作分隔符）"

POSTGRES_DROP = ["ALTER TABLE paragraphs DROP COLUMN IF EXISTS folded CASCADE",
                 "ALTER TABLE files DROP COLUMN IF EXISTS folded CASCADE"]
POSTGRES_ADD = [
    "ALTER TABLE paragraphs ADD COLUMN folded text "
    "GENERATED ALWAYS AS (monitor_fold(text)) STORED",
    "CREATE INDEX ix_paragraphs_folded_col_trgm ON paragraphs "
    "USING gin (folded gin_trgm_ops) WITH (fastupdate = off)",
    "CREATE INDEX ix_paragraphs_bigrams ON paragraphs "
    "USING gin (monitor_bigrams(folded)) WITH (fastupdate = off)",
    "ALTER TABLE files ADD COLUMN folded text GENERATED ALWAYS AS "
    "(monitor_fold(title) || E'\\n' || monitor_fold(text)) STORED",
    "CREATE INDEX ix_files_folded_trgm ON files USING gin (folded gin_trgm_ops)",
]


def upgrade() -> None:
    _refold(folding(2), postgres_function(2))


def downgrade() -> None:  # the folding before: brackets deleted
    _refold(folding(1), postgres_function(1))


def _refold(fold_: Callable[[str], str], function: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        for sql in [*POSTGRES_DROP, function, *POSTGRES_ADD]:
            op.execute(sql)
        return
    refold_sqlite(fold_)
