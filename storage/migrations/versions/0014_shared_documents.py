"""pages.same_as: a document two listings list is one page

A reply listed under two columns (建议答复 and 提案答复, two listings of one site) was a
page of each listing: fetched twice a round, two histories, told twice.  The first
listing to find it now owns its page; another listing that lists it keeps a row of kind
``reference`` (its own title, date and listed state on that column) whose ``same_as`` is
the document's page (``storage/documents.py``).  Existing rows keep NULL: documents two
listings found before this revision keep their two pages.

Downgrade drops the column and its index (reference rows stay, kind ``reference``:
no release before this one checks or lists them).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): a table rebuild on SQLite would be needless work.
    op.add_column("pages", sa.Column("same_as", sa.Integer(), nullable=True))
    op.create_index("ix_pages_same_as", "pages", ["same_as"])


def downgrade() -> None:
    op.drop_index("ix_pages_same_as", table_name="pages")
    # SQLite ≥ 3.35: ALTER TABLE DROP COLUMN (batch mode would rebuild ``pages``)
    op.drop_column("pages", "same_as")
